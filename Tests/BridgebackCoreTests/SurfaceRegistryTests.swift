import Foundation
import Testing
import BridgebackCore

@Suite struct SurfaceRegistryTests {
    func load(_ surfaces: String) -> Result<SurfaceRegistry, BridgebackError> {
        let json = #"{"schema": "bridgeback.surfaces.v1", "surfaces": ["# + surfaces + "]}"
        do { return .success(try SurfaceRegistry.load(from: Data(json.utf8))) } catch { return .failure(error) }
    }

    func problems(_ surfaces: String) -> [BridgebackError] {
        guard case .failure(let error) = load(surfaces) else { return [] }
        #expect(error.code == .invalidSurfaceRegistry)
        return error.problems.isEmpty ? [error] : error.problems
    }

    @Test func fixtureLoadsWithKindDefaults() throws {
        let registry = try Fixtures.registry()
        #expect(registry.surfaces.count == 6)
        let slack = try #require(registry["slack:ops"])
        #expect(slack.maxLength == 4_000)  // Slack's readable size; the hard limit is 40,000
        #expect(slack.lengthUnit == .unicodeScalars)
        #expect(!slack.deduplicates)
        let hook = try #require(registry["hooks:local"])
        #expect(hook.deduplicates)
        #expect(hook.lengthUnit == .utf8Bytes)
        #expect(registry["cli:alice"]?.workSurface == "work:alice")
        #expect(registry["pager"]?.lengthPolicy == .summarize)
    }

