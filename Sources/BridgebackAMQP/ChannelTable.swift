/// Every AMQP channel of one connection, without I/O: each channel's state, epoch, confirm window
/// and the publishes waiting for room in it.
///
/// The connection thread feeds it events (a channel opened, the broker acked, closed a channel,
/// the connection was lost) and performs what the answers say: send the next publish, resume a
/// batch, close a channel. Nothing here touches rabbitmq-c, so every transition is tested without
/// a broker (`ChannelTableTests`). Generic over what the caller tracks, so tests use plain values.
struct ChannelTable<Message, Token, Consumer> {
    /// The control channel (declares, binds, deletes); always present.
    static var controlChannel: UInt16 { 1 }

    enum Role {
        case control
        /// A confirm-mode channel sending at most `window` unconfirmed publishes.
        case publisher(window: Int)
        case consumer(Consumer)
    }

    /// A channel's life on the wire. The epoch counts opens of the same channel number, so a
    /// delivery's settlement from an earlier incarnation can be told apart (the broker requeued it).
    enum State: Equatable, Sendable {
        /// Not open: the loop (re)opens it.
        case closed
        case open(epoch: Int)
        /// A publisher whose publish was nacked: it sends nothing more until its outstanding
        /// confirms are in, then is closed and reopened (see `channelsToRecycle`).
        case draining(epoch: Int)
        /// `channel.close` was sent and `close-ok` is awaited; frames for it are dropped meanwhile.
        case closing(then: AfterClose)
    }

    enum AfterClose: Equatable, Sendable {
        /// Open a fresh channel with the same number and role (a recycled publisher).
        case reopen
        /// Forget the channel (its consumer was cancelled, or its owner closed it).
        case release
    }

    /// What to do after the broker confirmed `channel.open`.
    enum OpenedAction {
        case none
        /// Put the channel in confirm mode (`confirm.select`).
        case selectConfirms
        /// Set the prefetch and start consuming for this consumer.
        case consume(Consumer)
    }

    /// What a publish request found.
    enum EnqueueResult: Equatable, Sendable {
        /// Queued; the channel must be opened first.
        case queuedNeedsOpen
        /// Queued; send what the window allows.
        case queued
        /// The channel was closed by its owner: nothing was queued.
        case noSuchChannel
    }

    /// What a channel left behind when it went away.
    struct Leftovers {
        /// Sent and not confirmed: their outcome is unknown (or an error the caller names).
        var unconfirmed: [Token] = []
        /// Never sent.
        var unsent: [Token] = []
        var consumers: [Consumer] = []
    }

    struct Channel {
        let number: UInt16
        let role: Role
        fileprivate(set) var state: State = .closed
        /// Opens so far; the current incarnation's epoch once open.
        fileprivate(set) var epoch = 0
        fileprivate var confirms = ConfirmTracker<Token>()
        fileprivate var waiting: [(Message, Token)] = []
        fileprivate var waitingHead = 0
        /// The message whose content is arriving (between its deliver or return and its last body frame).
        fileprivate(set) var content: ContentAssembly?

        var window: Int {
            if case .publisher(let window) = role { return window }
            return 0
        }

        var outstandingCount: Int { confirms.outstandingCount }
        var waitingCount: Int { waiting.count - waitingHead }

        /// Open on the wire (possibly draining).
        var isOpen: Bool {
            switch state {
            case .open, .draining: true
            case .closed, .closing: false
            }
        }

        var consumer: Consumer? {
            if case .consumer(let consumer) = role { return consumer }
            return nil
        }

        fileprivate mutating func takeLeftovers() -> Leftovers {
            var leftovers = Leftovers(unconfirmed: confirms.failAll(), unsent: waiting[waitingHead...].map(\.1))
            waiting.removeAll()
            waitingHead = 0
            if let consumer { leftovers.consumers.append(consumer) }
            return leftovers
        }
    }

    private var channels: [UInt16: Channel] = [:]
    private var nextNumber: UInt16 = 2

    init() {
        channels[Self.controlChannel] = Channel(number: Self.controlChannel, role: .control)
    }

    subscript(number: UInt16) -> Channel? { channels[number] }

    /// Channel numbers in ascending order.
    var numbers: [UInt16] { channels.keys.sorted() }

    /// Channels the loop must open (closed ones), in ascending order.
    var needingOpen: [UInt16] { channels.values.filter { $0.state == .closed }.map(\.number).sorted() }

    /// Publishes sent and not yet confirmed, over every channel.
    var outstandingCount: Int { channels.values.reduce(0) { $0 + $1.outstandingCount } }

    /// Channels that are open and have publishes waiting for room in their window.
    var withWaitingPublishes: [UInt16] {
        channels.values.filter { $0.isOpen && $0.waitingCount > 0 }.map(\.number).sorted()
    }

    // MARK: - Opening

    /// Registers a new channel (closed until `opened`) under a free number from 2 up, wrapping.
    mutating func add(_ role: Role) -> UInt16 {
        while channels[nextNumber] != nil { advance() }
        let number = nextNumber
        advance()
        channels[number] = Channel(number: number, role: role)
        return number
    }

