import BridgebackCore
import Foundation
import Testing

@testable import BridgebackAdmission
@testable import BridgebackAdmissionStore

/// Every numeric and string field of `POST /v1/requests` at its boundaries: just below, at and
/// just above each limit, and NaN-like, infinite, huge and negative values. A value inside the
/// limits is never refused for that field; a value outside is a 4xx naming the field; nothing
/// traps (the process would die and take the test run with it).
@Suite("Input limits")
struct InputLimitTests {
    /// A detach request with `fragment` spliced into the top-level object.
    static func body(_ fragment: String, dryRun: Bool = true) -> String {
        #"{"origin": "cli:alice", "text": "Run the release gate for api", "force": "detach", "recipe": {"name": "release-gate", "params": {"service": "api"}}, "dry_run": \#(dryRun)\#(fragment.isEmpty ? "" : ", " + fragment)}"#
    }

    static func accepted(_ response: APIResponse) -> Bool { (200..<300).contains(response.status) }

    @Test(
        "numeric hints: inside the range accepted, outside refused naming the field, never a trap",
        arguments: [
            ("sources", 1_000_000.0), ("steps", 1_000_000.0), ("tools", 1_000_000.0), ("expected_wait_s", 31_536_000.0),
        ])
    func numericHints(field: String, maximum: Double) async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        for value in ["0", "0.5", "1", "\(maximum - 1)", "\(maximum)"] {
            let response = await h.submit(Self.body(#""hints": {"\#(field)": \#(value)}"#))
            #expect(Self.accepted(response), "hints.\(field) = \(value): \(response.body)")
        }
        for value in [
            "-1", "-0.5", "\(maximum + 1)", "1e19", "9.3e18", "9223372036854775807", "1e308", "1e999", "-1e999", "\"5\"", "true", "[]",
        ] {
            let response = await h.submit(Self.body(#""hints": {"\#(field)": \#(value)}"#))
            #expect(response.status == 400, "hints.\(field) = \(value)")
            #expect(response.errorField == "hints.\(field)", "hints.\(field) = \(value): \(response.body)")
        }
        // Not JSON numbers at all: malformed, not a trap.
        for value in ["NaN", "Infinity", "-Infinity", "0x10", "01", "1."] {
            let response = await h.submit(Self.body(#""hints": {"\#(field)": \#(value)}"#))
            #expect(response.errorCode == "malformed_json", "hints.\(field) = \(value)")
        }
    }

    @Test("contract.deadline_s: (0, max] accepted, 0, negative, huge and above the maximum refused naming the field")
    func deadline() async throws {
        let h = try Harness(configuration: .init(maxDeadlineSeconds: 3600))
        defer { h.dir.cleanup() }
        for value in ["0.001", "1", "3599.9", "3600"] {
            let response = await h.submit(Self.body(#""contract": {"deadline_s": \#(value)}"#))
            #expect(Self.accepted(response), "deadline_s = \(value): \(response.body)")
        }
        for value in ["0", "-1", "3600.001", "1e19", "9.3e18", "1e308", "1e999", "\"60\""] {
            for dryRun in [true, false] {
                let response = await h.submit(Self.body(#""contract": {"deadline_s": \#(value)}"#, dryRun: dryRun))
                #expect((400..<500).contains(response.status), "deadline_s = \(value)")
                #expect(response.errorField == "contract.deadline_s", "deadline_s = \(value): \(response.body)")
            }
        }
    }

    /// (fragment builder, field, limit in bytes, an allowed character, a refused character)
    static let stringFields: [(String, String, Int, String, String)] = [
        (#""idempotency_key": "%@""#, "idempotency_key", 200, "k", " "),
        (#""contract": {"parent_id": "%@"}"#, "contract.parent_id", 200, "p", "#"),
        (#""summary": "%@""#, "summary", 1000, "s", "\\n"),
    ]

    @Test("string fields: at the limit accepted, one byte over refused, a refused character refused, each naming the field")
    func stringFieldLimits() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        for (template, field, limit, good, bad) in Self.stringFields {
            func submit(_ value: String) async -> APIResponse {
                await h.submit(Self.body(template.replacingOccurrences(of: "%@", with: value)))
            }
            let below = await submit(String(repeating: good, count: limit - 1))
            #expect(Self.accepted(below), "\(field) at \(limit - 1) bytes: \(below.body)")
            let at = await submit(String(repeating: good, count: limit))
            #expect(Self.accepted(at), "\(field) at \(limit) bytes: \(at.body)")
            let over = await submit(String(repeating: good, count: limit + 1))
            #expect(over.status == 400 && over.errorField == field, "\(field) at \(limit + 1) bytes: \(over.body)")
            let wrong = await submit(good + bad + good)
            #expect(wrong.status == 400 && wrong.errorField == field, "\(field) with '\(bad)': \(wrong.body)")
            let huge = await submit(String(repeating: good, count: 60_000))
            #expect(huge.status == 400 && huge.errorField == field, "\(field) at 60,000 bytes")
        }
    }

    @Test("a 60,000-character parent_id is refused at admission (it would break the broker connection as a routing key)")
    func longParentID() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let response = await h.submit(Self.body(#""contract": {"parent_id": "\#(String(repeating: "a", count: 60_000))"}"#, dryRun: false))
        #expect(response.status == 400)
        #expect(response.errorField == "contract.parent_id")
        #expect(try await h.store.counts().jobs == 0)
    }

    @Test("text, recipe name and parameter names: limits and characters")
    func textAndRecipeNames() async throws {
        let h = try Harness(configuration: .init(maxBodyBytes: 200_000))
        defer { h.dir.cleanup() }
        let atLimit = await h.submit(#"{"origin": "cli:alice", "text": "\#(String(repeating: "w", count: 60_000))", "dry_run": true}"#)
        #expect(Self.accepted(atLimit), "text at 60,000 bytes: \(atLimit.body)")
        let over = await h.submit(#"{"origin": "cli:alice", "text": "\#(String(repeating: "w", count: 60_001))"}"#)
        #expect(over.status == 400 && over.errorField == "text")
        let control = await h.submit(#"{"origin": "cli:alice", "text": "a\u0007b"}"#)
        #expect(control.status == 400 && control.errorField == "text")
        let nul = await h.submit(#"{"origin": "cli:alice", "text": "a\u0000b"}"#)
        #expect(nul.status == 400 && nul.errorField == "text")
        let lines = await h.submit(#"{"origin": "cli:alice", "text": "line one\nline two\ttabbed", "dry_run": true}"#)
        #expect(Self.accepted(lines))
        let longName = await h.submit(Self.body("").replacingOccurrences(of: "release-gate", with: String(repeating: "r", count: 65)))
        #expect(longName.status == 400 && longName.errorField == "recipe.name")
        let slash = await h.submit(Self.body("").replacingOccurrences(of: "release-gate", with: "../etc"))
        #expect(slash.status == 400 && slash.errorField == "recipe.name")
        let badParam = await h.submit(Self.body("").replacingOccurrences(of: #""service": "api""#, with: #""ser vice": "api""#))
        #expect(badParam.status == 400 && badParam.errorField?.hasPrefix("recipe.params.") == true)
        let manyParams = (0..<65).map { #""p\#($0)": 1"# }.joined(separator: ", ")
        let tooMany = await h.submit(Self.body("").replacingOccurrences(of: #""service": "api""#, with: manyParams))
        #expect(tooMany.status == 400 && tooMany.errorField == "recipe.params")
        let origin = await h.submit(#"{"origin": "\#(String(repeating: "o", count: 129))", "text": "hi"}"#)
        #expect((400..<500).contains(origin.status) && origin.errorField == "origin")
    }

    @Test("duplicate keys are refused naming the key, at any depth")
    func duplicateKeys() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let top = await h.submit(#"{"origin": "cli:alice", "origin": "cli:mallory", "text": "hi"}"#)
        #expect(top.status == 400 && top.errorField == "origin")
        #expect(top.errorMessage?.contains("duplicate key") == true)
        let nested = await h.submit(Self.body(#""contract": {"final_surface": "cli:alice", "final_surface": "pager:digest"}"#))
        #expect(nested.status == 400 && nested.errorField == "contract.final_surface")
    }

    @Test("bodies that are not UTF-8 are refused: UTF-16 (either order, with or without a BOM), UTF-8 with a BOM, invalid bytes")
    func encodings() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let json = #"{"origin": "cli:alice", "text": "hi"}"#
        var bodies: [[UInt8]] = []
        bodies.append([0xFE, 0xFF] + json.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] })
        bodies.append([0xFF, 0xFE] + json.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        bodies.append(json.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        bodies.append(json.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] })
        bodies.append([0xEF, 0xBB, 0xBF] + Array(json.utf8))
        bodies.append(Array(#"{"origin": "cli:alice", "text": "h"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))
        bodies.append(Array(#"{"origin": "cli:alice", "text": "\ud800"}"#.utf8))
        for body in bodies {
            let response = await h.api.submit(body: body, as: .testOperator)
            #expect(response.status == 400, "\(body.prefix(8))")
            #expect(response.errorCode == "malformed_json", "\(body.prefix(8)): \(response.body)")
        }
    }

    @Test("null for an optional field means absent, the same answer as leaving it out; null for a required field is missing")
    func nullIsAbsent() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let without = await h.submit(Self.body(""))
        for fragment in [
            #""hints": null"#, #""contract": null"#, #""idempotency_key": null"#, #""summary": null"#,
            #""contract": {"parent_id": null, "deadline_s": null}"#,
        ] {
            let with = await h.submit(Self.body(fragment))
            #expect(with.status == without.status, "\(fragment)")
            #expect(with["decision"] == without["decision"], "\(fragment)")
        }
        let missing = await h.submit(#"{"origin": null, "text": "hi"}"#)
        #expect(missing.status == 400 && missing.errorField == "origin")
    }

    @Test("nesting deeper than 16 levels is refused")
    func depth() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let deep = String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000)
        let response = await h.submit(#"{"origin": "cli:alice", "text": "hi", "recipe": {"name": "noop", "params": {"x": \#(deep)}}}"#)
        #expect(response.status == 400)
        #expect(response.errorMessage?.contains("nested deeper than 16") == true, "\(response.body)")
    }

    @Test("contract refusals are recorded for the audit up to the per-minute budget, and not beyond")
    func refusalBudget() async throws {
        // A clock that stands still: the bucket refills one token every 12 s, and a slow machine
        // must not turn 40 quick requests into a 12-second run with one more token.
        let frozen = Date(timeIntervalSince1970: 2_000_000_000)
        let h = try Harness(configuration: .init(maxRecordedRefusalsPerMinute: 5), now: { frozen })
        defer { h.dir.cleanup() }
        for _ in 0..<40 {
            // Detaches, but pager:digest does not allow direct delivery: a contract refusal.
            let response = await h.submit(
                #"{"origin": "cli:alice", "text": "Run the release gate", "force": "detach", "recipe": {"name": "noop"}, "contract": {"final_surface": "pager:digest", "delivery_mode": "direct"}}"#
            )
            #expect(response.status == 422)
        }
        let counts = try await h.store.counts()
        #expect(counts.refusals == 5)
        #expect(counts.requests == 0 && counts.jobs == 0)
    }

    @Test("the refusal budget refills over time")
    func budgetRefills() {
        var budget = RefusalBudget(perMinute: 2)
        let start = Date(timeIntervalSince1970: 1_000_000)
        let first = budget.take(at: start)
        let second = budget.take(at: start)
        let third = budget.take(at: start)
        let early = budget.take(at: start.addingTimeInterval(10))
        let refilled = budget.take(at: start.addingTimeInterval(31))
        #expect(first && second)
        #expect(!third && !early)
        #expect(refilled)
    }
}
