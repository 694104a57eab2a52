public import BridgebackAuth
public import BridgebackCore
import BridgebackLedger
import Foundation
import GRDB

private typealias Jobs = LedgerSchema.Jobs
private typealias Parts = LedgerSchema.Parts

/// One response of the status API: status code, content type, body bytes.
public struct StatusResponse: Sendable, Hashable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int, contentType: String = "application/json; charset=utf-8", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    static func json(_ value: some Encodable, status: Int = 200) -> StatusResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else {
            return error(500, "internal", "the response could not be encoded")
        }
        return StatusResponse(status: status, body: Array(data))
    }

    /// `{"error": {"code", "message"}}`: `APIErrorBody`, the type admission answers and clients decode.
    static func error(_ status: Int, _ code: String, _ message: String) -> StatusResponse {
        json(APIErrorBody(code: code, message: message), status: status)
    }

    /// The body as text (tests, logs).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// The coordinator's read-only status API over its ledger. Plain values in, `StatusResponse`
/// out: tests call it without a server; `CoordinatorHTTP` is the thin Hummingbird layer.
///
/// Every job route takes the calling `Principal`: it sees a job only if the job's origin is in
/// its scope (or it is an operator), the same rule admission applies. A job it may not see is
/// answered exactly like one the ledger does not hold.
public struct CoordinatorStatusAPI: Sendable {
    public let ledger: Ledger
    public let registry: SurfaceRegistry
    /// Whether the broker connection is up (nil: not known to this API).
    let brokerConnected: (@Sendable () -> Bool)?
    /// Adapters for `dryRun` only (never `send`); nil: the dry-run route answers 503.
    let adapters: AdapterSet?
    /// The coordinator that holds the ledger, for the cancel route (nil or empty: 503).
    let active: ActiveCoordinator?

    /// - Parameter adapters: what the dry-run route checks parts with; the coordinator passes
    ///   `AdapterSet.dryRunOnly(secrets:)`, whose broker and HTTP clients cannot send.
    public init(
        ledger: Ledger, registry: SurfaceRegistry, brokerConnected: (@Sendable () -> Bool)? = nil, adapters: AdapterSet? = nil,
        active: ActiveCoordinator? = nil
    ) {
        self.active = active
        self.ledger = ledger
        self.registry = registry
        self.brokerConnected = brokerConnected
        self.adapters = adapters
    }

    // MARK: GET /v1/jobs/{id}/delivery

    public func delivery(id: String, as principal: Principal) async -> StatusResponse {
        guard let jobID = JobID(id) else { return invalidID(id) }
        do {
            guard let status = try await ledger.deliveryStatus(of: jobID, registry: registry),
                Self.visible(origin: status.origin, to: principal)
            else {
                return notFound(jobID)
            }
            return .json(status)
        } catch {
            return ledgerFailure(error)
        }
    }

    // MARK: POST /v1/jobs/{id}/cancel

    /// Cancels a job `principal` may see: 202 when it now ends `cancelled` (one final notice
    /// saying who and when; the workers are told to stop it or never start it), 409 when its
    /// final notice is already decided, 404 when the coordinator does not know it (or the
    /// principal may not see it), 503 on a standby or when the ledger fails.
    public func cancel(id: String, reason: String?, as principal: Principal) async -> StatusResponse {
        guard let jobID = JobID(id) else { return invalidID(id) }
        guard let coordinator = active?.coordinator else {
            return .error(
                503, "not_active", "this coordinator is not the active one (a standby, or stopping); cancel through the active coordinator")
        }
        let notice = CancelNotice(jobID: jobID, requestedBy: principal.name, requestedAt: coordinator.configuration.now(), reason: reason)
        let verdict: CancelVerdict
        do {
            verdict = try await coordinator.cancel(notice) { origin in Self.visible(origin: origin, to: principal) }
        } catch {
            coordinator.ledgerFailed(
                error as? CoordinatorError ?? CoordinatorError(.ledgerUnavailable, "a cancel could not be written: \(error)"))
            return ledgerFailure(error)
        }
        switch verdict {
        case .cancelled(let notice, let told):
            let body = CancelDecided(
                jobID: jobID.description, requestedBy: notice.requestedBy, requestedAt: WireDate.format(notice.requestedAt),
                workersTold: told,
                note: told
                    ? "the job ends cancelled: one final notice says who cancelled it and when; a running recipe is stopped and a queued one never starts"
                    : "the job ends cancelled (one final notice), but the workers could not be told: a running recipe may run on; its answer is never delivered"
            )
            return .json(body, status: 202)
        case .refused(.alreadyEnded(let kind)):
            let already = kind == .cancelled ? "was already cancelled" : "already ended (\(kind.rawValue)); its final notice is decided"
            return .error(409, kind == .cancelled ? "already_cancelled" : "job_finished", "job \(jobID) \(already); it cannot be cancelled")
        case .refused(.contractUnknown):
            return notFound(jobID)
        }
    }

