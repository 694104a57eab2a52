public import Foundation

/// The coordinator's per-job state machine: it guarantees exactly one final notice per job.
///
/// Sans-I/O like `DeliveryStateMachine`: feed an event, persist `state`, perform the action.
/// Messages arrive in any order and at least once (contract and completion on different
/// queues, redelivered after crashes), so the machine parks, counts and ignores as needed.
public struct JobLifecycle: Sendable, Hashable {
    /// Whether a completion is this job's own (it presents the capability whose hash the
    /// contract carries). The coordinator passes a constant-time SHA-256 check; tests pass closures.
    public typealias CompletionCheck = @Sendable (Completion, OwnershipContract) -> Bool

    /// Accepts every completion: for tests of behaviour that does not concern capabilities.
    public static let acceptEveryCompletion: CompletionCheck = { _, _ in true }

    /// How many distinct completions (different capabilities) wait for one contract at most;
    /// beyond that, further ones are counted as duplicates and never delivered.
    public static let maxParkedCandidates = 8

    /// A job's ending before its contract is known: a worker's completion or a dead letter.
    public enum Ending: Sendable, Hashable {
        /// The first completion, and others that presented a different capability (at most
        /// `maxParkedCandidates` in all): until the contract arrives nobody can tell which is the
        /// job's own, so a forgery that arrives first cannot push the real one out.
        case completion(Completion, alternates: [Completion] = [])
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
        /// A completion that does not carry the job's capability: never delivered, state
        /// unchanged; reject it (to `bb.parked` for people), count it, log it without secrets.
        case rejectForged(reason: String)
        /// A cancel that cannot take effect: nothing changes and nothing is sent to workers.
        case refuseCancel(CancelRefusal)
    }

    /// Why a cancel request changed nothing.
    public enum CancelRefusal: Sendable, Hashable {
        /// The contract has not arrived: the caller's right to the job cannot be checked yet.
        case contractUnknown
        /// The final notice is already decided (`cancelled` when cancelled before).
        case alreadyEnded(FinalNoticeKind)
    }

