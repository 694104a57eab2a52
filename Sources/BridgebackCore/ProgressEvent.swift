public import Foundation

/// A sparse progress update (`bridgeback.progress.v1`), published to `bb.progress` keyed by work surface.
public struct ProgressEvent: WireMessage, Hashable {
    public static let schema = MessageSchema(.progress, version: 1)

    /// Where in its life the job is.
    public enum Phase: String, Sendable, Hashable, Codable, CaseIterable {
        case started, running, finished
    }

    public var jobID: JobID
    public var workSurface: SurfaceID
    /// Per-job counter from 1, so watchers can order and drop stale updates.
    public var sequence: Int
    public var phase: Phase
    /// One human line ("step 2/5: dependency check passed").
    public var message: String
    /// 0…1 when the recipe knows it.
    public var fraction: Double?
    public var worker: String?
    public var at: Date

    public init(
        jobID: JobID, workSurface: SurfaceID, sequence: Int, phase: Phase, message: String, fraction: Double? = nil, worker: String? = nil,
        at: Date
    ) {
        self.jobID = jobID
        self.workSurface = workSurface
        self.sequence = sequence
        self.phase = phase
        self.message = message
        self.fraction = fraction
        self.worker = worker
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", workSurface = "work_surface", sequence, phase, message, fraction, worker, at
    }

    /// `fraction` as a whole percentage for people, clamped to 0…100; nil when absent or not a
    /// finite number (the event comes from a worker: `1e300` must not trap a watcher).
    public var percent: Int? {
        guard let fraction, fraction.isFinite else { return nil }
        return Int((min(max(fraction, 0), 1) * 100).rounded())
    }
}
