@testable import BridgebackAMQP
import Testing

/// The channel table's transitions, without a broker: messages are strings, tokens ints,
/// consumers strings.
struct ChannelTableTests {
    typealias Table = ChannelTable<String, Int, String>

    /// A publisher channel, opened, with `window` room.
    private func openPublisher(_ table: inout Table, window: Int) -> UInt16 {
        let number = table.add(.publisher(window: window))
        guard case .selectConfirms = table.opened(number) else {
            Issue.record("a publisher is put in confirm mode when it opens")
            return number
        }
        return number
    }

    /// Sends everything the window allows; returns the messages with their tags.
    private func drain(_ table: inout Table, _ number: UInt16) -> [(String, UInt64)] {
        var sent: [(String, UInt64)] = []
        while let (message, tag) = table.nextPublish(on: number) { sent.append((message, tag)) }
        return sent
    }

    @Test func theControlChannelExistsAndNewChannelsNumberFromTwo() {
        var table = Table()
        #expect(table.numbers == [1])
        #expect(table.needingOpen == [1])
        let a = table.add(.publisher(window: 1))
        let b = table.add(.consumer("q"))
        #expect([a, b] == [2, 3])
        table.discard(a)
        #expect(table.numbers == [1, 3])
        table.discard(Table.controlChannel)
        #expect(table.numbers == [1, 3], "the control channel is never discarded")
    }

    @Test func openingBumpsTheEpochAndSaysWhatToSetUp() {
        var table = Table()
        let consumer = table.add(.consumer("jobs"))
        guard case .consume(let name) = table.opened(consumer) else {
            Issue.record("a consumer channel starts consuming when it opens")
            return
        }
        #expect(name == "jobs")
        #expect(table[consumer]?.state == .open(epoch: 1))
        guard case .none = table.opened(Table.controlChannel) else {
            Issue.record("the control channel needs no setup")
            return
        }
    }

