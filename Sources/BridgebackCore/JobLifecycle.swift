public import Foundation

/// The coordinator's per-job state machine: it guarantees exactly one final notice per job.
///
/// Sans-I/O like `DeliveryStateMachine`: feed an event, persist `state`, perform the action.
/// Messages arrive in any order and at least once (contract and completion on different
/// queues, redelivered after crashes), so the machine parks, counts and ignores as needed.
public struct JobLifecycle: Sendable, Hashable {
    /// A job's ending before its contract is known: a worker's completion or a dead letter.
    public enum Ending: Sendable, Hashable {
        case completion(Completion)
        /// The job message was dead-lettered (it crashed its workers up to the delivery limit).
        case deadLettered(reason: String)
    }

    /// The one final notice this job gets: its kind, its text, and the completion behind it.
    public struct FinalDecision: Sendable, Hashable {
        public var kind: FinalNoticeKind
        /// The result, the failure reason, or a sentence for cancelled/lost.
        public var text: String
        /// The completion it came from, for the human context (nil for lost or dead-lettered).
        public var completion: Completion?

        public init(kind: FinalNoticeKind, text: String, completion: Completion?) {
            self.kind = kind
            self.text = text
            self.completion = completion
        }
    }

    public enum State: Sendable, Hashable {
        /// Nothing but the job id is known yet.
        case awaitingContract
        /// An ending arrived before the contract: it waits, undelivered, for its destination.
        case completionParked(Ending, parkedAt: Date, duplicates: Int)
        /// The contract is known; the job is running somewhere.
        case awaitingCompletion(OwnershipContract)
        /// The final notice is decided and its parts are in the delivery ledger.
        case delivering(OwnershipContract, FinalDecision, duplicates: Int)
        /// Every part reached a terminal ledger state.
        case finished(OwnershipContract, FinalDecision, duplicates: Int)

        /// `awaiting_contract`, `completion_parked`, `awaiting_completion`, `delivering`, `finished`.
        public var name: String {
            switch self {
            case .awaitingContract: "awaiting_contract"
            case .completionParked: "completion_parked"
            case .awaitingCompletion: "awaiting_completion"
            case .delivering: "delivering"
            case .finished: "finished"
            }
        }
    }

    public enum Action: Sendable, Hashable {
        /// Nothing to do (ack the message).
        case none
        /// Ack the message; the ending is stored until the contract arrives.
        case parked
        /// Ack and count: a repeat ending (redelivered job, or one arriving after `lost`). Never delivered.
        case acknowledgeDuplicate(count: Int)
        /// Create the ledger rows for this final notice (split per the final surface) and deliver.
        /// Returned at most once per job.
        case deliverFinal(OwnershipContract, FinalDecision)
        /// A parked ending has waited longer than `orphanAfter` for its contract: log and alert.
        case reportOrphan(parkedSince: Date)
    }

    public let jobID: JobID
    public private(set) var state: State

    public init(jobID: JobID, restoring state: State = .awaitingContract) {
        self.jobID = jobID
        self.state = state
    }

    /// Duplicate endings counted so far.
    public var duplicates: Int {
        switch state {
        case .completionParked(_, _, let n), .delivering(_, _, let n), .finished(_, _, let n): n
        case .awaitingContract, .awaitingCompletion: 0
        }
    }

    /// The contract arrived (possibly again: the outbox publishes at least once).
    /// A second contract that differs from the first throws `conflictingContract`.
    public mutating func contractReceived(_ contract: OwnershipContract) throws(BridgebackError) -> Action {
        guard contract.jobID == jobID else {
            throw BridgebackError(.invalidTransition, "contract for \(contract.jobID) fed to the lifecycle of \(jobID)", jobID: jobID.description)
        }
        switch state {
        case .awaitingContract:
            state = .awaitingCompletion(contract)
            return .none
        case .completionParked(let ending, _, let duplicates):
            let decision = Self.decision(for: ending)
            state = .delivering(contract, decision, duplicates: duplicates)
            return .deliverFinal(contract, decision)
        case .awaitingCompletion(let known), .delivering(let known, _, _), .finished(let known, _, _):
            guard known == contract else {
                throw BridgebackError(
                    .conflictingContract,
                    "job \(jobID) already has a contract (final surface \(known.finalSurface), \(known.deliveryMode.rawValue)); the new one (final surface \(contract.finalSurface), \(contract.deliveryMode.rawValue)) is ignored",
                    jobID: jobID.description, surfaceID: contract.finalSurface.rawValue)
            }
            return .none
        }
    }

