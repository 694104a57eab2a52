public import BridgebackAuth
public import BridgebackMetrics
public import BridgebackHTTP
public import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle

/// The coordinator's read-only status API over HTTP (Hummingbird): routes only; all behaviour
/// is in `CoordinatorStatusAPI`.
///
/// `GET /v1/jobs/{id}/delivery`, `GET /v1/jobs/{id}/result` (text, or JSON with
/// `?format=json` / `Accept: application/json`), `GET /v1/deliveries?surface=…&limit=N`,
/// `GET /health`, and `POST|GET /v1/jobs/{id}/dry-run` (plans and checks a job's final notice
/// without sending); with an exposition, `GET /metrics`; `GET /openapi.json` (docs/openapi/status.json,
/// which a test keeps in step with these routes); with a `Dashboard`, its pages under `/dashboard`.
/// Only `POST /v1/jobs/{id}/cancel` writes the ledger, through the active coordinator.
public enum CoordinatorHTTP {
    /// `GET /health` is open; every other route (including any added to the returned router
    /// later) requires a principal via `auth`, and shows only the jobs that principal may see.
    public static func router(
        api: CoordinatorStatusAPI, auth: HTTPAuth, logger: Logger, exposition: MetricsExposition? = nil, dashboard: Dashboard? = nil
    ) -> Router<BridgebackRequestContext> {
        let router = Router(context: BridgebackRequestContext.self)
        router.add(middleware: JSONErrorMiddleware())
        router.get("/health") { _, _ -> Response in
            response(await api.health())
        }
        // The dashboard authenticates its own routes (bearer or session cookie), so before protect.
        dashboard?.addRoutes(to: router)
        auth.protect(router, logger: logger)
        if let exposition { MetricsHTTP.addRoute(to: router, exposition: exposition) }
        OpenAPIDocument.addRoute(to: router, document: openAPIDocument)
        router.get("/v1/jobs/:id/delivery") { _, context -> Response in
            response(await api.delivery(id: context.parameters.get("id") ?? "", as: try context.principal))
        }
        router.get("/v1/jobs/:id/result") { request, context -> Response in
            let format = request.uri.queryParameters.get("format")
            let accept = request.headers[.accept] ?? ""
            let json = format == "json" || (format == nil && accept.contains("application/json") && !accept.contains("text/plain"))
            return response(await api.result(id: context.parameters.get("id") ?? "", json: json, as: try context.principal))
        }
        router.post("/v1/jobs/:id/dry-run") { request, context -> Response in
            let principal = try context.principal
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: 1 << 20) } catch let error as any HTTPResponseError {
                throw error
            } catch {
                throw HTTPError(.badRequest, message: "the request body could not be read: \(error)")
            }
            return response(await api.dryRun(id: context.parameters.get("id") ?? "", body: Array(body.readableBytesView), as: principal))
        }
        router.get("/v1/jobs/:id/dry-run") { _, context -> Response in
            response(await api.dryRun(id: context.parameters.get("id") ?? "", body: [], as: try context.principal))
        }
        router.post("/v1/jobs/:id/cancel") { request, context -> Response in
            let principal = try context.principal
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: 4096) } catch let error as any HTTPResponseError {
                throw error
            } catch {
                throw HTTPError(.badRequest, message: "the request body could not be read: \(error)")
            }
            let reason: String?
            switch CoordinatorStatusAPI.cancelReason(Array(body.readableBytesView)) {
            case .reason(let text): reason = text
            case .refused(let refusal): return response(refusal)
            }
            return response(await api.cancel(id: context.parameters.get("id") ?? "", reason: reason, as: principal))
        }
        router.get("/v1/deliveries") { request, context -> Response in
            let query = request.uri.queryParameters
            return response(await api.deliveries(surface: query.get("surface"), limit: query.get("limit"), as: try context.principal))
        }
        return router
    }

    /// The HTTP server as a `Service`, to run in the coordinator's `ServiceGroup`.
    ///
    /// Logs "coordinator status listening" with `http.host` and `http.port` once it accepts
    /// connections (`port` 0 picks a free one; `onListening` gets the bound port).
    ///
    /// The status API is for people; delivery must not depend on it. If the server cannot
    /// start (port taken, e.g. by a standby coordinator on the same host) or fails later, the
    /// error is logged and the service waits for the group's shutdown instead of ending it.
    public static func application(
        api: CoordinatorStatusAPI, auth: HTTPAuth, host: String, port: Int, limits: HTTPServerLimits = .init(), logger: Logger,
        exposition: MetricsExposition? = nil, dashboard: Dashboard? = nil, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        NonEssential(
            inner: server(
                api: api, auth: auth, host: host, port: port, limits: limits, logger: logger, exposition: exposition, dashboard: dashboard,
                onListening: onListening),
            logger: logger, what: "coordinator status API on \(host):\(port)")
    }

    static func server(
        api: CoordinatorStatusAPI, auth: HTTPAuth, host: String, port: Int, limits: HTTPServerLimits = .init(), logger: Logger,
        exposition: MetricsExposition? = nil, dashboard: Dashboard? = nil, onListening: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        Application(
            router: router(api: api, auth: auth, logger: logger, exposition: exposition, dashboard: dashboard),
            server: limits.serverBuilder(logger: logger),
            configuration: .init(address: .hostname(host, port: port), serverName: "bridgeback-coordinator", backlog: 1024),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.info(
                    "coordinator status listening",
                    metadata: ["http.host": "\(host)", "http.port": "\(bound)", "http.scheme": "\(limits.tls == nil ? "http" : "https")"])
                await onListening(bound)
            },
            logger: logger)
    }

    static func response(_ status: StatusResponse) -> Response {
        Response(
            status: HTTPResponse.Status(code: status.status),
            headers: [.contentType: status.contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: status.body)))
    }
}

/// Runs `inner`; if it fails, logs why and waits for graceful shutdown instead of taking the
/// whole service group (and with it delivery) down.
struct NonEssential<Inner: Service>: Service {
    let inner: Inner
    let logger: Logger
    let what: String

    func run() async throws {
        do {
            try await inner.run()
        } catch {
            if Task.isCancelled { return }
            logger.error(
                "\(what) is not serving; delivery continues without it",
                metadata: ["error": "\(error)", "hint": "pick another --http-port, or --no-http"])
            try? await gracefulShutdown()
        }
    }
}
