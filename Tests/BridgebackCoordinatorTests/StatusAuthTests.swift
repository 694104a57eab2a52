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

/// The status API applies admission's rule: 401 without a valid token, and a principal sees a
/// job only when its origin is in scope (operators see all; a job without a contract yet is for
/// operators only). Checked over real HTTP.
@Suite("Status API authentication and visibility")
struct StatusAuthTests {
    @Test("401 without a token; Bob sees none of Alice's jobs, Alice and the operator do")
    func overHTTP() async throws {
        let (h, delivered, _, _) = try await StatusAPITests.populated()
        let orphan = JobID.make()
        _ = try await h.coordinator.handleCompletion(body(makeCompletion(orphan)))  // no contract: parked
        var logger = Logger(label: "test.coordinator.auth")
        logger.logLevel = .critical
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry, adapters: h.coordinator.adapters)
        let app = CoordinatorHTTP.application(api: api, auth: TestAuth.http, host: "127.0.0.1", port: 0, logger: logger) {
            portSink.yield($0)
        }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            func call(_ method: String, _ path: String, token: String?) async throws -> (Int, String, String) {
                var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
                request.httpMethod = method
                if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
                let (data, response) = try await URLSession.shared.data(for: request)
                let http = response as? HTTPURLResponse
                return (
                    http?.statusCode ?? -1, http?.value(forHTTPHeaderField: "WWW-Authenticate") ?? "", String(decoding: data, as: UTF8.self)
                )
            }
            let id = delivered.jobID.description
            let routes = [
                ("GET", "/v1/jobs/\(id)/delivery"), ("GET", "/v1/jobs/\(id)/result"), ("GET", "/v1/deliveries"),
                ("GET", "/v1/jobs/\(id)/dry-run"), ("POST", "/v1/jobs/\(id)/dry-run"),
            ]
            for (method, path) in routes {
                for token in [nil, BearerToken.generate()] {
                    let (status, challenge, body) = try await call(method, path, token: token)
                    #expect(status == 401, "\(method) \(path)")
                    #expect(challenge.hasPrefix("Bearer realm=\"bridgeback\""))
                    #expect(body.contains(#""code":"unauthenticated""#))
                    #expect(!body.contains("Safe to ship"))
                }
                let (bobStatus, _, bobBody) = try await call(method, path, token: TestAuth.bobToken)
                if path == "/v1/deliveries" {
                    #expect(bobStatus == 200 && bobBody.contains(#""count":0"#), "\(bobBody)")
                } else {
                    #expect(bobStatus == 404, "\(method) \(path): \(bobBody)")
                    #expect(!bobBody.contains("Safe to ship"))
                }
                let (aliceStatus, _, _) = try await call(method, path, token: TestAuth.aliceToken)
                #expect(aliceStatus == 200, "\(method) \(path)")
                let (opsStatus, _, _) = try await call(method, path, token: TestAuth.operatorToken)
                #expect(opsStatus == 200, "\(method) \(path)")
            }
            let (health, _, _) = try await call("GET", "/health", token: nil)
            #expect(health == 200)

            // The orphan (no contract, so no origin): the operator only.
            let (aliceOrphan, _, _) = try await call("GET", "/v1/jobs/\(orphan)/delivery", token: TestAuth.aliceToken)
            #expect(aliceOrphan == 404)
            let (opsOrphan, _, _) = try await call("GET", "/v1/jobs/\(orphan)/delivery", token: TestAuth.operatorToken)
            #expect(opsOrphan == 200)
            let (_, _, aliceList) = try await call("GET", "/v1/deliveries", token: TestAuth.aliceToken)
            let (_, _, opsList) = try await call("GET", "/v1/deliveries", token: TestAuth.operatorToken)
            let aliceCount = try JSONDecoder().decode(CoordinatorStatusAPI.DeliveryList.self, from: Data(aliceList.utf8)).count
            let opsCount = try JSONDecoder().decode(CoordinatorStatusAPI.DeliveryList.self, from: Data(opsList.utf8)).count
            #expect(aliceCount == 3 && opsCount == 4)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
