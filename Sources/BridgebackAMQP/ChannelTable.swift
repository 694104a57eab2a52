/// Every AMQP channel of one connection, without I/O: each channel's state, epoch, confirm window
/// and the publishes waiting for room in it.
///
/// The connection thread feeds it events (a channel opened, the broker acked, closed a channel,
/// the connection was lost) and performs what the answers say: send the next publish, resume a
/// batch, close a channel. Nothing here touches rabbitmq-c, so every transition is tested without
/// a broker (`ChannelTableTests`). Generic over what the caller tracks, so tests use plain values.
///
/// Per frame it does one array index by channel number and mutates that channel in place: each
/// channel's state lives in a box of its own, copied on write, so the table stays a value (a copy
/// shares nothing observable) while the per-message paths never copy a `Channel` or its queues.
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
        fileprivate var waiting = WaitingPublishes<Message, Token>()
        /// The message whose content is arriving (between its deliver or return and its last body frame).
        fileprivate(set) var content: ContentAssembly?

        var window: Int {
            if case .publisher(let window) = role { return window }
            return 0
        }

        var outstandingCount: Int { confirms.outstandingCount }
        var waitingCount: Int { waiting.count }

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
            var leftovers = Leftovers(unconfirmed: confirms.failAll(), unsent: waiting.removeAll())
            if let consumer { leftovers.consumers.append(consumer) }
            return leftovers
        }
    }

    /// One channel's state, boxed so it is mutated in place; never shared between two tables
    /// (`writableSlot` copies a box that is not uniquely referenced before it is written to).
    private final class Slot {
        var channel: Channel
        init(_ channel: Channel) { self.channel = channel }
    }

    /// Indexed by channel number. Numbers are handed out from 2 up, so this is as long as the
    /// highest number in use (the broker's `channel_max`, 2047 by default, bounds it).
    private var slots: [Slot?] = []
    /// The numbers in use, ascending.
    private(set) var numbers: [UInt16] = []
    private var nextNumber: UInt16 = 2

    init() {
        insert(Channel(number: Self.controlChannel, role: .control))
    }

    /// A copy of the channel's state (for tests and rare paths; the per-frame paths read in place).
    subscript(number: UInt16) -> Channel? { slot(number)?.channel }

    func contains(_ number: UInt16) -> Bool { slot(number) != nil }

    /// The consumer of channel `number`, if it is a consumer's.
    func consumer(on number: UInt16) -> Consumer? {
        guard let slot = slot(number), case .consumer(let consumer) = slot.channel.role else { return nil }
        return consumer
    }

    /// Whether channel `number` is open on the wire (possibly draining).
    func isOpen(_ number: UInt16) -> Bool { slot(number)?.channel.isOpen ?? false }

    /// Channels the loop must open (closed ones), in ascending order.
    var needingOpen: [UInt16] { numbers.filter { slot($0)?.channel.state == .closed } }

    /// Publishes sent and not yet confirmed, over every channel.
    var outstandingCount: Int { numbers.reduce(0) { $0 + (slot($1)?.channel.outstandingCount ?? 0) } }

    /// Channels that are open and have publishes waiting for room in their window.
    var withWaitingPublishes: [UInt16] {
        numbers.filter { number in
            guard let slot = slot(number) else { return false }
            return slot.channel.isOpen && slot.channel.waitingCount > 0
        }
    }

    private func slot(_ number: UInt16) -> Slot? {
        let index = Int(number)
        return index < slots.count ? slots[index] : nil
    }

    private mutating func insert(_ channel: Channel) {
        let index = Int(channel.number)
        if index >= slots.count { slots.append(contentsOf: repeatElement(nil, count: index + 1 - slots.count)) }
        slots[index] = Slot(channel)
        numbers.insert(channel.number, at: numbers.firstIndex { $0 > channel.number } ?? numbers.endIndex)
    }

    /// Forgets channel `number`, returning its state.
    @discardableResult
    private mutating func removeChannel(_ number: UInt16) -> Channel? {
        guard let slot = slot(number) else { return nil }
        slots[Int(number)] = nil
        if let position = numbers.firstIndex(of: number) { numbers.remove(at: position) }
        return slot.channel
    }

    // MARK: - Opening

    /// Registers a new channel (closed until `opened`) under a free number from 2 up, wrapping.
    mutating func add(_ role: Role) -> UInt16 {
        while contains(nextNumber) { advance() }
        let number = nextNumber
        advance()
        insert(Channel(number: number, role: role))
        return number
    }

    private mutating func advance() {
        nextNumber &+= 1
        if nextNumber < 2 { nextNumber = 2 }
    }

    /// Mutates a channel in place (a copy out of the table would copy its queues on every write).
    /// A box shared with a copy of this table is copied first, so the copy does not see the write.
    private mutating func update<R>(_ number: UInt16, _ body: (inout Channel) -> R) -> R? {
        guard let slot = writableSlot(number) else { return nil }
        return body(&slot.channel)
    }

    /// Channel `number`'s box, to write to: copied first if a copy of this table shares it.
    private mutating func writableSlot(_ number: UInt16) -> Slot? {
        let index = Int(number)
        guard index < slots.count, slots[index] != nil else { return nil }
        // No reference to the box may be held while checking: it would make every box look shared.
        if !isKnownUniquelyReferenced(&slots[index]) { slots[index] = Slot(slots[index]!.channel) }
        return slots[index]
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
        guard contains(number) else { return nil }
        if let consumer = consumer(on: number) {
            removeChannel(number)
            return consumer
        }
        update(number) { $0.state = .closed }
        return nil
    }

    /// A channel registered by `add` whose first open failed: forget it.
    mutating func discard(_ number: UInt16) {
        guard number != Self.controlChannel else { return }
        removeChannel(number)
    }

    // MARK: - Publishing

    /// Queues publishes on a publisher channel; they go out as the confirm window allows.
    mutating func enqueue(_ publishes: [(Message, Token)], on number: UInt16) -> EnqueueResult {
        enqueue(publishes.map(\.0), tokens: publishes.map(\.1), on: number)
    }

    /// Queues `messages` (with a token each, `tokens[i]` for `messages[i]`) on a publisher channel
    /// as one run: the arrays are kept as they are, not copied message by message.
    mutating func enqueue(_ messages: [Message], tokens: [Token], on number: UInt16) -> EnqueueResult {
        precondition(messages.count == tokens.count, "one token per message")
        return update(number) { channel -> EnqueueResult in
            if channel.state == .closing(then: .release) { return .noSuchChannel }
            channel.waiting.append(messages, tokens: tokens)
            return channel.state == .closed ? .queuedNeedsOpen : .queued
        } ?? .noSuchChannel
    }

    /// The next publish to send on `number` if its window has room: registers it as outstanding
    /// (after `stamp` updates its token) and returns it with its delivery tag. Nil when the channel
    /// is not open for publishing (closed, draining or closing), the window is full, or nothing waits.
    mutating func nextPublish(on number: UInt16, stamp: (inout Token) -> Void = { _ in }) -> (Message, tag: UInt64)? {
        update(number) { channel -> (Message, tag: UInt64)? in
            guard case .open = channel.state, channel.confirms.outstandingCount < channel.window,
                let (message, taken) = channel.waiting.popFirst()
            else { return nil }
            var token = taken
            stamp(&token)
            return (message, channel.confirms.willPublish(token))
        } ?? nil
    }

    /// `nextPublish` for the connection: the message is lent to `send` (with its delivery tag) from
    /// its batch instead of being copied out; returns what `send` returned, nil when nothing is sent.
    mutating func sendNext<R>(on number: UInt16, stamp: (inout Token) -> Void, _ send: (borrowing Message, UInt64) -> R) -> R? {
        guard let slot = writableSlot(number) else { return nil }
        guard case .open = slot.channel.state, slot.channel.confirms.outstandingCount < slot.channel.window,
            var token = slot.channel.waiting.firstToken
        else { return nil }
        stamp(&token)
        let tag = slot.channel.confirms.willPublish(token)
        let result = slot.channel.waiting.withFirstMessage { send($0, tag) }
        slot.channel.waiting.removeFirst()
        return result
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
        guard let slot = slot(number), case .open(let epoch) = slot.channel.state, case .consumer(let consumer) = slot.channel.role else {
            return nil
        }
        return (consumer, epoch)
    }

    /// Whether a settlement for a delivery of incarnation `epoch` of `number` may be sent: only on
    /// that same incarnation (after a reopen the broker has requeued the delivery already).
    func acceptsSettlement(on number: UInt16, epoch: Int) -> Bool {
        guard let slot = slot(number) else { return false }
        switch slot.channel.state {
        case .open(let current), .draining(let current): return current == epoch
        case .closed, .closing: return false
        }
    }

    /// The broker cancelled the consumer on `number` (`basic.cancel`, e.g. its queue was deleted).
    /// Returns the consumer to end; the channel is `closing(then: .release)` if it was open (the
    /// caller sends `channel.close` without waiting), else forgotten.
    mutating func cancelledByBroker(_ number: UInt16) -> (Consumer, sendClose: Bool)? {
        guard let slot = slot(number), case .consumer(let consumer) = slot.channel.role else { return nil }
        if case .closing(then: .release) = slot.channel.state { return nil }
        guard slot.channel.isOpen else {
            removeChannel(number)
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
        guard let state = slot(number)?.channel.state else { return [] }
        if case .closing(then: .release) = state {
            var released = removeChannel(number)!
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
        guard case .closing(let then) = slot(number)?.channel.state else { return }
        switch then {
        case .release:
            removeChannel(number)
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
        guard number != Self.controlChannel, let state = slot(number)?.channel.state else { return nil }
        if case .closing = state {
            return update(number) { channel in
                channel.state = .closing(then: .release)
                return (channel.takeLeftovers(), false)
            }
        }
        var channel = removeChannel(number)!
        return (channel.takeLeftovers(), channel.isOpen)
    }

    /// The connection is gone: every channel is closed (those being released are forgotten), every
    /// outstanding and waiting publish is handed back. Consumers stay and resume after reconnecting.
    mutating func connectionLost() -> Leftovers {
        var all = Leftovers()
        for number in numbers {
            if case .closing(then: .release) = slot(number)?.channel.state {
                var released = removeChannel(number)!
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
            guard var channel = removeChannel(number) else { continue }
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
    mutating func setContent(_ content: consuming ContentAssembly?, on number: UInt16) {
        // Moved into the slot (a closure through `update` would copy the assembly in).
        guard let slot = writableSlot(number) else { return }
        slot.channel.content = consume content
    }

    private struct Fed { var step: ContentAssembly.Step? }

    /// Feeds the next frame to the message being assembled on `number`, in place (nothing is
    /// copied per frame). Nil when no message is being assembled there. Unless `body` answers
    /// `.needMore`, the message is then dropped from the channel (complete, failed, or a frame
    /// `body` could not read: nil), and the channel's next content needs a new deliver or return.
    mutating func assemble(on number: UInt16, _ body: (inout ContentAssembly) -> ContentAssembly.Step?) -> ContentAssembly.Step? {
        guard let slot = writableSlot(number) else { return nil }
        // Optional chaining mutates the assembly where it is (a pattern match would copy it out);
        // the answer is wrapped so "nothing being assembled" and a nil step stay apart.
        guard let fed = slot.channel.content?.apply({ Fed(step: body(&$0)) }) else { return nil }
        let step = fed.step
        switch step {
        case .needMore?: break
        case .complete?, .protocolError?, nil: slot.channel.content = nil
        }
        return step
    }
}

/// The publishes waiting on one channel for room in its confirm window, in order: runs of messages
/// as their batches queued them (each run's arrays kept whole, not copied message by message).
struct WaitingPublishes<Message, Token> {
    private struct Run {
        let messages: [Message]
        let tokens: [Token]
        var next = 0
    }

    private var runs: [Run] = []
    private var head = 0
    /// Publishes not yet taken.
    private(set) var count = 0

    mutating func append(_ messages: [Message], tokens: [Token]) {
        guard !messages.isEmpty else { return }
        runs.append(Run(messages: messages, tokens: tokens))
        count += messages.count
    }

    /// The oldest waiting publish, taken out of the queue.
    mutating func popFirst() -> (Message, Token)? {
        guard let token = firstToken else { return nil }
        let message = withFirstMessage { copy $0 }
        removeFirst()
        return (message, token)
    }

    /// The oldest waiting publish's token (nil when nothing waits).
    var firstToken: Token? { count > 0 ? runs[head].tokens[runs[head].next] : nil }

    /// Lends the oldest waiting message to `body` (not copied out of its batch). Something must wait.
    func withFirstMessage<R>(_ body: (borrowing Message) -> R) -> R {
        body(runs[head].messages[runs[head].next])
    }

    /// Drops the oldest waiting publish. Something must wait.
    mutating func removeFirst() {
        precondition(count > 0, "nothing waits")
        let index = runs[head].next
        count -= 1
        if index + 1 < runs[head].messages.count {
            runs[head].next = index + 1
        } else if head + 1 == runs.count {
            runs.removeAll(keepingCapacity: true)
            head = 0
        } else {
            runs[head] = Run(messages: [], tokens: [])  // let the run's arrays go now
            head += 1
            if head >= 64, head * 2 >= runs.count {
                runs.removeFirst(head)
                head = 0
            }
        }
    }

    /// Empties the queue; returns the tokens of what was never taken, in order.
    mutating func removeAll() -> [Token] {
        var tokens: [Token] = []
        tokens.reserveCapacity(count)
        for run in runs[head...] { tokens += run.tokens[run.next...] }
        runs.removeAll()
        head = 0
        count = 0
        return tokens
    }
}
