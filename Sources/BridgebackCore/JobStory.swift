public import Foundation

/// What `GET /v1/jobs/{id}/delivery` on the coordinator answers: where a job's final notice
/// stands, from the ledger. Also the `delivery` of a `JobStory`.
///
/// One type for the coordinator, admission (which embeds it in a story), the CLI and the tests,
/// so they cannot drift apart. Timestamps are RFC 3339 strings (`WireDate`), keys snake_case.
public struct JobDeliveryStatus: Sendable, Hashable, Codable {
    public var jobID: String
    /// The `JobLifecycle` state name: `completion_parked`, `awaiting_completion`, `delivering`, `finished`.
    public var state: String
    /// `delivered`, `failed`, `uncertain`, `suppressed` or `undeliverable` once finished.
    public var finalOutcome: String?
    public var finalDetail: String?
    /// What the final notice is: `result`, `failure`, `cancelled`, `lost` (once decided).
    public var noticeKind: String?
    public var summary: String?
    /// What was asked (the contract's request excerpt).
    public var asked: String?
    public var recipe: String?
    public var origin: String?
    public var workSurface: String?
    public var finalSurface: String?
    /// The final surface's `human_name` from the registry.
    public var finalSurfaceName: String?
    public var deliveryMode: String?
    /// "parent-mediated", "direct", "suppressed".
    public var deliveryModeName: String?
    public var deadline: String?
    public var createdAt: String?
    /// The worker that ran it, and for how long (from the completion).
    public var worker: String?
    public var runSeconds: Double?
    /// When the last part reached a terminal state (finished jobs), and request → that moment.
    public var finishedAt: String?
    public var turnaroundSeconds: Double?
    /// Repeated endings (redelivered completions, a late answer after `lost`) acknowledged and not delivered.
    public var duplicatesSuppressed: Int
    /// One line for people: "delivered to Alice's terminal (parent-mediated), 1 part".
    public var human: String
    public var parts: [PartStatus]
    public var links: [String: String]

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", state, finalOutcome = "final_outcome", finalDetail = "final_detail"
        case noticeKind = "notice_kind", summary, asked, recipe, origin, workSurface = "work_surface"
        case finalSurface = "final_surface", finalSurfaceName = "final_surface_name", deliveryMode = "delivery_mode"
        case deliveryModeName = "delivery_mode_name", deadline, createdAt = "created_at", worker
        case runSeconds = "run_seconds", finishedAt = "finished_at", turnaroundSeconds = "turnaround_seconds"
        case duplicatesSuppressed = "duplicates_suppressed", human, parts, links
    }

    public init(
        jobID: String, state: String, finalOutcome: String? = nil, finalDetail: String? = nil, noticeKind: String? = nil,
        summary: String? = nil, asked: String? = nil, recipe: String? = nil, origin: String? = nil, workSurface: String? = nil,
        finalSurface: String? = nil, finalSurfaceName: String? = nil, deliveryMode: String? = nil, deliveryModeName: String? = nil,
        deadline: String? = nil, createdAt: String? = nil, worker: String? = nil, runSeconds: Double? = nil, finishedAt: String? = nil,
        turnaroundSeconds: Double? = nil, duplicatesSuppressed: Int = 0, human: String, parts: [PartStatus] = [],
        links: [String: String] = [:]
    ) {
        self.jobID = jobID
        self.state = state
        self.finalOutcome = finalOutcome
        self.finalDetail = finalDetail
        self.noticeKind = noticeKind
        self.summary = summary
        self.asked = asked
        self.recipe = recipe
        self.origin = origin
        self.workSurface = workSurface
        self.finalSurface = finalSurface
        self.finalSurfaceName = finalSurfaceName
        self.deliveryMode = deliveryMode
        self.deliveryModeName = deliveryModeName
        self.deadline = deadline
        self.createdAt = createdAt
        self.worker = worker
        self.runSeconds = runSeconds
        self.finishedAt = finishedAt
        self.turnaroundSeconds = turnaroundSeconds
        self.duplicatesSuppressed = duplicatesSuppressed
        self.human = human
        self.parts = parts
        self.links = links
    }
}