    private mutating func advance() {
        nextNumber &+= 1
        if nextNumber < 2 { nextNumber = 2 }
    }

    /// Mutates a channel in place (a copy out of the dictionary would copy its queues on every write).
    private mutating func update<R>(_ number: UInt16, _ body: (inout Channel) -> R) -> R? {
        guard let index = channels.index(forKey: number) else { return nil }
        return body(&channels.values[index])
    }

    /// The broker confirmed `channel.open`: a new incarnation (epoch) with fresh delivery tags.
    mutating func opened(_ number: UInt16) -> OpenedAction {
        update(number) { channel -> OpenedAction in
            channel.epoch += 1
            channel.state = .open(epoch: channel.epoch)
            channel.content = nil
            _ = channel.confirms.failAll()  // empty by now; restarts the delivery tags at 1
            switch channel.role {
            case .control: return .none
            case .publisher: return .selectConfirms
            case .consumer(let consumer): return .consume(consumer)
            }
        } ?? .none
    }

    /// Opening (or setting up) the channel failed with a channel error. A consumer cannot come
    /// back (its queue has gone): it is removed and returned so its stream ends with the reason.
    /// Other channels stay closed and are tried again.
    mutating func openFailed(_ number: UInt16) -> Consumer? {
        guard let channel = channels[number] else { return nil }
        if let consumer = channel.consumer {
            channels[number] = nil
            return consumer
        }
        update(number) { $0.state = .closed }
        return nil
    }

    /// A channel registered by `add` whose first open failed: forget it.
    mutating func discard(_ number: UInt16) {
        guard number != Self.controlChannel else { return }
        channels[number] = nil
    }

    // MARK: - Publishing

    /// Queues publishes on a publisher channel; they go out as the confirm window allows.
    mutating func enqueue(_ publishes: [(Message, Token)], on number: UInt16) -> EnqueueResult {
        update(number) { channel -> EnqueueResult in
            if channel.state == .closing(then: .release) { return .noSuchChannel }
            channel.waiting.append(contentsOf: publishes)
            return channel.state == .closed ? .queuedNeedsOpen : .queued
        } ?? .noSuchChannel
    }

    /// The next publish to send on `number` if its window has room: registers it as outstanding
    /// (after `stamp` updates its token) and returns it with its delivery tag. Nil when the channel
    /// is not open for publishing (closed, draining or closing), the window is full, or nothing waits.
    mutating func nextPublish(on number: UInt16, stamp: (inout Token) -> Void = { _ in }) -> (Message, tag: UInt64)? {
        update(number) { channel -> (Message, tag: UInt64)? in
            guard case .open = channel.state, channel.waitingHead < channel.waiting.count,
                channel.confirms.outstandingCount < channel.window
            else { return nil }
            var (message, token) = channel.waiting[channel.waitingHead]
            stamp(&token)
            channel.waitingHead += 1
            if channel.waitingHead == channel.waiting.count {
                channel.waiting.removeAll(keepingCapacity: true)
                channel.waitingHead = 0
            }
            return (message, channel.confirms.willPublish(token))
        } ?? nil
    }

    // MARK: - Confirms

    /// `basic.ack`: the resolved publishes (a returned mandatory message resolves as returned).
    mutating func ack(_ number: UInt16, tag: UInt64, multiple: Bool) -> [(Token, ConfirmTracker<Token>.Outcome)] {
        update(number) { $0.confirms.ack(tag: tag, multiple: multiple) } ?? []
    }

    /// `basic.nack`: the refused publishes. A publisher channel then drains: RabbitMQ can keep
    /// nacking every publish on a channel opened while a quorum queue's leader was being elected,
    /// for as long as that channel lives, so it is replaced once its outstanding confirms are in.
    mutating func nack(_ number: UInt16, tag: UInt64, multiple: Bool) -> [(Token, ConfirmTracker<Token>.Outcome)] {
        update(number) { channel in
            let resolved = channel.confirms.nack(tag: tag, multiple: multiple)
            if case .publisher = channel.role, case .open(let epoch) = channel.state { channel.state = .draining(epoch: epoch) }
            return resolved
        } ?? []
    }

    /// `basic.return` for the mandatory message stamped with `tag` (its ack follows).
    mutating func returned(_ number: UInt16, tag: UInt64, replyCode: UInt16, replyText: String) {
        update(number) { $0.confirms.returned(tag: tag, replyCode: replyCode, replyText: replyText) }
    }

    /// Draining publishers with nothing left in flight: now `closing(then: .reopen)`. The caller sends
    /// `channel.close` for each without waiting; `closeOk` marks it closed and the loop reopens it.
    mutating func channelsToRecycle() -> [UInt16] {
        numbers.filter { number in
            update(number) { channel -> Bool in
                guard case .draining = channel.state, channel.outstandingCount == 0 else { return false }
                channel.state = .closing(then: .reopen)
                return true
            } ?? false
        }
    }

