public import Hummingbird
public import HummingbirdCore
public import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import HummingbirdTLS
import Synchronization

/// Timeouts and the connection ceiling of an HTTP server that listens for untrusted clients
/// (admission, the coordinator's status API).
///
/// Without them a client that opens connections and never finishes a request head holds a
/// file descriptor and a task forever; a thousand such clients lock everyone else out.
/// Every timer is measured by the server from the moment named, so a slow trickle of bytes
/// does not extend it.
public struct HTTPServerLimits: Sendable, Hashable {
    /// From the moment a connection opens, its first request head must be complete within this.
    public var headTimeout: Duration
    /// From a request's head to the last byte of its body.
    public var bodyTimeout: Duration
    /// A kept-alive connection with no request in progress is closed after this (it must
    /// finish its next request head within this, too).
    public var idleTimeout: Duration
    /// Open connections above this are answered `503` with a JSON error and closed at once.
    public var maxConnections: Int
    /// HTTPS instead of plain HTTP (nil: plain HTTP). It travels with the limits because both
    /// shape the one server both services build here.
    public var tls: HTTPServerTLS?

    public init(
        headTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(30), idleTimeout: Duration = .seconds(60),
        maxConnections: Int = 2048, tls: HTTPServerTLS? = nil
    ) {
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.tls = tls
    }

    /// A Hummingbird HTTP/1.1 server with these limits, for `Application(server:)`; over TLS when
    /// `tls` is set. The head timeout then covers the TLS handshake too. Over the connection
    /// ceiling a TLS client sees its handshake fail (the 503 is written before TLS starts).
    public func serverBuilder(logger: Logger) -> HTTPServerBuilder {
        let gate = CountingGate(limit: maxConnections)
        let limits = self
        return HTTPServerBuilder { responder in
            let channel = GuardedHTTP1Channel(
                inner: HTTP1Channel(
                    responder: responder,
                    configuration: .init(additionalChannelHandlers: [RequestDeadlineHandler(limits: limits, logger: logger)])),
                gate: gate, logger: logger)
            guard let tls = limits.tls else { return channel }
            return try TLSChannel(channel, tlsConfiguration: try tls.configuration())
        }
    }

    /// `{"error": {"code", "message"}}` bytes, the shape every Bridgeback HTTP error has.
    static func errorBody(code: String, message: String) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        }
        return "{\"error\":{\"code\":\"\(escape(code))\",\"message\":\"\(escape(message))\"}}"
    }
}

/// Counts open things against a ceiling: a server's connections here, the dashboard's event
/// streams in the coordinator.
public final class CountingGate: Sendable {
    public let limit: Int
    private let open = Mutex(0)

    public init(limit: Int) { self.limit = limit }

    /// Counts one more if there is room.
    public func enter() -> Bool {
        open.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    public func leave() { open.withLock { $0 -= 1 } }

    public var count: Int { open.withLock { $0 } }
}

/// HTTP/1.1 as Hummingbird builds it, with the connection gate in front of the HTTP decoder.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let inner: HTTP1Channel
    let gate: CountingGate
    let logger: Logger

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let gate = self.gate
        let log = self.logger
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionLimitHandler(gate: gate, logger: log), position: .first)
        }.flatMap { inner.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// First in the pipeline: a connection over the limit gets `503` and is closed without its
/// bytes ever reaching the HTTP decoder.
final class ConnectionLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let gate: CountingGate
    private let logger: Logger
    private var counted = false
    private var refused = false

    init(gate: CountingGate, logger: Logger) {
        self.gate = gate
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard !counted, !refused else { return }
        if gate.enter() {
            counted = true
            return
        }
        refused = true
        logger.warning("connection refused: too many open connections", metadata: ["http.max_connections": "\(gate.limit)"])
        let body = HTTPServerLimits.errorBody(
            code: "too_many_connections",
            message: "the server has \(gate.limit) open connections, its limit; retry in a few seconds")
        let head =
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\n"
            + "retry-after: 5\r\nconnection: close\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: head + body)), promise: nil)
        // Half-close first so the client reads the answer rather than a reset, then close.
        context.close(mode: .output, promise: nil)
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) {
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            gate.leave()
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if counted {
            counted = false
            gate.leave()
        }
    }
}

/// After the HTTP decoder: closes a connection whose request head, body or idle time runs
/// over its limit, and answers a request the decoder cannot parse with a JSON `400`.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Where the connection is between requests.
    enum Phase: Equatable {
        /// Open, no request head yet (head timeout).
        case awaitingFirstHead
        /// Between requests on a kept-alive connection (idle timeout).
        case idle
        /// Head read, body not finished (body timeout).
        case readingBody
        /// Request read, answer not finished: the handler's time, no client deadline.
        case responding
    }

    private let limits: HTTPServerLimits
    private let logger: Logger
    private var phase = Phase.awaitingFirstHead
    private var responseFinished = false
    private var timer: Scheduled<Void>?

    init(limits: HTTPServerLimits, logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, limits.headTimeout, "request head") }
    }

    func channelActive(context: ChannelHandlerContext) {
        if timer == nil, phase == .awaitingFirstHead { arm(context, limits.headTimeout, "request head") }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            phase = .readingBody
            responseFinished = false
            arm(context, limits.bodyTimeout, "request body")
        case .body:
            break
        case .end:
            if responseFinished {
                phase = .idle
                arm(context, limits.idleTimeout, "idle keep-alive")
            } else {
                phase = .responding
                disarm()
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            responseFinished = true
            if phase == .responding {
                phase = .idle
                arm(context, limits.idleTimeout, "idle keep-alive")
            }
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request the decoder cannot parse, with no request in progress: answer it here,
        // as JSON, instead of Hummingbird's empty 400.
        guard error is HTTPParserError, phase == .awaitingFirstHead || phase == .idle else {
            context.fireErrorCaught(error)
            return
        }
        disarm()
        let body = HTTPServerLimits.errorBody(
            code: "malformed_http", message: "the request is not valid HTTP/1.1 (\(error)); the connection is closed")
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.contentLength] = "\(body.utf8.count)"
        headers[.connection] = "close"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .badRequest, headerFields: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(string: body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func arm(_ context: ChannelHandlerContext, _ timeout: Duration, _ what: String) {
        disarm()
        let logger = self.logger
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            logger.debug("closing connection: \(what) timeout", metadata: ["http.timeout": "\(timeout)"])
            context.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

/// Turns every error a route throws (including Hummingbird's own 404/405) into a JSON
/// `{"error": {"code", "message"}}` answer, and an unexpected error into a logged 500 with
/// the same shape, so no client ever gets an empty or HTML error body.
public struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            let status = error.status
            let code: String =
                switch status.code {
                case 404: "not_found"
                case 405: "method_not_allowed"
                case 413: "body_too_large"
                case 400..<500: "invalid_request"
                default: "server_error"
                }
            let message =
                switch status.code {
                case 404: "no route \(request.method) \(request.uri.path); see the API reference in docs/"
                default: status.reasonPhrase
                }
            return Self.json(status: status, code: code, message: message)
        } catch {
            context.logger.error("unexpected error in an HTTP handler", metadata: ["error": "\(error)"])
            return Self.json(status: .internalServerError, code: "server_error", message: "internal error; the server log has the details")
        }
    }

    static func json(status: HTTPResponse.Status, code: String, message: String) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: HTTPServerLimits.errorBody(code: code, message: message))))
    }
}
