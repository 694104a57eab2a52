public import BridgebackAdmissionStore
public import BridgebackAuth
public import BridgebackCore
public import BridgebackPolicy
public import Foundation
public import Logging
import Synchronization

/// Knobs of the admission service (see docs/admission-service.md).
public struct AdmissionConfiguration: Sendable {
    /// Largest accepted request body; larger ones get 413 and nothing is read further.
    public var maxBodyBytes: Int
    /// Deadline of a job whose contract gives no `deadline_s`.
    public var defaultDeadlineSeconds: Double
    /// Longest `deadline_s` accepted (the broker's `consumer_timeout` must exceed it).
    public var maxDeadlineSeconds: Double
    /// At most this many contract refusals are recorded for the audit per minute (a token
    /// bucket); the rest are still answered, counted in a metric, and not stored, so
    /// repeated bad requests cannot grow `contract_refusals` without limit.
    public var maxRecordedRefusalsPerMinute: Int
    /// Worker pool: routing key on `jobsExchange` (queue `bb.jobs.<pool>`).
    public var pool: String
    public var contractsExchange: String
    public var contractsRoutingKey: String
    public var jobsExchange: String
    /// Recipe for a detach that names none (free-text requests). Overrides the catalog's
    /// `default_recipe`; when neither is set such a request is refused with 422.
    public var defaultRecipe: String?
    /// If set, the default recipe receives the request text in this parameter (e.g. `prompt`).
    public var defaultRecipeTextParam: String?

    public init(
        maxBodyBytes: Int = 64 * 1024, defaultDeadlineSeconds: Double = 3600, maxDeadlineSeconds: Double = JobLimits.maxDeadlineSeconds,
        pool: String = "default", contractsExchange: String = "bb.contracts", contractsRoutingKey: String = "contract",
        jobsExchange: String = "bb.jobs", defaultRecipe: String? = nil, defaultRecipeTextParam: String? = nil,
        maxRecordedRefusalsPerMinute: Int = 60
    ) {
        self.maxRecordedRefusalsPerMinute = maxRecordedRefusalsPerMinute
        self.maxBodyBytes = maxBodyBytes
        self.defaultDeadlineSeconds = defaultDeadlineSeconds
        self.maxDeadlineSeconds = maxDeadlineSeconds
        self.pool = pool
        self.contractsExchange = contractsExchange
        self.contractsRoutingKey = contractsRoutingKey
        self.jobsExchange = jobsExchange
        self.defaultRecipe = defaultRecipe
        self.defaultRecipeTextParam = defaultRecipeTextParam
    }
}