    // MARK: - Consuming

    /// The consumer on `number` while its channel is open, with the channel's epoch (deliveries for
    /// a channel being closed are dropped: the broker requeues them).
    func openConsumer(on number: UInt16) -> (Consumer, epoch: Int)? {
        guard let channel = channels[number], case .open(let epoch) = channel.state, let consumer = channel.consumer else { return nil }
        return (consumer, epoch)
    }

    /// Whether a settlement for a delivery of incarnation `epoch` of `number` may be sent: only on
    /// that same incarnation (after a reopen the broker has requeued the delivery already).
    func acceptsSettlement(on number: UInt16, epoch: Int) -> Bool {
        guard let channel = channels[number] else { return false }
        switch channel.state {
        case .open(let current), .draining(let current): return current == epoch
        case .closed, .closing: return false
        }
    }

    /// The broker cancelled the consumer on `number` (`basic.cancel`, e.g. its queue was deleted).
    /// Returns the consumer to end; the channel is `closing(then: .release)` if it was open (the
    /// caller sends `channel.close` without waiting), else forgotten.
    mutating func cancelledByBroker(_ number: UInt16) -> (Consumer, sendClose: Bool)? {
        guard let channel = channels[number], let consumer = channel.consumer else { return nil }
        if case .closing(then: .release) = channel.state { return nil }
        guard channel.isOpen else {
            channels[number] = nil
            return (consumer, false)
        }
        update(number) { channel in
            channel.content = nil
            channel.state = .closing(then: .release)
        }
        return (consumer, true)
    }

    // MARK: - Closing

    /// The broker closed `number` (`channel.close`, or the reply to a failed RPC). Outstanding
    /// confirms fail (the caller names the reason); waiting publishes stay and go out after reopening.
    mutating func closedByBroker(_ number: UInt16) -> [Token] {
        guard let channel = channels[number] else { return [] }
        if case .closing(then: .release) = channel.state {
            var released = channels.removeValue(forKey: number)!
            return released.confirms.failAll()
        }
        return update(number) { channel in
            channel.content = nil
            channel.state = .closed
            return channel.confirms.failAll()
        } ?? []
    }

    /// `channel.close-ok` for a close sent without waiting.
    mutating func closeOk(_ number: UInt16) {
        guard let channel = channels[number], case .closing(let then) = channel.state else { return }
        switch then {
        case .release:
            channels[number] = nil
        case .reopen:
            update(number) { channel in
                channel.state = .closed
                channel.content = nil
                _ = channel.confirms.failAll()
            }
        }
    }

    /// Its owner closes `number`: everything on it fails, its consumer ends. Returns nil for an
    /// unknown channel; `sendClose` says whether the caller must close it on the wire. A channel
    /// already closing is released when its `close-ok` arrives.
    mutating func remove(_ number: UInt16) -> (Leftovers, sendClose: Bool)? {
        guard number != Self.controlChannel, let state = channels[number]?.state else { return nil }
        if case .closing = state {
            return update(number) { channel in
                channel.state = .closing(then: .release)
                return (channel.takeLeftovers(), false)
            }
        }
        var channel = channels.removeValue(forKey: number)!
        return (channel.takeLeftovers(), channel.isOpen)
    }

    /// The connection is gone: every channel is closed (those being released are forgotten), every
    /// outstanding and waiting publish is handed back. Consumers stay and resume after reconnecting.
    mutating func connectionLost() -> Leftovers {
        var all = Leftovers()
        for number in numbers {
            if case .closing(then: .release) = channels[number]?.state {
                var released = channels.removeValue(forKey: number)!
                all.unconfirmed += released.confirms.failAll()
                continue
            }
            update(number) { channel in
                let leftovers = channel.takeLeftovers()
                all.unconfirmed += leftovers.unconfirmed
                all.unsent += leftovers.unsent
                channel.content = nil
                channel.state = .closed
            }
        }
        return all
    }

    /// The connection is closed for good: every channel goes, with what it held.
    mutating func removeAll() -> Leftovers {
        var all = Leftovers()
        for number in numbers {
            guard var channel = channels.removeValue(forKey: number) else { continue }
            let leftovers = channel.takeLeftovers()
            all.unconfirmed += leftovers.unconfirmed
            all.unsent += leftovers.unsent
            // A consumer being released has already been ended.
            if case .closing(then: .release) = channel.state { continue }
            all.consumers += leftovers.consumers
        }
        return all
    }

    // MARK: - Content

    /// Takes the message being assembled on `number` (nil there until it is put back), so adding
    /// a body fragment does not copy what arrived before.
    mutating func takeContent(on number: UInt16) -> ContentAssembly? {
        update(number) { channel in
            defer { channel.content = nil }
            return channel.content
        } ?? nil
    }

    /// Starts or continues (nil: ends) the message whose content arrives on `number`.
    mutating func setContent(_ content: ContentAssembly?, on number: UInt16) {
        update(number) { $0.content = content }
    }
}