/// One delivery part as the status API shows it.
public struct PartStatus: Sendable, Hashable, Codable {
    public var deliveryID: String
    /// `final` or `fallback`.
    public var purpose: String
    public var part: Int
    public var totalParts: Int
    public var surface: String
    public var surfaceName: String?
    /// `DeliveryState.name`: `pending`, `dry_run_ok`, `sending`, `retry_wait`, `delivered`, `failed`, `uncertain`.
    public var state: String
    /// `DeliveryState.humanDescription`.
    public var stateText: String
    public var attempts: Int
    public var lastFailure: FailureStatus?
    public var nextAttemptAt: String?
    public var deliveredAt: String?
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case deliveryID = "delivery_id", purpose, part, totalParts = "total_parts", surface, surfaceName = "surface_name"
        case state, stateText = "state_text", attempts, lastFailure = "last_failure", nextAttemptAt = "next_attempt_at"
        case deliveredAt = "delivered_at", updatedAt = "updated_at"
    }

    public init(
        deliveryID: String, purpose: String, part: Int, totalParts: Int, surface: String, surfaceName: String?, state: String,
        stateText: String, attempts: Int, lastFailure: FailureStatus?, nextAttemptAt: String?, deliveredAt: String?, updatedAt: String
    ) {
        self.deliveryID = deliveryID
        self.purpose = purpose
        self.part = part
        self.totalParts = totalParts
        self.surface = surface
        self.surfaceName = surfaceName
        self.state = state
        self.stateText = stateText
        self.attempts = attempts
        self.lastFailure = lastFailure
        self.nextAttemptAt = nextAttemptAt
        self.deliveredAt = deliveredAt
        self.updatedAt = updatedAt
    }
}

/// A part's last failure: the taxonomy kind, in words, and the receiver's own words.
public struct FailureStatus: Sendable, Hashable, Codable {
    public var kind: String
    /// `DeliveryFailureKind.humanDescription` ("rate limited (retry after 30 s)").
    public var description: String
    public var detail: String

    public init(_ failure: DeliveryFailure) {
        kind = failure.kind.name
        description = failure.kind.humanDescription
        detail = failure.detail
    }
}

/// A recent-jobs page of the coordinator (`GET /v1/deliveries`).
public struct DeliveryList: Sendable, Hashable, Codable {
    public var surface: String?
    public var count: Int
    public var jobs: [JobDeliveryStatus]

    public init(surface: String?, count: Int, jobs: [JobDeliveryStatus]) {
        self.surface = surface
        self.count = count
        self.jobs = jobs
    }
}

