import Foundation

/// Every error answer of admission and the coordinator: `{"error": {"code", "message", "field"?}}`.
///
/// One type for the services that write it and the CLI, MCP server and tests that read it.
public struct APIErrorBody: Sendable, Hashable, Codable {
    /// What went wrong, for a program (`code`) and for a person (`message`, `field`).
    public struct Detail: Sendable, Hashable, Codable {
        /// A stable snake_case code such as `unknown_surface`, to switch on.
        public var code: String
        /// What happened and what to do about it.
        public var message: String
        /// The request field at fault, when there is one (`contract.work_surface`).
        public var field: String?

        public init(code: String, message: String, field: String? = nil) {
            self.code = code
            self.message = message
            self.field = field
        }
    }

    public var error: Detail

    public init(code: String, message: String, field: String? = nil) {
        error = Detail(code: code, message: message, field: field)
    }
}

/// A job as admission shows it: `GET /v1/jobs/{id}`, each entry of `GET /v1/jobs`, and the job
/// part of a detach answer. Timestamps are RFC 3339 strings (`WireDate`), keys snake_case.
public struct AdmittedJob: Sendable, Hashable, Codable {
    public var jobID: String
    /// One line for people: "Detached: … the answer returns to Alice's terminal".
    public var human: String
    /// The ownership contract as written. On the wire it is the contract's own wire form without
    /// the completion capability hash (the coordinator's concern): `OwnershipContract.Shown`.
    public var contract: OwnershipContract
    /// Admission's side only: `accepted`, `published`, `cancel_requested`.
    public var state: String
    /// Always `admission`: delivery state is the coordinator's (`GET /v1/jobs/{id}/delivery`).
    public var stateSource: String
    public var stateNote: String
    public var createdAt: String
    public var publishedAt: String?
    public var cancelRequestedAt: String?
    public var cancelReason: String?
    /// `self` and `cancel`.
    public var links: [String: String]

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", human, contract, state, stateSource = "state_source", stateNote = "state_note"
        case createdAt = "created_at", publishedAt = "published_at", cancelRequestedAt = "cancel_requested_at"
        case cancelReason = "cancel_reason", links
    }

    public init(
        jobID: String, human: String, contract: OwnershipContract, state: String, stateSource: String = "admission", stateNote: String,
        createdAt: String, publishedAt: String? = nil, cancelRequestedAt: String? = nil, cancelReason: String? = nil,
        links: [String: String]
    ) {
        self.jobID = jobID
        self.human = human
        self.contract = OwnershipContract.Shown(contract).contract
        self.state = state
        self.stateSource = stateSource
        self.stateNote = stateNote
        self.createdAt = createdAt
        self.publishedAt = publishedAt
        self.cancelRequestedAt = cancelRequestedAt
        self.cancelReason = cancelReason
        self.links = links
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        jobID = try c.decode(String.self, forKey: .jobID)
        human = try c.decode(String.self, forKey: .human)
        contract = try c.decode(OwnershipContract.Shown.self, forKey: .contract).contract
        state = try c.decode(String.self, forKey: .state)
        stateSource = try c.decode(String.self, forKey: .stateSource)
        stateNote = try c.decode(String.self, forKey: .stateNote)
        createdAt = try c.decode(String.self, forKey: .createdAt)
        publishedAt = try c.decodeIfPresent(String.self, forKey: .publishedAt)
        cancelRequestedAt = try c.decodeIfPresent(String.self, forKey: .cancelRequestedAt)
        cancelReason = try c.decodeIfPresent(String.self, forKey: .cancelReason)
        links = try c.decode([String: String].self, forKey: .links)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(jobID, forKey: .jobID)
        try c.encode(human, forKey: .human)
        try c.encode(OwnershipContract.Shown(contract), forKey: .contract)
        try c.encode(state, forKey: .state)
        try c.encode(stateSource, forKey: .stateSource)
        try c.encode(stateNote, forKey: .stateNote)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(publishedAt, forKey: .publishedAt)
        try c.encodeIfPresent(cancelRequestedAt, forKey: .cancelRequestedAt)
        try c.encodeIfPresent(cancelReason, forKey: .cancelReason)
        try c.encode(links, forKey: .links)
    }
}

/// `GET /v1/jobs`: the jobs a principal may see, newest first.
public struct AdmittedJobList: Sendable, Hashable, Codable {
    public var jobs: [AdmittedJob]
    public var count: Int
    /// The `surface` filter, when one was given.
    public var surface: String?

    public init(jobs: [AdmittedJob], surface: String? = nil) {
        self.jobs = jobs
        self.count = jobs.count
        self.surface = surface
    }
}

