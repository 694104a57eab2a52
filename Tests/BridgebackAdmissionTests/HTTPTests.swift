import BridgebackCore
import Foundation
import Logging
import ServiceLifecycle
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@testable import BridgebackAdmission
@testable import BridgebackAdmissionStore

/// The whole service over real HTTP on 127.0.0.1 (port 0), relay included, with a fake broker.
@Suite("HTTP end to end")
struct HTTPTests {
    struct Reply {
        var status: Int
        var json: JSONValue?
    }

    static func call(_ method: String, _ url: URL, body: Data? = nil, token: String? = TestAuth.aliceToken) async throws -> Reply {
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? -1
        return Reply(status: status, json: try? JSONDecoder().decode(JSONValue.self, from: data))
    }

    @Test("submit, look up, list, cancel, health over HTTP; the relay publishes; graceful shutdown")
    func endToEnd() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let surfaces = dir.url.appendingPathComponent("surfaces.json")
        let recipes = dir.url.appendingPathComponent("recipes.json")
        try Data(Fixtures.registryJSON.utf8).write(to: surfaces)
        try Data(Fixtures.catalogJSON.utf8).write(to: recipes)
        let fake = FakePublisher()
        let service = try AdmissionService(
            configuration: AdmissionServiceConfiguration(
                host: "127.0.0.1", port: 0, dataDirectory: dir.url.appendingPathComponent("data"), surfacesFile: surfaces,
                recipesFile: recipes, api: .init(maxBodyBytes: 4096), auth: TestAuth.http),
            logger: Fixtures.logger, publisher: fake, cancelForwarder: FakeCoordinator())
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let group = service.serviceGroup(handleSignals: false) { port in portSink.yield(port) }

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let base = try #require(URL(string: "http://127.0.0.1:\(port)"))

            let detach = try await Self.call(
                "POST", base.appendingPathComponent("v1/requests"),
                body: Data(
                    #"{"origin": "cli:alice", "text": "Run the release gate", "force": "detach", "idempotency_key": "h1", "recipe": {"name": "release-gate", "params": {"service": "api"}}}"#
                        .utf8))
            #expect(detach.status == 202)
            let id = try #require(detach.json?["job_id"]?.string)
            #expect(detach.json?["human"]?.string?.hasPrefix("Detached: Run the release gate; progress in Alice's work log") == true)

            let inline = try await Self.call(
                "POST", base.appendingPathComponent("v1/requests"),
                body: Data(#"{"origin": "cli:alice", "text": "What is a canary release?"}"#.utf8))
            #expect(inline.status == 200 && inline.json?["decision"]?.string == "inline")

            let malformed = try await Self.call("POST", base.appendingPathComponent("v1/requests"), body: Data("{nope".utf8))
            #expect(malformed.status == 400 && malformed.json?["error"]?["code"]?.string == "malformed_json")

            let big = try await Self.call(
                "POST", base.appendingPathComponent("v1/requests"),
                body: Data(#"{"origin": "cli:alice", "text": "\#(String(repeating: "x", count: 10_000))"}"#.utf8))
            #expect(big.status == 413 && big.json?["error"]?["code"]?.string == "body_too_large")

            // The relay was rung by the submit: wait for both messages.
            let deadline = ContinuousClock.now + .seconds(10)
            while fake.published.count < 2 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(fake.published.map(\.exchange) == ["bb.contracts", "bb.jobs"])

            let job = try await Self.call("GET", base.appendingPathComponent("v1/jobs/\(id)"))
            #expect(job.status == 200 && job.json?["state"]?.string == "published")
            var components = URLComponents(url: base.appendingPathComponent("v1/jobs"), resolvingAgainstBaseURL: false)!
            components.queryItems = [URLQueryItem(name: "surface", value: "cli:alice")]
            let list = try await Self.call("GET", components.url!)
            #expect(list.status == 200 && list.json?["count"] == .number(1))
            let cancel = try await Self.call("POST", base.appendingPathComponent("v1/jobs/\(id)/cancel"))
            #expect(cancel.status == 202 && cancel.json?["state"]?.string == "cancel_requested")
            let health = try await Self.call("GET", base.appendingPathComponent("health"))
            #expect(health.status == 200 && health.json?["outbox_backlog"] == .number(0) && health.json?["broker"]?.string == "connected")
            let missing = try await Self.call("GET", base.appendingPathComponent("v1/jobs/job_01K742SG7TN426GVR1K1DKM9TR"))
            #expect(missing.status == 404)

            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let counts = try await service.api.store.counts()
        #expect(counts.requests == 2 && counts.jobs == 1 && counts.unsent == 0)
        #expect(counts.refusals == 0, "malformed JSON and oversized bodies are not recorded as refusals")
    }
}