/// An HTTP answer independent of the server framework: a status and a JSON body.
public struct APIResponse: Sendable, Hashable {
    public var status: Int
    /// The body as a value. An answer made from a typed body keeps only its encoded bytes (all
    /// the server writes); this parses them on each read (tests, the few callers that look inside).
    public var body: JSONValue {
        get {
            switch storage {
            case .value(let value): value
            case .encoded(let bytes):
                (try? StrictJSON.parse(bytes, limits: Self.ownJSON)) ?? (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)))
                    ?? .null
            }
        }
        set { storage = .value(newValue) }
    }
    /// A value, or sorted-key JSON encoded once from a typed value: a typed answer is neither parsed
    /// into a `JSONValue` nor encoded again to be served.
    private enum Storage: Sendable {
        case value(JSONValue)
        case encoded([UInt8])
    }
    private var storage: Storage

    public init(status: Int, body: JSONValue) {
        self.status = status
        storage = .value(body)
    }

    /// An answer from a typed body (`BridgebackCore`'s shared wire types), so the service writes
    /// exactly what its clients decode.
    public init(status: Int, typed: some Encodable) {
        self.status = status
        if let data = try? Self.encoder.encode(typed) {
            storage = .encoded(Array(data))
        } else {
            storage = .value((try? JSONValue(encoding: typed)) ?? .null)
        }
    }

    /// A detach answer whose job's contract is `shownContract`, the contract's JSON as the answer
    /// shows it (`OwnershipContract.Shown`, sorted keys), spliced in instead of encoded again and the
    /// rest written by hand (`handWritten`): the same bytes as `init(status:typed:)`
    /// (`SplicedAnswerTests`). Encoded whole when only `JSONEncoder` may answer.
    init(status: Int, answer: AdmissionAnswer, shownContract: [UInt8]) {
        if let bytes = Self.handWritten(answer, shownContract: shownContract) {
            self.init(status: status, encoded: bytes)
        } else {
            self.init(status: status, typed: answer)
        }
    }

    /// The detach answer with its contract spliced in, written by hand (`WireJSONWriter`): the
    /// bytes `JSONEncoder.sorted` writes for it (`SplicedAnswerTests`), without `Codable`'s
    /// containers (the answer's encoding was ~8 % of admission's CPU per job). Nil when only
    /// `JSONEncoder` may answer: no job, or a confidence that is not a finite number.
    static func handWritten(_ answer: AdmissionAnswer, shownContract: [UInt8]) -> [UInt8]? {
        guard let job = answer.job else { return nil }
        var w = WireJSONWriter(capacity: shownContract.count + 768)
        var first = true
        // Members in the order `.sortedKeys` puts them (by their keys' UTF-8 bytes), the job's and
        // the decision's merged into one object, as `AdmissionAnswer.encode(to:)` writes them.
        func key(_ name: StaticString) {
            w.raw(first ? "{\"" : ",\"")
            first = false
            w.raw(name)
            w.raw("\":")
        }
        func strings(_ name: StaticString, _ values: [String]?) {
            guard let values else { return }
            key(name)
            w.strings(values)
        }
        if let value = job.cancelReason { key("cancel_reason"); w.string(value) }
        if let value = job.cancelRequestedAt { key("cancel_requested_at"); w.string(value) }
        if let value = answer.confidence { key("confidence"); w.double(value) }
        key("contract")
        w.append(shownContract)
        key("created_at")
        w.string(job.createdAt)
        key("decision")
        w.string(answer.decision)
        strings("defaults_applied", answer.defaultsApplied)
        key("forced")
        w.bool(answer.forced)
        key("human")
        w.string(job.human)
        if let value = answer.idempotentReplay { key("idempotent_replay"); w.bool(value) }
        key("job_id")
        w.string(job.jobID)
        key("links")
        w.object(job.links.mapValues { JSONValue.string($0) })
        strings("notes", answer.notes)
        key("policy_version")
        w.string(answer.policyVersion)
        if let value = job.publishedAt { key("published_at"); w.string(value) }
        key("reason")
        w.string(answer.reason)
        key("request_id")
        w.string(answer.requestID)
        key("state")
        w.string(job.state)
        key("state_note")
        w.string(job.stateNote)
        key("state_source")
        w.string(job.stateSource)
        strings("triggers", answer.triggers)
        w.raw("}")
        return w.ok ? w.bytes : nil
    }

    private init(status: Int, encoded: [UInt8]) {
        self.status = status
        storage = .encoded(encoded)
    }

    /// The contract as a detach answer shows it, from its wire encoding (`WireCodec`, sorted keys):
    /// the same object without its first member, `completion_capability_sha256` (sorted first; the
    /// answer never shows the hash). Nil when the bytes do not start that way (no hash: an old
    /// contract); the caller then encodes the answer whole.
    static func shownContract(fromWire wire: [UInt8]) -> [UInt8]? {
        let prefix = Array(#"{"completion_capability_sha256":""#.utf8)
        guard wire.count > prefix.count + 2, wire.starts(with: prefix) else { return nil }
        // A lowercase hex digest: no quote or backslash inside, so the next quote ends it.
        guard let close = wire[prefix.count...].firstIndex(of: UInt8(ascii: "\"")),
            wire[prefix.count..<close].allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }), close + 1 < wire.count,
            wire[close + 1] == UInt8(ascii: ",")
        else { return nil }
        return [UInt8(ascii: "{")] + wire[(close + 2)...]
    }

    /// The body as sorted-key JSON bytes.
    public var bodyBytes: [UInt8] {
        switch storage {
        case .encoded(let bytes): bytes
        case .value(let value): Array((try? JSONEncoder.sorted.encode(value)) ?? Data("{}".utf8))
        }
    }

    public static func == (lhs: APIResponse, rhs: APIResponse) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(status)
        hasher.combine(body)
    }

    /// Sorted keys, no escaped slashes (as `JSONEncoder.sorted`); one instance, as `WireCodec`'s.
    static let encoder = JSONEncoder.sorted
    /// JSON this process just encoded: read back without the limits meant for strangers' input.
    static let ownJSON = StrictJSON.Limits(maxDepth: 256, allowNUL: true)

    /// `{"error": {"code", "message", "field"?}}` with the code's HTTP status.
    public static func error(_ error: AdmissionError) -> APIResponse {
        APIResponse(
            status: error.code.httpStatus, typed: APIErrorBody(code: error.code.description, message: error.message, field: error.field))
    }
}

/// The admission service's behaviour behind HTTP: decide, validate, record, answer.
///
/// Every handler takes plain values and returns an `APIResponse`, so tests call it without a
/// server and the Hummingbird layer stays a thin adapter. A refusal writes no request, job or
/// outbox row; only a contract refusal of a request that would detach is kept, in
/// `contract_refusals`, for the audit (see `recordRefusal`).
public final class AdmissionAPI: Sendable {
    public let configuration: AdmissionConfiguration
    public let registry: SurfaceRegistry
    public let engine: PolicyEngine
    public let catalog: RecipeCatalogView?
    public let store: AdmissionStore
    private let publisher: (any OutboxPublisher)?
    let logger: Logger
    private let metrics: AdmissionMetrics
    private let ids = Mutex(JobIDGenerator())
    /// Bounds the rows anonymous refusals can add to `contract_refusals` (see `recordRefusal`).
    private let refusalBudget: Mutex<RefusalBudget>
    private let now: @Sendable () -> Date
    /// The coordinator that decides cancels; nil: `POST /v1/jobs/{id}/cancel` answers 503.
    private let cancelForwarder: (any CancelForwarding)?
    /// How long a cancel waits for the coordinator to learn of a job it does not know yet.
    private let cancelContractWait: Duration
    /// Where a job's story gets its delivery side (the coordinator); nil: stories say none is configured.
    let deliveryLookup: (any DeliveryLookup)?