    @Test func publishesWaitForRoomInTheWindowAndGoOutAsConfirmsArrive() {
        var table = Table()
        let number = openPublisher(&table, window: 2)
        let enqueued = table.enqueue([("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)], on: number)
        #expect(enqueued == .queued)
        let first = drain(&table, number)
        #expect(first.map(\.0) == ["a", "b"], "only the window's worth goes out")
        #expect(first.map(\.1) == [1, 2], "delivery tags count from 1")
        #expect(table[number]?.outstandingCount == 2)
        #expect(table[number]?.waitingCount == 3)
        #expect(table.withWaitingPublishes == [number])

        let confirmed = table.ack(number, tag: 1, multiple: false)
        #expect(confirmed.map(\.0) == [1])
        #expect(drain(&table, number).map(\.0) == ["c"], "one confirm makes room for one publish")
        let both = table.ack(number, tag: 3, multiple: true)
        #expect(both.map(\.0) == [2, 3])
        #expect(both.allSatisfy { $0.1 == .confirmed })
        #expect(drain(&table, number).map(\.1) == [4, 5])
        #expect(table.withWaitingPublishes.isEmpty)
        #expect(table.outstandingCount == 2)
    }

    @Test func aPublishOnAClosedChannelAsksForAnOpenFirst() {
        var table = Table()
        let number = table.add(.publisher(window: 4))
        #expect(table.enqueue([("a", 1)], on: number) == .queuedNeedsOpen)
        #expect(table.nextPublish(on: number) == nil, "nothing is sent before the channel is open")
        _ = table.opened(number)
        #expect(drain(&table, number).map(\.0) == ["a"])
        #expect(table.enqueue([("x", 9)], on: 42) == .noSuchChannel)
    }

    @Test func stampingUpdatesTheTokenBeforeItIsTracked() {
        var table = Table()
        let number = openPublisher(&table, window: 4)
        _ = table.enqueue([("a", 1)], on: number)
        _ = table.nextPublish(on: number) { $0 += 100 }
        #expect(table.ack(number, tag: 1, multiple: false).map(\.0) == [101])
    }

    @Test func aNackOrAMultipleNackFailsThoseTagsAndDrainsTheChannel() {
        var table = Table()
        let number = openPublisher(&table, window: 10)
        _ = table.enqueue((1...4).map { ("m\($0)", $0) }, on: number)
        _ = drain(&table, number)
        let nacked = table.nack(number, tag: 2, multiple: true)
        #expect(nacked.map(\.0) == [1, 2])
        #expect(nacked.allSatisfy { $0.1 == .nacked })
        #expect(table[number]?.state == .draining(epoch: 1))

        _ = table.enqueue([("later", 5)], on: number)
        #expect(table.nextPublish(on: number) == nil, "a draining channel sends nothing more")
        #expect(table.channelsToRecycle().isEmpty, "not while publishes are still in flight")
        #expect(table.acceptsSettlement(on: number, epoch: 1), "a draining channel is still open")

        _ = table.ack(number, tag: 4, multiple: true)
        #expect(table.channelsToRecycle() == [number])
        #expect(table[number]?.state == .closing(then: .reopen))
        #expect(table.channelsToRecycle().isEmpty, "recycled once")
        table.closeOk(number)
        #expect(table.needingOpen.contains(number))
        _ = table.opened(number)
        #expect(table[number]?.state == .open(epoch: 2))
        #expect(drain(&table, number).map { "\($0.0)@\($0.1)" } == ["later@1"], "the waiting publish goes out with tags from 1")
    }

    @Test func aReturnedMandatoryPublishFailsWhenItsAckArrives() {
        var table = Table()
        let number = openPublisher(&table, window: 10)
        _ = table.enqueue([("a", 1), ("b", 2)], on: number)
        _ = drain(&table, number)
        table.returned(number, tag: 2, replyCode: 312, replyText: "NO_ROUTE")
        let outcomes = table.ack(number, tag: 2, multiple: true).map(\.1)
        #expect(outcomes == [.confirmed, .returned(replyCode: 312, replyText: "NO_ROUTE")])
    }

    @Test func aChannelClosedByTheBrokerFailsItsConfirmsKeepsItsWaitingPublishesAndReopensFresh() {
        var table = Table()
        let number = openPublisher(&table, window: 2)
        _ = table.enqueue([("a", 1), ("b", 2), ("c", 3)], on: number)
        _ = drain(&table, number)
        let failed = table.closedByBroker(number)
        #expect(failed == [1, 2])
        #expect(table[number]?.state == .closed)
        #expect(table.needingOpen.contains(number))
        #expect(table.ack(number, tag: 1, multiple: true).isEmpty, "a late ack of the old incarnation resolves nothing")
        _ = table.opened(number)
        #expect(drain(&table, number).map { "\($0.0)@\($0.1)" } == ["c@1"])
    }

    @Test func reconnectingBumpsTheEpochSoSettlementsOfOldDeliveriesAreDropped() {
        var table = Table()
        let number = table.add(.consumer("jobs"))
        _ = table.opened(number)
        guard let (_, epoch) = table.openConsumer(on: number) else {
            Issue.record("an open consumer channel has its consumer")
            return
        }
        #expect(table.acceptsSettlement(on: number, epoch: epoch))

        let publisher = openPublisher(&table, window: 3)
        _ = table.enqueue([("a", 1), ("b", 2), ("c", 3), ("d", 4)], on: publisher)
        _ = drain(&table, publisher)
        let leftovers = table.connectionLost()
        #expect(leftovers.unconfirmed.sorted() == [1, 2, 3], "sent and unconfirmed: outcome unknown")
        #expect(leftovers.unsent == [4], "never sent")
        #expect(leftovers.consumers.isEmpty, "consumers survive a lost connection")
        #expect(!table.acceptsSettlement(on: number, epoch: epoch), "no settlement while the channel is closed")
        #expect(table.openConsumer(on: number) == nil)
        #expect(table.needingOpen == [1, number, publisher])

        for channel in table.needingOpen { _ = table.opened(channel) }
        #expect(table[number]?.state == .open(epoch: epoch + 1))
        #expect(!table.acceptsSettlement(on: number, epoch: epoch), "a delivery of the old connection was requeued by the broker")
        #expect(table.acceptsSettlement(on: number, epoch: epoch + 1))
        _ = table.enqueue([("e", 5)], on: publisher)
        #expect(drain(&table, publisher).map(\.1) == [1], "tags restart on the new channel")
    }

    @Test func aConsumerCancelledByTheBrokerIsClosedWithoutWaitingAndItsNumberHeldUntilCloseOk() {
        var table = Table()
        let number = table.add(.consumer("gone"))
        _ = table.opened(number)
        guard let (consumer, sendClose) = table.cancelledByBroker(number) else {
            Issue.record("the cancelled consumer is handed back")
            return
        }
        #expect(consumer == "gone")
        #expect(sendClose)
        #expect(table[number]?.state == .closing(then: .release))
        #expect(table.openConsumer(on: number) == nil, "deliveries arriving meanwhile are dropped")
        #expect(table.cancelledByBroker(number) == nil, "a second cancel does nothing")
        #expect(!table.needingOpen.contains(number), "a released channel is not reopened")
        let next = table.add(.publisher(window: 1))
        #expect(next != number, "the number is not reused before close-ok")
        table.closeOk(number)
        #expect(table[number] == nil)
    }

    @Test func aLostConnectionForgetsChannelsBeingReleased() {
        var table = Table()
        let number = table.add(.consumer("gone"))
        _ = table.opened(number)
        _ = table.cancelledByBroker(number)
        _ = table.connectionLost()
        #expect(table[number] == nil)
        #expect(table.needingOpen == [1])
    }

    @Test func closingByTheOwnerHandsBackEverythingAndSaysWhetherToCloseOnTheWire() {
        var table = Table()
        let number = openPublisher(&table, window: 1)
        _ = table.enqueue([("a", 1), ("b", 2)], on: number)
        _ = drain(&table, number)
        guard let (leftovers, sendClose) = table.remove(number) else {
            Issue.record("an open channel can be removed")
            return
        }
        #expect(leftovers.unconfirmed == [1])
        #expect(leftovers.unsent == [2])
        #expect(sendClose)
        #expect(table[number] == nil)
        #expect(table.enqueue([("c", 3)], on: number) == .noSuchChannel)
        #expect(table.remove(Table.controlChannel) == nil, "the control channel stays")

        let consumer = table.add(.consumer("q"))
        let removed = table.remove(consumer)
        #expect(removed?.0.consumers == ["q"])
        #expect(removed?.sendClose == false, "never opened: nothing to close on the wire")
    }

    @Test func closingAChannelThatIsBeingRecycledReleasesItOnCloseOk() {
        var table = Table()
        let number = openPublisher(&table, window: 1)
        _ = table.enqueue([("a", 1)], on: number)
        _ = drain(&table, number)
        _ = table.nack(number, tag: 1, multiple: false)
        #expect(table.channelsToRecycle() == [number])
        #expect(table.remove(number)?.sendClose == false, "its close is already on the wire")
        #expect(table.enqueue([("b", 2)], on: number) == .noSuchChannel)
        table.closeOk(number)
        #expect(table[number] == nil)
    }

    @Test func aFailedOpenEndsAConsumerButKeepsOtherChannelsForAnotherTry() {
        var table = Table()
        let consumer = table.add(.consumer("deleted"))
        #expect(table.openFailed(consumer) == "deleted")
        #expect(table[consumer] == nil)
        let publisher = table.add(.publisher(window: 1))
        #expect(table.openFailed(publisher) == nil)
        #expect(table.needingOpen.contains(publisher))
    }

    @Test func closingForGoodHandsBackEveryTokenAndEveryLiveConsumer() {
        var table = Table()
        let publisher = openPublisher(&table, window: 1)
        _ = table.enqueue([("a", 1), ("b", 2)], on: publisher)
        _ = drain(&table, publisher)
        let live = table.add(.consumer("live"))
        _ = table.opened(live)
        let cancelled = table.add(.consumer("cancelled"))
        _ = table.opened(cancelled)
        _ = table.cancelledByBroker(cancelled)
        let all = table.removeAll()
        #expect(all.unconfirmed == [1])
        #expect(all.unsent == [2])
        #expect(all.consumers == ["live"], "a consumer already ended is not ended twice")
        #expect(table.numbers.isEmpty)
    }

    @Test func contentIsTakenAndPutBackPerChannel() {
        var table = Table()
        let number = table.add(.consumer("q"))
        _ = table.opened(number)
        table.setContent(ContentAssembly(origin: .returned(replyCode: 312, replyText: "NO_ROUTE"), limit: nil), on: number)
        #expect(table.takeContent(on: number) != nil)
        #expect(table.takeContent(on: number) == nil, "taken means gone until it is put back")
        table.setContent(ContentAssembly(origin: .returned(replyCode: 312, replyText: "NO_ROUTE"), limit: nil), on: number)
        _ = table.closedByBroker(number)
        #expect(table.takeContent(on: number) == nil, "a closed channel's half-arrived message is dropped")
    }

    @Test func channelNumbersWrapAroundAndSkipThoseInUse() {
        var table = Table()
        var numbers: Set<UInt16> = []
        for _ in 0..<(Int(UInt16.max) + 10) {
            let number = table.add(.publisher(window: 1))
            numbers.insert(number)
            if number != 3 { table.discard(number) }
        }
        #expect(!numbers.contains(0) && !numbers.contains(1), "0 and the control channel are never handed out")
        #expect(table.numbers == [1, 3])
    }

    @Test func aCopyOfTheTableSharesNoChannelState() {
        var table = Table()
        let number = openPublisher(&table, window: 1)
        _ = table.enqueue([("a", 1), ("b", 2)], on: number)
        let copy = table
        #expect(drain(&table, number).map(\.0) == ["a"])
        _ = table.nack(number, tag: 1, multiple: false)
        #expect(table[number]?.state == .draining(epoch: 1))
        #expect(copy[number]?.state == .open(epoch: 1), "the copy's channel was not written to")
        #expect(copy[number]?.waitingCount == 2)
        #expect(copy[number]?.outstandingCount == 0)
        var other = copy
        #expect(drain(&other, number).map(\.0) == ["a"], "the copy still has its own queue")
        #expect(copy[number]?.waitingCount == 2)
    }

    @Test func runsFromSeveralBatchesGoOutInOrderAndWhatWasNotSentComesBackInOrder() {
        var table = Table()
        let number = openPublisher(&table, window: 3)
        #expect(table.enqueue(["a", "b"], tokens: [1, 2], on: number) == .queued)
        #expect(table.enqueue([], tokens: [], on: number) == .queued)
        #expect(table.enqueue(["c", "d", "e"], tokens: [3, 4, 5], on: number) == .queued)
        #expect(table[number]?.waitingCount == 5)
        #expect(drain(&table, number).map(\.0) == ["a", "b", "c"], "in order across batches")
        _ = table.enqueue(["f"], tokens: [6], on: number)
        let lost = table.connectionLost()
        #expect(lost.unconfirmed == [1, 2, 3])
        #expect(lost.unsent == [4, 5, 6])
        #expect(table[number]?.waitingCount == 0)
    }

    @Test func manyBatchesOneAtATimeKeepTheirOrder() {
        var table = Table()
        let number = openPublisher(&table, window: 1)
        var sent: [String] = []
        for batch in 0..<300 {
            _ = table.enqueue(["\(batch)a", "\(batch)b"], tokens: [2 * batch, 2 * batch + 1], on: number)
            if let (message, tag) = table.nextPublish(on: number) {
                sent.append(message)
                _ = table.ack(number, tag: tag, multiple: false)
            }
        }
        sent += drainAcking(&table, number)
        #expect(sent == (0..<300).flatMap { ["\($0)a", "\($0)b"] })
    }

    /// Sends and acks one at a time until nothing waits.
    private func drainAcking(_ table: inout Table, _ number: UInt16) -> [String] {
        var sent: [String] = []
        while let (message, tag) = table.nextPublish(on: number) {
            sent.append(message)
            _ = table.ack(number, tag: tag, multiple: false)
        }
        return sent
    }

    @Test func contentIsAssembledInPlaceAndLeavesTheChannelWhenComplete() {
        var table = Table()
        let number = table.add(.consumer("q"))
        _ = table.opened(number)
        #expect(table.assemble(on: number) { _ in .needMore } == nil, "nothing is being assembled")
        let origin = ContentAssembly.Origin.delivery(tag: 7, redelivered: false, exchange: "", routingKey: "q", consumerTag: "c")
        table.setContent(ContentAssembly(origin: origin, limit: nil), on: number)
        guard case .needMore? = table.assemble(on: number, { $0.header(MessageProperties(), bodySize: 4) }) else {
            Issue.record("the header leaves the body to come")
            return
        }
        guard case .needMore? = table.assemble(on: number, { a in ([1, 2] as [UInt8]).withUnsafeBytes { a.body($0) } }) else {
            Issue.record("half the body")
            return
        }
        guard case .complete(let message)? = table.assemble(on: number, { a in ([3, 4] as [UInt8]).withUnsafeBytes { a.body($0) } }) else {
            Issue.record("the whole body")
            return
        }
        #expect(message.body == [1, 2, 3, 4], "both fragments, kept between frames")
        #expect(table.assemble(on: number) { _ in .needMore } == nil, "a complete message leaves the channel")
        table.setContent(ContentAssembly(origin: origin, limit: nil), on: number)
        #expect(table.assemble(on: number) { _ in nil } == nil)
        #expect(table.takeContent(on: number) == nil, "a frame that could not be read drops the message")
    }

    @Test func sendNextLendsEachMessageWithItsTagAsTheWindowAllows() {
        var table = Table()
        let number = openPublisher(&table, window: 2)
        _ = table.enqueue(["a", "b"], tokens: [1, 2], on: number)
        _ = table.enqueue(["c"], tokens: [3], on: number)
        var sent: [String] = []
        let send = { (message: borrowing String, tag: UInt64) -> UInt64 in
            sent.append(copy message)
            return tag
        }
        var stamped: [Int] = []
        while let tag = table.sendNext(
            on: number,
            stamp: {
                stamped.append($0); $0 *= 10
            }, send)
        { #expect(tag == UInt64(sent.count)) }
        #expect(sent == ["a", "b"], "the window holds two")
        #expect(stamped == [1, 2])
        let confirmed = table.ack(number, tag: 2, multiple: true)
        #expect(confirmed.map(\.0) == [10, 20], "what was stamped is what the confirm hands back")
        #expect(table.sendNext(on: number, stamp: { _ in }, send) == 3)
        #expect(sent == ["a", "b", "c"])
        #expect(table.sendNext(on: number, stamp: { _ in }, send) == nil, "nothing waits")
        #expect(table.sendNext(on: 99, stamp: { _ in }, send) == nil, "no such channel")
    }
}
