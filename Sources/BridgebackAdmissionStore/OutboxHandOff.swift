import Synchronization

/// Where the relay's next rows come from: the outbox rows the store's commits just handed over,
/// or a read of the outbox.
///
/// Every commit that inserts outbox rows hands them over here, after the commit and before its
/// callers are answered (so before the doorbell rings), in commit order. While the relay trusts
/// that stream it publishes the handed rows without reading back what it was just given. It
/// trusts it only after a read that drained the outbox: every row committed before that read's
/// snapshot was in it, and every row committed after was handed (the buffer is emptied before the
/// read, rows the read covered are dropped by sequence number). It reads again after a failed
/// publish, when the buffer overflowed (`capacity`, e.g. the broker is down and nothing drains
/// it), at start and on every safety poll (rows a missed hand-over or another process left).
///
/// A sans-I/O machine: the store feeds it, the relay asks it what to do and reports back.
public struct OutboxHandOffState: Sendable {
    public enum Mode: Sendable, Hashable {
        /// The outbox must be read; handed rows are kept (bounded) for when a read drains it.
        case reading
        /// The handed rows are every unsent row above `coveredUpTo`, in commit order.
        case handing(coveredUpTo: Int64)
    }

    /// What the relay's next pass publishes.
    public enum Next: Sendable, Hashable {
        /// Read the outbox (`readStarted()` first).
        case read
        /// Publish these handed rows; none: nothing waits.
        case publish([OutboxRow])
    }

    public private(set) var mode: Mode = .reading
    public private(set) var buffer: [OutboxRow] = []
    /// Rows were dropped since the buffer was last emptied: the handed stream is incomplete.
    public private(set) var overflowed = false
    /// The highest sequence number any read returned (sequence numbers are never reused).
    public private(set) var highestRead: Int64 = 0
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = max(2, capacity)
    }

    /// A commit inserted `rows` (in sequence order).
    public mutating func handed(_ rows: [OutboxRow]) {
        guard !rows.isEmpty, !overflowed else { return }
        guard buffer.count + rows.count <= capacity else {
            overflowed = true
            buffer = []
            return
        }
        buffer.append(contentsOf: rows)
    }

    /// The relay's next pass: handed rows (at most `limit`, oldest first) or a read.
    public mutating func next(limit: Int) -> Next {
        guard case .handing(let covered) = mode, !overflowed else { return .read }
        buffer.removeAll { $0.seq <= covered }
        let count = min(max(1, limit), buffer.count)
        let rows = Array(buffer.prefix(count))
        buffer.removeFirst(count)
        return .publish(rows)
    }

    /// Called just before the relay reads the outbox: what was handed so far is in that read
    /// (committed before it), or beyond its limit and read again later.
    public mutating func readStarted() {
        mode = .reading
        buffer = []
        overflowed = false
    }

    /// A read returned rows up to `maxSeq`. Every row at or below the highest sequence any read
    /// returned was committed before that read, so it was read then or by a later read: a late
    /// hand-over of such a row is dropped once handing, not published twice.
    public mutating func readReturned(maxSeq: Int64) {
        highestRead = max(highestRead, maxSeq)
    }

    /// The last read returned fewer rows than its limit (`readReturned` given their highest, if
    /// any), and all of them were confirmed: from now on the handed rows are the rest.
    public mutating func readDrained() {
        guard !overflowed else { return }
        buffer.removeAll { $0.seq <= highestRead }
        mode = .handing(coveredUpTo: highestRead)
    }

    /// A publish failed, a record of outcomes failed, or a safety poll: read before trusting the
    /// handed rows again. Rows handed meanwhile are kept for the read that drains.
    public mutating func mustRead() {
        mode = .reading
    }
}

/// The store's hand-over to the relay: `OutboxHandOffState` behind a lock.
public final class OutboxHandOff: Sendable {
    private let state: Mutex<OutboxHandOffState>
    private let notify = Mutex<(@Sendable () -> Void)?>(nil)

    public init(capacity: Int = 1024) {
        state = Mutex(OutboxHandOffState(capacity: capacity))
    }

    /// Called after every hand-over of rows, on the thread that committed them (GRDB's writer,
    /// right after the commit, before its sync): the relay's doorbell, so the relay publishes while
    /// the commit syncs and its requests wait for their answers, not after. Replaces an earlier
    /// `onHanded`.
    public func onHanded(_ notify: @escaping @Sendable () -> Void) { self.notify.withLock { $0 = notify } }

    func handed(_ rows: [OutboxRow]) {
        guard !rows.isEmpty else { return }
        state.withLock { $0.handed(rows) }
        notify.withLock { $0 }?()
    }
    public func next(limit: Int) -> OutboxHandOffState.Next { state.withLock { $0.next(limit: limit) } }
    public func readStarted() { state.withLock { $0.readStarted() } }
    public func readReturned(maxSeq: Int64) { state.withLock { $0.readReturned(maxSeq: maxSeq) } }
    public func readDrained() { state.withLock { $0.readDrained() } }
    public func mustRead() { state.withLock { $0.mustRead() } }
    /// The machine's state now (tests, diagnostics).
    public var snapshot: OutboxHandOffState { state.withLock { $0 } }
}