    /// The optional `{"reason": "…"}` body of a cancel: at most 1,000 bytes, one line.
    public enum CancelBody: Sendable {
        case reason(String?)
        case refused(StatusResponse)
    }

    public static func cancelReason(_ body: [UInt8]) -> CancelBody {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .reason(nil) }
        let shape = "the body must be empty or a JSON object such as {\"reason\": \"no longer needed\"}"
        guard case .object(let object)? = try? StrictJSON.parse(body) else { return .refused(.error(400, "malformed_json", shape)) }
        switch object["reason"] {
        case nil, .null?:
            return .reason(nil)
        case .string(let text)?
        where text.utf8.count <= 1_000 && !text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }):
            return .reason(text)
        default:
            return .refused(.error(400, "invalid_request", "\"reason\" must be one line of text of at most 1,000 bytes"))
        }
    }

    // MARK: GET /v1/jobs/{id}/result

    /// The full stored result (or failure reason, or the sentence for cancelled/lost) of a job.
    /// `json`: as an object with the outcome and who ran it; else `text/plain`.
    public func result(id: String, json: Bool, as principal: Principal) async -> StatusResponse {
        guard let jobID = JobID(id) else { return invalidID(id) }
        let record: JobRecord?
        do { record = try await ledger.job(jobID) } catch { return ledgerFailure(error) }
        guard let record, Self.visible(origin: record.contract?.origin.rawValue, to: principal) else { return notFound(jobID) }
        let kind: FinalNoticeKind
        let text: String
        let completion: Completion?
        switch record.lifecycle.state {
        case .delivering(_, let decision, _), .finished(_, let decision, _):
            (kind, text, completion) = (decision.kind, decision.text, decision.completion)
        case .completionParked(.completion(let parked, _), _, _):
            completion = parked
            kind = parked.outcome.noticeKind
            switch parked.outcome {
            case .succeeded(let result): text = result
            case .failed(let reason): text = reason
            case .cancelled: text = "The job was cancelled before it finished."
            }
        case .completionParked(.deadLettered(let reason), _, _):
            (kind, text, completion) = (.failure, "The job failed: it was dead-lettered (\(reason)).", nil)
        case .awaitingContract, .awaitingCompletion:
            return .error(
                404, "result_not_ready",
                "job \(jobID) has no result yet: the coordinator is waiting for its completion (state \(record.lifecycle.state.name)); see GET /v1/jobs/\(jobID)/delivery"
            )
        }
        guard json else {
            return StatusResponse(status: 200, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
        }
        var body = JobResult(jobID: jobID.description, kind: kind.rawValue, text: text, summary: record.contract?.summary)
        if let completion {
            body.worker = completion.worker
            body.startedAt = WireDate.format(completion.startedAt)
            body.finishedAt = WireDate.format(completion.finishedAt)
            switch completion.outcome {
            case .succeeded: body.status = "succeeded"
            case .failed: body.status = "failed"
            case .cancelled: body.status = "cancelled"
            }
        }
        return .json(body)
    }

    // MARK: GET /v1/deliveries

    /// Recent jobs (newest first) with their delivery status; `surface` matches the origin,
    /// work or final surface; `limit` 1–500, default 50.
    public func deliveries(surface: String?, limit: String?, as principal: Principal) async -> StatusResponse {
        var count = 50
        if let limit {
            guard let parsed = Int(limit), (1...500).contains(parsed) else {
                return .error(400, "invalid_request", "limit must be an integer from 1 to 500, got '\(limit)'")
            }
            count = parsed
        }
        var surfaceID: SurfaceID?
        if let surface, !surface.isEmpty {
            do { surfaceID = try SurfaceID(validating: surface) } catch {
                return .error(400, "invalid_request", error.message)
            }
        }
        do {
            let origins = principal.isOperator ? nil : principal.origins.map(\.sqliteGlob)
            let jobs = try await ledger.recentDeliveryStatuses(surface: surfaceID, limit: count, registry: registry, originGlobs: origins)
            return .json(DeliveryList(surface: surfaceID?.rawValue, count: jobs.count, jobs: jobs))
        } catch {
            return ledgerFailure(error)
        }
    }

    /// The body of `GET /v1/deliveries` (shared with admission and the CLI through `BridgebackCore`).
    public typealias DeliveryList = BridgebackCore.DeliveryList

    // MARK: GET /health

    /// `CoordinatorHealth`: ledger, broker, jobs delivering and awaiting completion, parts waiting
    /// to retry; 503 only when the ledger does not answer.
    public func health() async -> StatusResponse {
        var body = CoordinatorHealth(status: "ok", ledger: "ok")
        do {
            let counts = try await ledger.healthCounts()
            body.jobsDelivering = counts.delivering
            body.jobsAwaitingCompletion = counts.awaitingCompletion
            body.partsWaitingRetry = counts.retryWait
        } catch {
            body.ledger = "failing: \(error)"
            body.status = "failing"
        }
        if let brokerConnected {
            let up = brokerConnected()
            body.broker = up ? "connected" : "disconnected"
            if !up && body.status == "ok" { body.status = "degraded" }
        }
        return .json(body, status: body.status == "failing" ? 503 : 200)
    }

    // MARK: Helpers

    /// Whether a job asked in `origin` is visible to `principal`; a job whose contract has not
    /// arrived (origin unknown) is visible to operators only.
    static func visible(origin: String?, to principal: Principal) -> Bool {
        guard let origin else { return principal.isOperator }
        return principal.maySee(jobOrigin: origin)
    }

    func invalidID(_ id: String) -> StatusResponse {
        let reason: String
        do {
            _ = try JobID(parsing: id)
            reason = "not a canonical job id"
        } catch {
            reason = error.message
        }
        return .error(404, "not_found", "'\(id)' is not a job id: \(reason)")
    }

    func notFound(_ id: JobID) -> StatusResponse {
        .error(
            404, "not_found",
            "the coordinator has no job \(id): it has not received its contract or completion yet, or the id is wrong (GET /v1/deliveries lists recent jobs)"
        )
    }

    func ledgerFailure(_ error: any Error) -> StatusResponse {
        .error(503, "ledger_unavailable", "the delivery ledger cannot be read: \(error)")
    }
}

