public import Foundation

/// How long a process keeps, in its SQLite file, the records of work it is done with, and how it
/// prunes them. The coordinator's ledger and admission's store each take one
/// (`--retention-days`, `--prune-interval`); without it either file grows by every job for the
/// life of a deployment. What "done with" means, and what keeps a pruned job from coming back, is
/// each store's own (docs/delivery.md and docs/admission-service.md, "Retention").
public struct Retention: Sendable, Hashable {
    /// Records made longer ago than this are pruned once done with; nil keeps everything.
    public var keep: TimeInterval?
    /// How often a pruning pass runs (the first one interval after the start).
    public var interval: Duration
    /// Records deleted per transaction: the pruner shares its store's one writer with the work, so
    /// it deletes in short transactions, one after another until fewer than this are left.
    public var batch: Int

    /// Thirty days, pruned every minute, 500 records per transaction.
    public static let standard = Retention(keep: 30 * 86_400)
    /// Keeps everything (the file grows with every job).
    public static let keepEverything = Retention(keep: nil)

    public init(keep: TimeInterval?, interval: Duration = .seconds(60), batch: Int = 500) {
        self.keep = keep
        self.interval = interval
        self.batch = max(1, batch)
    }

    /// From `--retention-days` (0 keeps everything) and `--prune-interval` in seconds.
    public init(days: Double, intervalSeconds: Double) {
        self.init(keep: days > 0 ? days * 86_400 : nil, interval: .milliseconds(Int64(intervalSeconds * 1000)))
    }

    /// The moment before which records are pruned, for a pass at `now`; nil when nothing is.
    public func cutoff(now: Date) -> Date? {
        keep.map { now.addingTimeInterval(-$0) }
    }

    /// `cutoff` in Unix milliseconds, the unit of a job id's time.
    public func cutoffMilliseconds(now: Date) -> UInt64? {
        cutoff(now: now).map(JobID.milliseconds(of:))
    }
}

extension JobID {
    /// The smallest id made at `milliseconds`: every id made before it sorts below it (ids are
    /// time-ordered), so `job_id < floor` selects, by the primary key, the jobs made before then.
    public static func floor(milliseconds: UInt64) -> JobID {
        JobID(milliseconds: milliseconds, randomHigh: 0, randomLow: 0)
    }
}
