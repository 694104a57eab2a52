import BridgebackCore
import Foundation
import Testing

@Suite("Secrets print as <redacted>; over-limit JSON is cut, not held")
struct RedactionAndCutterTests {
    struct Holder {
        var name = "worker"
        var environment = Redacted(["BRIDGEBACK_AMQP_URL": "amqp://bb-worker:s3cret-pw@127.0.0.1/bridgeback"])
        var key = Redacted<[UInt8]>([0xDE, 0xAD, 0xBE, 0xEF])
    }

    @Test("every printed form of a Redacted value hides it: interpolation, reflection, dump, a containing struct")
    func redactedHidesItsValue() {
        let holder = Holder()
        var dumped = ""
        dump(holder, to: &dumped)
        for text in ["\(holder)", String(reflecting: holder), String(describing: holder.environment), dumped, "\(holder.key)"] {
            #expect(!text.contains("s3cret-pw") && !text.contains("222") && !text.contains("dead"), "\(text)")
            #expect(text.contains("<redacted>"), "\(text)")
        }
        #expect(holder.environment.value["BRIDGEBACK_AMQP_URL"]?.contains("s3cret-pw") == true, "the value itself is still there to use")
    }

    @Test("a signing secret prints without its key, in a surface too")
    func signingSecretHidesItsKey() {
        let secret = SigningSecret.inline("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        var dumped = ""
        dump(secret, to: &dumped)
        for text in ["\(secret)", String(reflecting: secret), dumped, "\([secret])"] {
            #expect(!text.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "\(text)")
        }
        #expect("\(SigningSecret.environment("HOOK_SECRET"))".contains("HOOK_SECRET"), "the variable's name is not secret")
    }

    static func cut(_ text: String, keep: Int, max: Int = 1 << 20, chunk: Int = 7) -> String? {
        var cutter = JSONStringCutter(keepStringBytes: keep, maxOutputBytes: max)
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let end = min(index + chunk, bytes.count)
            bytes[index..<end].withUnsafeBytes { cutter.consume($0) }
            index = end
        }
        let out = cutter.finish()
        return out.isEmpty ? nil : String(decoding: out, as: UTF8.self)
    }

    @Test("strings longer than the cut keep a prefix at a character or escape boundary; the document stays valid JSON")
    func cutterKeepsStructure() throws {
        let long = String(repeating: "é\\n\\u00e9\\ud83d\\ude00x", count: 5000)
        let document = #"{"job_id":"bbj_1","outcome":{"result":""# + long + #"","status":"succeeded"},"worker":"w1"}"#
        // Every string is cut, keys too: from 9 bytes on, only the long result is affected here.
        for keep in [9, 10, 11, 12, 13, 14, 17, 100, 1001] {
            for chunk in [1, 3, 64] {
                let out = try #require(Self.cut(document, keep: keep, chunk: chunk), "keep \(keep)")
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "keep \(keep): \(out.prefix(300))")
                #expect(object["job_id"] as? String == "bbj_1" && object["worker"] as? String == "w1")
                let result = try #require((object["outcome"] as? [String: Any])?["result"] as? String)
                #expect(Array(result.utf8).count <= keep)
                #expect(result.unicodeScalars.allSatisfy { $0.value != 0xFFFD }, "no broken character")
            }
        }
        // Under the cut nothing changes.
        #expect(Self.cut(document, keep: 1 << 20) == document)
    }

    @Test("a document that does not shrink below the output cap, or ends inside a string, yields nothing")
    func cutterRefusesWhatItCannotBound() {
        let many = "[" + Array(repeating: "\"abcdefgh\"", count: 1000).joined(separator: ",") + "]"
        #expect(Self.cut(many, keep: 4, max: 1000) == nil)
        #expect(Self.cut(#"{"a":"unterminated"#, keep: 4) == nil)
    }

    @Test("20 MB through the cutter in 128 KiB frames keeps the fields and a 64 KiB prefix")
    func cutterOnALargeCompletion() throws {
        let big = String(repeating: "0123456789abcdef", count: 20 << 16)
        let document = #"{"capability":"bbc_x","job_id":"bbj_2","outcome":{"result":""# + big + #"","status":"succeeded"}}"#
        let out = try #require(
            Self.cut(document, keep: MessageLimits.keptStringBytes, max: MessageLimits.maxReducedBytes, chunk: 128 << 10))
        #expect(out.utf8.count < MessageLimits.keptStringBytes + 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect(object["capability"] as? String == "bbc_x")
    }
}