// MARK: - Ledger queries for the status API

extension Ledger {
    /// The status of one job, or nil if the ledger has never heard of it.
    public func deliveryStatus(of id: JobID, registry: SurfaceRegistry) async throws -> JobDeliveryStatus? {
        try await read { db in
            guard let job = try JobTable.load(db, id) else { return nil }
            return DeliveryStatusBuilder.status(job, parts: try PartTable.parts(db, job: id), registry: registry)
        }
    }

    /// The newest jobs first (job ids sort by admission time), optionally only those whose
    /// origin, work or final surface is `surface`.
    ///
    /// - Parameter originGlobs: when given, only jobs whose contract's origin matches one of
    ///   these SQLite `GLOB` patterns (a principal's origins; `[]` matches nothing).
    public func recentDeliveryStatuses(
        surface: SurfaceID?, limit: Int, registry: SurfaceRegistry, originGlobs: [String]? = nil
    ) async throws -> [JobDeliveryStatus] {
        try await read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let surface {
                let contract = Jobs.contractJSON.name
                conditions.append(
                    "(\(Jobs.finalSurface.name) = ? OR json_extract(\(contract), '$.origin') = ? OR json_extract(\(contract), '$.work_surface') = ?)"
                )
                arguments += [surface.rawValue, surface.rawValue, surface.rawValue]
            }
            if let originGlobs {
                let any = originGlobs.map { _ in "json_extract(\(Jobs.contractJSON.name), '$.origin') GLOB ?" }.joined(separator: " OR ")
                conditions.append(originGlobs.isEmpty ? "0" : "(\(any))")
                arguments += StatementArguments(originGlobs)
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") + " "
            arguments += [limit]
            let ids = try String.fetchAll(
                db, sql: "SELECT \(Jobs.jobID.name) FROM \(Jobs.table) \(filter)ORDER BY \(Jobs.jobID.name) DESC LIMIT ?",
                arguments: arguments)
            return try ids.compactMap { JobID($0) }.compactMap { id in
                guard let job = try JobTable.load(db, id) else { return nil }
                return DeliveryStatusBuilder.status(job, parts: try PartTable.parts(db, job: id), registry: registry)
            }
        }
    }

