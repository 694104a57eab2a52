import BridgebackAuth
import BridgebackCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@testable import BridgebackAdmission
@testable import BridgebackAdmissionStore

/// Log lines kept in memory, to prove what is (and is not) logged.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])

    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    func logger(label: String = "test.capture") -> Logger {
        var logger = Logger(label: label) { _ in Handler(sink: self) }
        logger.logLevel = .trace
        return logger
    }

    struct Handler: LogHandler {
        let sink: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
            let line =
                "\(event.level) \(event.message) " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            sink.lines.withLock { $0.append(line) }
        }
    }
}

/// Authentication and authorization over real HTTP: 401 vs 403, scope per field, jobs visible
/// only to their origin's principals (and operators), nothing written by a refused request.
@Suite("HTTP authentication and authorization")
struct AuthHTTPTests {
    static let registryJSON = """
        {
          "schema": "bridgeback.surfaces.v1",
          "surfaces": [
            {"id": "cli:alice", "kind": "inbox", "address": "alice", "human_name": "Alice's terminal", "work_surface": "work:alice", "direct_allowed": true},
            {"id": "work:alice", "kind": "inbox", "address": "alice.work", "human_name": "Alice's work log"},
            {"id": "cli:bob", "kind": "inbox", "address": "bob", "human_name": "Bob's terminal", "work_surface": "work:bob"},
            {"id": "work:bob", "kind": "inbox", "address": "bob.work", "human_name": "Bob's work log"},
            {"id": "pager:digest", "kind": "inbox", "address": "pager.digest", "human_name": "the pager digest"}
          ]
        }
        """

    struct Reply {
        var status: Int
        var json: JSONValue?
        var headers: [AnyHashable: Any]
        var code: String? { json?["error"]?["code"]?.string }
        var field: String? { json?["error"]?["field"]?.string }
    }

    static func call(_ method: String, _ url: URL, body: String? = nil, authorization: String?) async throws -> Reply {
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        return Reply(
            status: http?.statusCode ?? -1, json: try? JSONDecoder().decode(JSONValue.self, from: data),
            headers: http?.allHeaderFields ?? [:])
    }

