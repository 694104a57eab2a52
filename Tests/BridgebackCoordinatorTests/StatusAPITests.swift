import BridgebackAuth
@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Logging
import ServiceLifecycle
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The coordinator's read-only status API: ledger rows driven by the real coordinator (with
/// fake adapters), read back through `CoordinatorStatusAPI`, and once over real HTTP.
@Suite("Status API: delivery, result, recent deliveries, health")
struct StatusAPITests {
    static func decode<T: Decodable>(_ type: T.Type, _ response: StatusResponse) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(response.body))
    }

    static func errorCode(_ response: StatusResponse) -> String? {
        guard case .object(let top)? = try? JSONDecoder().decode(JSONValue.self, from: Data(response.body)),
            case .object(let error)? = top["error"], case .string(let code)? = error["code"]
        else { return nil }
        return code
    }

    /// Drives one job to `delivered` (inbox), one into `retry_wait` (429 + Retry-After), and one
    /// direct job whose delivery fails terminally and falls back to the work surface.
    static func populated() async throws -> (Harness, delivered: OwnershipContract, waiting: OwnershipContract, fellBack: OwnershipContract)
    {
        let http = FakeHTTPClient { request, _ in
            request.url.path == "/a" ? .response(status: 429, headers: ["retry-after": "3600"]) : .response(status: 403, headers: [:])
        }
        let h = try Harness(http: http)
        let delivered = makeContract()
        let waiting = makeContract(final: "hooks:a", mode: .direct)
        let fellBack = makeContract(final: "hooks:b", mode: .direct)
        try await h.running { () async throws in
            for contract in [delivered, waiting, fellBack] {
                _ = try await h.coordinator.handleContract(body(contract))
                _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            }
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(delivered.jobID)))  // a duplicate
            #expect(try await eventually { try await h.ledger.outcome(delivered.jobID) == "delivered" })
            #expect(try await eventually { try await h.ledger.outcome(fellBack.jobID) == "failed" })
            #expect(try await eventually { try await h.ledger.parts(of: waiting.jobID).first?.state.name == "retry_wait" })
        }
        return (h, delivered, waiting, fellBack)
    }

    @Test("a delivered job: state, outcome, surface names, mode, duplicates, its one part, a human line")
    func deliveredJob() async throws {
        let (h, delivered, _, _) = try await Self.populated()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        let response = await api.delivery(id: delivered.jobID.description, as: .testOperator)
        #expect(response.status == 200)
        let status = try Self.decode(JobDeliveryStatus.self, response)
        #expect(status.state == "finished")
        #expect(status.finalOutcome == "delivered")
        #expect(status.finalSurface == "cli:alice")
        #expect(status.finalSurfaceName == "Alice's terminal")
        #expect(status.deliveryMode == "parent")
        #expect(status.duplicatesSuppressed == 1)
        #expect(status.noticeKind == "result")
        #expect(status.worker == "worker-a/1")
        #expect(status.human == "delivered to Alice's terminal (parent-mediated), 1 part")
        let part = try #require(status.parts.first)
        #expect(status.parts.count == 1)
        #expect(part.deliveryID == DeliveryID(job: delivered.jobID, part: 1).description)
        #expect(part.purpose == "final" && part.part == 1 && part.totalParts == 1)
        #expect(part.state == "delivered" && part.attempts == 1 && part.lastFailure == nil)
        #expect(part.deliveredAt != nil)
        // Lower-case ids are accepted, as admission accepts them.
        #expect(await api.delivery(id: delivered.jobID.description.lowercased(), as: .testOperator).status == 200)
    }

    @Test("a rate-limited part: retry_wait, last failure in words, next retry time")
    func waitingJob() async throws {
        let (h, _, waiting, _) = try await Self.populated()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        let status = try Self.decode(JobDeliveryStatus.self, await api.delivery(id: waiting.jobID.description, as: .testOperator))
        #expect(status.state == "delivering")
        #expect(status.finalOutcome == nil)
        let part = try #require(status.parts.first)
        #expect(part.state == "retry_wait")
        #expect(part.lastFailure?.kind == "rate_limited")
        #expect(part.lastFailure?.description == "rate limited (retry after 1 h)")
        let next = try #require(part.nextAttemptAt.flatMap(WireDate.parse))
        #expect(next.timeIntervalSinceNow > 3500)
        #expect(status.human.hasPrefix("delivering to receiver A (direct): the notice rate limited (retry after 1 h), next try at "))
    }

    @Test("a terminal failure in direct mode: the failed part in words and the fallback part")
    func fallbackJob() async throws {
        let (h, _, _, fellBack) = try await Self.populated()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        let status = try Self.decode(JobDeliveryStatus.self, await api.delivery(id: fellBack.jobID.description, as: .testOperator))
        #expect(status.finalOutcome == "failed")
        #expect(status.parts.map(\.purpose) == ["final", "fallback"])
        #expect(status.parts.map(\.state) == ["failed", "delivered"])
        #expect(status.parts.first?.lastFailure?.description == "permission denied")
        #expect(status.parts.last?.surfaceName == "Alice's work log")
        #expect(status.human == "delivery to receiver B (direct) failed: permission denied; fallback notice delivered to Alice's work log")
    }

    @Test("the full result as text and as JSON; unknown, malformed and unfinished jobs are clear 404s")
    func result() async throws {
        let (h, delivered, _, _) = try await Self.populated()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        let text = await api.result(id: delivered.jobID.description, json: false, as: .testOperator)
        #expect(text.status == 200)
        #expect(text.contentType.hasPrefix("text/plain"))
        #expect(text.text == "All 5 gates passed. Safe to ship.")
        let json = await api.result(id: delivered.jobID.description, json: true, as: .testOperator)
        let object = try Self.decode(JobResult.self, json)
        #expect(object.text == "All 5 gates passed. Safe to ship.")
        #expect(object.status == "succeeded" && object.kind == "result" && object.worker == "worker-a/1")

        let unknown = await api.result(id: JobID.make().description, json: false, as: .testOperator)
        #expect(unknown.status == 404 && Self.errorCode(unknown) == "not_found")
        #expect(unknown.text.contains("the coordinator has no job"))
        let malformed = await api.result(id: "nope", json: true, as: .testOperator)
        #expect(malformed.status == 404 && Self.errorCode(malformed) == "not_found")
        #expect(await api.delivery(id: JobID.make().description, as: .testOperator).status == 404)

        let running = makeContract()
        _ = try await h.coordinator.handleContract(body(running))
        let notYet = await api.result(id: running.jobID.description, json: false, as: .testOperator)
        #expect(notYet.status == 404 && Self.errorCode(notYet) == "result_not_ready")
        let runningStatus = try Self.decode(JobDeliveryStatus.self, await api.delivery(id: running.jobID.description, as: .testOperator))
        #expect(runningStatus.human == "running; the answer goes to Alice's terminal (parent-mediated)")
    }

    @Test("recent deliveries, newest first, filtered by surface, limit checked")
    func recent() async throws {
        let (h, delivered, waiting, fellBack) = try await Self.populated()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        let all = try Self.decode(CoordinatorStatusAPI.DeliveryList.self, await api.deliveries(surface: nil, limit: nil, as: .testOperator))
        #expect(all.count == 3)
        #expect(all.jobs.map(\.jobID) == [delivered, waiting, fellBack].map(\.jobID.description).sorted(by: >))
        let hooks = try Self.decode(
            CoordinatorStatusAPI.DeliveryList.self, await api.deliveries(surface: "hooks:a", limit: "10", as: .testOperator))
        #expect(hooks.jobs.map(\.jobID) == [waiting.jobID.description])
        // Every contract here has origin cli:alice and work surface work:alice.
        let work = try Self.decode(
            CoordinatorStatusAPI.DeliveryList.self, await api.deliveries(surface: "work:alice", limit: "2", as: .testOperator))
        #expect(work.count == 2)
        #expect(await api.deliveries(surface: nil, limit: "0", as: .testOperator).status == 400)
        #expect(await api.deliveries(surface: "bad surface", limit: nil, as: .testOperator).status == 400)
    }

    @Test("health: ledger ok, broker state when known")
    func health() async throws {
        let h = try Harness()
        let up = await CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry, brokerConnected: { true }).health()
        #expect(up.status == 200 && up.text.contains(#""status":"ok""#) && up.text.contains(#""broker":"connected""#))
        let down = await CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry, brokerConnected: { false }).health()
        #expect(down.status == 200 && down.text.contains(#""status":"degraded""#))
    }

    /// Sorted-key JSON text, so a re-encoded body can be compared with the served bytes.
    static func canonical(_ bytes: some Sequence<UInt8>) throws -> String {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes `response` as `T`, and checks that `T` encodes back to the JSON served.
    static func roundTrip<T: Codable>(_ type: T.Type, _ response: StatusResponse) throws -> T {
        let value = try decode(T.self, response)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(try canonical(encoder.encode(value)) == canonical(response.body), "\(T.self): \(response.text)")
        #expect(String(decoding: try encoder.encode(value), as: UTF8.self) == response.text, "the same bytes as served")
        return value
    }

    @Test("cancel, result and health answer CancelDecided, JobResult and CoordinatorHealth, which encode back to the same JSON")
    func typedBodies() async throws {
        let (h, delivered, _, _) = try await Self.populated()
        let active = ActiveCoordinator()
        active.set(h.coordinator)
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry, brokerConnected: { true }, active: active)

        let result = try Self.roundTrip(JobResult.self, await api.result(id: delivered.jobID.description, json: true, as: .testOperator))
        #expect(result.jobID == delivered.jobID.description && result.kind == "result" && result.status == "succeeded")
        #expect(result.text == "All 5 gates passed. Safe to ship." && result.worker == "worker-a/1" && result.summary == delivered.summary)
        #expect(result.startedAt.flatMap(WireDate.parse) != nil && result.finishedAt.flatMap(WireDate.parse) != nil)

        let running = makeContract()
        _ = try await h.coordinator.handleContract(body(running))
        let cancelled = await api.cancel(id: running.jobID.description, reason: "not needed", as: .testOperator)
        #expect(cancelled.status == 202, "\(cancelled.text)")
        let decided = try Self.roundTrip(CancelDecided.self, cancelled)
        #expect(decided.jobID == running.jobID.description && decided.cancel == "accepted" && decided.state == "cancelled")
        #expect(decided.requestedBy == Principal.testOperator.name && WireDate.parse(decided.requestedAt) != nil)
        #expect(decided.workersTold == false && decided.note.contains("could not be told"), "no cancel broadcast in this harness")
        let again = await api.cancel(id: running.jobID.description, reason: nil, as: .testOperator)
        let refusal = try Self.decode(APIErrorBody.self, again)
        #expect(again.status == 409 && refusal.error.code == "already_cancelled")
        let lost = try Self.roundTrip(JobResult.self, await api.result(id: running.jobID.description, json: true, as: .testOperator))
        #expect(lost.kind == "cancelled" && lost.worker == nil && lost.status == nil && lost.summary == running.summary)

        let health = try Self.roundTrip(CoordinatorHealth.self, await api.health())
        #expect(health.status == "ok" && health.ledger == "ok" && health.broker == "connected")
        #expect(health.jobsDelivering != nil && health.jobsAwaitingCompletion != nil && health.partsWaitingRetry != nil)
        let unknownBroker = try Self.roundTrip(
            CoordinatorHealth.self, await CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry).health())
        #expect(unknownBroker.broker == nil && unknownBroker.status == "ok")
    }

    @Test("over real HTTP on port 0: delivery, result, deliveries, health")
    func overHTTP() async throws {
        let (h, delivered, _, _) = try await Self.populated()
        var logger = Logger(label: "test.coordinator.http")
        logger.logLevel = .critical
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = CoordinatorHTTP.application(
            api: CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry), auth: TestAuth.http, host: "127.0.0.1", port: 0,
            logger: logger
        ) { portSink.yield($0) }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            func get(_ path: String, accept: String? = nil) async throws -> (Int, String, String) {
                var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
                if let accept { request.setValue(accept, forHTTPHeaderField: "Accept") }
                request.setValue("Bearer \(TestAuth.operatorToken)", forHTTPHeaderField: "Authorization")
                let (data, response) = try await URLSession.shared.data(for: request)
                let http = response as? HTTPURLResponse
                return (
                    http?.statusCode ?? -1, http?.value(forHTTPHeaderField: "Content-Type") ?? "", String(decoding: data, as: UTF8.self)
                )
            }
            let id = delivered.jobID.description
            let (status, _, body) = try await get("/v1/jobs/\(id)/delivery")
            #expect(status == 200)
            let parsed = try JSONDecoder().decode(JobDeliveryStatus.self, from: Data(body.utf8))
            #expect(parsed.finalOutcome == "delivered")
            let (resultStatus, type, result) = try await get("/v1/jobs/\(id)/result")
            #expect(resultStatus == 200 && type.hasPrefix("text/plain") && result == "All 5 gates passed. Safe to ship.")
            let (_, jsonType, _) = try await get("/v1/jobs/\(id)/result", accept: "application/json")
            #expect(jsonType.hasPrefix("application/json"))
            let (missing, _, missingBody) = try await get("/v1/jobs/\(JobID.make())/result")
            #expect(missing == 404 && missingBody.contains("not_found"))
            let (listStatus, _, list) = try await get("/v1/deliveries?limit=2")
            #expect(listStatus == 200)
            #expect(try JSONDecoder().decode(CoordinatorStatusAPI.DeliveryList.self, from: Data(list.utf8)).count == 2)
            let (healthStatus, _, _) = try await get("/health")
            #expect(healthStatus == 200)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("a port already taken does not end the service group: the status API is not essential")
    func portTakenIsNotFatal() async throws {
        let h = try Harness()
        var logger = Logger(label: "test.coordinator.http")
        logger.logLevel = .critical
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let first = CoordinatorHTTP.application(api: api, auth: TestAuth.http, host: "127.0.0.1", port: 0, logger: logger) {
            portSink.yield($0)
        }
        let firstGroup = ServiceGroup(services: [first], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await firstGroup.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            // The bare server does fail on that port (so the wrapper below has something to absorb)…
            let bare = CoordinatorHTTP.server(api: api, auth: TestAuth.http, host: "127.0.0.1", port: port, logger: logger) { _ in }
            let bareFailed = await withTaskGroup(of: Bool?.self) { race in
                race.addTask { do { try await bare.run(); return false } catch { return true } }
                race.addTask {
                    try? await Task.sleep(for: .seconds(10)); return nil
                }
                let first = await race.next() ?? nil
                race.cancelAll()
                return first
            }
            #expect(bareFailed == true)
            // …and the wrapped one keeps the group up until it is asked to stop.
            let second = CoordinatorHTTP.application(api: api, auth: TestAuth.http, host: "127.0.0.1", port: port, logger: logger)
            let secondGroup = ServiceGroup(services: [second], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
            let (ended, endedSink) = AsyncStream<Bool>.makeStream()
            tasks.addTask {
                do { try await secondGroup.run(); endedSink.yield(true) } catch { endedSink.yield(false) }
            }
            try await Task.sleep(for: .milliseconds(500))
            await secondGroup.triggerGracefulShutdown()
            var endedIterator = ended.makeAsyncIterator()
            #expect(await endedIterator.next() == true)  // ended only when asked, and without an error
            await firstGroup.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
