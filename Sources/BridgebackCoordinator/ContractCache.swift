import BridgebackCore
import Synchronization

/// The decoded contract and final decision of recent jobs next to the exact JSON stored for
/// them, so a job's later transitions neither decode nor re-encode those columns.
///
/// An entry is used only when the stored text (on load) or the value (on save) is equal to
/// the cached one, so a stale or rolled-back entry costs a decode, never a wrong answer.
/// Bounded: two generations of `capacity` entries; a full young generation becomes the old
/// one and the previous old one is dropped, so memory stays flat however many jobs pass.
/// A generation that empties gives its storage back: a dictionary keeps the capacity of its
/// peak after removals, so without this a backlog's 16,384 slots stayed allocated after it drained.
final class ContractCache: Sendable {
    struct Entry: Sendable {
        var contractJSON: String?
        var contract: OwnershipContract?
        var decisionJSON: String?
        var decision: JobLifecycle.FinalDecision?
    }

    private struct Generations: Sendable {
        var young: [JobID: Entry] = [:]
        var old: [JobID: Entry] = [:]
        /// Jobs forgotten because they finished (`remove`), since the cache was made.
        var finished = 0
    }

    private let capacity: Int
    private let state = Mutex(Generations())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    subscript(id: JobID) -> Entry? {
        state.withLock { $0.young[id] ?? $0.old[id] }
    }

    func update(_ id: JobID, _ change: (inout Entry) -> Void) {
        state.withLock { state in
            var entry = state.young[id] ?? state.old[id] ?? Entry()
            change(&entry)
            if state.young[id] == nil, state.young.count >= capacity {
                state.old = state.young
                state.young = [:]
                state.young.reserveCapacity(capacity)
            }
            state.young[id] = entry
        }
    }

    /// Forgets a job (it finished); a later load decodes from the stored text again.
    func remove(_ id: JobID) {
        state.withLock { state in
            state.young[id] = nil
            state.old[id] = nil
            state.finished += 1
            if state.young.isEmpty, state.young.capacity > 0 { state.young = [:] }
            if state.old.isEmpty, state.old.capacity > 0 { state.old = [:] }
        }
    }

    /// Slots the two generations hold allocated (for the test of the release after a backlog).
    var storageCapacity: Int { state.withLock { $0.young.capacity + $0.old.capacity } }

    var count: Int { state.withLock { $0.young.count + $0.old.count } }

    /// The jobs held (in flight: contract known, not finished) and the jobs forgotten because they
    /// finished, read together: what `MemoryReclaim` watches.
    var workCounts: (inFlight: Int, finished: Int) { state.withLock { ($0.young.count + $0.old.count, $0.finished) } }
}
