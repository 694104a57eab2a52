import CRabbitMQ
import Testing

@testable import BridgebackAMQP

@Suite("CBridge: strings from rabbitmq-c's bytes")
struct CBridgeTests {
    static func string(_ text: String, reusing cached: inout String) -> String {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { buffer in
            CBridge.string(amqp_bytes_t(len: buffer.count, bytes: buffer.baseAddress), reusing: &cached)
        }
    }

    @Test("a repeated value is the cached string; a different one (or a prefix of it) replaces it")
    func reusing() {
        var cached = ""
        #expect(Self.string("", reusing: &cached) == "" && cached == "")
        let tag = "amq.ctag-0123456789abcdefghijklmn"
        #expect(Self.string(tag, reusing: &cached) == tag && cached == tag)
        #expect(Self.string(tag, reusing: &cached) == tag)
        #expect(Self.string("amq.ctag-0123456789abcdefghijklmN", reusing: &cached) == "amq.ctag-0123456789abcdefghijklmN")
        #expect(Self.string("amq.ctag", reusing: &cached) == "amq.ctag" && cached == "amq.ctag")
        #expect(Self.string("", reusing: &cached) == "" && cached == "")
    }
}
