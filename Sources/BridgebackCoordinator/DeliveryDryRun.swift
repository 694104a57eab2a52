public import BridgebackAuth
public import BridgebackCore
import BridgebackAMQP
import Foundation

extension CoordinatorStatusAPI {
    /// The placeholder planned for a job that has no result yet.
    public static let dryRunPlaceholder =
        "[dry-run placeholder: this job has no result yet. Send {\"text\": \"…\"} to plan a given result instead.]"

    /// `POST /v1/jobs/{id}/dry-run`: plans the job's final notice as delivery would (same
    /// planner, surface and split/summarize) and runs each part through its adapter's
    /// `dryRun`, never `send`. Reads the ledger, never writes it.
    ///
    /// - Parameter body: empty, or `{"text": "…"}` to plan a given result instead of the job's.
    public func dryRun(id: String, body: [UInt8], as principal: Principal) async -> StatusResponse {
        guard let jobID = JobID(id) else { return invalidID(id) }
        let override: String?
        switch DryRunRequest.parse(body) {
        case .success(let text): override = text
        case .failure(let message): return .error(400, "invalid_request", message)
        }
        guard let adapters else {
            return .error(
                503, "dry_run_unavailable",
                "this status API was started without delivery adapters, so it cannot dry-run; the coordinator's own status API can")
        }
        let loaded: (JobRecord, [PartRecord])?
        do {
            loaded = try await ledger.read { db in
                guard let job = try JobTable.load(db, jobID) else { return nil }
                return (job, try PartTable.parts(db, job: jobID))
            }
        } catch {
            return ledgerFailure(error)
        }
        guard let (job, stored) = loaded, Self.visible(origin: job.contract?.origin.rawValue, to: principal) else { return notFound(jobID) }
        guard let contract = job.contract else {
            return .error(
                409, "no_contract",
                "job \(jobID) has no contract in the ledger yet (state \(job.lifecycle.state.name)), so where its answer goes is not known; try again once admission's outbox has published it"
            )
        }
        let report = await DryRunPlanner.run(
            job: job, contract: contract, stored: stored, text: override, registry: registry, adapters: adapters, now: Date())
        return .json(report)
    }
}

/// The body of a dry-run request: empty or `{"text": "…"}`; anything else is refused.
enum DryRunRequest {
    enum Parsed { case success(String?), failure(String) }

    static func parse(_ body: [UInt8]) -> Parsed {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .success(nil) }
        // The same strict reader as every other input: duplicate keys and non-UTF-8 refused.
        let parsed: JSONValue
        do { parsed = try StrictJSON.parse(body, limits: .init(maxDepth: 16, allowNUL: true)) } catch {
            return .failure("the body is not acceptable JSON: \(error.message)")
        }
        guard case .object(let object) = parsed else {
            return .failure("the body must be empty or a JSON object such as {\"text\": \"the result to try\"}")
        }
        if let unknown = object.keys.sorted().first(where: { $0 != "text" }) {
            return .failure("unknown field \"\(unknown)\"; the only field is \"text\" (a result to plan instead of the job's)")
        }
        switch object["text"] {
        case nil, .null?: return .success(nil)
        case .string(let text)?: return .success(text)
        default: return .failure("\"text\" must be a string")
        }
    }
}

