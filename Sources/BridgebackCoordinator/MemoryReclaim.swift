import CBridgebackMemory
import Dispatch
import Logging
import ServiceLifecycle

/// When the coordinator gives memory back: once its work has fallen back after a backlog (or after
/// much work), never per job.
///
/// A backlog holds its jobs in flight here (their contracts decoded in the `ContractCache`, their
/// rows in SQLite's page caches, their messages in buffers); when they finish, glibc keeps the pages
/// it got for them, so RSS stayed at a backlog's peak for the process's life (issue #12: 98 MiB after
/// 50,000 jobs offered at once, 61 MiB once `malloc_trim(0)` was called by hand). The same holds, more
/// slowly, for the spikes of a steady load. So: a backlog of at least `highWater` jobs in flight,
/// `volume` jobs finished since the last trim, or `idleVolume` finished and then `quietLooks` looks
/// in a row with nothing in flight (the work stopped) arm a trim; it runs once the jobs in flight
/// have fallen to `max(lowWater, peak / 32)`, at most once per `minimumInterval`.
///
/// idle ──(in flight ≥ highWater, volume finished, or idleVolume finished then quiet)──▶ highWater(peak)
/// highWater ──(in flight ≤ max(lowWater, peak / 32), minimumInterval since the last trim)──▶ trimming [trim]
/// trimming ──(trimmed)──▶ idle
struct MemoryReclaim: Sendable, Equatable {
    enum State: Sendable, Equatable {
        /// Nothing to give back since the last trim.
        case idle
        /// A backlog or much work since the last trim; `peak`: the most jobs in flight seen since.
        case highWater(peak: Int)
        /// A trim runs (off the cooperative pool); observations wait for it.
        case trimming
    }

    enum Action: Sendable, Equatable {
        case none
        /// Give memory back; `peak`: the most jobs that were in flight, for the log line.
        case trim(peak: Int)
    }

    /// Jobs in flight that make a backlog worth a trim once it drains.
    var highWater = 512
    /// Jobs in flight at or below which work has fallen back (or `peak / 32`, if more).
    var lowWater = 32
    /// Jobs finished since the last trim that arm one without a backlog (a steady load's spikes).
    var volume = 10_000
    /// Jobs finished since the last trim that arm one once the work has stopped.
    var idleVolume = 1_000
    /// Looks in a row with no job in flight that count as the work having stopped.
    var quietLooks = 5
    /// The least time between two trims.
    var minimumInterval: Duration = .seconds(60)

    private(set) var state = State.idle
    /// Jobs finished when the last trim started.
    private var finishedAtTrim = 0
    private var lastTrim: ContinuousClock.Instant?
    /// Looks in a row, up to this one, with no job in flight.
    private var quiet = 0

    /// One look at the work: `inFlight` jobs held (contract known, not finished), `finished` jobs
    /// finished since the process started.
    mutating func observe(inFlight: Int, finished: Int, now: ContinuousClock.Instant) -> Action {
        quiet = inFlight == 0 ? quiet + 1 : 0
        var peak: Int
        switch state {
        case .trimming:
            return .none
        case .idle:
            let since = finished - finishedAtTrim
            guard inFlight >= highWater || since >= volume || (quiet >= quietLooks && since >= idleVolume) else { return .none }
            peak = inFlight
        case .highWater(let seen):
            peak = max(seen, inFlight)
        }
        let drained = inFlight <= max(lowWater, peak / 32)
        let rested = lastTrim.map { now - $0 >= minimumInterval } ?? true
        guard drained && rested else {
            state = .highWater(peak: peak)
            return .none
        }
        state = .trimming
        finishedAtTrim = finished
        return .trim(peak: peak)
    }

    /// The trim ended (whatever it gave back): idle again, and the interval counts from `now`.
    mutating func trimmed(now: ContinuousClock.Instant) {
        state = .idle
        lastTrim = now
    }
}

/// Runs `MemoryReclaim` against the ledger's jobs in flight, once a second, for as long as the
/// coordinator consumes; ends on a graceful shutdown or cancellation.
struct MemoryReclaimer: Sendable {
    let ledger: Ledger
    let logger: Logger
    var policy = MemoryReclaim()
    var interval: Duration = .seconds(1)

    func run() async {
        var policy = self.policy
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            let (inFlight, finished) = ledger.contracts.workCounts
            guard case .trim(let peak) = policy.observe(inFlight: inFlight, finished: finished, now: .now) else { continue }
            let report = await Self.giveBack(ledger)
            policy.trimmed(now: .now)
            logger.log(
                level: peak >= policy.highWater ? .info : .debug, "memory given back after the work fell",
                metadata: report.metadata(peak: peak, inFlight: inFlight))
        }
    }

    /// What one give-back did, for the log line (bytes; durations in milliseconds).
    struct Report: Sendable {
        var residentBefore = 0
        var residentAfterSQLite = 0
        var residentAfter = 0
        var heapInUse = 0
        var heapFromSystem = 0
        var sqliteMilliseconds = 0.0
        var trimMilliseconds = 0.0

        func metadata(peak: Int, inFlight: Int) -> Logger.Metadata {
            func mib(_ bytes: Int) -> Logger.MetadataValue { "\((Double(bytes) / 1_048_576 * 10).rounded() / 10)" }
            func ms(_ value: Double) -> Logger.MetadataValue { "\((value * 100).rounded() / 100)" }
            return [
                "peak_in_flight": "\(peak)", "in_flight": "\(inFlight)", "rss_before_mib": mib(residentBefore),
                "rss_after_sqlite_mib": mib(residentAfterSQLite), "rss_after_mib": mib(residentAfter),
                "heap_in_use_mib": mib(heapInUse), "heap_from_system_mib": mib(heapFromSystem),
                "sqlite_release_ms": ms(sqliteMilliseconds), "trim_ms": ms(trimMilliseconds),
            ]
        }
    }

    /// SQLite's caches first (so their pages are free), then glibc's free pages to the kernel: on a
    /// dispatch thread, as both block (SQLite's waits for the writer to be between transactions, the
    /// trim holds each arena's lock while it walks it), never on the cooperative pool.
    static func giveBack(_ ledger: Ledger) async -> Report {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                let clock = ContinuousClock()
                var report = Report()
                report.residentBefore = bb_resident_bytes()
                report.sqliteMilliseconds = clock.measure { ledger.releaseMemory() }.milliseconds
                report.residentAfterSQLite = bb_resident_bytes()
                report.trimMilliseconds = clock.measure { _ = bb_heap_trim() }.milliseconds
                report.residentAfter = bb_resident_bytes()
                var inUse = 0
                var fromSystem = 0
                var top = 0
                _ = bb_heap_figures(&inUse, &fromSystem, &top)
                (report.heapInUse, report.heapFromSystem) = (inUse, fromSystem)
                continuation.resume(returning: report)
            }
        }
    }
}

extension Duration {
    fileprivate var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
