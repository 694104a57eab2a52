#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import CRabbitMQ
import Synchronization

/// Work handed to a connection's thread. The closure runs on that thread only.
typealias ConnectionCommand = @Sendable (ConnectionCore) -> Void

/// A plain `basic.ack` of one delivery, kept as data rather than a closure so the thread can see a
/// run of them and send one `multiple` ack where that settles exactly the same deliveries
/// (`ConnectionCore.settleAcks`).
struct AckRequest: Sendable, Equatable {
    let channel: UInt16
    /// The channel's incarnation that delivered it (a later one never settles it).
    let epoch: Int
    let tag: UInt64
}

/// One entry of a connection's inbox, run in the order submitted.
enum InboxItem: Sendable {
    case command(ConnectionCommand)
    case ack(AckRequest)
}

/// The only way into a connection thread: a locked queue of commands plus an eventfd the thread
/// polls beside its socket, so a submit wakes it without polling or spinning.
final class CommandInbox: Sendable {
    private struct State {
        var commands: [InboxItem] = []
        var closed = false
    }

    private let state = Mutex(State())
    /// Read end and write end are the same eventfd (counter semantics).
    let wakeFD: Int32

    /// Fails with ``AMQPError/Code/outOfResources`` when the process has no file descriptor left, so
    /// a connect under fd exhaustion is an error the caller can report, not a crash.
    init() throws(AMQPError) {
        let fd = bb_eventfd()
        guard fd >= 0 else {
            let code = errno
            throw AMQPError(
                .outOfResources,
                "cannot create the connection's wake-up eventfd: \(String(cString: strerror(code))) (errno \(code)); "
                    + "raise the process's open-file limit (LimitNOFILE) or close connections")
        }
        wakeFD = fd
    }

    deinit {
        #if canImport(Glibc)
            Glibc.close(wakeFD)
        #else
            Musl.close(wakeFD)
        #endif
    }

    /// Queues a command; returns `false` when the connection thread has ended.
    @discardableResult
    func submit(_ command: @escaping ConnectionCommand) -> Bool {
        enqueue(.command(command))
    }

    /// Queues a plain ack; returns `false` when the connection thread has ended (the broker then
    /// redelivers the message, as for any settlement of a closed channel).
    @discardableResult
    func submitAck(_ ack: AckRequest) -> Bool {
        enqueue(.ack(ack))
    }

    /// Queues several plain acks at once: the thread takes them in one drain, so a run of them
    /// can go out as one `multiple` ack.
    @discardableResult
    func submitAcks(_ acks: [AckRequest]) -> Bool {
        acks.isEmpty || enqueue(acks.lazy.map { .ack($0) })
    }

    private func enqueue(_ item: InboxItem) -> Bool {
        enqueue(CollectionOfOne(item))
    }

    /// Appends `items` under the lock; the thread is woken when the inbox was empty (otherwise a
    /// wake-up is already pending).
    private func enqueue(_ items: some Sequence<InboxItem>) -> Bool {
        let (accepted, wake) = state.withLock { state -> (Bool, Bool) in
            if state.closed { return (false, false) }
            let wasEmpty = state.commands.isEmpty
            state.commands.append(contentsOf: items)
            return (true, wasEmpty)
        }
        if wake { signal() }
        return accepted
    }

    /// Takes every queued item (called by the connection thread).
    func drain() -> [InboxItem] {
        state.withLock { state in
            let commands = state.commands
            state.commands.removeAll(keepingCapacity: true)
            return commands
        }
    }

    var isEmpty: Bool { state.withLock { $0.commands.isEmpty } }

    /// Refuses new commands and returns what was still queued.
    func close() -> [InboxItem] {
        state.withLock { state in
            state.closed = true
            let commands = state.commands
            state.commands.removeAll()
            return commands
        }
    }

    func signal() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Resets the eventfd counter after a wake-up.
    func clearSignal() {
        var value: UInt64 = 0
        _ = read(wakeFD, &value, 8)
    }
}