/// A job's whole story in one answer (`GET /v1/jobs/{id}/story` on admission): how it was
/// admitted and decided, its ownership contract, and — joined once, server-side, from the
/// coordinator's ledger — when it ran, how it ended and where each part of its answer went.
///
/// Admission owns the beginning (the request log, the contract, the outbox) and the coordinator
/// the end (the ledger); admission asks the coordinator as the caller, so both apply the same
/// principal. When the coordinator cannot be asked, `delivery` is nil and `deliveryNote` says why.
public struct JobStory: Sendable, Hashable, Codable {
    public var jobID: String
    /// One line for people: where the answer stands (the coordinator's line once it knows the job).
    public var human: String
    /// What admission decided about the request and what it holds of the job.
    public var admission: AdmissionFacts
    /// The ownership record admission wrote (its completion capability hash removed).
    public var contract: OwnershipContract
    /// Ran, ended and delivered: the coordinator's ledger. Nil when the coordinator could not say.
    public var delivery: JobDeliveryStatus?
    /// Why `delivery` is nil: the coordinator has not heard of the job yet, is unreachable, or none is configured.
    public var deliveryNote: String?
    public var links: [String: String]

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", human, admission, contract, delivery, deliveryNote = "delivery_note", links
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        jobID = try c.decode(String.self, forKey: .jobID)
        human = try c.decode(String.self, forKey: .human)
        admission = try c.decode(AdmissionFacts.self, forKey: .admission)
        contract = try c.decode(OwnershipContract.Shown.self, forKey: .contract).contract
        delivery = try c.decodeIfPresent(JobDeliveryStatus.self, forKey: .delivery)
        deliveryNote = try c.decodeIfPresent(String.self, forKey: .deliveryNote)
        links = try c.decode([String: String].self, forKey: .links)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(jobID, forKey: .jobID)
        try c.encode(human, forKey: .human)
        try c.encode(admission, forKey: .admission)
        try c.encode(OwnershipContract.Shown(contract), forKey: .contract)
        try c.encodeIfPresent(delivery, forKey: .delivery)
        try c.encodeIfPresent(deliveryNote, forKey: .deliveryNote)
        try c.encode(links, forKey: .links)
    }

    public init(
        jobID: String, human: String, admission: AdmissionFacts, contract: OwnershipContract, delivery: JobDeliveryStatus?,
        deliveryNote: String?, links: [String: String]
    ) {
        self.jobID = jobID
        self.human = human
        self.admission = admission
        self.contract = contract
        self.delivery = delivery
        self.deliveryNote = deliveryNote
        self.links = links
    }

    /// Admission's part of the story: the decision on the request and the job's admission-side state.
    public struct AdmissionFacts: Sendable, Hashable, Codable {
        public var requestID: String
        /// When the request arrived (nil if its request-log line is missing).
        public var receivedAt: String?
        /// `detach`, and whether the caller forced it.
        public var decision: String?
        public var forced: Bool?
        /// The trigger classes that matched, the policy's reason and its version.
        public var triggers: [String]?
        public var reason: String?
        public var policyVersion: String?
        /// `accepted` (in the outbox), `published` (confirmed by the broker) or `cancel_requested`.
        public var state: String
        public var stateNote: String
        public var createdAt: String
        public var publishedAt: String?
        public var cancelRequestedAt: String?
        public var cancelReason: String?

        enum CodingKeys: String, CodingKey {
            case requestID = "request_id", receivedAt = "received_at", decision, forced, triggers, reason
            case policyVersion = "policy_version", state, stateNote = "state_note", createdAt = "created_at"
            case publishedAt = "published_at", cancelRequestedAt = "cancel_requested_at", cancelReason = "cancel_reason"
        }

        public init(
            requestID: String, receivedAt: String? = nil, decision: String? = nil, forced: Bool? = nil, triggers: [String]? = nil,
            reason: String? = nil, policyVersion: String? = nil, state: String, stateNote: String, createdAt: String,
            publishedAt: String? = nil, cancelRequestedAt: String? = nil, cancelReason: String? = nil
        ) {
            self.requestID = requestID
            self.receivedAt = receivedAt
            self.decision = decision
            self.forced = forced
            self.triggers = triggers
            self.reason = reason
            self.policyVersion = policyVersion
            self.state = state
            self.stateNote = stateNote
            self.createdAt = createdAt
            self.publishedAt = publishedAt
            self.cancelRequestedAt = cancelRequestedAt
            self.cancelReason = cancelReason
        }
    }
}

/// Recent jobs with their whole stories (`GET /v1/stories` on admission), newest first.
public struct JobStoryList: Sendable, Hashable, Codable {
    public var surface: String?
    public var count: Int
    public var jobs: [JobStory]
    /// Said once when the coordinator could not be asked for the page (each story's `delivery_note` says it too).
    public var warning: String?

    public init(surface: String?, count: Int, jobs: [JobStory], warning: String? = nil) {
        self.surface = surface
        self.count = count
        self.jobs = jobs
        self.warning = warning
    }
}

extension WireCodec {
    /// Encodes an HTTP body type (`JobStory`, `JobDeliveryStatus`…) with wire dates (RFC 3339,
    /// milliseconds) and sorted keys, as the services answer.
    public static func encodeBody(_ value: some Encodable) throws -> Data {
        try encoder.encode(value)
    }

    /// Decodes an HTTP body type encoded by `encodeBody` (also whole-second dates).
    public static func decodeBody<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try decoder.decode(T.self, from: data)
    }
}
