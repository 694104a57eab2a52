public import BridgebackCore
public import Foundation
import Synchronization

/// One job's life as the dashboard tells it: admitted → started → progress → completed → each
/// part delivered, with the human context of its final notice. Built from the ledger (and the
/// progress events seen, when the dashboard taps `bb.progress`); no I/O here.
public struct JobTimeline: Sendable, Hashable {
    public enum Tone: String, Sendable, Hashable { case neutral, ok, warn, bad }

    public struct Entry: Sendable, Hashable {
        /// `admitted`, `started`, `progress`, `completed`, `part`, `outcome`, `waiting`.
        public var kind: String
        public var at: Date?
        public var title: String
        public var detail: String?
        public var tone: Tone
        /// 0…1 for a progress event that knows it.
        public var fraction: Double?
    }

    public var status: JobDeliveryStatus
    public var entries: [Entry]
    /// The context lines the final notice carries ("Asked in …: …; ran on …"), when planned.
    public var contextText: String?
    /// The start of the result (or failure reason) the notice delivers.
    public var resultExcerpt: String?

    /// Characters of the result shown on the page (the full text is at `/v1/jobs/{id}/result`).
    static let resultExcerptLimit = 4000

    static func build(job: JobRecord, parts: [PartRecord], registry: SurfaceRegistry, progress: [ProgressEvent]) -> JobTimeline {
        let status = DeliveryStatusBuilder.status(job, parts: parts, registry: registry)
        func name(_ id: SurfaceID) -> String { registry[id]?.humanName ?? id.rawValue }
        var entries: [Entry] = []
        let contract = job.contract
        if let contract {
            let asked = contract.requestExcerpt.isEmpty ? contract.summary : contract.requestExcerpt
            entries.append(
                Entry(
                    kind: "admitted", at: contract.createdAt, title: "Admitted from \(name(contract.origin))",
                    detail: "“\(HumanText.excerpt(asked, maxCharacters: 300))” — recipe \(contract.recipe.name); progress goes to "
                        + "\(name(contract.workSurface)), the answer to \(name(contract.finalSurface)) (\(contract.deliveryMode.humanName)); "
                        + "deadline \(WireDate.format(contract.deadline))",
                    tone: .neutral))
        } else {
            entries.append(
                Entry(kind: "admitted", at: nil, title: "Known to the coordinator", detail: "its contract has not arrived yet", tone: .warn)
            )
        }
        var completion = job.decision?.completion
        if case .completionParked(.completion(let parked, _), _, _) = job.lifecycle.state { completion = parked }
        if let completion {
            let attempt = completion.attempt > 1 ? " (attempt \(completion.attempt))" : ""
            entries.append(
                Entry(kind: "started", at: completion.startedAt, title: "Started on \(completion.worker)\(attempt)", tone: .neutral))
        }
        for event in progress.sorted(by: { $0.sequence < $1.sequence }) {
            let percent = event.fraction.map { " (\(Int(($0 * 100).rounded())) %)" } ?? ""
            entries.append(
                Entry(
                    kind: "progress", at: event.at, title: "\(event.phase.rawValue.capitalized)\(percent)", detail: event.message,
                    tone: .neutral, fraction: event.fraction))
        }
        if let completion {
            let took = HumanText.duration(seconds: completion.finishedAt.timeIntervalSince(completion.startedAt))
            switch completion.outcome {
            case .succeeded:
                entries.append(Entry(kind: "completed", at: completion.finishedAt, title: "Succeeded after \(took)", tone: .ok))
            case .failed(let reason):
                entries.append(
                    Entry(
                        kind: "completed", at: completion.finishedAt, title: "Failed after \(took)",
                        detail: HumanText.excerpt(reason, maxCharacters: 500), tone: .bad))
            case .cancelled:
                entries.append(Entry(kind: "completed", at: completion.finishedAt, title: "Cancelled after \(took)", tone: .warn))
            }
        } else if let decision = job.decision {
            let at = parts.map(\.updatedAt).min()
            switch decision.kind {
            case .lost:
                entries.append(
                    Entry(kind: "completed", at: at, title: "Lost: no answer by the deadline", detail: decision.text, tone: .bad))
            default:
                entries.append(
                    Entry(kind: "completed", at: at, title: "Ended without a completion", detail: decision.text, tone: .bad))
            }
        } else if case .completionParked(.deadLettered(let reason), let at, _) = job.lifecycle.state {
            entries.append(Entry(kind: "completed", at: at, title: "Dead-lettered", detail: reason, tone: .bad))
        }
        if case .awaitingCompletion(let c) = job.lifecycle.state {
            entries.append(
                Entry(
                    kind: "waiting", at: nil, title: "Waiting for the answer",
                    detail: "queued or running; declared lost if no answer by \(WireDate.format(c.deadline)) plus the grace period",
                    tone: .neutral))
        }
        for part in parts {
            entries.append(partEntry(part, name: name(part.surfaceID)))
        }
        if case .finished = job.lifecycle.state {
            let tone: Tone =
                switch job.finalOutcome {
                case "delivered": job.decision?.kind == .result ? .ok : .warn
                case "suppressed": .neutral
                case "uncertain": .warn
                default: .bad
                }
            entries.append(
                Entry(kind: "outcome", at: status.finishedAt.flatMap(WireDate.parse), title: status.human.capitalizedFirst, tone: tone))
        }
        var contextText: String?
        if let first = parts.first(where: { $0.deliveryID.purpose == .final }),
            let notice = try? WireCodec.decode(FinalNotice.self, from: Data(first.body))
        {
            contextText = notice.contextText
        }
        let excerpt = job.decision.map { HumanText.excerpt($0.text, maxCharacters: resultExcerptLimit) }
        return JobTimeline(status: status, entries: entries, contextText: contextText, resultExcerpt: excerpt)
    }

