public import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle

/// `GET /metrics` on an existing router, and a small server of its own for processes that
/// have no HTTP API (workers).
public enum MetricsHTTP {
    /// Adds `GET /metrics` to `router`; the router's own middleware (authentication) applies.
    public static func addRoute<Context: RequestContext>(to router: Router<Context>, exposition: MetricsExposition) {
        router.get("/metrics") { _, _ -> Response in
            response(exposition)
        }
    }

    /// `GET /metrics` and `GET /health` on `host:port` (0 picks a free port). Logs
    /// "metrics listening" with `http.host` and `http.port` once it accepts connections.
    ///
    /// Metrics are for people; the work must not depend on them. If the port cannot be bound the
    /// error is logged and the service waits for shutdown instead of stopping the process.
    public static func server(
        exposition: MetricsExposition, host: String, port: Int, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        let router = Router(context: BasicRequestContext.self)
        addRoute(to: router, exposition: exposition)
        router.get("/health") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"}"))
            )
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "bridgeback-metrics"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.info("metrics listening", metadata: ["http.host": "\(host)", "http.port": "\(bound)"])
                await onListening(bound)
            },
            logger: logger)
        return BestEffort(inner: app, logger: logger, what: "metrics endpoint on \(host):\(port)")
    }

    static func response(_ exposition: MetricsExposition) -> Response {
        Response(
            status: .ok, headers: [.contentType: MetricsExposition.contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: exposition.text())))
    }
}

/// Runs `inner`; if it fails, logs why and waits for graceful shutdown instead of ending the group.
struct BestEffort<Inner: Service>: Service {
    let inner: Inner
    let logger: Logger
    let what: String

    func run() async throws {
        do {
            try await inner.run()
        } catch {
            if Task.isCancelled { return }
            logger.error("\(what) is not serving; the process continues without it", metadata: ["error": "\(error)"])
            try? await gracefulShutdown()
        }
    }
}