/// Plans and dry-runs one job's final notice without side effects.
enum DryRunPlanner {
    static func run(
        job: JobRecord, contract: OwnershipContract, stored: [PartRecord], text override: String?,
        registry: SurfaceRegistry, adapters: AdapterSet, now: Date
    ) async -> DeliveryDryRun {
        var notes: [String] = []
        let mode = contract.deliveryMode
        let registrySurface = registry[contract.finalSurface]
        var report = DeliveryDryRun(
            jobID: job.jobID.description, dryRun: true, state: job.lifecycle.state.name, outcome: "would_send",
            noticeKind: FinalNoticeKind.result.rawValue, textSource: "decision",
            surface: registrySurface.map { SurfacePlan($0, address: displayAddress($0)) },
            deliveryMode: mode.rawValue, deliveryModeName: mode.humanName, adapter: nil, human: "", parts: [], notes: [])

        // The text to plan: the one given, the decided notice, or a marked placeholder.
        let decision: JobLifecycle.FinalDecision
        if let override {
            decision = JobLifecycle.FinalDecision(kind: .result, text: override, completion: job.decision?.completion)
            report.textSource = "request"
            notes.append("planned from the text in the request, not the job's own result")
        } else if let decided = job.decision {
            decision = decided
        } else {
            decision = JobLifecycle.FinalDecision(kind: .result, text: CoordinatorStatusAPI.dryRunPlaceholder, completion: nil)
            report.textSource = "placeholder"
            notes.append(
                "the job has no result yet (state \(job.lifecycle.state.name)): planned with a placeholder text; send {\"text\": …} to try a given result"
            )
        }
        report.noticeKind = decision.kind.rawValue
        switch job.lifecycle.state {
        case .finished:
            notes.append("the job is finished (\(job.finalOutcome ?? "no outcome")); the coordinator will not send it again")
        case .delivering:
            notes.append("the job is being delivered now; GET /v1/jobs/\(job.jobID)/delivery shows where each part stands")
        default:
            break
        }

        if mode == .suppressed {
            report.outcome = "suppressed"
            report.human = "Would send nothing: delivery mode suppressed keeps the answer with the job"
            report.notes = notes
            return report
        }

        // The parts: the stored rows when delivery has them (exact bytes), else planned now.
        var notices: [(FinalNotice, [UInt8])] = []
        let storedFinals = stored.filter { $0.deliveryID.purpose == .final }
        if override == nil, !storedFinals.isEmpty,
            case let decoded = storedFinals.compactMap({ row in
                (try? WireCodec.decode(FinalNotice.self, from: Data(row.body))).map { ($0, row.body) }
            }),
            decoded.count == storedFinals.count
        {
            notices = decoded
            report.textSource = "ledger"
            notes.append("these are the parts stored in the ledger: the exact bytes delivery sends")
        } else {
            do {
                let surface = try registry.surface(contract.finalSurface, role: "final_surface")
                let planned = try FinalNoticePlanner.plan(
                    contract: contract, decision: decision, surface: surface,
                    originName: registry[contract.origin]?.humanName ?? contract.origin.rawValue, createdAt: now)
                notices = try planned.map { ($0, Array(try WireCodec.encode($0))) }
            } catch {
                report.outcome = "undeliverable"
                report.human = "Cannot be delivered: \((error as? BridgebackError)?.message ?? "\(error)")"
                report.notes = notes
                return report
            }
        }

        guard let surface = registrySurface else {
            report.outcome = "undeliverable"
            report.human = "Cannot be delivered: surface '\(contract.finalSurface)' is no longer in the registry"
            report.notes = notes
            return report
        }
        let adapter = adapters.byKind[surface.kind]
        report.adapter = adapter.map(adapterName)
        for (notice, body) in notices {
            let failure: DeliveryFailure?
            if let adapter {
                let prepared = PreparedDelivery(
                    deliveryID: notice.deliveryID, totalParts: notice.totalParts, surface: surface, body: body, attempt: 1)
                failure = await adapter.dryRun(prepared)
            } else {
                failure = DeliveryFailure(.missingTarget, detail: "no adapter serves surfaces of kind '\(surface.kind.rawValue)'")
            }
            report.parts.append(
                DryRunPart(
                    deliveryID: notice.deliveryID.description, part: notice.part, totalParts: notice.totalParts,
                    length: surface.lengthUnit.measure(notice.rendered), maxLength: surface.maxLength,
                    unitWords: surface.lengthUnit.words, bodyBytes: body.count, summarized: notice.summarized,
                    text: notice.text, rendered: notice.rendered, body: String(decoding: body, as: UTF8.self),
                    ok: failure == nil, failure: failure.map(FailureStatus.init),
                    consequence: failure.map { consequence($0, surface: surface) }))
        }
        if mode == .direct {
            let work = registry[contract.workSurface]?.humanName ?? contract.workSurface.rawValue
            notes.append("direct: if delivery fails terminally, a fallback notice goes to \(work) over bb.progress")
        }
        let failing = report.parts.filter { !$0.ok }
        report.outcome = failing.isEmpty ? "would_send" : "would_fail"
        report.human = human(surface: surface, mode: mode, parts: report.parts)
        report.notes = notes
        return report
    }