    @Test func sampleDeployFileIsValid() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/local/surfaces.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return }  // run from a scratch copy
        let registry = try SurfaceRegistry.load(contentsOf: url)
        #expect(registry["cli:alice"] != nil && registry["work:alice"] != nil && registry["hooks:local"] != nil)
        #expect(try registry.resolveSecrets(environment: [:]).count == 1)
    }

    @Test func duplicateIDs() {
        let found = problems(#"{"id": "a", "kind": "stdout", "human_name": "A"}, {"id": "a", "kind": "stdout", "human_name": "A2"}"#)
        #expect(found.count == 1)
        #expect(found[0].message.contains("duplicate surface id 'a'"))
    }

    @Test func unknownKindNamesChoices() {
        let found = problems(#"{"id": "a", "kind": "pigeon", "human_name": "A"}"#)
        #expect(found.count == 1)
        #expect(found[0].surfaceID == "a" && found[0].field == "kind")
        #expect(found[0].message.contains(#"got "pigeon""#) && found[0].message.contains("webhook"))
    }

    @Test func missingAddress() {
        let found = problems(#"{"id": "w", "kind": "file", "human_name": "F"}"#)
        #expect(found.map(\.field) == ["address"])
        #expect(found[0].message.contains("needs an address"))
    }

    @Test func badLengths() {
        let found = problems(
            #"{"id": "t", "kind": "telegram", "address": "1", "human_name": "T", "max_length": 5000, "token": {"env": "TG"}}, {"id": "s", "kind": "stdout", "human_name": "S", "max_length": 100}, {"id": "x", "kind": "stdout", "human_name": "X", "max_length": 1.5}"#
        )
        #expect(found.count == 3)
        #expect(found.contains { $0.surfaceID == "t" && $0.message.contains("4096") })
        #expect(found.contains { $0.surfaceID == "s" && $0.message.contains("too small") })
        #expect(found.contains { $0.surfaceID == "x" && $0.message.contains("whole number") })
    }

    @Test func webhookNeedsSecretAndURL() {
        let found = problems(#"{"id": "h", "kind": "webhook", "address": "ftp://x", "human_name": "H"}"#)
        #expect(Set(found.compactMap(\.field)) == ["address", "signing_secret"])
    }

    @Test func badSecrets() {
        let short = "whsec_" + Data([1, 2, 3]).base64EncodedString()
        let found = problems(
            #"{"id": "h1", "kind": "webhook", "address": "https://x.example/h", "human_name": "H", "signing_secret": "nope"}, {"id": "h2", "kind": "webhook", "address": "https://x.example/h", "human_name": "H", "signing_secret": "\#(short)"}, {"id": "h3", "kind": "webhook", "address": "https://x.example/h", "human_name": "H", "signing_secret": {"envv": "X"}}, {"id": "i", "kind": "inbox", "address": "i", "human_name": "I", "signing_secret": {"env": "X"}}"#
        )
        #expect(found.count == 4)
        #expect(found.contains { $0.surfaceID == "h2" && $0.message.contains("24 to 64") })
        #expect(found.contains { $0.surfaceID == "i" && $0.message.contains("only applies to webhook") })
    }

    @Test func secretFromEnvironment() throws {
        let registry = try load(
            #"{"id": "h", "kind": "webhook", "address": "https://x.example/h", "human_name": "H", "signing_secret": {"env": "HOOK_SECRET"}}"#
        ).get()
        #expect(throws: BridgebackError.self) { try registry.resolveSecrets(environment: [:]) }
        let keys = try registry.resolveSecrets(environment: ["HOOK_SECRET": Fixtures.secret])
        #expect(keys["h"] == Array(0..<32))
        do {
            _ = try registry.resolveSecrets(environment: [:])
        } catch {
            #expect(error.code == .missingSecret)
            #expect(error.surfaceID == "h")
            #expect(error.message.contains("HOOK_SECRET"))
        }
    }

    @Test func chatReceiversCannotClaimDeduplication() {
        let found = problems(
            #"{"id": "s", "kind": "slack", "address": "C1", "human_name": "S", "deduplicates": true, "token": {"env": "SLACK"}}"#)
        #expect(found.count == 1 && found[0].field == "deduplicates")
    }

    @Test func danglingReferencesAndUnknownFields() {
        let found = problems(
            #"{"id": "a", "kind": "stdout", "human_name": "A", "work_surface": "nowhere"}, {"id": "b", "kind": "stdout", "human_name": "B", "max_len": 3}"#
        )
        #expect(found.count == 2)
        #expect(found.contains { $0.field == "work_surface" && $0.message.contains("'nowhere'") })
        #expect(
            found.contains { $0.field == "max_len" && $0.message.contains(#""max_len" is not a known field; did you mean "max_length"?"#) })
    }

    @Test func everyProblemIsReportedAtOnce() {
        let found = problems(#"{"kind": "stdout", "human_name": "A"}, {"id": "b", "kind": "webhook", "human_name": ""}, 7"#)
        #expect(found.count >= 5)
    }

    @Test func malformedFiles() {
        for text in [
            "", "[]", #"{"surfaces": []}"#, #"{"schema": "bridgeback.surfaces.v2", "surfaces": []}"#,
            #"{"schema": "bridgeback.surfaces.v1"}"#,
        ] {
            #expect(throws: BridgebackError.self) { try SurfaceRegistry.load(from: Data(text.utf8)) }
        }
    }

    /// The top level goes through the schema layer: what was expected and what came, the field,
    /// a likely typo named; keys it does not read are still ignored, so no file that loaded is refused.
    @Test func topLevelRefusalsSayWhatWasExpected() throws {
        func refusal(_ text: String) -> BridgebackError? {
            do {
                _ = try SurfaceRegistry.load(from: Data(text.utf8))
                return nil
            } catch { return error }
        }
        let version = try #require(refusal(#"{"schema": "bridgeback.surfaces.v2", "surfaces": []}"#))
        #expect(version.message == #"surface registry: "schema" must be "bridgeback.surfaces.v1", got "bridgeback.surfaces.v2""#)
        #expect(version.field == "schema" && version.schema == "bridgeback.surfaces.v2")
        let typo = try #require(refusal(#"{"schema": "bridgeback.surfaces.v1", "surface": []}"#))
        #expect(
            typo.message
                == #"surface registry: "surfaces" is required: an array of surface objects; the file has "surface": did you mean "surfaces"?"#
        )
        #expect(typo.field == "surfaces")
        #expect(
            refusal(#"{"schema": "bridgeback.surfaces.v1", "surfaces": {}}"#)?.message
                == #"surface registry: "surfaces" must be an array of surface objects, got an object"#)
        #expect(refusal("[]")?.message == #"surface registry must be a JSON object with "schema" and "surfaces", got an array"#)
        let extra = #"{"schema": "bridgeback.surfaces.v1", "_comment": "x", "description": 5, "surfaces": []}"#
        #expect(try SurfaceRegistry.load(from: Data(extra.utf8)).surfaces.isEmpty)
    }

    @Test func unknownSurfaceLookupListsKnown() throws {
        let registry = try Fixtures.registry()
        do {
            _ = try registry.surface("nowhere")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unknownSurface)
            #expect(error.message.contains("cli:alice"))
        }
    }
}