    struct HealthCounts: Sendable {
        var delivering: Int
        var awaitingCompletion: Int
        var retryWait: Int
    }

    func healthCounts() async throws -> HealthCounts {
        try await read { db in
            HealthCounts(
                delivering: try Int.fetchOne(db, sql: "SELECT count(*) FROM \(Jobs.table) WHERE \(Jobs.state.name) = 'delivering'") ?? 0,
                awaitingCompletion: try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM \(Jobs.table) WHERE \(Jobs.state.name) = 'awaiting_completion'") ?? 0,
                retryWait: try Int.fetchOne(db, sql: "SELECT count(*) FROM \(Parts.table) WHERE \(Parts.state.name) = 'retry_wait'") ?? 0)
        }
    }
}

/// Turns ledger records into `JobDeliveryStatus` values and their human line.
enum DeliveryStatusBuilder {
    static func status(_ job: JobRecord, parts records: [PartRecord], registry: SurfaceRegistry) -> JobDeliveryStatus {
        let id = job.jobID.description
        let contract = job.contract
        let decision = job.decision
        let parts = records.map { part(from: $0, registry: registry) }
        var completion = decision?.completion
        if case .completionParked(.completion(let parked, _), _, _) = job.lifecycle.state { completion = parked }
        var finishedAt: Date?
        if case .finished = job.lifecycle.state {
            // A job with no parts (suppressed) finished when its completion arrived.
            finishedAt = records.map(\.updatedAt).max() ?? completion?.finishedAt
        }
        let finalName = contract.flatMap { registry[$0.finalSurface]?.humanName }
        return JobDeliveryStatus(
            jobID: id, state: job.lifecycle.state.name, finalOutcome: job.finalOutcome, finalDetail: job.finalDetail,
            noticeKind: decision?.kind.rawValue, summary: contract?.summary, asked: contract?.requestExcerpt,
            recipe: contract?.recipe.name, origin: contract?.origin.rawValue, workSurface: contract?.workSurface.rawValue,
            finalSurface: contract?.finalSurface.rawValue, finalSurfaceName: finalName,
            deliveryMode: contract?.deliveryMode.rawValue, deliveryModeName: contract?.deliveryMode.humanName,
            deadline: contract.map { WireDate.format($0.deadline) }, createdAt: contract.map { WireDate.format($0.createdAt) },
            worker: completion?.worker, runSeconds: completion.map { $0.finishedAt.timeIntervalSince($0.startedAt) },
            finishedAt: finishedAt.map(WireDate.format),
            turnaroundSeconds: finishedAt.flatMap { end in contract.map { end.timeIntervalSince($0.createdAt) } },
            duplicatesSuppressed: job.duplicates,
            human: human(job, parts: records, registry: registry), parts: parts,
            links: [
                "self": "/v1/jobs/\(id)/delivery", "result": "/v1/jobs/\(id)/result",
                "admission": "/v1/jobs/\(id)",
            ])
    }

    static func part(from record: PartRecord, registry: SurfaceRegistry) -> PartStatus {
        var next: String?
        var deliveredAt: String?
        switch record.state {
        case .retryWait(_, let at, _): next = WireDate.format(at)
        case .delivered(_, let at): deliveredAt = WireDate.format(at)
        default: break
        }
        return PartStatus(
            deliveryID: record.deliveryID.description, purpose: record.deliveryID.purpose.rawValue,
            part: record.deliveryID.part, totalParts: record.totalParts, surface: record.surfaceID.rawValue,
            surfaceName: registry[record.surfaceID]?.humanName, state: record.state.name,
            stateText: record.state.humanDescription, attempts: record.state.attempts,
            lastFailure: record.state.lastFailure.map(FailureStatus.init), nextAttemptAt: next, deliveredAt: deliveredAt,
            updatedAt: WireDate.format(record.updatedAt))
    }

