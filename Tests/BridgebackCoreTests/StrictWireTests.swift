import BridgebackCore
import Foundation
import Testing

/// Broker messages are read as strictly as HTTP bodies (docs/protocol.md): duplicate keys and
/// non-UTF-8 refused, `null` for an optional field the same as leaving it out.
@Suite("Wire messages: the same strict JSON as HTTP")
struct StrictWireTests {
    static func completion(_ extra: String) -> String {
        #"{"schema":"bridgeback.completion.v1","job_id":"\#(Fixtures.jobID)","worker":"w1","attempt":1,"#
            + #""started_at":"2026-01-01T00:00:00.000Z","finished_at":"2026-01-01T00:00:01.000Z","#
            + #""outcome":{"status":"succeeded","result":"ok"}\#(extra)}"#
    }

    @Test("a duplicate key is refused naming it, at the top level and nested")
    func duplicateKeys() {
        for extra in [#","worker":"w2""#, #","outcome":{"status":"failed","reason":"x"}"#] {
            do {
                _ = try WireCodec.decode(Completion.self, from: Data(Self.completion(extra).utf8))
                Issue.record("accepted a duplicate key: \(extra)")
            } catch {
                #expect(error.code == .malformedMessage && error.message.contains("duplicate key"), "\(error.message)")
            }
        }
        do {
            _ = try WireCodec.decode(Completion.self, from: Data(#"{"schema":"bridgeback.completion.v1","schema":"x"}"#.utf8))
            Issue.record("accepted a duplicate schema")
        } catch {
            #expect(error.message.contains("duplicate key"))
        }
    }

    @Test("null for an optional field is the same as leaving it out; UTF-16 is refused")
    func nullAndEncoding() throws {
        let plain = try WireCodec.decode(Completion.self, from: Data(Self.completion("").utf8))
        let withNull = try WireCodec.decode(Completion.self, from: Data(Self.completion(#","capability":null"#).utf8))
        #expect(plain == withNull && withNull.capability == nil)
        let utf16 = Self.completion("").data(using: .utf16LittleEndian)!
        #expect(throws: BridgebackError.self) { try WireCodec.decode(Completion.self, from: utf16) }
    }
}
