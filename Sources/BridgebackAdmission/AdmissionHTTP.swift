public import BridgebackAuth
public import BridgebackMetrics
public import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle

/// The Hummingbird adapter: routes, body limits, JSON responses. All behaviour is in `AdmissionAPI`.
public enum AdmissionHTTP {
    /// The routes of the admission API. `GET /health` is open; every other route (including
    /// any added to the returned router later, and `GET /metrics` when `exposition` is given)
    /// requires a principal via `auth`.
    public static func router(
        api: AdmissionAPI, auth: HTTPAuth, logger: Logger, exposition: MetricsExposition? = nil
    ) -> Router<BridgebackRequestContext> {
        let router = Router(context: BridgebackRequestContext.self)
        let limit = api.configuration.maxBodyBytes

        router.get("/health") { _, _ -> Response in
            response(await api.health())
        }
        auth.protect(router, logger: logger)
        if let exposition { MetricsHTTP.addRoute(to: router, exposition: exposition) }
        router.post("/v1/requests") { request, context -> Response in
            let principal = try context.principal
            guard let body = try await collect(request, limit: limit) else { return response(api.bodyTooLarge()) }
            return response(await api.submit(body: body, as: principal))
        }
        router.get("/v1/jobs/:id") { _, context -> Response in
            response(await api.job(id: context.parameters.get("id") ?? "", as: try context.principal))
        }
        router.get("/v1/jobs") { request, context -> Response in
            let query = request.uri.queryParameters
            return response(await api.jobs(surface: query.get("surface"), limit: query.get("limit"), as: try context.principal))
        }
        router.post("/v1/jobs/:id/cancel") { request, context -> Response in
            let principal = try context.principal
            guard let body = try await collect(request, limit: 4096) else { return response(api.bodyTooLarge()) }
            return response(await api.cancel(id: context.parameters.get("id") ?? "", body: body, as: principal))
        }
        router.post("/v1/requests/:id/outcome") { request, context -> Response in
            let principal = try context.principal
            guard let body = try await collect(request, limit: 16 * 1024) else { return response(api.bodyTooLarge()) }
            return response(await api.reportOutcome(requestID: context.parameters.get("id") ?? "", body: body, as: principal))
        }
        return router
    }

    /// The HTTP server as a `Service`, to run in a `ServiceGroup` beside the relay.
    ///
    /// - Parameter onListening: called with the bound port once the server accepts
    ///   connections (useful with port 0).
    public static func application(
        api: AdmissionAPI, auth: HTTPAuth, host: String, port: Int, logger: Logger, exposition: MetricsExposition? = nil,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        Application(
            router: router(api: api, auth: auth, logger: logger, exposition: exposition),
            configuration: .init(address: .hostname(host, port: port), serverName: "bridgeback-admission"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// The body up to `limit` bytes, or nil if it is larger (checked on Content-Length first).
    static func collect(_ request: Request, limit: Int) async throws -> [UInt8]? {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit { return nil }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            return nil
        }
    }

    static func response(_ api: APIResponse) -> Response {
        Response(
            status: HTTPResponse.Status(code: api.status),
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: api.bodyBytes)))
    }
}