/// The answer to `POST /v1/requests` (not a dry run): the policy's decision and, for a detach,
/// the job, flattened into one object as the wire has always had it.
///
/// A repeated idempotency key answers the same fields as the first answer; only `request_id`,
/// `idempotent_replay` and `notes` differ.
public struct AdmissionAnswer: Sendable, Hashable, Codable {
    /// `inline` or `detach`.
    public var decision: String
    public var triggers: [String]
    public var reason: String
    public var policyVersion: String
    public var forced: Bool
    /// The policy's confidence, rounded to three decimals. A replay repeats the first answer's;
    /// it is left out only when the policy changed since (the first decision cannot be recomputed).
    public var confidence: Double?
    /// This request's id (`req_…`); a replay gets its own.
    public var requestID: String
    /// Detach only: the job (its fields sit at the top level of the answer).
    public var job: AdmittedJob?
    /// Detach only: true when the idempotency key was used before and this is the job it created.
    public var idempotentReplay: Bool?
    /// Detach only: the contract fields admission decided because the request left them out.
    public var defaultsApplied: [String]?
    /// Detach only: sentences for people (defaults used, replays).
    public var notes: [String]?

    enum CodingKeys: String, CodingKey {
        case decision, triggers, reason, policyVersion = "policy_version", forced, confidence, requestID = "request_id"
        case idempotentReplay = "idempotent_replay", defaultsApplied = "defaults_applied", notes
        case jobID = "job_id"
    }

    public init(
        decision: String, triggers: [String], reason: String, policyVersion: String, forced: Bool, confidence: Double?,
        requestID: String, job: AdmittedJob? = nil, idempotentReplay: Bool? = nil, defaultsApplied: [String]? = nil,
        notes: [String]? = nil
    ) {
        self.decision = decision
        self.triggers = triggers
        self.reason = reason
        self.policyVersion = policyVersion
        self.forced = forced
        self.confidence = confidence
        self.requestID = requestID
        self.job = job
        self.idempotentReplay = idempotentReplay
        self.defaultsApplied = defaultsApplied
        self.notes = notes
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        decision = try container.decode(String.self, forKey: .decision)
        triggers = try container.decode([String].self, forKey: .triggers)
        reason = try container.decode(String.self, forKey: .reason)
        policyVersion = try container.decode(String.self, forKey: .policyVersion)
        forced = try container.decode(Bool.self, forKey: .forced)
        confidence = try container.decodeIfPresent(Double.self, forKey: .confidence)
        requestID = try container.decode(String.self, forKey: .requestID)
        job = container.contains(.jobID) ? try AdmittedJob(from: decoder) : nil
        idempotentReplay = try container.decodeIfPresent(Bool.self, forKey: .idempotentReplay)
        defaultsApplied = try container.decodeIfPresent([String].self, forKey: .defaultsApplied)
        notes = try container.decodeIfPresent([String].self, forKey: .notes)
    }

    public func encode(to encoder: any Encoder) throws {
        // The job's keys first, then the decision's into the same object (no key is shared).
        try job?.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(decision, forKey: .decision)
        try container.encode(triggers, forKey: .triggers)
        try container.encode(reason, forKey: .reason)
        try container.encode(policyVersion, forKey: .policyVersion)
        try container.encode(forced, forKey: .forced)
        try container.encodeIfPresent(confidence, forKey: .confidence)
        try container.encode(requestID, forKey: .requestID)
        try container.encodeIfPresent(idempotentReplay, forKey: .idempotentReplay)
        try container.encodeIfPresent(defaultsApplied, forKey: .defaultsApplied)
        try container.encodeIfPresent(notes, forKey: .notes)
    }
}

extension JSONValue {
    /// `value` as a JSON tree (through `JSONEncoder`), for an answer built from a typed body.
    public init(encoding value: some Encodable) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }
}

