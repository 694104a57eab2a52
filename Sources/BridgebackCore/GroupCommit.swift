import Synchronization

/// Group commit: many concurrent callers, one writer, one durable commit per group.
///
/// Each caller submits an item and waits. Whoever finds no flush running becomes the leader:
/// it takes everything waiting (up to `maxBatch`), calls `flush` once for the whole group and
/// answers every caller in it with its own result, then hands the lead to the oldest caller
/// still waiting. So callers are answered only after the flush that contains their item has
/// returned (for a database: after the commit is durable), flushes never overlap, and under
/// load a group is whatever arrived while the previous flush was running. An idle caller
/// flushes at once, alone: no timer, no added latency. No task is spawned: the lead moves
/// between callers.
public final class GroupCommit<Item: Sendable, Output: Sendable>: Sendable {
    /// Applies a group; returns one result per item, in order. A thrown error fails the whole
    /// group (nothing committed).
    public typealias Flush = @Sendable ([Item]) async throws -> [Result<Output, any Error>]

    private enum Wake: Sendable {
        case done(Result<Output, any Error>)
        case lead
    }

    private struct Entry: Sendable {
        let id: UInt64
        let item: Item
        /// nil once the caller leads (it reads its own result).
        var waiter: CheckedContinuation<Wake, Never>?
    }

    private struct State: Sendable {
        var pending: [Entry] = []
        /// A caller is flushing (invariant: pending is non-empty only while someone leads).
        var leading = false
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())
    private let flush: Flush
    private let maxBatch: Int

    /// - Parameter maxBatch: the largest group one flush takes (bounds a transaction's size).
    public init(maxBatch: Int = 512, flush: @escaping Flush) {
        self.maxBatch = max(1, maxBatch)
        self.flush = flush
    }

    /// Submits `item`; returns its result once the group containing it has been flushed.
    public func submit(_ item: Item) async throws -> Output {
        var myID: UInt64 = 0
        let wake = await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
            let lead = state.withLock { state -> Bool in
                myID = state.nextID
                state.nextID &+= 1
                if state.leading {
                    state.pending.append(Entry(id: myID, item: item, waiter: continuation))
                    return false
                }
                state.leading = true
                state.pending.append(Entry(id: myID, item: item, waiter: nil))
                return true
            }
            if lead { continuation.resume(returning: .lead) }
        }
        switch wake {
        case .done(let result): return try result.get()
        case .lead: return try await lead(myID).get()
        }
    }

    /// Flushes the group at the head of the queue (which starts with the leader's own item),
    /// answers it, and passes the lead on.
    private func lead(_ myID: UInt64) async -> Result<Output, any Error> {
        let batch = state.withLock { state -> [Entry] in
            let count = min(maxBatch, state.pending.count)
            let batch = Array(state.pending.prefix(count))
            state.pending.removeFirst(count)
            return batch
        }
        var results: [Result<Output, any Error>]
        do {
            results = try await flush(batch.map(\.item))
        } catch {
            results = batch.map { _ in .failure(error) }
        }
        if results.count != batch.count {
            let error = GroupCommitError(expected: batch.count, got: results.count)
            results = batch.map { _ in .failure(error) }
        }
        var mine: Result<Output, any Error> = .failure(GroupCommitError(expected: 1, got: 0))
        for (entry, result) in zip(batch, results) {
            if entry.id == myID {
                mine = result
            } else {
                entry.waiter?.resume(returning: .done(result))
            }
        }
        let next = state.withLock { state -> CheckedContinuation<Wake, Never>? in
            guard !state.pending.isEmpty else {
                state.leading = false
                return nil
            }
            let waiter = state.pending[0].waiter
            state.pending[0].waiter = nil
            return waiter
        }
        next?.resume(returning: .lead)
        return mine
    }
}

/// A flush broke its contract (one result per item): a programming error, reported, not trapped.
public struct GroupCommitError: Error, CustomStringConvertible {
    public let expected: Int
    public let got: Int

    public init(expected: Int, got: Int) {
        self.expected = expected
        self.got = got
    }

    public var description: String { "group commit: the flush returned \(got) results for \(expected) items" }
}