    /// - Parameters:
    ///   - catalog: the worker's recipe catalog; without one, recipe names and parameters are
    ///     not checked here (workers still check them) and a warning is logged at start.
    ///   - publisher: only read for `GET /health` (broker connected or not).
    public init(
        configuration: AdmissionConfiguration = .init(), registry: SurfaceRegistry, engine: PolicyEngine,
        catalog: RecipeCatalogView?, store: AdmissionStore, doorbell: OutboxDoorbell, publisher: (any OutboxPublisher)? = nil,
        logger: Logger, metrics: AdmissionMetrics = AdmissionMetrics(), now: @escaping @Sendable () -> Date = { Date() },
        cancelForwarder: (any CancelForwarding)? = nil, cancelContractWait: Duration = .seconds(5),
        deliveryLookup: (any DeliveryLookup)? = nil
    ) {
        self.deliveryLookup = deliveryLookup
        self.cancelForwarder = cancelForwarder
        self.cancelContractWait = cancelContractWait
        self.configuration = configuration
        self.registry = registry
        self.engine = engine
        self.catalog = catalog
        self.store = store
        // Rung by the store's writer right after the commit that hands rows over (before this API answers).
        store.outboxHandOff.onHanded { doorbell.ring() }
        self.publisher = publisher
        self.logger = logger
        self.metrics = metrics
        self.now = now
        self.refusalBudget = Mutex(RefusalBudget(perMinute: configuration.maxRecordedRefusalsPerMinute))
    }

    // MARK: POST /v1/requests

    /// Decides a request; for a detach, records job + contract + outbox in one transaction.
    ///
    /// `principal` must be allowed the origin, the work and final surfaces and the parent the
    /// request names or the contract defaults to; otherwise 403 naming the field, nothing written.
    public func submit(body: [UInt8], as principal: Principal) async -> APIResponse {
        let start = ContinuousClock.now
        let response: APIResponse
        do {
            response = try await submitOrThrow(body: body, principal: principal)
        } catch {
            response = refuse(error)
        }
        metrics.submitted(status: response.status, after: ContinuousClock.now - start)
        return response
    }

    /// The answer for a body over `maxBodyBytes` (the HTTP layer stops reading at the limit).
    public func bodyTooLarge() -> APIResponse {
        refuse(
            AdmissionError(
                .bodyTooLarge,
                "the request body is larger than \(configuration.maxBodyBytes) bytes; shorten the text or attach a reference to the material instead"
            ))
    }

    func refuse(_ error: AdmissionError) -> APIResponse {
        if error.code.httpStatus < 500 {
            metrics.refused(code: error.code.description)
            logger.info("request refused", metadata: ["error.code": "\(error.code)", "error.message": "\(error.message)"])
        } else {
            logger.error("request failed", metadata: ["error.code": "\(error.code)", "error.message": "\(error.message)"])
        }
        return .error(error)
    }

    private func submitOrThrow(body: [UInt8], principal: Principal) async throws(AdmissionError) -> APIResponse {
        guard body.count <= configuration.maxBodyBytes else { throw AdmissionError(.bodyTooLarge, bodyTooLarge().errorMessage) }
        let request = try SubmitRequest.parse(body)
        let receivedAt = now()
        // Scope first: a principal learns nothing about surfaces or jobs it may not address.
        try authorize(request, principal: principal)
        do {
            return try await submitParsed(request, principal: principal, receivedAt: receivedAt)
        } catch {
            if error.code.refusesContract && !request.dryRun { await recordRefusal(error, request: request, at: receivedAt) }
            throw error
        }
    }

    /// Records a contract refusal of a request that would detach, for the audit.
    ///
    /// Only in `contract_refusals`, never as a request, job or outbox row. A request the policy
    /// keeps inline was not refused a contract (it would not have had one), so it is not
    /// recorded. If the row cannot be written the refusal is still answered: a warning, no 503.
    private func recordRefusal(_ error: AdmissionError, request: SubmitRequest, at: Date) async {
        let decision = engine.decide(AdmissionRequest(text: request.text, hints: request.hints))
        guard decision.decision == .detach else { return }
        guard refusalBudget.withLock({ $0.take(at: at) }) else {
            metrics.refusalNotRecorded()
            logger.debug("contract refusal not recorded: over the per-minute budget", metadata: ["error.code": "\(error.code)"])
            return
        }
        let refusal = ContractRefusalRecord(
            id: "ref_" + JobID.make(at: at).ulid, at: at, origin: request.origin.rawValue,
            excerpt: HumanText.excerpt(request.text, maxCharacters: ContractRefusalRecord.excerptLimit),
            decision: decision.decision.rawValue,
            forced: decision.forced, triggers: decision.triggers.map(\.rawValue), policyVersion: decision.policyVersion,
            code: error.code.description, field: error.field, message: error.message)
        do {
            try await store.recordRefusal(refusal)
        } catch {
            logger.warning(
                "contract refusal not recorded for the audit",
                metadata: ["refusal_id": "\(refusal.id)", "error.code": "\(refusal.code)", "error": "\(error)"])
        }
    }