    /// Runs admission on port 0 with `TestAuth`'s principals; `body` gets the base URL.
    static func withAdmission(log: CapturedLog, _ body: (URL, AdmissionService) async throws -> Void) async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let surfaces = dir.url.appendingPathComponent("surfaces.json")
        let recipes = dir.url.appendingPathComponent("recipes.json")
        try Data(registryJSON.utf8).write(to: surfaces)
        try Data(Fixtures.catalogJSON.utf8).write(to: recipes)
        let service = try AdmissionService(
            configuration: AdmissionServiceConfiguration(
                host: "127.0.0.1", port: 0, dataDirectory: dir.url.appendingPathComponent("data"), surfacesFile: surfaces,
                recipesFile: recipes, auth: TestAuth.http),
            logger: log.logger(), publisher: FakePublisher(), cancelForwarder: FakeCoordinator())
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let group = service.serviceGroup(handleSignals: false) { port in portSink.yield(port) }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await body(try #require(URL(string: "http://127.0.0.1:\(port)")), service)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static let alice = "Bearer \(TestAuth.aliceToken)"
    static let bob = "Bearer \(TestAuth.bobToken)"
    static let ops = "Bearer \(TestAuth.operatorToken)"

    @Test("401 without a valid bearer token on every route but /health; failures logged without the token")
    func unauthenticated() async throws {
        let log = CapturedLog()
        let forged = BearerToken.generate()
        try await Self.withAdmission(log: log) { base, service in
            let routes: [(String, String, String?)] = [
                ("POST", "v1/requests", #"{"origin": "cli:alice", "text": "what is a canary?"}"#),
                ("GET", "v1/jobs", nil), ("GET", "v1/jobs/job_01K742SG7TN426GVR1K1DKM9TR", nil),
                ("POST", "v1/jobs/job_01K742SG7TN426GVR1K1DKM9TR/cancel", nil),
                ("POST", "v1/requests/req_01K742SG7TN426GVR1K1DKM9TR/outcome", #"{"duration_s": 1, "succeeded": true}"#),
            ]
            for (method, path, body) in routes {
                for (authorization, challenge) in [
                    (nil as String?, #"Bearer realm="bridgeback""#), ("Bearer \(forged)", #"error="invalid_token""#),
                    ("Basic YWxpY2U6cHc=", #"error="invalid_request""#), ("Bearer ", #"error="invalid_request""#),
                ] {
                    let reply = try await Self.call(method, base.appendingPathComponent(path), body: body, authorization: authorization)
                    #expect(reply.status == 401, "\(method) \(path) with \(authorization ?? "nothing")")
                    #expect(reply.code == "unauthenticated")
                    #expect((reply.json?["error"]?["message"]?.string?.count ?? 0) > 20)
                    let header = reply.headers["Www-Authenticate"] as? String ?? reply.headers["WWW-Authenticate"] as? String ?? ""
                    #expect(header.contains(challenge), "\(header)")
                }
            }
            let health = try await Self.call("GET", base.appendingPathComponent("health"), authorization: nil)
            #expect(health.status == 200)
            let counts = try await service.api.store.counts()
            #expect(counts.requests == 0 && counts.jobs == 0 && counts.refusals == 0)
        }
        #expect(log.text.contains("authentication failed"))
        #expect(log.text.contains("unknown or revoked token"))
        #expect(!log.text.contains(forged), "a presented token must never be logged")
        #expect(!log.text.contains(String(forged.dropFirst(4).prefix(12))))
        #expect(!log.text.contains("YWxpY2U6cHc="))
    }

    @Test("403 naming the field for an origin, surface or parent outside the principal's scope; nothing written")
    func outOfScope() async throws {
        let log = CapturedLog()
        try await Self.withAdmission(log: log) { base, service in
            let url = base.appendingPathComponent("v1/requests")
            func detach(_ extra: String, origin: String = "cli:alice") -> String {
                #"{"origin": "\#(origin)", "text": "Run the release gate", "force": "detach", "recipe": {"name": "release-gate", "params": {"service": "api"}}\#(extra)}"#
            }
            let cases: [(String, String)] = [
                (detach("", origin: "cli:bob"), "origin"),
                (#"{"origin": "cli:bob", "text": "what is a canary release?"}"#, "origin"),
                (detach(#", "contract": {"final_surface": "pager:digest"}"#), "contract.final_surface"),
                (detach(#", "contract": {"work_surface": "work:bob"}"#), "contract.work_surface"),
                (detach(#", "contract": {"parent_id": "bob"}"#), "contract.parent_id"),
                (detach(#", "contract": {"final_surface": "pager:digest"}, "dry_run": true"#), "contract.final_surface"),
                // An unknown surface outside the scope: 403 first, nothing learned about the registry.
                (detach(#", "contract": {"final_surface": "hooks:nowhere"}"#), "contract.final_surface"),
            ]
            for (body, field) in cases {
                let reply = try await Self.call("POST", url, body: body, authorization: Self.alice)
                #expect(reply.status == 403, "\(body)")
                #expect(reply.code == "forbidden")
                #expect(reply.field == field, "\(body)")
                #expect(reply.json?["error"]?["message"]?.string?.contains("principal 'alice' may not") == true)
            }
            let ok = try await Self.call("POST", url, body: detach(""), authorization: Self.alice)
            #expect(ok.status == 202, "\(String(describing: ok.json))")
            let counts = try await service.api.store.counts()
            #expect(counts.jobs == 1 && counts.requests == 1 && counts.refusals == 0, "\(counts)")
        }
        #expect(log.text.contains("request forbidden"))
    }

    @Test("a principal reads, lists and cancels only its own jobs; an operator sees all; the API is the same for tokens with scope")
    func visibility() async throws {
        let log = CapturedLog()
        try await Self.withAdmission(log: log) { base, service in
            let url = base.appendingPathComponent("v1/requests")
            let aliceJob = try await Self.call(
                "POST", url, body: #"{"origin": "cli:alice", "text": "gate", "force": "detach", "recipe": {"name": "noop"}}"#,
                authorization: Self.alice)
            let bobJob = try await Self.call(
                "POST", url, body: #"{"origin": "cli:bob", "text": "gate", "force": "detach", "recipe": {"name": "noop"}}"#,
                authorization: Self.bob)
            let aliceID = try #require(aliceJob.json?["job_id"]?.string)
            let bobID = try #require(bobJob.json?["job_id"]?.string)

            let seen = try await Self.call("GET", base.appendingPathComponent("v1/jobs/\(aliceID)"), authorization: Self.alice)
            #expect(seen.status == 200)
            let hidden = try await Self.call("GET", base.appendingPathComponent("v1/jobs/\(aliceID)"), authorization: Self.bob)
            #expect(hidden.status == 404 && hidden.code == "not_found")
            let unknown = try await Self.call(
                "GET", base.appendingPathComponent("v1/jobs/job_01K742SG7TN426GVR1K1DKM9TR"), authorization: Self.bob)
            #expect(unknown.status == 404, "an invisible job looks exactly like a missing one")

            let bobList = try await Self.call("GET", base.appendingPathComponent("v1/jobs"), authorization: Self.bob)
            #expect(bobList.json?["jobs"]?.array?.compactMap { $0["job_id"]?.string } == [bobID])
            var components = URLComponents(url: base.appendingPathComponent("v1/jobs"), resolvingAgainstBaseURL: false)!
            components.queryItems = [URLQueryItem(name: "surface", value: "cli:alice")]
            let bobOnAlice = try await Self.call("GET", components.url!, authorization: Self.bob)
            #expect(bobOnAlice.status == 200 && bobOnAlice.json?["count"] == .number(0))
            let opsList = try await Self.call("GET", base.appendingPathComponent("v1/jobs"), authorization: Self.ops)
            #expect(Set(opsList.json?["jobs"]?.array?.compactMap { $0["job_id"]?.string } ?? []) == [aliceID, bobID])

            let refused = try await Self.call("POST", base.appendingPathComponent("v1/jobs/\(aliceID)/cancel"), authorization: Self.bob)
            #expect(refused.status == 404)
            let still = try await service.api.store.job(id: aliceID)
            #expect(still?.cancelRequestedAt == nil, "Bob's cancel must not touch Alice's job")
            let cancelled = try await Self.call("POST", base.appendingPathComponent("v1/jobs/\(aliceID)/cancel"), authorization: Self.alice)
            #expect(cancelled.status == 202)
            let opsCancel = try await Self.call("POST", base.appendingPathComponent("v1/jobs/\(bobID)/cancel"), authorization: Self.ops)
            #expect(opsCancel.status == 202)

            // Inline outcomes follow the same rule.
            let inline = try await Self.call(
                "POST", url, body: #"{"origin": "cli:alice", "text": "what is a canary release?"}"#, authorization: Self.alice)
            let requestID = try #require(inline.json?["request_id"]?.string)
            let outcome = #"{"duration_s": 3, "succeeded": true}"#
            let bobOutcome = try await Self.call(
                "POST", base.appendingPathComponent("v1/requests/\(requestID)/outcome"), body: outcome, authorization: Self.bob)
            #expect(bobOutcome.status == 404)
            let aliceOutcome = try await Self.call(
                "POST", base.appendingPathComponent("v1/requests/\(requestID)/outcome"), body: outcome, authorization: Self.alice)
            #expect(aliceOutcome.status == 200)
        }
    }
}
