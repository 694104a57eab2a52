import BridgebackAuth
import BridgebackCore
import BridgebackHTTP
import BridgebackMetrics
import Foundation
import Hummingbird
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@testable import BridgebackAdmission

/// docs/openapi/admission.json against the code: the embedded copy is the file, every route the
/// router registers is documented (and nothing else), and what the API answers conforms to it.
/// schemathesis checks the real server against it as well (AssistantIntegrationTests).
@Suite("OpenAPI document of admission")
struct AdmissionOpenAPITests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let document = try! OpenAPIDocument(AdmissionHTTP.openAPIDocument)

    @Test("the served document is docs/openapi/admission.json (run scripts/openapi-embed after editing it)")
    func embeddedIsTheFile() throws {
        let file = try String(contentsOf: Self.repoRoot.appendingPathComponent("docs/openapi/admission.json"), encoding: .utf8)
        #expect(AdmissionHTTP.openAPIDocument + "\n" == file, "docs/openapi/admission.json changed: run scripts/openapi-embed")
        #expect(Self.document.json["openapi"] == "3.1.0")
    }

    @Test("every route the router registers is in the document, and every operation in the document is routed")
    func routesMatch() throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let router = AdmissionHTTP.router(
            api: h.api, auth: TestAuth.http, logger: Fixtures.logger, exposition: MetricsExposition(render: { [] }))
        let routed = Set(router.routes.map { "\($0.method.rawValue) \($0.path)" })
        #expect(routed.count >= 8)
        #expect(
            routed.subtracting(Self.document.operations).isEmpty,
            "routes missing from the document: \(routed.subtracting(Self.document.operations))")
        #expect(
            Self.document.operations.subtracting(routed).isEmpty,
            "documented but not routed: \(Self.document.operations.subtracting(routed))")
    }

    @Test("GET /openapi.json answers the document with a token and 401 without one; /health stays open")
    func served() async throws {
        try await ServedAdmission.with { port, _ in
            let url = URL(string: "http://127.0.0.1:\(port)/openapi.json")!
            var request = URLRequest(url: url)
            request.setValue("Bearer \(TestAuth.bobToken)", forHTTPHeaderField: "Authorization")
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = try #require(response as? HTTPURLResponse)
            #expect(http.statusCode == 200)
            #expect(http.value(forHTTPHeaderField: "Content-Type") == "application/json; charset=utf-8")
            #expect(Array(data) == Array(AdmissionHTTP.openAPIDocument.utf8))
            let (_, anonymous) = try await URLSession.shared.data(from: url)
            #expect((anonymous as? HTTPURLResponse)?.statusCode == 401)
            let (_, health) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/health")!)
            #expect((health as? HTTPURLResponse)?.statusCode == 200)
        }
    }

    /// `x-bridgeback-connection-errors`: what the server answers before any route is chosen.
    @Test("the answers before routing are the ones x-bridgeback-connection-errors lists, as JSON errors")
    func connectionErrors() async throws {
        guard case .array(let listed)? = Self.document.json["info"]?["x-bridgeback-connection-errors"] else {
            Issue.record("no x-bridgeback-connection-errors in info")
            return
        }
        let documented = Set(
            listed.compactMap { entry -> String? in
                guard case .number(let status)? = entry["status"], let code = entry["code"]?.string else { return nil }
                return "\(Int(status)) \(code)"
            })
        let seen = try await ServedAdmission.with(limits: .init(maxConnections: 3)) { port, _ in
            try await RawHTTP.onThread { () throws -> Set<String> in
                var seen: Set<String> = []
                func record(_ response: RawConnection.Response?) {
                    guard let response, response.hasJSONError, let code = response.json?["error"]?["code"]?.string else { return }
                    seen.insert("\(response.status) \(code)")
                }
                let garbage = try RawConnection(port: port)
                garbage.send("HELLO THERE\r\n\r\n")
                record(garbage.readResponse())
                for request in ["GET /v1/nothing HTTP/1.1", "GET /v1/requests HTTP/1.1"] {
                    let known = try RawConnection(port: port)
                    known.send("\(request)\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(TestAuth.aliceToken)\r\nConnection: close\r\n\r\n")
                    record(known.readResponse())
                    let anonymous = try RawConnection(port: port)
                    anonymous.send("\(request)\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    #expect(anonymous.readResponse()?.status == 401)
                }
                // Three held connections fill the cap; the fourth is refused before its request is read.
                let held = try (0..<3).map { _ in try RawConnection(port: port) }
                held.forEach { $0.send("GET /hea") }
                // The server counts them as it accepts them; until it has, a probe is served (and
                // closed, so it does not take a place), so probe until one meets the ceiling.
                let giveUp = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < giveUp {
                    let extra = try RawConnection(port: port)
                    extra.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    let response = extra.readResponse()
                    record(response)
                    if response?.status == 503 { break }
                    Thread.sleep(forTimeInterval: 0.05)
                }
                return seen
            }
        }
        #expect(seen == documented, "seen \(seen), documented \(documented)")
    }

    /// Every answer shape the API has, checked against the document's schema for its route and status.
    @Test("every answer of the API conforms to the document: decisions, dry runs, jobs, cancel, outcomes, errors")
    func answersConform() async throws {
        let h = try Harness(configuration: .init(maxBodyBytes: 4096))
        defer { h.dir.cleanup() }
        var checked: [(String, String, APIResponse)] = []
        func post(_ path: String, _ response: APIResponse) { checked.append(("POST", path, response)) }
        func get(_ path: String, _ response: APIResponse) { checked.append(("GET", path, response)) }

        let release = #""recipe": {"name": "release-gate", "params": {"service": "api"}}"#
        let inline = await h.submit(#"{"origin": "cli:alice", "text": "What is a canary release?", "force": "inline"}"#)
        post("/v1/requests", inline)
        let detach = await h.submit(
            #"{"origin": "cli:alice", "text": "Run the release gate", "force": "detach", "idempotency_key": "k1", "#
                + #""summary": "gate", \#(release)}"#
        )
        post("/v1/requests", detach)
        let jobID = try #require(detach["job_id"]?.string)
        post(
            "/v1/requests",
            await h.submit(#"{"origin": "cli:alice", "text": "Run it", "force": "detach", "idempotency_key": "k1", \#(release)}"#))
        post("/v1/requests", await h.submit(#"{"origin": "cli:alice", "text": "Run it", "force": "detach", "dry_run": true, \#(release)}"#))
        post(
            "/v1/requests",
            await h.submit(
                #"{"origin": "cli:alice", "text": "Run it", "force": "detach", "dry_run": true, "#
                    + #""contract": {"delivery_mode": "direct"}, \#(release)}"#
            ))
        post(
            "/v1/requests",
            await h.submit(
                #"{"origin": "cli:alice", "text": "Run it", "force": "detach", "idempotency_key": "k1", "dry_run": true, \#(release)}"#))
        post("/v1/requests", await h.submit(#"{"origin": "cli:alice", "text": "What is a canary?", "force": "inline", "dry_run": true}"#))
        post("/v1/requests", await h.submit(#"{"origin": "cli:alice", "text": "Run it", "force": "detach", "recipe": {"name": "nope"}}"#))
        post("/v1/requests", await h.submit(#"{"origin": "cli:nobody", "text": "Run it"}"#))
        post("/v1/requests", await h.submit(#"{"origin": "cli:alice", "text": "x", "extra": 1}"#))
        post("/v1/requests", await h.submit("{nope"))
        post("/v1/requests", await h.api.submit(body: Array(#"{"origin": "cli:bob", "text": "hi"}"#.utf8), as: TestAuth.alice))
        post("/v1/requests", h.api.bodyTooLarge())

        get("/v1/jobs/{id}", await h.api.job(id: jobID, as: .testOperator))
        get("/v1/jobs/{id}", await h.api.job(id: "job_nope", as: .testOperator))
        get("/v1/jobs", await h.api.jobs(surface: "cli:alice", limit: "5", as: .testOperator))
        get("/v1/jobs", await h.api.jobs(surface: nil, limit: nil, as: TestAuth.bob))
        get("/v1/jobs", await h.api.jobs(surface: nil, limit: "0", as: .testOperator))
        get("/v1/jobs", await h.api.jobs(surface: "cli:nobody", limit: nil, as: .testOperator))
        post(
            "/v1/jobs/{id}/cancel",
            await h.api.cancel(id: jobID, body: Array(#"{"reason": "not needed"}"#.utf8), as: .testOperator, bearer: "tok"))
        get("/v1/jobs/{id}", await h.api.job(id: jobID, as: .testOperator))
        // The (fake) coordinator answers a second cancel with its 409, passed on.
        post("/v1/jobs/{id}/cancel", await h.api.cancel(id: jobID, body: [], as: .testOperator, bearer: "tok"))
        post("/v1/jobs/{id}/cancel", await h.api.cancel(id: jobID, body: Array("[1]".utf8), as: .testOperator, bearer: "tok"))
        // A typo is refused (the document says additionalProperties: false), and nothing is recorded.
        let typo = await h.api.cancel(id: jobID, body: Array(#"{"reson": "x"}"#.utf8), as: .testOperator, bearer: "tok")
        #expect(typo.status == 400 && typo.errorCode == "invalid_request" && typo.errorField == "reson")
        post("/v1/jobs/{id}/cancel", typo)
        post("/v1/jobs/{id}/cancel", await h.api.cancel(id: "job_nope", body: [], as: .testOperator, bearer: "tok"))

        let requestID = try #require(inline["request_id"]?.string)
        let outcome = #"{"duration_s": 12, "succeeded": true, "sources": ["grafana"], "tool_calls": 3}"#
        post("/v1/requests/{id}/outcome", await h.api.reportOutcome(requestID: requestID, body: Array(outcome.utf8), as: .testOperator))
        post("/v1/requests/{id}/outcome", await h.api.reportOutcome(requestID: requestID, body: Array(outcome.utf8), as: .testOperator))
        let detachedRequest = try #require(detach["request_id"]?.string)
        post(
            "/v1/requests/{id}/outcome", await h.api.reportOutcome(requestID: detachedRequest, body: Array(outcome.utf8), as: .testOperator)
        )
        post("/v1/requests/{id}/outcome", await h.api.reportOutcome(requestID: "req_nope", body: Array(outcome.utf8), as: .testOperator))
        post("/v1/requests/{id}/outcome", await h.api.reportOutcome(requestID: requestID, body: Array("{}".utf8), as: .testOperator))

        get("/health", await h.api.health())

        #expect(Set(checked.map(\.2.status)) == [200, 202, 400, 403, 404, 409, 413, 422])
        for (method, path, response) in checked {
            let problems = Self.document.problems(in: response.body, method: method, path: path, status: response.status)
            #expect(
                problems.isEmpty,
                "\(method) \(path) \(response.status): \(problems)\n\(String(decoding: response.bodyBytes, as: UTF8.self))")
        }
    }

    @Test("the check finds drift: an undocumented field, a missing required one, a wrong type, an undocumented status")
    func checkFindsDrift() throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let good: JSONValue = ["request_id": "req_1", "recorded": "created", "duration_s": 1, "succeeded": true]
        #expect(Self.document.problems(in: good, method: "POST", path: "/v1/requests/{id}/outcome", status: 200).isEmpty)
        var extra = good
        if case .object(var object) = extra { object["surprise"] = 1; extra = .object(object) }
        #expect(!Self.document.problems(in: extra, method: "POST", path: "/v1/requests/{id}/outcome", status: 200).isEmpty)
        let missing: JSONValue = ["request_id": "req_1", "recorded": "created", "duration_s": 1]
        #expect(!Self.document.problems(in: missing, method: "POST", path: "/v1/requests/{id}/outcome", status: 200).isEmpty)
        let wrongType: JSONValue = ["request_id": "req_1", "recorded": "created", "duration_s": "1", "succeeded": true]
        #expect(!Self.document.problems(in: wrongType, method: "POST", path: "/v1/requests/{id}/outcome", status: 200).isEmpty)
        let wrongCode: JSONValue = ["error": ["code": "teapot", "message": "no"]]
        #expect(!Self.document.problems(in: wrongCode, method: "GET", path: "/v1/jobs/{id}", status: 404).isEmpty)
        #expect(!Self.document.problems(in: good, method: "POST", path: "/v1/requests/{id}/outcome", status: 418).isEmpty)
    }
}