    /// The fields the request names itself; defaults are checked once the contract is resolved.
    private func authorize(_ request: SubmitRequest, principal: Principal) throws(AdmissionError) {
        let denial = principal.authorize(
            origin: request.origin.rawValue, workSurface: request.contract.workSurface?.rawValue ?? "",
            finalSurface: request.contract.finalSurface?.rawValue ?? "", parentID: request.contract.parentID ?? "",
            skipping: Set(
                [
                    request.contract.workSurface == nil ? "work_surface" : nil,
                    request.contract.finalSurface == nil ? "final_surface" : nil,
                    request.contract.parentID == nil ? "parent_id" : nil,
                ].compactMap { $0 }))
        if let denial { throw forbidden(denial, principal: principal) }
    }

    private func forbidden(_ denial: AuthError, principal: Principal) -> AdmissionError {
        logger.notice("request forbidden", metadata: ["principal": "\(principal.name)", "field": "\(denial.field ?? "")"])
        return AdmissionError(.forbidden, denial.message, field: denial.field)
    }

    private func submitParsed(_ request: SubmitRequest, principal: Principal, receivedAt: Date) async throws(AdmissionError) -> APIResponse
    {
        // Surfaces named anywhere must exist, whatever the decision: a typo is a client bug.
        for (field, id) in [
            ("origin", request.origin), ("contract.work_surface", request.contract.workSurface),
            ("contract.final_surface", request.contract.finalSurface),
        ] {
            guard let id else { continue }
            do { _ = try registry.surface(id, role: field) } catch {
                throw AdmissionError(.unknownSurface, error.message, field: field)
            }
        }
        if let recipe = request.recipe, let catalog { try catalog.validate(recipe) }
        let requestID = "req_" + JobID.make(at: receivedAt).ulid

        // A repeated (origin, idempotency key) gets the first job back, never a second one.
        if let key = request.idempotencyKey,
            let existing = try await storeCall({ try await store.existingJob(origin: request.origin.rawValue, idempotencyKey: key) })
        {
            if request.dryRun { return dryRunReplay(existing) }
            return try await replay(existing, request: request, requestID: requestID, receivedAt: receivedAt)
        }

        let decision = engine.decide(AdmissionRequest(text: request.text, hints: request.hints))
        var entry = RequestLogEntry(
            id: requestID, origin: request.origin.rawValue, text: request.text, hintsJSON: request.hintsJSON,
            decision: decision.decision.rawValue, forced: decision.forced, triggers: decision.triggers.map(\.rawValue),
            reason: decision.reason, policyVersion: decision.policyVersion, receivedAt: receivedAt,
            idempotencyKey: request.idempotencyKey)

        if decision.decision == .inline {
            if request.dryRun { return dryRunInline(decision) }
            try await storeCall { try await store.logRequest(entry) }
            metrics.request(decision: "inline")
            metrics.triggers(entry.triggers)
            // Per request at debug: the request log is the record; at info a line per request was ~5 % of admission's CPU.
            logger.debug(
                "inline",
                metadata: [
                    "request_id": "\(requestID)", "origin": "\(request.origin)", "triggers": "\(entry.triggers)",
                    "policy_version": "\(decision.policyVersion)",
                ])
            return APIResponse(status: 200, typed: answer(decision, requestID: requestID))
        }

        // Detach: a recipe, a contract, then one transaction.
        var notes: [String] = []
        var extraDefaults: [String] = []
        let recipe: RecipeInvocation
        if let given = request.recipe {
            recipe = given
        } else {
            guard let name = configuration.defaultRecipe ?? catalog?.defaultRecipe else {
                let known = catalog.map { " (known recipes: " + $0.recipes.keys.sorted().joined(separator: ", ") + ")" } ?? ""
                throw AdmissionError(
                    .unknownRecipe,
                    "this request detaches but names no recipe, and no default recipe for free-text requests is configured; name one in \"recipe\"\(known), or start admission with --default-recipe",
                    field: "recipe")
            }
            var params: [String: JSONValue] = [:]
            if let param = configuration.defaultRecipeTextParam { params[param] = .string(request.text) }
            recipe = RecipeInvocation(name: name, params: params)
            if let catalog { try catalog.validate(recipe) }
            notes.append("no recipe named: using the default recipe '\(name)' for free-text requests")
            extraDefaults.append("recipe")
        }
        let deadlineSeconds = request.contract.deadlineSeconds ?? configuration.defaultDeadlineSeconds
        if request.contract.deadlineSeconds == nil { extraDefaults.append("deadline") }
        guard deadlineSeconds <= configuration.maxDeadlineSeconds else {
            throw AdmissionError(
                .invalidContract,
                "contract.deadline_s \(Self.seconds(deadlineSeconds)) is longer than the maximum \(Self.seconds(configuration.maxDeadlineSeconds)) s; split the work or ask the operator to raise --max-deadline",
                field: "contract.deadline_s")
        }
        let jobID = ids.withLock { $0.next(at: receivedAt) }
        let draft = ContractDraft(
            origin: request.origin, workSurface: request.contract.workSurface, finalSurface: request.contract.finalSurface,
            deliveryMode: request.contract.deliveryMode, parentID: request.contract.parentID,
            deadline: receivedAt.addingTimeInterval(deadlineSeconds), policyVersion: decision.policyVersion,
            summary: request.summary ?? "", requestText: request.text, recipe: recipe, idempotencyKey: request.idempotencyKey)
        var contract: OwnershipContract
        do { contract = try registry.resolve(draft, jobID: jobID, createdAt: receivedAt) } catch {
            throw AdmissionError(contract: error)
        }
        // The job's completion capability: the secret rides only in the job message, its hash in the contract.
        let capability = CompletionCapability.mint()
        contract.completionCapabilitySHA256 = capability.sha256
        if let denial = principal.authorize(
            origin: contract.origin.rawValue, workSurface: contract.workSurface.rawValue, finalSurface: contract.finalSurface.rawValue,
            parentID: contract.parentID, defaulted: Set(contract.defaultsApplied))
        {
            throw forbidden(denial, principal: principal)
        }
        if request.dryRun { return dryRunDetach(contract, decision: decision, notes: notes, extraDefaults: extraDefaults) }
        let outbox: [OutboxDraft]
        do {
            outbox = [
                OutboxDraft(
                    kind: .contract, exchange: configuration.contractsExchange, routingKey: configuration.contractsRoutingKey,
                    payload: Array(try WireCodec.encode(contract))),
                OutboxDraft(
                    kind: .job, exchange: configuration.jobsExchange, routingKey: configuration.pool,
                    payload: Array(
                        try WireCodec.encode(
                            JobMessage(contract: contract, pool: configuration.pool, completionCapability: capability.secret)))),
            ]
        } catch {
            throw AdmissionError(.invalidContract, "cannot encode the contract: \(error.message)")
        }
        entry.jobID = jobID.description
        let outcome = try await storeCall {
            // outbox[0] is the contract's `WireCodec` encoding: stored as is, not encoded again.
            try await store.admit(
                request: entry, contract: contract, outbox: outbox, defaultsApplied: contract.defaultsApplied + extraDefaults,
                encodedContract: outbox[0].payload)
        }
        switch outcome {
        case .created(let job):
            // The relay's doorbell rang on SQLite's writer when the commit handed the rows over.
            metrics.request(decision: "detach")
            metrics.triggers(entry.triggers)
            // Debug, as "inline": the request log row and the job row are the record of an accepted job.
            logger.debug(
                "detached",
                metadata: [
                    "request_id": "\(requestID)", "job_id": "\(job.jobID)", "origin": "\(contract.origin)",
                    "work_surface": "\(contract.workSurface)",
                    "final_surface": "\(contract.finalSurface)", "delivery_mode": "\(contract.deliveryMode.rawValue)",
                    "recipe": "\(recipe.name)",
                    "triggers": "\(entry.triggers)", "policy_version": "\(decision.policyVersion)",
                ])
            let body = detachAnswer(job, decision: decision, requestID: requestID, replay: false, notes: notes)
            // The contract's wire bytes (the outbox payload) become the answer's contract: not encoded a third time.
            guard let shown = APIResponse.shownContract(fromWire: outbox[0].payload) else { return APIResponse(status: 202, typed: body) }
            return APIResponse(status: 202, answer: body, shownContract: shown)
        case .existing(let job):
            // Lost a race with a concurrent submit of the same key: answer as a replay.
            metrics.request(decision: "replay")
            return APIResponse(
                status: 202, typed: detachAnswer(job, decision: decision, requestID: requestID, replay: true, notes: []))
        }
    }