/// The 202 answer to `POST /v1/jobs/{id}/cancel`: the job as admission now shows it, then the
/// coordinator's decision (who cancelled, when, whether workers were told), in one object.
public struct CancelAccepted: Sendable, Hashable, Codable {
    /// The job (its fields sit at the top level of the answer).
    public var job: AdmittedJob
    /// Always `accepted`.
    public var cancel: String
    /// The coordinator's fields, copied as it sent them (left out when it did not).
    public var requestedBy: String?
    public var requestedAt: String?
    public var workersTold: Bool?
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case cancel, requestedBy = "requested_by", requestedAt = "requested_at", workersTold = "workers_told", note
    }

    public init(
        job: AdmittedJob, cancel: String = "accepted", requestedBy: String?, requestedAt: String?, workersTold: Bool?, note: String?
    ) {
        self.job = job
        self.cancel = cancel
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
        self.workersTold = workersTold
        self.note = note
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        job = try AdmittedJob(from: decoder)
        cancel = try container.decode(String.self, forKey: .cancel)
        requestedBy = try container.decodeIfPresent(String.self, forKey: .requestedBy)
        requestedAt = try container.decodeIfPresent(String.self, forKey: .requestedAt)
        workersTold = try container.decodeIfPresent(Bool.self, forKey: .workersTold)
        note = try container.decodeIfPresent(String.self, forKey: .note)
    }

    public func encode(to encoder: any Encoder) throws {
        try job.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(cancel, forKey: .cancel)
        try container.encodeIfPresent(requestedBy, forKey: .requestedBy)
        try container.encodeIfPresent(requestedAt, forKey: .requestedAt)
        try container.encodeIfPresent(workersTold, forKey: .workersTold)
        try container.encodeIfPresent(note, forKey: .note)
    }
}

/// Admission's `GET /health` (open, no token): store, broker, outbox backlog, policy, catalog.
public struct AdmissionHealth: Sendable, Hashable, Codable {
    /// Whether a recipe catalog was loaded: `"not_loaded"` on the wire, or its recipe count.
    public enum RecipeCatalog: Sendable, Hashable, Codable {
        case notLoaded
        case recipes(Int)

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let count = try? container.decode(Int.self) {
                self = .recipes(count)
            } else if try container.decode(String.self) == "not_loaded" {
                self = .notLoaded
            } else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected a recipe count or \"not_loaded\"")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .notLoaded: try container.encode("not_loaded")
            case .recipes(let count): try container.encode(count)
            }
        }
    }

    /// `ok`, `degraded` (no broker, or blocked) or `failing` (the store; answered with 503).
    public var status: String
    /// `ok`, or `error: …`.
    public var store: String
    /// Unsent outbox rows; left out when the store failed.
    public var outboxBacklog: Int?
    /// Age of the oldest unsent row in seconds (one decimal); left out when there is none.
    public var outboxOldestUnsentAgeS: Double?
    /// `connected`, `blocked`, `disconnected` or `not_configured`.
    public var broker: String
    public var policyVersion: String
    public var recipeCatalog: RecipeCatalog

    enum CodingKeys: String, CodingKey {
        case status, store, outboxBacklog = "outbox_backlog", outboxOldestUnsentAgeS = "outbox_oldest_unsent_age_s", broker
        case policyVersion = "policy_version", recipeCatalog = "recipe_catalog"
    }

    public init(
        status: String, store: String, outboxBacklog: Int?, outboxOldestUnsentAgeS: Double?, broker: String, policyVersion: String,
        recipeCatalog: RecipeCatalog
    ) {
        self.status = status
        self.store = store
        self.outboxBacklog = outboxBacklog
        self.outboxOldestUnsentAgeS = outboxOldestUnsentAgeS
        self.broker = broker
        self.policyVersion = policyVersion
        self.recipeCatalog = recipeCatalog
    }
}

/// The answer to `POST /v1/requests/{id}/outcome`: what was recorded for the audit.
public struct OutcomeRecorded: Sendable, Hashable, Codable {
    public var requestID: String
    /// `created`, or `replaced` when an earlier report of the same request was overwritten.
    public var recorded: String
    public var durationS: Double
    public var succeeded: Bool
    /// How many sources the turn used (a count, or the length of the list sent); left out when not reported.
    public var sources: Int?

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", recorded, durationS = "duration_s", succeeded, sources
    }

    public init(requestID: String, recorded: String, durationS: Double, succeeded: Bool, sources: Int?) {
        self.requestID = requestID
        self.recorded = recorded
        self.durationS = durationS
        self.succeeded = succeeded
        self.sources = sources
    }
}

/// Where a dry run's answer would go and how it would be fitted to that surface.
public struct DeliveryPlan: Sendable, Hashable, Codable {
    /// `parent`, `direct` or `suppressed`, and its name for people.
    public var deliveryMode: String
    public var deliveryModeName: String
    /// The final surface; left out when it is not in the registry.
    public var finalSurface: SurfacePlan?
    public var summary: String?
    /// `direct` only: what happens when direct delivery fails for good.
    public var fallback: String?

    enum CodingKeys: String, CodingKey {
        case deliveryMode = "delivery_mode", deliveryModeName = "delivery_mode_name", finalSurface = "final_surface", summary, fallback
    }

    public init(
        deliveryMode: String, deliveryModeName: String, finalSurface: SurfacePlan? = nil, summary: String? = nil, fallback: String? = nil
    ) {
        self.deliveryMode = deliveryMode
        self.deliveryModeName = deliveryModeName
        self.finalSurface = finalSurface
        self.summary = summary
        self.fallback = fallback
    }
}

