@testable import BridgebackAMQP
import Testing

/// The tags a consumer holds unsettled: what is counted as prefetch in use.
struct UnsettledTagsTests {
    private func tags(_ values: [UInt64]) -> UnsettledTags {
        var tags = UnsettledTags()
        for value in values { tags.insert(value) }
        return tags
    }

    @Test func deliveriesAddAndSettlementsRemove() {
        var unsettled = tags(Array(1...10))
        #expect(unsettled.count == 10)
        unsettled.remove(1)
        unsettled.remove(5)
        unsettled.remove(5)
        unsettled.remove(42)
        #expect(unsettled.count == 8, "a tag settled twice, or never delivered, changes nothing")
        #expect(!unsettled.contains(5) && unsettled.contains(6))
        unsettled.removeUpTo(7)
        #expect(unsettled.count == 3)
        #expect([8, 9, 10].allSatisfy { unsettled.contains($0) })
        unsettled.removeUpTo(3)
        #expect(unsettled.count == 3, "a multiple settlement below what is held removes nothing")
        unsettled.removeUpTo(10)
        #expect(unsettled.isEmpty)
        unsettled.insert(11)
        #expect(unsettled.count == 1 && unsettled.contains(11))
    }

    @Test func outOfOrderAndRepeatedTagsStayCountedOnce() {
        var unsettled = tags([5, 3, 9, 3, 7])
        #expect(unsettled.count == 4)
        unsettled.removeUpTo(5)
        #expect(unsettled.count == 2 && unsettled.contains(7) && unsettled.contains(9))
        unsettled.removeUpTo(.max)
        #expect(unsettled.isEmpty)
    }

    @Test func aLongRunAgreesWithASet() {
        var unsettled = UnsettledTags()
        var reference: Set<UInt64> = []
        var next: UInt64 = 1
        for step in 0..<5000 {
            for _ in 0..<(step % 7) {
                unsettled.insert(next)
                reference.insert(next)
                next += 1
            }
            if step % 3 == 0, let some = reference.min() {
                unsettled.remove(some + 1)
                reference.remove(some + 1)
            }
            if step % 11 == 0, next > 5 {
                let upTo = next - 5
                unsettled.removeUpTo(upTo)
                reference = reference.filter { $0 > upTo }
            }
            #expect(unsettled.count == reference.count)
        }
        #expect(reference.allSatisfy { unsettled.contains($0) })
    }

    /// What a run of plain acks may send as one `multiple` ack: only the oldest unsettled tags, in
    /// order, without a gap (`ConnectionCore.settleAcks`).
    @Test func theCoveredPrefixIsTheOldestUnsettledTagsWithoutAGap() {
        let unsettled = tags([3, 4, 5, 7, 8])
        #expect(unsettled.coveredPrefix(of: [3, 4, 5]) == 3)
        #expect(unsettled.coveredPrefix(of: [3, 4, 5, 7, 8]) == 5)
        #expect(unsettled.coveredPrefix(of: [3, 4, 7, 8]) == 2, "5 is still unsettled: a multiple ack of 7 would settle it too")
        #expect(unsettled.coveredPrefix(of: [4, 5]) == 0, "3, the oldest, is not in the run")
        #expect(unsettled.coveredPrefix(of: [3, 3, 4]) == 1, "a repeated tag stops the prefix")
        #expect(unsettled.coveredPrefix(of: [1, 2, 3]) == 0, "tags not held stop it")
        #expect(unsettled.coveredPrefix(of: []) == 0)
        #expect(UnsettledTags().coveredPrefix(of: [1]) == 0)
    }

    @Test func theCoveredPrefixFollowsSettlements() {
        var unsettled = tags(Array(1...10))
        unsettled.remove(1)
        unsettled.remove(4)
        #expect(unsettled.coveredPrefix(of: [2, 3, 5, 6]) == 4, "4 was settled on its own: 5 follows 3")
        unsettled.removeUpTo(6)
        #expect(unsettled.coveredPrefix(of: [7, 8, 10]) == 2)
        #expect(unsettled.coveredPrefix(of: [2, 3]) == 0, "settled already")
        // Every run of the four tags still held: the prefix is the run's leading tags that match the
        // held ones in order.
        let held: [UInt64] = [7, 8, 9, 10]
        for mask in 0..<16 {
            let run = held.indices.filter { mask & (1 << $0) != 0 }.map { held[$0] }
            let expected = zip(run, held).prefix { $0 == $1 }.count
            #expect(unsettled.coveredPrefix(of: run) == expected, "run \(run)")
        }
    }

    @Test func emptiedMeansEmpty() {
        var unsettled = tags([1, 2, 3])
        unsettled.removeAll()
        #expect(unsettled.isEmpty && unsettled.count == 0 && !unsettled.contains(2))
    }
}