    private func replay(_ job: JobRecord, request: SubmitRequest, requestID: String, receivedAt: Date) async throws(AdmissionError)
        -> APIResponse
    {
        let original = try await storeCall { try await store.request(id: job.requestID) }
        let entry = RequestLogEntry(
            id: requestID, origin: request.origin.rawValue, text: request.text, hintsJSON: request.hintsJSON, decision: "detach",
            forced: original?.forced ?? false, triggers: original?.triggers ?? [], reason: original?.reason ?? "",
            policyVersion: original?.policyVersion ?? job.contract.policyVersion, receivedAt: receivedAt,
            idempotencyKey: request.idempotencyKey)
        try await storeCall { try await store.logReplay(entry, jobID: job.jobID) }
        metrics.request(decision: "replay")
        logger.info("idempotent replay", metadata: ["request_id": "\(requestID)", "job_id": "\(job.jobID)", "origin": "\(request.origin)"])
        // The first answer's fields again: the decision as first made (recomputed from the logged
        // text and hints while the policy is unchanged, for its confidence) and the contract's defaults.
        var confidence: Double?
        if let original, original.policyVersion == engine.policy.version {
            var hints = original.hintsJSON.flatMap { try? SubmitRequest.parse(hintsJSON: $0) } ?? nil
            if original.forced {
                var forced = hints ?? AdmissionHints()
                forced.force = .detach
                hints = forced
            }
            let first = engine.decide(AdmissionRequest(text: original.text, hints: hints))
            if first.triggers.map(\.rawValue) == entry.triggers { confidence = Self.rounded(first.confidence) }
        }
        let note =
            "idempotency_key '\(request.idempotencyKey ?? "")' was already used from \(request.origin): this is the job it created, not a new one"
        let body = AdmissionAnswer(
            decision: "detach", triggers: entry.triggers, reason: entry.reason, policyVersion: entry.policyVersion, forced: entry.forced,
            confidence: confidence, requestID: requestID, job: admittedJob(job), idempotentReplay: true,
            defaultsApplied: job.defaultsApplied, notes: [note])
        return APIResponse(status: 202, typed: body)
    }