    public let jobID: JobID
    public private(set) var state: State
    /// Parked completions the last `contractReceived` found without the job's capability and
    /// discarded (not persisted; the coordinator logs and counts them).
    public private(set) var forgeriesDiscarded = 0

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
    /// Parked completions are checked against it: the first that carries the job's capability
    /// is delivered, the others are discarded (`forgeriesDiscarded`).
    public mutating func contractReceived(
        _ contract: OwnershipContract, check: CompletionCheck = JobLifecycle.acceptEveryCompletion
    ) throws(BridgebackError) -> Action {
        forgeriesDiscarded = 0
        guard contract.jobID == jobID else {
            throw BridgebackError(
                .invalidTransition, "contract for \(contract.jobID) fed to the lifecycle of \(jobID)", jobID: jobID.description)
        }
        switch state {
        case .awaitingContract:
            state = .awaitingCompletion(contract)
            return .none
        case .completionParked(.completion(let first, let alternates), _, let duplicates):
            let candidates = [first] + alternates
            guard let genuine = candidates.first(where: { check($0, contract) }) else {
                forgeriesDiscarded = candidates.count
                state = .awaitingCompletion(contract)
                return .none
            }
            forgeriesDiscarded = candidates.count - 1
            let decision = Self.decision(for: .completion(genuine))
            state = .delivering(contract, decision, duplicates: duplicates)
            return .deliverFinal(contract, decision)
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

    /// A worker reported the job ended. Any destination it claims is ignored by construction;
    /// once the contract is known, a completion without the job's capability is `rejectForged`.
    public mutating func completionReceived(
        _ completion: Completion, now: Date, check: CompletionCheck = JobLifecycle.acceptEveryCompletion
    ) throws(BridgebackError) -> Action {
        forgeriesDiscarded = 0
        guard completion.jobID == jobID else {
            throw BridgebackError(
                .invalidTransition, "completion for \(completion.jobID) fed to the lifecycle of \(jobID)", jobID: jobID.description)
        }
        switch state {
        case .awaitingCompletion(let contract), .delivering(let contract, _, _), .finished(let contract, _, _):
            guard check(completion, contract) else {
                return .rejectForged(
                    reason:
                        "completion for \(jobID) from '\(completion.worker)' does not carry the job's completion capability (forged, or meant for another job); not delivered"
                )
            }
        case .completionParked(.completion(let first, var alternates), let parkedAt, let duplicates):
            let known = [first] + alternates
            if !known.contains(where: { Self.sameCapability($0, completion) }) && known.count < Self.maxParkedCandidates {
                alternates.append(completion)
                state = .completionParked(.completion(first, alternates: alternates), parkedAt: parkedAt, duplicates: duplicates)
                return .parked
            }
        case .awaitingContract, .completionParked:
            break
        }
        return ending(.completion(completion), now: now)
    }

    /// Equal capabilities (both absent counts as equal), compared in constant time per length.
    static func sameCapability(_ a: Completion, _ b: Completion) -> Bool {
        switch (a.capability, b.capability) {
        case (nil, nil): return true
        case (let x?, let y?):
            let (left, right) = (Array(x.utf8), Array(y.utf8))
            guard left.count == right.count else { return false }
            var difference: UInt8 = 0
            for index in 0..<left.count { difference |= left[index] ^ right[index] }
            return difference == 0
        default: return false
        }
    }

    /// The job message was dead-lettered: the job ends as one `failure` notice.
    public mutating func deadLettered(reason: String, now: Date) -> Action {
        ending(.deadLettered(reason: reason), now: now)
    }

    /// Someone allowed to see the job asked to cancel it. While it waits for its completion it
    /// ends here: one `cancelled` notice saying who and when, decided now, so a completion that
    /// arrives later (the stopped run's, or a run that raced the cancel) is a duplicate. A job
    /// whose notice is decided cannot be cancelled; one whose contract is unknown is refused too.
    public mutating func cancelRequested(_ notice: CancelNotice) -> Action {
        switch state {
        case .awaitingCompletion(let contract):
            let decision = FinalDecision(kind: .cancelled, text: notice.sentence, completion: nil)
            state = .delivering(contract, decision, duplicates: 0)
            return .deliverFinal(contract, decision)
        case .delivering(_, let decision, _), .finished(_, let decision, _):
            return .refuseCancel(.alreadyEnded(decision.kind))
        case .awaitingContract, .completionParked:
            return .refuseCancel(.contractUnknown)
        }
    }

    /// The lost-job sweeper: past `deadline + grace` with no ending → one `lost` notice.
    public mutating func sweep(now: Date, grace: TimeInterval, orphanAfter: TimeInterval = 24 * 3600) -> Action {
        switch state {
        case .awaitingCompletion(let contract):
            guard now >= contract.deadline.addingTimeInterval(grace) else { return .none }
            let decision = FinalDecision(
                kind: .lost,
                text:
                    "No answer arrived by the deadline (\(WireDate.format(contract.deadline))) plus \(HumanText.duration(seconds: grace)) of grace; the job is presumed lost. It may still be running; any later answer will be recorded but not delivered.",
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
            throw BridgebackError(
                .invalidTransition, "job \(jobID) cannot finish delivery in state \(state.name)", jobID: jobID.description)
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
        case .completion(var completion, _):
            completion.capability = nil  // verified; the secret is not kept with the decision
            switch completion.outcome {
            case .succeeded(let result): return FinalDecision(kind: .result, text: result, completion: completion)
            case .failed(let reason): return FinalDecision(kind: .failure, text: reason, completion: completion)
            case .cancelled:
                return FinalDecision(kind: .cancelled, text: "The job was cancelled before it finished.", completion: completion)
            }
        case .deadLettered(let reason):
            return FinalDecision(
                kind: .failure, text: "The job failed: it stopped its worker every time it ran and was taken out of the queue (\(reason)).",
                completion: nil)
        }
    }
}
