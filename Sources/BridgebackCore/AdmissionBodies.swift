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
    /// The ownership contract as written, without the completion capability hash (the
    /// coordinator's concern). Kept as JSON so the contract's own wire encoding is shown unchanged.
    public var contract: JSONValue
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
        jobID: String, human: String, contract: JSONValue, state: String, stateSource: String = "admission", stateNote: String,
        createdAt: String, publishedAt: String? = nil, cancelRequestedAt: String? = nil, cancelReason: String? = nil,
        links: [String: String]
    ) {
        self.jobID = jobID
        self.human = human
        self.contract = contract
        self.state = state
        self.stateSource = stateSource
        self.stateNote = stateNote
        self.createdAt = createdAt
        self.publishedAt = publishedAt
        self.cancelRequestedAt = cancelRequestedAt
        self.cancelReason = cancelReason
        self.links = links
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