    static func rounded(_ confidence: Double) -> Double { (confidence * 1000).rounded() / 1000 }

    func answer(_ decision: AdmissionDecision, requestID: String) -> AdmissionAnswer {
        AdmissionAnswer(
            decision: decision.decision.rawValue, triggers: decision.triggers.map(\.rawValue), reason: decision.reason,
            policyVersion: decision.policyVersion, forced: decision.forced, confidence: Self.rounded(decision.confidence),
            requestID: requestID)
    }

    private func detachAnswer(
        _ job: JobRecord, decision: AdmissionDecision, requestID: String, replay: Bool, notes: [String]
    ) -> AdmissionAnswer {
        var body = answer(decision, requestID: requestID)
        body.job = admittedJob(job)
        body.idempotentReplay = replay
        // What the first answer said was defaulted (stored with the job), for a replay too.
        body.defaultsApplied = job.defaultsApplied
        var allNotes = notes
        if let sentence = defaultsSentence(job.contract, fields: job.defaultsApplied) { allNotes.append(sentence) }
        body.notes = allNotes
        return body
    }

    /// "Defaults used: work_surface = work:alice (Alice's work log), …" — what was not asked but decided.
    func defaultsSentence(_ contract: OwnershipContract, fields: [String]) -> String? {
        guard !fields.isEmpty else { return nil }
        // Appended into one string (every detach writes it): interpolated parts and a join were
        // ~23,000 instructions per submit. `DefaultsSentenceTests` pins the wording.
        var sentence = "Defaults used: "
        sentence.reserveCapacity(64 * fields.count + 16)
        func surface(_ key: String, _ id: SurfaceID) {
            sentence += key
            sentence += " = "
            sentence += id.rawValue
            if let humanName = registry[id]?.humanName {
                sentence += " ("
                sentence += humanName
                sentence += ")"
            }
        }
        for (index, field) in fields.enumerated() {
            if index > 0 { sentence += ", " }
            switch field {
            case "work_surface": surface(field, contract.workSurface)
            case "final_surface": surface(field, contract.finalSurface)
            case "delivery_mode":
                sentence += "delivery_mode = "
                sentence += contract.deliveryMode.rawValue
                sentence += " ("
                sentence += contract.deliveryMode.humanName
                sentence += ")"
            case "parent_id":
                sentence += "parent_id = "
                sentence += contract.parentID
            case "deadline":
                sentence += "deadline = "
                sentence += WireDate.format(contract.deadline)
                sentence += " ("
                sentence += Self.seconds(configuration.defaultDeadlineSeconds)
                sentence += " s)"
            case "recipe":
                sentence += "recipe = "
                sentence += contract.recipe.name
            default: sentence += field
            }
        }
        return sentence
    }

    /// The job as `GET /v1/jobs/{id}` shows it (also embedded in detach replies).
    func admittedJob(_ job: JobRecord) -> AdmittedJob {
        AdmittedJob(
            jobID: job.jobID, human: registry.humanLine(for: job.contract), contract: job.contract, state: job.state.rawValue,
            stateNote: stateNote(job), createdAt: WireDate.format(job.createdAt), publishedAt: job.publishedAt.map(WireDate.format),
            cancelRequestedAt: job.cancelRequestedAt.map(WireDate.format), cancelReason: job.cancelReason,
            links: ["self": "/v1/jobs/\(job.jobID)", "cancel": "/v1/jobs/\(job.jobID)/cancel"])
    }

    func stateNote(_ job: JobRecord) -> String {
        switch job.state {
        case .accepted:
            "recorded; waiting in the outbox for the broker to confirm the contract and the job"
        case .published:
            "handed to the broker; progress goes to \(job.contract.workSurface), and the coordinator owns delivery to \(job.contract.finalSurface) (admission does not see progress or delivery outcomes)"
        case .cancelRequested:
            "cancelled: the coordinator decided its one final notice (cancelled, saying who and when); workers stop it if running and never start it otherwise (GET /v1/jobs/\(job.jobID)/delivery on the coordinator shows the delivery)"
        }
    }

    // MARK: GET /v1/jobs/{id}, GET /v1/jobs, POST /v1/jobs/{id}/cancel

