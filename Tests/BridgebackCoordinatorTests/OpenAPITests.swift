import BridgebackAuth
@testable import BridgebackCoordinator
import BridgebackCore
import BridgebackHTTP
import BridgebackMetrics
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// docs/openapi/status.json against the code: the embedded copy is the file, every route is
/// documented, every answer of the status API conforms, and the shared Codable types
/// (`JobDeliveryStatus`, `DeliveryDryRun`, `SurfacePlan`…) encode to what the document says, with
/// every optional field set and with none. schemathesis checks the real server too.
@Suite("OpenAPI document of the coordinator status API")
struct CoordinatorOpenAPITests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let document = try! OpenAPIDocument(CoordinatorHTTP.openAPIDocument)

    static func json(_ value: some Encodable) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

    static func json(_ response: StatusResponse) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(response.body))
    }

    @Test("the served document is docs/openapi/status.json (run scripts/openapi-embed after editing it)")
    func embeddedIsTheFile() throws {
        let file = try String(contentsOf: Self.repoRoot.appendingPathComponent("docs/openapi/status.json"), encoding: .utf8)
        #expect(CoordinatorHTTP.openAPIDocument + "\n" == file, "docs/openapi/status.json changed: run scripts/openapi-embed")
    }

    @Test("every route the router registers is in the document, and every operation in the document is routed")
    func routesMatch() throws {
        let h = try Harness()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        let router = CoordinatorHTTP.router(
            api: api, auth: TestAuth.http, logger: Logger(label: "test"), exposition: MetricsExposition(render: { [] }))
        let routed = Set(router.routes.map { "\($0.method.rawValue) \($0.path)" })
        #expect(routed.count >= 8)
        #expect(
            routed.subtracting(Self.document.operations).isEmpty,
            "routes missing from the document: \(routed.subtracting(Self.document.operations))")
        #expect(
            Self.document.operations.subtracting(routed).isEmpty,
            "documented but not routed: \(Self.document.operations.subtracting(routed))")
    }

    @Test("every answer of the status API conforms: delivered, retrying, fallen back, results, dry-runs, lists, errors")
    func answersConform() async throws {
        let (h, delivered, waiting, fellBack) = try await StatusAPITests.populated()
        let orphan = JobID.make()
        _ = try await h.coordinator.handleCompletion(body(makeCompletion(orphan)))  // no contract: parked
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry, adapters: h.coordinator.adapters)
        let bare = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        var checked: [(String, String, StatusResponse)] = []
        for contract in [delivered, waiting, fellBack] {
            let id = contract.jobID.description
            checked.append(("GET", "/v1/jobs/{id}/delivery", await api.delivery(id: id, as: .testOperator)))
            checked.append(("GET", "/v1/jobs/{id}/result", await api.result(id: id, json: true, as: .testOperator)))
            checked.append(("GET", "/v1/jobs/{id}/dry-run", await api.dryRun(id: id, body: [], as: .testOperator)))
            checked.append(
                ("POST", "/v1/jobs/{id}/dry-run", await api.dryRun(id: id, body: Array(#"{"text": "try this"}"#.utf8), as: .testOperator)))
        }
        let id = delivered.jobID.description
        checked.append(("GET", "/v1/jobs/{id}/delivery", await api.delivery(id: orphan.description, as: .testOperator)))
        checked.append(("GET", "/v1/jobs/{id}/delivery", await api.delivery(id: "job_nope", as: .testOperator)))
        checked.append(("GET", "/v1/jobs/{id}/delivery", await api.delivery(id: id, as: TestAuth.bob)))
        checked.append(("GET", "/v1/jobs/{id}/result", await api.result(id: "job_nope", json: true, as: .testOperator)))
        checked.append(("GET", "/v1/jobs/{id}/dry-run", await api.dryRun(id: orphan.description, body: [], as: .testOperator)))
        checked.append(("GET", "/v1/jobs/{id}/dry-run", await bare.dryRun(id: id, body: [], as: .testOperator)))
        checked.append(("POST", "/v1/jobs/{id}/dry-run", await api.dryRun(id: id, body: Array(#"{"txt": 1}"#.utf8), as: .testOperator)))
        checked.append(("GET", "/v1/deliveries", await api.deliveries(surface: nil, limit: nil, as: .testOperator)))
        checked.append(("GET", "/v1/deliveries", await api.deliveries(surface: "cli:alice", limit: "2", as: .testOperator)))
        checked.append(("GET", "/v1/deliveries", await api.deliveries(surface: nil, limit: "501", as: .testOperator)))
        checked.append(("GET", "/v1/deliveries", await api.deliveries(surface: "not a surface", limit: nil, as: .testOperator)))
        checked.append(("GET", "/health", await api.health()))

        #expect(Set(checked.map(\.2.status)) == [200, 400, 404, 409, 503])
        for (method, path, response) in checked {
            let problems = Self.document.problems(in: try Self.json(response), method: method, path: path, status: response.status)
            #expect(problems.isEmpty, "\(method) \(path) \(response.status): \(problems)\n\(response.text)")
        }
        // The plain-text result is declared as text.
        let text = await api.result(id: id, json: false, as: .testOperator)
        #expect(text.status == 200 && text.contentType == "text/plain; charset=utf-8")
        #expect(
            Self.document.json["paths"]?["/v1/jobs/{id}/result"]?["get"]?["responses"]?["200"]?["content"]?["text/plain; charset=utf-8"]
                != nil)
    }

    @Test("the shared Codable types match their schemas with every optional field set, and with none")
    func sharedTypesMatch() throws {
        let failure = FailureStatus(DeliveryFailure(.rateLimited(retryAfter: 30), detail: "429"))
        let full = PartStatus(
            deliveryID: "job_x.final.1", purpose: "final", part: 1, totalParts: 2, surface: "hooks:a", surfaceName: "receiver A",
            state: "retry_wait", stateText: "waiting to retry", attempts: 1, lastFailure: failure, nextAttemptAt: "2026-01-01T00:00:00Z",
            deliveredAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z")
        var bare = full
        (bare.surfaceName, bare.lastFailure, bare.nextAttemptAt, bare.deliveredAt) = (nil, nil, nil, nil)
        let status = JobDeliveryStatus(
            jobID: "job_x", state: "finished", finalOutcome: "delivered", finalDetail: "ok", noticeKind: "result", summary: "s", asked: "a",
            recipe: "r", origin: "cli:alice", workSurface: "work:alice", finalSurface: "hooks:a", finalSurfaceName: "receiver A",
            deliveryMode: "direct", deliveryModeName: "direct", deadline: "2026-01-01T00:00:00Z", createdAt: "2026-01-01T00:00:00Z",
            worker: "w", runSeconds: 1.5, finishedAt: "2026-01-01T00:00:00Z", turnaroundSeconds: 2.5, duplicatesSuppressed: 0, human: "h",
            parts: [full, bare],
            links: ["self": "/v1/jobs/job_x/delivery", "result": "/v1/jobs/job_x/result", "admission": "/v1/jobs/job_x"])
        let minimal = JobDeliveryStatus(
            jobID: "job_x", state: "awaiting_contract", finalOutcome: nil, finalDetail: nil, noticeKind: nil, summary: nil, asked: nil,
            recipe: nil, origin: nil, workSurface: nil, finalSurface: nil, finalSurfaceName: nil, deliveryMode: nil, deliveryModeName: nil,
            deadline: nil, createdAt: nil, worker: nil, runSeconds: nil, finishedAt: nil, turnaroundSeconds: nil, duplicatesSuppressed: 0,
            human: "h", parts: [],
            links: ["self": "/v1/jobs/job_x/delivery", "result": "/v1/jobs/job_x/result", "admission": "/v1/jobs/job_x"])
        for value in [status, minimal] {
            #expect(Self.document.problems(in: try Self.json(value), schemaNamed: "JobDeliveryStatus") == [])
        }
        let list = CoordinatorStatusAPI.DeliveryList(surface: "cli:alice", count: 2, jobs: [status, minimal])
        #expect(Self.document.problems(in: try Self.json(list), schemaNamed: "DeliveryList") == [])
        let surfaces =
            #"{"schema": "bridgeback.surfaces.v1", "surfaces": [{"id": "hooks:a", "kind": "webhook", "#
            + #""address": "http://127.0.0.1:1/a", "human_name": "A", "signing_secret": "\#(Harness.secret)"}]}"#
        let registry = try SurfaceRegistry.load(from: Data(surfaces.utf8))
        let surface = try #require(registry[SurfaceID(validating: "hooks:a")])
        let dryPart = DryRunPart(
            deliveryID: "job_x.final.1", part: 1, totalParts: 1, length: 3, maxLength: 10, unitWords: "characters", bodyBytes: 40,
            summarized: false,
            text: "t", rendered: "r", body: "{}", ok: false, failure: failure, consequence: "retried")
        var plainPart = dryPart
        (plainPart.ok, plainPart.failure, plainPart.consequence) = (true, nil, nil)
        let dry = DeliveryDryRun(
            jobID: "job_x", dryRun: true, state: "finished", outcome: "would_fail", noticeKind: "result", textSource: "ledger",
            surface: SurfacePlan(surface, address: "http://127.0.0.1:1/a"), deliveryMode: "direct", deliveryModeName: "direct",
            adapter: "WebhookAdapter", human: "h", parts: [dryPart, plainPart], notes: ["n"])
        var dryBare = dry
        (dryBare.surface, dryBare.adapter) = (nil, nil)
        for value in [dry, dryBare] {
            #expect(Self.document.problems(in: try Self.json(value), schemaNamed: "DeliveryDryRun") == [])
        }
        #expect(Self.document.problems(in: try Self.json(SurfacePlan(surface)), schemaNamed: "SurfacePlan") == [])
    }

    @Test("GET /openapi.json answers the document with a token and 401 without one; an unknown path is a JSON 404")
    func served() async throws {
        let h = try Harness()
        var logger = Logger(label: "test.coordinator.openapi")
        logger.logLevel = .critical
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        let app = CoordinatorHTTP.application(api: api, auth: TestAuth.http, host: "127.0.0.1", port: 0, logger: logger) {
            portSink.yield($0)
        }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let url = URL(string: "http://127.0.0.1:\(port)/openapi.json")!
            var request = URLRequest(url: url)
            request.setValue("Bearer \(TestAuth.bobToken)", forHTTPHeaderField: "Authorization")
            let (data, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            #expect(Array(data) == Array(CoordinatorHTTP.openAPIDocument.utf8))
            let (_, anonymous) = try await URLSession.shared.data(from: url)
            #expect((anonymous as? HTTPURLResponse)?.statusCode == 401)
            // Before routing (x-bridgeback-connection-errors; the rest of that list is shared code, tested with admission).
            var unknown = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/nothing")!)
            unknown.setValue("Bearer \(TestAuth.bobToken)", forHTTPHeaderField: "Authorization")
            let (body, notFound) = try await URLSession.shared.data(for: unknown)
            #expect((notFound as? HTTPURLResponse)?.statusCode == 404)
            #expect(String(decoding: body, as: UTF8.self).contains(#""code":"not_found""#))
            await group.triggerGracefulShutdown()
        }
    }
}

extension JSONValue {
    fileprivate subscript(_ key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }
}