    static func partEntry(_ part: PartRecord, name: String) -> Entry {
        let label =
            part.deliveryID.purpose == .fallback
            ? "Fallback notice \(part.deliveryID.part)/\(part.totalParts) to \(name)"
            : "Part \(part.deliveryID.part)/\(part.totalParts) to \(name)"
        let attempts = part.state.attempts == 1 ? "1 attempt" : "\(part.state.attempts) attempts"
        let failure = part.state.lastFailure.map { "\($0.kind.humanDescription): \(HumanText.excerpt($0.detail, maxCharacters: 300))" }
        switch part.state {
        case .delivered(_, let at):
            return Entry(
                kind: "part", at: at, title: "\(label): delivered", detail: "\(attempts); delivery id \(part.deliveryID)", tone: .ok)
        case .retryWait(_, let at, _):
            return Entry(
                kind: "part", at: part.updatedAt, title: "\(label): waiting to retry at \(WireDate.format(at))",
                detail: [attempts, failure].compactMap { $0 }.joined(separator: "; "), tone: .warn)
        default:
            let tone: Tone =
                switch part.state.name {
                case "failed": .bad
                case "uncertain": .warn
                default: .neutral
                }
            return Entry(
                kind: "part", at: part.updatedAt, title: "\(label): \(part.state.humanDescription)",
                detail: [attempts, failure].compactMap { $0 }.joined(separator: "; "), tone: tone)
        }
    }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}

/// The progress events the dashboard has seen, per job, newest jobs kept: bounded in jobs and
/// in events per job, so a chatty recipe or a flood of jobs cannot grow it without limit.
public final class ProgressLog: Sendable {
    struct State: Sendable {
        var events: [JobID: [ProgressEvent]] = [:]
        var order: [JobID] = []
        var changes: UInt64 = 0
    }

    let maxJobs: Int
    let maxEventsPerJob: Int
    private let state = Mutex(State())

    public init(maxJobs: Int = 1000, maxEventsPerJob: Int = 50) {
        self.maxJobs = max(1, maxJobs)
        self.maxEventsPerJob = max(1, maxEventsPerJob)
    }

    /// Records one event; a repeated sequence number (a redelivery) replaces the earlier one.
    public func record(_ event: ProgressEvent) {
        state.withLock { state in
            if state.events[event.jobID] == nil {
                state.order.append(event.jobID)
                if state.order.count > maxJobs {
                    let dropped = state.order.removeFirst()
                    state.events[dropped] = nil
                }
            }
            var list = state.events[event.jobID, default: []]
            list.removeAll { $0.sequence == event.sequence }
            list.append(event)
            if list.count > maxEventsPerJob {
                // Keep the first (started) event and the newest ones.
                list.sort { $0.sequence < $1.sequence }
                list.remove(at: 1)
            }
            state.events[event.jobID] = list
            state.changes &+= 1
        }
    }

    public func events(for job: JobID) -> [ProgressEvent] { state.withLock { $0.events[job] ?? [] } }

    /// The newest event of each job (for the recent-jobs list).
    public func latest(for job: JobID) -> ProgressEvent? {
        state.withLock { $0.events[job]?.max(by: { $0.sequence < $1.sequence }) }
    }

    /// Grows with every recorded event (the live feed re-renders when it moved).
    public var changeCount: UInt64 { state.withLock { $0.changes } }
}
