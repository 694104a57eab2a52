import BridgebackAudit
import Foundation
import Testing

/// The audit config reads through the schema layer: every key optional, typos and wrong types
/// refused naming the full path, `_` keys are comments.
@Suite("Audit config")
struct AuditConfigTests {
    static func refusal(_ json: String) -> String? {
        do {
            _ = try AuditConfig.parse(Data(json.utf8))
            return nil
        } catch {
            #expect(error.code == .invalidConfig)
            return error.message
        }
    }

    @Test("the sample config and an empty object read; comments are allowed; missing keys keep the defaults")
    func reads() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/local/audit.json")
        if FileManager.default.fileExists(atPath: sample.path) {
            #expect(try AuditConfig.load(from: sample) == .default)
        }
        #expect(try AuditConfig.parse(Data("{}".utf8)) == .default)
        let tuned = try AuditConfig.parse(Data(#"{"_why": "x", "thresholds": {"_n": 1, "wait_share": 0.25}}"#.utf8))
        #expect(tuned.thresholds.waitShare == 0.25 && tuned.thresholds.longTurnSeconds == 120)
        // Codable decoding goes through the same reader.
        #expect(throws: (any Error).self) { try JSONDecoder().decode(AuditConfig.self, from: Data(#"{"thresholdz": {}}"#.utf8)) }
    }

    @Test("each refusal names the full path and what was expected")
    func refusals() {
        #expect(
            Self.refusal(#"{"thresholds": {"many_tool_call": 10}}"#)?.hasPrefix(
                #""thresholds.many_tool_call" is not a known field; did you mean "many_tool_calls"?"#) == true)
        #expect(
            Self.refusal(#"{"thresholds": {"many_sources": 2.5}}"#)
                == #""thresholds.many_sources" must be a whole number of at least 0, got 2.5"#)
        #expect(Self.refusal(#"{"thresholds": {"wait_share": 2}}"#) == #""thresholds.wait_share" must be a share from 0 to 1, got 2"#)
        #expect(
            Self.refusal(#"{"thresholds": {"long_turn_s": "2m"}}"#)
                == #""thresholds.long_turn_s" must be a non-negative number of seconds, got a string"#)
        #expect(
            Self.refusal(#"{"delivery": {"delivery_mode": "email"}}"#)?.contains(
                #"must be "parent", "direct" or "suppressed", got "email""#) == true)
        #expect(Self.refusal(#"{"delivery": 5}"#) == #""delivery" must be an object, got 5"#)
        #expect(Self.refusal(#"{"delivery": {"max_chars": 0}}"#) == #""delivery.max_chars" must be a whole number of at least 1, got 0"#)
        #expect(Self.refusal(#"{"delivery": {}, "delivery": {}}"#)?.contains("duplicate key") == true)
        #expect(Self.refusal("[]") == "the audit config must be an object, got an array")
    }
}