/// The answer to `POST /v1/requests` with `"dry_run": true` (always 200): what would happen,
/// and nothing recorded. Three shapes: inline (the decision, `"delivery": null`), detach (the
/// decision, the contract, its defaults and the delivery plan) and a repeated idempotency key
/// (`idempotent_replay`, the existing job's id, contract and plan, no decision fields).
public struct DryRunAnswer: Sendable, Hashable, Codable {
    /// Always true.
    public var dryRun: Bool
    /// `inline` or `detach`.
    public var decision: String
    /// The policy's decision; left out for a repeated idempotency key (no decision is made).
    public var triggers: [String]?
    public var reason: String?
    public var policyVersion: String?
    public var forced: Bool?
    public var confidence: Double?
    /// One line for people: "Would answer inline: …", "Would detach: …".
    public var human: String
    /// Detach and replay: the contract as it would be (or was) written (`OwnershipContract.Shown` on the wire).
    public var contract: OwnershipContract?
    /// Detach only.
    public var defaultsApplied: [String]?
    /// The delivery plan; always on the wire, `null` for an inline answer (nothing is delivered later).
    public var delivery: DeliveryPlan?
    public var notes: [String]
    /// Replay only: true, and the existing job's id.
    public var idempotentReplay: Bool?
    public var jobID: String?

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run", decision, triggers, reason, policyVersion = "policy_version", forced, confidence, human, contract
        case defaultsApplied = "defaults_applied", delivery, notes, idempotentReplay = "idempotent_replay", jobID = "job_id"
    }

    public init(
        decision: String, triggers: [String]? = nil, reason: String? = nil, policyVersion: String? = nil, forced: Bool? = nil,
        confidence: Double? = nil, human: String, contract: OwnershipContract? = nil, defaultsApplied: [String]? = nil,
        delivery: DeliveryPlan?, notes: [String], idempotentReplay: Bool? = nil, jobID: String? = nil
    ) {
        self.dryRun = true
        self.decision = decision
        self.triggers = triggers
        self.reason = reason
        self.policyVersion = policyVersion
        self.forced = forced
        self.confidence = confidence
        self.human = human
        self.contract = contract.map { OwnershipContract.Shown($0).contract }
        self.defaultsApplied = defaultsApplied
        self.delivery = delivery
        self.notes = notes
        self.idempotentReplay = idempotentReplay
        self.jobID = jobID
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dryRun = try container.decode(Bool.self, forKey: .dryRun)
        decision = try container.decode(String.self, forKey: .decision)
        triggers = try container.decodeIfPresent([String].self, forKey: .triggers)
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        policyVersion = try container.decodeIfPresent(String.self, forKey: .policyVersion)
        forced = try container.decodeIfPresent(Bool.self, forKey: .forced)
        confidence = try container.decodeIfPresent(Double.self, forKey: .confidence)
        human = try container.decode(String.self, forKey: .human)
        contract = try container.decodeIfPresent(OwnershipContract.Shown.self, forKey: .contract)?.contract
        defaultsApplied = try container.decodeIfPresent([String].self, forKey: .defaultsApplied)
        delivery = try container.decodeIfPresent(DeliveryPlan.self, forKey: .delivery)
        notes = try container.decode([String].self, forKey: .notes)
        idempotentReplay = try container.decodeIfPresent(Bool.self, forKey: .idempotentReplay)
        jobID = try container.decodeIfPresent(String.self, forKey: .jobID)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dryRun, forKey: .dryRun)
        try container.encode(decision, forKey: .decision)
        try container.encodeIfPresent(triggers, forKey: .triggers)
        try container.encodeIfPresent(reason, forKey: .reason)
        try container.encodeIfPresent(policyVersion, forKey: .policyVersion)
        try container.encodeIfPresent(forced, forKey: .forced)
        try container.encodeIfPresent(confidence, forKey: .confidence)
        try container.encode(human, forKey: .human)
        try container.encodeIfPresent(contract.map(OwnershipContract.Shown.init), forKey: .contract)
        try container.encodeIfPresent(defaultsApplied, forKey: .defaultsApplied)
        // Explicit null: the wire has always said "no delivery" rather than leaving the key out.
        if let delivery { try container.encode(delivery, forKey: .delivery) } else { try container.encodeNil(forKey: .delivery) }
        try container.encode(notes, forKey: .notes)
        try container.encodeIfPresent(idempotentReplay, forKey: .idempotentReplay)
        try container.encodeIfPresent(jobID, forKey: .jobID)
    }
}
