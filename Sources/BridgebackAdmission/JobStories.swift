import BridgebackAdmissionStore
public import BridgebackAuth
import BridgebackCore
import Foundation

/// `GET /v1/jobs/{id}/story` and `GET /v1/stories`: a job's whole story in one typed answer
/// (`JobStory`). Admission owns the beginning (request log, contract, outbox state) and asks the
/// coordinator for the end (`GET /v1/jobs/{id}/delivery`, `GET /v1/deliveries`) as the caller,
/// so the join happens once, here, and both services apply the same principal.
extension AdmissionAPI {
    /// One job's story; 404 for a job `principal` may not see, exactly as for one never admitted.
    public func story(id: String, as principal: Principal, bearer: String) async -> APIResponse {
        do throws(AdmissionError) {
            let canonical = try canonicalJobID(id)
            guard let job = try await storeCall({ try await store.job(id: canonical) }),
                principal.maySee(jobOrigin: job.contract.origin.rawValue)
            else {
                throw AdmissionError(
                    .notFound,
                    "no job '\(canonical)' visible to '\(principal.name)' was admitted here; check the id (GET /v1/stories lists recent jobs)"
                )
            }
            let request = try await storeCall { try await store.request(id: job.requestID) }
            let (delivery, note) = await deliveryStatus(of: canonical, bearer: bearer)
            return Self.answer(story(job, request: request, delivery: delivery, note: note))
        } catch {
            return refuse(error)
        }
    }

    /// Recent jobs `principal` may see, newest first, each with its story: one page from the
    /// coordinator, then one question for each job that page did not include.
    public func stories(surface: String?, limit: String?, as principal: Principal, bearer: String) async -> APIResponse {
        do throws(AdmissionError) {
            let count = try listLimit(surface: surface, limit: limit)
            let origins = principal.isOperator ? nil : principal.origins.map(\.sqliteGlob)
            let jobs = try await storeCall { try await store.jobs(surface: surface, limit: count, originGlobs: origins) }
            var deliveries: [String: JobDeliveryStatus] = [:]
            var warning: String?
            if !jobs.isEmpty, let deliveryLookup {
                do {
                    let answer = try await deliveryLookup.deliveries(surface: surface, limit: count, bearer: bearer)
                    if answer.status == 200 {
                        let page = try WireCodec.decodeBody(DeliveryList.self, from: Data(answer.body))
                        for status in page.jobs { deliveries[status.jobID] = status }
                    } else {
                        warning = Self.coordinatorRefusal(answer.status, answer.body)
                    }
                } catch {
                    logger.warning("the coordinator could not be asked for deliveries", metadata: ["error": "\(error)"])
                    warning = "the coordinator could not be asked (\(error)); delivery state unknown"
                }
            }
            var stories: [JobStory] = []
            for job in jobs {
                var (delivery, note) = (deliveries[job.jobID], warning)
                if delivery == nil && warning == nil {
                    (delivery, note) = await deliveryStatus(of: job.jobID, bearer: bearer)
                }
                let request = try await storeCall { try await store.request(id: job.requestID) }
                stories.append(story(job, request: request, delivery: delivery, note: note))
            }
            if deliveryLookup == nil && !jobs.isEmpty { warning = Self.noCoordinator }
            return Self.answer(JobStoryList(surface: surface, count: stories.count, jobs: stories, warning: warning))
        } catch {
            return refuse(error)
        }
    }

    static let noCoordinator =
        "no coordinator is configured here (--coordinator-url / BRIDGEBACK_COORDINATOR_URL): delivery state unknown"

    /// The coordinator's delivery status of one job, or why there is none.
    private func deliveryStatus(of id: String, bearer: String) async -> (JobDeliveryStatus?, String?) {
        guard let deliveryLookup else { return (nil, Self.noCoordinator) }
        do {
            let answer = try await deliveryLookup.delivery(jobID: id, bearer: bearer)
            guard answer.status == 200 else { return (nil, Self.coordinatorRefusal(answer.status, answer.body)) }
            do {
                return (try WireCodec.decodeBody(JobDeliveryStatus.self, from: Data(answer.body)), nil)
            } catch {
                return (nil, "the coordinator's answer does not decode (\(WireCodec.reason(error))); is it the same Bridgeback version?")
            }
        } catch {
            logger.warning("the coordinator could not be asked for a delivery", metadata: ["job_id": "\(id)", "error": "\(error)"])
            return (nil, "the coordinator could not be asked (\(error)); delivery state unknown")
        }
    }

    /// Why the coordinator gave no status, in words.
    private static func coordinatorRefusal(_ status: Int, _ body: [UInt8]) -> String {
        switch status {
        case 404:
            return "the coordinator has not heard of this job yet (no contract or completion has reached it)"
        case 401, 403:
            return
                "the coordinator refused this principal's token (\(status)); its principals file must list the same principals as admission's"
        default:
            let message =
                (try? JSONDecoder().decode(JSONValue.self, from: Data(body))).flatMap { value -> String? in
                    guard case .object(let o) = value, case .object(let e)? = o["error"], case .string(let m)? = e["message"] else {
                        return nil
                    }
                    return m
                } ?? String(decoding: body.prefix(300), as: UTF8.self)
            return "the coordinator answered \(status): \(message)"
        }
    }

    private func story(_ job: JobRecord, request: RequestLogEntry?, delivery: JobDeliveryStatus?, note: String?) -> JobStory {
        var contract = job.contract
        contract.completionCapabilitySHA256 = nil
        let facts = JobStory.AdmissionFacts(
            requestID: job.requestID, receivedAt: request.map { WireDate.format($0.receivedAt) }, decision: request?.decision,
            forced: request?.forced, triggers: request?.triggers, reason: request?.reason, policyVersion: request?.policyVersion,
            state: job.state.rawValue, stateNote: stateNote(job), createdAt: WireDate.format(job.createdAt),
            publishedAt: job.publishedAt.map(WireDate.format), cancelRequestedAt: job.cancelRequestedAt.map(WireDate.format),
            cancelReason: job.cancelReason)
        return JobStory(
            jobID: job.jobID, human: delivery?.human ?? admissionLine(job, coordinatorAsked: note == nil || delivery != nil),
            admission: facts, contract: contract, delivery: delivery, deliveryNote: delivery == nil ? note : nil,
            links: [
                "self": "/v1/jobs/\(job.jobID)/story", "job": "/v1/jobs/\(job.jobID)", "cancel": "/v1/jobs/\(job.jobID)/cancel",
                "delivery": "/v1/jobs/\(job.jobID)/delivery", "result": "/v1/jobs/\(job.jobID)/result",
            ])
    }

    /// Where the job stands when only admission can say.
    private func admissionLine(_ job: JobRecord, coordinatorAsked: Bool) -> String {
        let final = registry[job.contract.finalSurface]?.humanName ?? job.contract.finalSurface.rawValue
        switch job.state {
        case .accepted: return "accepted, waiting in admission's outbox"
        case .published:
            return "handed to the broker; the answer goes to \(final) (\(job.contract.deliveryMode.humanName))"
                + (coordinatorAsked ? "; the coordinator has not recorded it yet" : "; delivery state unknown")
        case .cancelRequested: return "cancel requested"
        }
    }

    /// A typed body as the API answers it (wire dates, sorted keys).
    private static func answer(_ value: some Encodable) -> APIResponse {
        guard let data = try? WireCodec.encodeBody(value), let body = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            return APIResponse(status: 500, body: ["error": ["code": "internal", "message": "the story could not be encoded"]])
        }
        return APIResponse(status: 200, body: body)
    }
}
