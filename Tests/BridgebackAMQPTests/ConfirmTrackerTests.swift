@testable import BridgebackAMQP
import Testing

struct ConfirmTrackerTests {
    @Test func tagsCountUpFromOne() {
        var t = ConfirmTracker<String>()
        let r1 = t.willPublish("a")
        #expect(r1 == 1)
        let r2 = t.willPublish("b")
        #expect(r2 == 2)
        #expect(t.outstandingCount == 2)
    }

    @Test func singleAckResolvesOnlyItsTagEvenOutOfOrder() {
        var t = ConfirmTracker<String>()
        for name in ["a", "b", "c"] { _ = t.willPublish(name) }
        let second = t.ack(tag: 2, multiple: false)
        #expect(second.map(\.0) == ["b"])
        #expect(t.outstandingCount == 2)
        let first = t.ack(tag: 1, multiple: false)
        #expect(first.map(\.0) == ["a"])
        let r3 = t.ack(tag: 2, multiple: false).isEmpty
        #expect(r3, "an ack for a resolved tag resolves nothing")
    }

    @Test func multipleAckResolvesEverythingUpToTheTag() {
        var t = ConfirmTracker<Int>()
        for i in 1...10 { _ = t.willPublish(i) }
        _ = t.ack(tag: 3, multiple: false)
        let resolved = t.ack(tag: 7, multiple: true)
        #expect(resolved.map(\.0) == [1, 2, 4, 5, 6, 7])
        #expect(resolved.allSatisfy { $0.1 == .confirmed })
        #expect(t.outstandingCount == 3)
    }

    @Test func nackIsReportedAsNacked() {
        var t = ConfirmTracker<Int>()
        for i in 1...3 { _ = t.willPublish(i) }
        let resolved = t.nack(tag: 2, multiple: true)
        #expect(resolved.map(\.1) == [.nacked, .nacked])
    }

    @Test func aReturnedMessageFailsWhenItsAckArrives() {
        var t = ConfirmTracker<Int>()
        for i in 1...3 { _ = t.willPublish(i) }
        t.returned(tag: 2, replyCode: 312, replyText: "NO_ROUTE")
        let resolved = t.ack(tag: 3, multiple: true)
        #expect(resolved.map(\.1) == [.confirmed, .returned(replyCode: 312, replyText: "NO_ROUTE"), .confirmed])
    }

    @Test func failAllHandsBackEveryOutstandingTokenAndRestartsTags() {
        var t = ConfirmTracker<Int>()
        for i in 1...5 { _ = t.willPublish(i) }
        _ = t.ack(tag: 2, multiple: true)
        let r4 = t.failAll()
        #expect(r4 == [3, 4, 5])
        #expect(t.outstandingCount == 0)
        let r5 = t.willPublish(6)
        #expect(r5 == 1)
    }

    @Test func longRunsCompactWithoutLosingTrack() {
        var t = ConfirmTracker<Int>()
        var confirmed = 0
        for i in 1...10_000 {
            _ = t.willPublish(i)
            if i % 7 == 0 { confirmed += t.ack(tag: UInt64(i), multiple: true).count }
        }
        confirmed += t.ack(tag: 10_000, multiple: true).count
        #expect(confirmed == 10_000)
        #expect(t.outstandingCount == 0)
    }
}
