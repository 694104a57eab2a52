import BridgebackPolicy
import Foundation
import Testing

@Suite("Policy files")
struct PolicyLoadingTests {
    @Test("the shipped policy loads, is versioned and declares every trigger class")
    func bundledDefault() throws {
        let policy = try PolicyDocument.bundledDefault()
        #expect(!policy.version.isEmpty)
        #expect(Set(policy.triggers.map(\.triggerClass)) == Set(TriggerClass.known))
        let used = Set(policy.families.compactMap(\.trigger))
        #expect(used == Set(TriggerClass.known), "every trigger class needs at least one cue family")
        #expect(policy.families.contains { $0.pull == .inline })
    }

    @Test("a policy round-trips through JSON and a file")
    func roundTrip() throws {
        let policy = try PolicyDocument.bundledDefault()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(policy)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bb-policy-\(UUID()).json")
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let back = try PolicyDocument.load(from: url)
        #expect(back == policy)
    }

    @Test("the minimal fixture is valid")
    func minimalFixture() throws {
        let policy = try parsePolicy(minimalPolicyJSON)
        let engine = try PolicyEngine(policy: policy)
        #expect(engine.decide(AdmissionRequest(text: "Verify it.")).decision == .detach)
        #expect(engine.decide(AdmissionRequest(text: "how do I verify it")).decision == .inline)
    }

    struct Broken: Sendable, CustomTestStringConvertible {
        let name: String
        let json: String
        let kind: PolicyError.Kind
        let line: Int
        let mentions: String
        var testDescription: String { name }
    }