    /// A worker reported the job ended. Any destination it claims is ignored by construction.
    public mutating func completionReceived(_ completion: Completion, now: Date) throws(BridgebackError) -> Action {
        guard completion.jobID == jobID else {
            throw BridgebackError(.invalidTransition, "completion for \(completion.jobID) fed to the lifecycle of \(jobID)", jobID: jobID.description)
        }
        return ending(.completion(completion), now: now)
    }

    /// The job message was dead-lettered: the job ends as one `failure` notice.
    public mutating func deadLettered(reason: String, now: Date) -> Action {
        ending(.deadLettered(reason: reason), now: now)
    }

    /// The lost-job sweeper: past `deadline + grace` with no ending → one `lost` notice.
    public mutating func sweep(now: Date, grace: TimeInterval, orphanAfter: TimeInterval = 24 * 3600) -> Action {
        switch state {
        case .awaitingCompletion(let contract):
            guard now >= contract.deadline.addingTimeInterval(grace) else { return .none }
            let decision = FinalDecision(
                kind: .lost,
                text: "No answer arrived by the deadline (\(WireDate.format(contract.deadline))) plus \(HumanText.duration(seconds: grace)) of grace; the job is presumed lost. It may still be running; any later answer will be recorded but not delivered.",
                completion: nil)
            state = .delivering(contract, decision, duplicates: 0)
            return .deliverFinal(contract, decision)
        case .completionParked(_, let parkedAt, _):
            return now.timeIntervalSince(parkedAt) >= orphanAfter ? .reportOrphan(parkedSince: parkedAt) : .none
        case .awaitingContract, .delivering, .finished:
            return .none
        }
    }

    /// Every part of the final notice reached `delivered`, `failed` or `uncertain`.
    public mutating func deliveryFinished() throws(BridgebackError) -> Action {
        guard case .delivering(let contract, let decision, let duplicates) = state else {
            throw BridgebackError(.invalidTransition, "job \(jobID) cannot finish delivery in state \(state.name)", jobID: jobID.description)
        }
        state = .finished(contract, decision, duplicates: duplicates)
        return .none
    }

    private mutating func ending(_ ending: Ending, now: Date) -> Action {
        switch state {
        case .awaitingContract:
            state = .completionParked(ending, parkedAt: now, duplicates: 0)
            return .parked
        case .completionParked(let first, let parkedAt, let duplicates):
            state = .completionParked(first, parkedAt: parkedAt, duplicates: duplicates + 1)
            return .acknowledgeDuplicate(count: duplicates + 1)
        case .awaitingCompletion(let contract):
            let decision = Self.decision(for: ending)
            state = .delivering(contract, decision, duplicates: 0)
            return .deliverFinal(contract, decision)
        case .delivering(let contract, let decision, let duplicates):
            state = .delivering(contract, decision, duplicates: duplicates + 1)
            return .acknowledgeDuplicate(count: duplicates + 1)
        case .finished(let contract, let decision, let duplicates):
            state = .finished(contract, decision, duplicates: duplicates + 1)
            return .acknowledgeDuplicate(count: duplicates + 1)
        }
    }

    static func decision(for ending: Ending) -> FinalDecision {
        switch ending {
        case .completion(let completion):
            switch completion.outcome {
            case .succeeded(let result): return FinalDecision(kind: .result, text: result, completion: completion)
            case .failed(let reason): return FinalDecision(kind: .failure, text: reason, completion: completion)
            case .cancelled: return FinalDecision(kind: .cancelled, text: "The job was cancelled before it finished.", completion: completion)
            }
        case .deadLettered(let reason):
            return FinalDecision(kind: .failure, text: "The job failed: it stopped its worker every time it ran and was taken out of the queue (\(reason)).", completion: nil)
        }
    }
}