    /// Whole seconds for a message, without a conversion that could trap on a huge value.
    static func seconds(_ value: Double) -> String {
        value.isFinite && abs(value) < 1e15 ? String(Int64(value.rounded())) : String(value)
    }

    /// The ownership record and admission-side state of one job.
    ///
    /// A job `principal` may not see is answered exactly like one that does not exist.
    public func job(id: String, as principal: Principal) async -> APIResponse {
        do throws(AdmissionError) {
            let canonical = try canonicalJobID(id)
            guard let job = try await storeCall({ try await store.job(id: canonical) }),
                principal.maySee(jobOrigin: job.contract.origin.rawValue)
            else {
                throw AdmissionError(
                    .notFound,
                    "no job '\(canonical)' visible to '\(principal.name)' was admitted here; check the id (jobs are listed by GET /v1/jobs?surface=…)"
                )
            }
            return APIResponse(status: 200, typed: admittedJob(job))
        } catch {
            return refuse(error)
        }
    }

    /// Jobs whose origin, work or final surface is `surface`, newest first; only those
    /// `principal` may see (its own origins, or all for an operator).
    public func jobs(surface: String?, limit: String?, as principal: Principal) async -> APIResponse {
        do throws(AdmissionError) {
            let count = try listLimit(surface: surface, limit: limit)
            let origins = principal.isOperator ? nil : principal.origins.map(\.sqliteGlob)
            let jobs = try await storeCall { try await store.jobs(surface: surface, limit: count, originGlobs: origins) }
            return APIResponse(status: 200, typed: AdmittedJobList(jobs: jobs.map(admittedJob), surface: surface))
        } catch {
            return refuse(error)
        }
    }

    /// The page size of a job list (1–500, default 50), once `surface` is known to be a registered surface.
    func listLimit(surface: String?, limit: String?) throws(AdmissionError) -> Int {
        var count = 50
        if let limit {
            guard let parsed = Int(limit), (1...500).contains(parsed) else {
                throw AdmissionError(.invalidRequest, "limit must be an integer from 1 to 500, got '\(limit)'", field: "limit")
            }
            count = parsed
        }
        if let surface {
            do { _ = try registry.surface(SurfaceID(validating: surface), role: "surface") } catch {
                throw AdmissionError(.unknownSurface, error.message, field: "surface")
            }
        }
        return count
    }