    static let broken: [Broken] = [
        Broken(
            name: "syntax: missing comma", json: replacingOnce(minimalPolicyJSON, "\"test-1\",", "\"test-1\""),
            kind: .syntax, line: 3, mentions: "expected ','"),
        Broken(
            name: "syntax: trailing comma",
            json: replacingOnce(minimalPolicyJSON, "{ \"class\": \"wait\" } ]", "{ \"class\": \"wait\" }, ]"),
            kind: .syntax, line: 5, mentions: "trailing comma"),
        Broken(
            name: "syntax: single backslash in a pattern",
            json: replacingOnce(minimalPolicyJSON, "verify\\\\b", "verify\\d"),
            kind: .syntax, line: 13, mentions: "written \\\\"),
        Broken(
            name: "bad regex", json: replacingOnce(minimalPolicyJSON, "^(?:what|how)\\\\b", "^(?:what|how\\\\b"),
            kind: .invalidPattern, line: 21, mentions: "cue 'wh-start' in family 'question'"),
        Broken(
            name: "unknown macro", json: replacingOnce(minimalPolicyJSON, "{{clause}}", "{{start}}"),
            kind: .invalidPattern, line: 13, mentions: "unknown macro '{{start}}'"),
        Broken(
            name: "unknown trigger class in a family",
            json: replacingOnce(minimalPolicyJSON, "\"trigger\": \"verification\"", "\"trigger\": \"deploys\""),
            kind: .unknownTriggerClass, line: 11, mentions: "deploys"),
        Broken(
            name: "unknown trigger class declared",
            json: replacingOnce(minimalPolicyJSON, "{ \"class\": \"wait\" }", "{ \"class\": \"waiting\" }"),
            kind: .unknownTriggerClass, line: 5, mentions: "waiting"),
        Broken(
            name: "missing field",
            json: replacingOnce(minimalPolicyJSON, "\"label\": \"question form\",", ""),
            kind: .missingField, line: 16, mentions: #"family 'question': "families[1].label" is required: a string"#),
        Broken(
            name: "typo in a field name",
            json: replacingOnce(minimalPolicyJSON, "\"weight\": 3.0", "\"weigth\": 3.0"),
            kind: .unknownField, line: 21, mentions: #""families[1].cues[0].weigth" is not a known field; did you mean "weight"?"#),
        Broken(
            name: "wrong type", json: replacingOnce(minimalPolicyJSON, "\"weight\": 3.0", "\"weight\": \"heavy\""),
            kind: .wrongType, line: 21, mentions: "must be a number"),
        Broken(
            name: "bad pull value", json: replacingOnce(minimalPolicyJSON, "\"pull\": \"inline\"", "\"pull\": \"later\""),
            kind: .invalidValue, line: 19, mentions: "\"inline\" or \"detach\""),
        Broken(
            name: "hint weight does not outweigh wording",
            json: replacingOnce(minimalPolicyJSON, "\"weight\": 8.0", "\"weight\": 4.0"),
            kind: .invalidValue, line: 26, mentions: "wording_cap"),
        Broken(
            name: "pattern matching everything",
            json: replacingOnce(minimalPolicyJSON, "^(?:what|how)\\\\b", "x*"),
            kind: .invalidPattern, line: 21, mentions: "every request"),
        Broken(
            name: "duplicate key",
            json: replacingOnce(minimalPolicyJSON, "\"version\": \"test-1\",", "\"version\": \"test-1\", \"version\": \"x\","),
            kind: .duplicateIdentifier, line: 2, mentions: "appears twice"),
        Broken(
            name: "null where a value is required",
            json: replacingOnce(minimalPolicyJSON, "\"label\": \"question form\"", "\"label\": null"),
            kind: .wrongType, line: 18, mentions: #""families[1].label" is required: a string; got null"#),
        Broken(
            name: "a whole number expected",
            json: replacingOnce(minimalPolicyJSON, "\"weight\": 3.0", "\"weight\": 3.0, \"min_count\": 1.5"),
            kind: .wrongType, line: 21, mentions: #""families[1].cues[0].min_count" must be a whole number, got 1.5"#),
        Broken(
            name: "negative weight", json: replacingOnce(minimalPolicyJSON, "\"weight\": 2.0", "\"weight\": -2.0"),
            kind: .invalidValue, line: 13, mentions: "positive"),
    ]

    @Test("invalid policy files are rejected with a kind, the line and an actionable reason", arguments: broken)
    func rejected(_ b: Broken) {
        do {
            _ = try parsePolicy(b.json)
            Issue.record("\(b.name): accepted an invalid policy")
        } catch {
            #expect(error.kind == b.kind, "\(b.name): \(error)")
            #expect(error.line == b.line, "\(b.name): \(error)")
            #expect(error.column != nil)
            #expect(error.reason.contains(b.mentions), "\(b.name): \(error.reason)")
            #expect(error.description.contains(":\(b.line):"))
        }
    }

    /// The structure is read by the schema layer; the `Codable` conformance stays for encoding and
    /// for callers that decode a policy themselves. Both must read a policy the same way.
    @Test("the schema reader loads the shipped policy and the fixtures exactly as Codable decoding does")
    func readerAgreesWithDecoding() throws {
        let bundled = try #require(PolicyDocument.bundledDefaultURL)
        let withNullsAndComments = replacingOnce(
            minimalPolicyJSON, "\"pull\": \"inline\",", "\"pull\": \"inline\", \"trigger\": null, \"max\": null, \"_note\": \"a comment\",")
        let documents = [try Data(contentsOf: bundled), Data(minimalPolicyJSON.utf8), Data(withNullsAndComments.utf8)]
        for data in documents {
            let read = try PolicyDocument.parse(data)
            let decoded = try JSONDecoder().decode(PolicyDocument.self, from: data)
            #expect(read == decoded)
        }
        #expect(try parsePolicy(withNullsAndComments) == parsePolicy(minimalPolicyJSON))
    }

    @Test("a caller can switch on the error kind; file errors carry the path")
    func switchOnKind() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bb-bad-\(UUID()).json")
        try Data(replacingOnce(minimalPolicyJSON, "\"trigger\": \"verification\"", "\"trigger\": \"nope\"").utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try PolicyDocument.load(from: url)
            Issue.record("accepted")
        } catch {
            let handled: String
            switch error.kind {
            case .unknownTriggerClass: handled = "trigger"
            case .invalidPattern, .syntax: handled = "other"
            default: handled = "default"
            }
            #expect(handled == "trigger")
            #expect(error.file == url.path)
            #expect(error.description.hasPrefix(url.path + ":11:"))
        }

        do {
            _ = try PolicyDocument.load(from: URL(fileURLWithPath: "/nonexistent/policy.json"))
            Issue.record("accepted a missing file")
        } catch {
            #expect(error.kind == .unreadable)
        }
    }

    @Test("a policy built in code is validated by the engine")
    func engineValidates() throws {
        var policy = try parsePolicy(minimalPolicyJSON)
        policy.families[0].cues[0].pattern = "(unclosed"
        #expect(throws: PolicyError.self) { try PolicyEngine(policy: policy) }
    }

    @Test("a candidate policy changes decisions without a rebuild")
    func candidatePolicy() throws {
        var policy = try PolicyDocument.bundledDefault()
        policy.version = "candidate-2"
        policy.decision.threshold = 100
        let engine = try PolicyEngine(policy: policy)
        let d = engine.decide(AdmissionRequest(text: "Audit all the cron jobs on every host."))
        #expect(d.decision == .inline)
        #expect(d.policyVersion == "candidate-2")
    }
}
