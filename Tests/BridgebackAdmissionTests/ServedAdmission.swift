import BridgebackHTTP
import Foundation
import ServiceLifecycle

@testable import BridgebackAdmission

/// The real admission service (HTTP server, store, relay with a fake broker) on
/// 127.0.0.1 and a free port, for as long as `body` runs.
enum ServedAdmission {
    static func with<T: Sendable>(
        limits: HTTPServerLimits = .init(), api: AdmissionConfiguration = .init(),
        registryJSON: String = Fixtures.registryJSON, catalogJSON: String = Fixtures.catalogJSON,
        _ body: @escaping @Sendable (_ port: Int, _ service: AdmissionService) async throws -> T
    ) async throws -> T {
        let dir = TempDir()
        defer { dir.cleanup() }
        let surfaces = dir.url.appendingPathComponent("surfaces.json")
        let recipes = dir.url.appendingPathComponent("recipes.json")
        try Data(registryJSON.utf8).write(to: surfaces)
        try Data(catalogJSON.utf8).write(to: recipes)
        let service = try AdmissionService(
            configuration: AdmissionServiceConfiguration(
                host: "127.0.0.1", port: 0, dataDirectory: dir.url.appendingPathComponent("data"), surfacesFile: surfaces,
                recipesFile: recipes, api: api, auth: TestAuth.http, httpLimits: limits),
            logger: Fixtures.logger, publisher: FakePublisher(), cancelForwarder: FakeCoordinator())
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let group = service.serviceGroup(handleSignals: false) { port in portSink.yield(port) }
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw RawConnection.Failure(description: "the server did not start") }
            let result: T
            do {
                result = try await body(port, service)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            for try await _ in tasks {}
            return result
        }
    }
}
