public import BridgebackAuth
public import BridgebackMetrics
public import BridgebackHTTP
public import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle

/// The Hummingbird adapter: routes, body limits, JSON responses. All behaviour is in `AdmissionAPI`.
public enum AdmissionHTTP {
    /// The routes of the admission API, as docs/openapi/admission.json lists them (served at
    /// `GET /openapi.json`; a test fails when a route is missing there). `GET /health` is open;
    /// every other route (including any added to the returned router later, and `GET /metrics`
    /// when `exposition` is given) requires a principal via `auth`.
    public static func router(
        api: AdmissionAPI, auth: HTTPAuth, logger: Logger, exposition: MetricsExposition? = nil
    ) -> Router<BridgebackRequestContext> {
        let router = Router(context: BridgebackRequestContext.self)
        router.add(middleware: JSONErrorMiddleware())
        let limit = api.configuration.maxBodyBytes

        router.get("/health") { _, _ -> Response in
            response(await api.health())
        }
        auth.protect(router, logger: logger)
        if let exposition { MetricsHTTP.addRoute(to: router, exposition: exposition) }
        OpenAPIDocument.addRoute(to: router, document: openAPIDocument)
        router.post("/v1/requests") { request, context -> Response in
            let principal = try context.principal
            let body: [UInt8]
            switch try await collect(request, limit: limit) {
            case .body(let bytes): body = bytes
            case .refused(let answer): return response(answer ?? api.bodyTooLarge())
            }
            return response(await api.submit(body: body, as: principal))
        }
        router.get("/v1/jobs/:id") { _, context -> Response in
            response(await api.job(id: context.parameters.get("id") ?? "", as: try context.principal))
        }
        router.get("/v1/jobs/:id/story") { request, context -> Response in
            response(await api.story(id: context.parameters.get("id") ?? "", as: try context.principal, bearer: bearer(of: request)))
        }
        router.get("/v1/stories") { request, context -> Response in
            let query = request.uri.queryParameters
            return response(
                await api.stories(
                    surface: query.get("surface"), limit: query.get("limit"), as: try context.principal, bearer: bearer(of: request)))
        }
        router.get("/v1/jobs") { request, context -> Response in
            let query = request.uri.queryParameters
            return response(await api.jobs(surface: query.get("surface"), limit: query.get("limit"), as: try context.principal))
        }
        router.post("/v1/jobs/:id/cancel") { request, context -> Response in
            let principal = try context.principal
            let body: [UInt8]
            switch try await collect(request, limit: 4096) {
            case .body(let bytes): body = bytes
            case .refused(let answer): return response(answer ?? api.bodyTooLarge())
            }
            return response(
                await api.cancel(id: context.parameters.get("id") ?? "", body: body, as: principal, bearer: bearer(of: request)))
        }
        router.post("/v1/requests/:id/outcome") { request, context -> Response in
            let principal = try context.principal
            let body: [UInt8]
            switch try await collect(request, limit: 16 * 1024) {
            case .body(let bytes): body = bytes
            case .refused(let answer): return response(answer ?? api.bodyTooLarge())
            }
            return response(await api.reportOutcome(requestID: context.parameters.get("id") ?? "", body: body, as: principal))
        }
        return router
    }

    /// The HTTP server as a `Service`, to run in a `ServiceGroup` beside the relay.
    ///
    /// - Parameter onListening: called with the bound port once the server accepts
    ///   connections (useful with port 0).
    public static func application(
        api: AdmissionAPI, auth: HTTPAuth, host: String, port: Int, limits: HTTPServerLimits = .init(), logger: Logger,
        exposition: MetricsExposition? = nil, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        Application(
            router: router(api: api, auth: auth, logger: logger, exposition: exposition),
            server: limits.serverBuilder(logger: logger),
            configuration: .init(address: .hostname(host, port: port), serverName: "bridgeback-admission", backlog: 1024),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// A request body, or the answer that refuses it.
    enum Collected {
        case body([UInt8])
        /// nil: too large (413); otherwise this answer.
        case refused(APIResponse?)
    }

    /// The body up to `limit` bytes (checked on Content-Length first, then while reading, so a
    /// chunked body that declares 2^64-1 bytes is cut at the limit). A body that cannot be
    /// read (bad chunk framing) is a 400, never a 500.
    static func collect(_ request: Request, limit: Int) async throws -> Collected {
        if let declared = request.headers[.contentLength], let size = UInt64(declared), size > UInt64(limit) { return .refused(nil) }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return .body(Array(buffer.readableBytesView))
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            return .refused(nil)
        } catch {
            return .refused(
                .error(
                    AdmissionError(
                        .invalidRequest, "the request body could not be read (\(error)); send it again with a valid Content-Length")))
        }
    }

    /// The caller's bearer token, passed on to the coordinator (cancel, job stories) so it applies
    /// the same principal; never logged.
    static func bearer(of request: Request) -> String {
        let authorization = request.headers[.authorization] ?? ""
        return authorization.lowercased().hasPrefix("bearer ") ? String(authorization.dropFirst(7).drop(while: { $0 == " " })) : ""
    }

    static func response(_ api: APIResponse) -> Response {
        Response(
            status: HTTPResponse.Status(code: api.status),
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: api.bodyBytes)))
    }
}