    /// "delivered to Alice's terminal (parent-mediated), 1 part", "delivering to receiver A
    /// (direct): part 1/1 rate limited, next try at …", "running; the answer goes to …".
    static func human(_ job: JobRecord, parts: [PartRecord], registry: SurfaceRegistry) -> String {
        func name(_ id: SurfaceID) -> String { registry[id]?.humanName ?? id.rawValue }
        func partCount(_ n: Int) -> String { n == 1 ? "1 part" : "\(n) parts" }
        switch job.lifecycle.state {
        case .awaitingContract:
            return "known to the coordinator, waiting for its contract"
        case .completionParked(let ending, _, _):
            switch ending {
            case .completion: return "finished; the answer waits for the job's contract before it can be delivered"
            case .deadLettered: return "failed (dead-lettered); the notice waits for the job's contract"
            }
        case .awaitingCompletion(let c):
            return "running; the answer goes to \(name(c.finalSurface)) (\(c.deliveryMode.humanName))"
        case .delivering(let c, let d, _):
            let finals = parts.filter { $0.deliveryID.purpose == .final }
            let prefix = kindPrefix(d.kind)
            if let stuck = finals.first(where: { $0.state.outcome == nil }) {
                let target = "\(name(c.finalSurface)) (\(c.deliveryMode.humanName))"
                let label = finals.count > 1 ? "part \(stuck.deliveryID.part)/\(stuck.totalParts)" : "the notice"
                switch stuck.state {
                case .retryWait(_, let at, let failure):
                    return "\(prefix)delivering to \(target): \(label) \(failure.kind.humanDescription), next try at \(WireDate.format(at))"
                default:
                    return "\(prefix)delivering to \(target): \(label) \(stuck.state.humanDescription)"
                }
            }
            if let fallback = parts.first(where: { $0.deliveryID.purpose == .fallback && $0.state.outcome == nil }) {
                return "\(prefix)delivery to \(name(c.finalSurface)) failed; sending a fallback notice to \(name(fallback.surfaceID))"
            }
            return "\(prefix)delivering to \(name(c.finalSurface)) (\(c.deliveryMode.humanName))"
        case .finished(let c, let d, _):
            let prefix = kindPrefix(d.kind)
            let finals = parts.filter { $0.deliveryID.purpose == .final }
            let target = "\(name(c.finalSurface)) (\(c.deliveryMode.humanName))"
            switch job.finalOutcome {
            case "delivered":
                return "\(prefix)delivered to \(target), \(partCount(finals.count))"
            case "suppressed":
                return "\(prefix)kept with the job, not sent (suppressed)"
            case "uncertain":
                let failure = finals.compactMap(\.state.lastFailure).first
                return "\(prefix)maybe delivered to \(target): \(failure?.kind.humanDescription ?? "outcome unknown"); not resent"
            case "failed":
                let failure = finals.first(where: { $0.state.name == "failed" })?.state.lastFailure
                var line = "\(prefix)delivery to \(target) failed: \(failure?.kind.humanDescription ?? "unknown reason")"
                let fallbacks = parts.filter { $0.deliveryID.purpose == .fallback }
                if let first = fallbacks.first {
                    let ok = fallbacks.allSatisfy { $0.state.name == "delivered" }
                    line +=
                        ok
                        ? "; fallback notice delivered to \(name(first.surfaceID))"
                        : "; the fallback notice to \(name(first.surfaceID)) failed too"
                }
                return line
            case "undeliverable":
                return "\(prefix)undeliverable\(job.finalDetail.map { ": \($0)" } ?? "")"
            default:
                return "\(prefix)finished (\(job.finalOutcome ?? "no outcome recorded"))"
            }
        }
    }

    /// How a non-result notice is introduced: "job failed; ", "lost (no answer by the deadline); ".
    private static func kindPrefix(_ kind: FinalNoticeKind) -> String {
        switch kind {
        case .result: ""
        case .failure: "job failed; its notice: "
        case .cancelled: "cancelled; its notice: "
        case .lost: "lost (no answer by the deadline); its notice: "
        }
    }
}