    /// "Would send to Alice's terminal (inbox alice), parent-mediated, in 3 parts; all 3 pass the dry-run".
    static func human(surface: Surface, mode: DeliveryMode, parts: [DryRunPart]) -> String {
        let target = "\(surface.humanName) (\(surface.kind.rawValue)\(displayAddress(surface).map { " \($0)" } ?? ""))"
        let count = parts.count == 1 ? "in 1 part" : "in \(parts.count) parts"
        var line = "Would send to \(target), \(mode.humanName), \(count)"
        if let first = parts.first(where: { !$0.ok }), let failure = first.failure {
            let label = parts.count > 1 ? "part \(first.part)/\(first.totalParts)" : "the notice"
            line += "; \(label) fails the dry-run: \(failure.description)" + (failure.detail.isEmpty ? "" : " (\(failure.detail))")
        } else {
            line += parts.count == 1 ? "; it passes the dry-run" : "; all \(parts.count) pass the dry-run"
        }
        return line
    }

    /// The adapter's type name, seen through the dry-run-only wrapper ("WebhookAdapter").
    static func adapterName(_ adapter: any DeliveryAdapter) -> String {
        if let wrapper = adapter as? DryRunOnlyAdapter { return adapterName(wrapper.inner) }
        return String(describing: type(of: adapter))
    }

    /// What the state machine does with a dry-run failure of this kind.
    static func consequence(_ failure: DeliveryFailure, surface: Surface) -> String {
        failure.kind.isRetryable
            ? "delivery would wait and retry this part"
            : "delivery would fail this part at once (and abandon the later parts)"
    }

    /// The registry address as shown to people; a webhook URL is cut to scheme and host,
    /// since its path or query may carry a credential (as Slack incoming webhooks do).
    static func displayAddress(_ surface: Surface) -> String? {
        guard let address = surface.address, !address.isEmpty else { return nil }
        guard surface.kind == .webhook else { return address }
        guard let url = URL(string: address), let scheme = url.scheme, let host = url.host else { return "(address hidden)" }
        return "\(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")/…"
    }
}

extension AdapterSet {
    /// The production adapters for dry-runs only: every `send` is refused without side
    /// effects, and the broker publisher and HTTP client underneath cannot send either, so the
    /// status API can run `dryRun` (address, secret, token, size, writable directory) and
    /// nothing else. Used by `bridgeback coordinator` for `POST /v1/jobs/{id}/dry-run`.
    public static func dryRunOnly(secrets: [SurfaceID: [UInt8]]) -> AdapterSet {
        let standard = AdapterSet.standard(publisher: NoSendPublisher(), secrets: secrets, httpClient: NoSendHTTPClient())
        return AdapterSet(
            byKind: standard.byKind.mapValues { DryRunOnlyAdapter(inner: $0) },
            fallback: DryRunOnlyAdapter(inner: standard.fallback))
    }
}

/// Delegates `dryRun`; refuses `send` (a dry-run must never reach a receiver).
struct DryRunOnlyAdapter: DeliveryAdapter {
    let inner: any DeliveryAdapter

    func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure? { await inner.dryRun(delivery) }

    func send(_ delivery: PreparedDelivery) async -> DeliveryFailure? {
        DeliveryFailure(.transport, detail: "dry-run adapters do not send")
    }
}

/// A publisher that publishes nothing: the dry-run adapters' broker.
struct NoSendPublisher: MessagePublishing {
    struct Refused: Error, CustomStringConvertible {
        var description: String { "dry-run: nothing is published" }
    }

    func publish(_ message: OutboundMessage) async throws { throw Refused() }
}

/// An HTTP client that sends nothing: the dry-run adapters' network.
struct NoSendHTTPClient: HTTPClient {
    func post(_ request: HTTPRequest) async -> HTTPResult { .notSent("dry-run: nothing is sent") }
}