    /// Cancels a job through the coordinator, which alone knows whether its final notice is
    /// decided: 202 when the job now ends `cancelled` (recorded here too), 409 when it already
    /// ended, 503 when the coordinator cannot be asked or has not yet received the job's contract
    /// (waited for up to `cancelContractWait`). `bearer` is the caller's token, passed on so the
    /// coordinator applies the same principal.
    ///
    /// Only a job `principal` may see can be cancelled; any other is answered as unknown.
    public func cancel(id: String, body: [UInt8], as principal: Principal, bearer: String) async -> APIResponse {
        do throws(AdmissionError) {
            let canonical = try canonicalJobID(id)
            var reason: String?
            if !body.isEmpty, !body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
                guard case .object(let object)? = try? SubmitRequest.strictJSON(body) else {
                    throw AdmissionError(
                        .malformedJSON, "the body must be empty or a JSON object such as {\"reason\": \"no longer needed\"}")
                }
                reason = try CancelBody.reason(object)
            }
            guard let existing = try await storeCall({ try await store.job(id: canonical) }),
                principal.maySee(jobOrigin: existing.contract.origin.rawValue)
            else {
                throw AdmissionError(.notFound, "no job '\(canonical)' visible to '\(principal.name)' was admitted here; nothing to cancel")
            }
            guard let cancelForwarder else {
                throw AdmissionError(
                    .cancelUnavailable,
                    "this admission service has no coordinator to decide cancels (--coordinator-url / BRIDGEBACK_COORDINATOR_URL); nothing was cancelled"
                )
            }
            var forwarded: [UInt8] = Array("{}".utf8)
            if let reason, let data = try? JSONEncoder.sorted.encode(JSONValue.object(["reason": .string(reason)])) {
                forwarded = Array(data)
            }
            let clock = ContinuousClock()
            let giveUp = clock.now + cancelContractWait
            var answer: (status: Int, body: [UInt8])
            while true {
                do {
                    answer = try await cancelForwarder.cancel(jobID: canonical, body: forwarded, bearer: bearer)
                } catch {
                    logger.error("cancel could not reach the coordinator", metadata: ["job_id": "\(canonical)", "error": "\(error)"])
                    throw AdmissionError(
                        .cancelUnavailable, "the coordinator could not be reached (\(error)); nothing was cancelled, retry")
                }
                // 404: the coordinator has not received the contract yet (the outbox is behind).
                guard answer.status == 404, clock.now < giveUp else { break }
                try? await Task.sleep(for: .milliseconds(250))
            }
            switch answer.status {
            case 202:
                // The coordinator has cancelled the job: record it here whatever its answer's shape.
                let job = try await storeCall({ try await store.requestCancel(jobID: canonical, reason: reason, at: now()) }) ?? existing
                logger.info(
                    "job cancelled", metadata: ["job_id": "\(canonical)", "reason": "\(reason ?? "")", "principal": "\(principal.name)"])
                let decided: CancelDecided?
                do { decided = try JSONDecoder().decode(CancelDecided.self, from: Data(answer.body)) } catch {
                    logger.warning(
                        "the coordinator's cancel answer does not decode; answering without its fields (same Bridgeback version?)",
                        metadata: ["job_id": "\(canonical)", "error": "\(WireCodec.reason(error))"])
                    decided = nil
                }
                // The job, then the coordinator's decision (who, when, whether workers were told).
                let body = CancelAccepted(
                    job: admittedJob(job), requestedBy: decided?.requestedBy, requestedAt: decided?.requestedAt,
                    workersTold: decided?.workersTold, note: decided?.note)
                return APIResponse(status: 202, typed: body)
            case 409:
                // The coordinator's refusal (already ended or cancelled), passed on as it said it.
                return APIResponse(status: 409, body: (try? JSONDecoder().decode(JSONValue.self, from: Data(answer.body))) ?? .null)
            case 404:
                throw AdmissionError(
                    .cancelUnavailable,
                    "the coordinator does not know job \(canonical) yet (its contract is still on the way, state \(existing.state.rawValue)); nothing was cancelled, retry"
                )
            case 401, 403:
                throw AdmissionError(
                    .cancelUnavailable,
                    "the coordinator refused this principal's token (\(answer.status)); its principals file must list the same principals as admission's"
                )
            default:
                throw AdmissionError(
                    .cancelUnavailable,
                    "the coordinator answered \(answer.status) (\(String(decoding: answer.body.prefix(300), as: UTF8.self))); nothing was cancelled, retry"
                )
            }
        } catch {
            return refuse(error)
        }
    }

    func canonicalJobID(_ id: String) throws(AdmissionError) -> String {
        do { return try JobID(parsing: id).description } catch {
            throw AdmissionError(.notFound, "'\(id)' is not a job id: \(error.message)")
        }
    }

    // MARK: GET /health

    /// Store reachable, broker connected, outbox backlog. 503 only when the store fails:
    /// with the broker down admission still accepts work into its outbox.
    public func health() async -> APIResponse {
        var store = "ok"
        var outboxBacklog: Int?
        var oldestAge: Double?
        var storeOK = true
        do {
            try await self.store.ping()
            let backlog = try await self.store.backlog()
            outboxBacklog = backlog.count
            if let oldest = backlog.oldest { oldestAge = (now().timeIntervalSince(oldest) * 10).rounded() / 10 }
            metrics.backlog(backlog.count)
        } catch {
            storeOK = false
            store = "error: \(error)"
        }
        var brokerOK = true
        let broker: String
        if let publisher {
            brokerOK = await publisher.isConnected()
            let blocked = brokerOK ? await publisher.isBlocked() : false
            // Blocked (memory or disk alarm): connected, but nothing published gets through.
            broker = blocked ? "blocked" : brokerOK ? "connected" : "disconnected"
            brokerOK = brokerOK && !blocked
        } else {
            broker = "not_configured"
        }
        let body = AdmissionHealth(
            status: !storeOK ? "failing" : brokerOK && publisher != nil ? "ok" : "degraded", store: store, outboxBacklog: outboxBacklog,
            outboxOldestUnsentAgeS: oldestAge, broker: broker, policyVersion: engine.policy.version,
            recipeCatalog: catalog.map { .recipes($0.recipes.count) } ?? .notLoaded)
        return APIResponse(status: storeOK ? 200 : 503, typed: body)
    }

    func storeCall<T: Sendable>(_ body: () async throws -> T) async throws(AdmissionError) -> T {
        do { return try await body() } catch let error as UnsyncedCommit {
            logger.error("store failure: a commit was not synced", metadata: ["error": "\(error)"])
            throw AdmissionError(
                .storeFailure,
                "the admission store could not confirm the request is on disk (\(error.reason)); a job may have been admitted "
                    + "and may still run: retry with the same idempotency_key to get its id")
        } catch {
            logger.error("store failure", metadata: ["error": "\(error)"])
            throw AdmissionError(
                .storeFailure, "the admission store is unavailable (\(error)); nothing was admitted, retry with the same idempotency_key")
        }
    }
}

extension APIResponse {
    fileprivate var errorMessage: String {
        if case .object(let top) = body, case .object(let error)? = top["error"], case .string(let message)? = error["message"] {
            return message
        }
        return "the request body is too large"
    }
}

/// A token bucket: `perMinute` tokens, refilled continuously.
struct RefusalBudget: Sendable {
    let perMinute: Int
    private var tokens: Double
    private var last: Date?

    init(perMinute: Int) {
        self.perMinute = max(0, perMinute)
        tokens = Double(self.perMinute)
    }

    /// Takes one token if there is one.
    mutating func take(at now: Date) -> Bool {
        if let last { tokens = min(Double(perMinute), tokens + max(0, now.timeIntervalSince(last)) * Double(perMinute) / 60) }
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
