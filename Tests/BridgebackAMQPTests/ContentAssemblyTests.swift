@testable import BridgebackAMQP
import Testing

@Suite("Content assembly: a body within the limit whole, a longer one through the reducer")
struct ContentAssemblyTests {
    static func feed(_ assembly: inout ContentAssembly, _ body: [UInt8], frame: Int) -> ContentAssembly.Step {
        var step = assembly.header(MessageProperties(messageID: "m1"), bodySize: UInt64(body.count))
        var index = 0
        while index < body.count {
            let end = min(index + frame, body.count)
            step = body[index..<end].withUnsafeBytes { assembly.body($0) }
            index = end
        }
        return step
    }

    @Test("within the limit: delivered whole, no oversize")
    func wholeBody() {
        var assembly = ContentAssembly(origin: .returned(replyCode: 312, replyText: "NO_ROUTE"), limit: .prefix(100, keep: 3))
        guard case .complete(let message) = Self.feed(&assembly, Array(0..<100), frame: 7) else {
            Issue.record("not complete")
            return
        }
        #expect(message.body == Array(0..<100) && message.oversizeBytes == nil && message.properties.messageID == "m1")
    }

    @Test("over the limit: the reducer's output and the full size")
    func reducedBody() {
        var assembly = ContentAssembly(origin: .returned(replyCode: 312, replyText: "NO_ROUTE"), limit: .prefix(100, keep: 3))
        guard case .complete(let message) = Self.feed(&assembly, Array(repeating: 9, count: 1000), frame: 128) else {
            Issue.record("not complete")
            return
        }
        #expect(message.body == [9, 9, 9] && message.oversizeBytes == 1000)
    }

    @Test("an empty body completes at the header; frames out of order are protocol errors")
    func edges() {
        var empty = ContentAssembly(origin: .returned(replyCode: 312, replyText: ""), limit: nil)
        if case .complete(let message) = empty.header(MessageProperties(), bodySize: 0) {
            #expect(message.body.isEmpty)
        } else {
            Issue.record("an empty body is complete at its header")
        }
        var early = ContentAssembly(origin: .returned(replyCode: 312, replyText: ""), limit: nil)
        if case .protocolError = [1, 2].withUnsafeBytes({ early.body($0) }) {} else { Issue.record("a body before the header") }
        var over = ContentAssembly(origin: .returned(replyCode: 312, replyText: ""), limit: nil)
        _ = over.header(MessageProperties(), bodySize: 1)
        if case .protocolError = [1, 2].withUnsafeBytes({ over.body($0) }) {} else { Issue.record("more than declared") }
    }
}
