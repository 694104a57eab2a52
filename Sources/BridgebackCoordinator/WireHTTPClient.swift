import AsyncHTTPClient
import BridgebackCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
public import ServiceLifecycle
import Synchronization

/// The production `HTTPClient`: one AsyncHTTPClient with a connection pool, shared by the
/// webhook and chat adapters, configured so that every request on the wire is one the
/// ledger counted.
///
/// - No redirects: a 3xx comes back to the adapter as an answer, which classifies it (a
///   followed redirect once re-sent the headers without the signed body).
/// - No retries of its own: AsyncHTTPClient never re-sends a request, and connection
///   establishment is not retried either (a refused connect is reported at once and the
///   ledger schedules the next attempt).
/// - Explicit timeouts: connect, read (idle between bytes of the answer) and the total per
///   request (`HTTPRequest.timeout`, as a deadline).
///
/// Whether a failed request "may have been sent" is decided by whether its head was handed
/// to a connection: before that nothing left this process (`notSent`); after it the receiver
/// may have processed it (`mayHaveBeenSent`).
///
/// It is a `Service`: run it in the coordinator's service group and it shuts the pool down
/// on graceful shutdown (or call `shutdown()`).
public final class WireHTTPClient: HTTPClient, Service {
    /// The client's timeouts; the total per request comes from each `HTTPRequest`.
    public struct Timeouts: Sendable {
        /// Seconds to establish a TCP (and TLS) connection.
        public var connect: Double
        /// Seconds without a byte of the answer once the request is sent.
        public var read: Double

        public init(connect: Double = 5, read: Double = 10) {
            self.connect = connect
            self.read = read
        }
    }

    private let client: AsyncHTTPClient.HTTPClient
    private let shutDown = Mutex(false)
    /// Answers larger than this are cut (chat APIs answer in a few hundred bytes).
    static let maxAnswerBytes = 65_536

    public init(timeouts: Timeouts = Timeouts()) {
        var configuration = AsyncHTTPClient.HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(timeouts.connect * 1000)), read: .milliseconds(Int64(timeouts.read * 1000))),
            decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.idleTimeout = .seconds(30)
        client = AsyncHTTPClient.HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func post(_ request: HTTPRequest) async -> HTTPResult {
        let wireRequest: AsyncHTTPClient.HTTPClient.Request
        do {
            var headers = HTTPHeaders()
            for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) { headers.add(name: name, value: value) }
            wireRequest = try AsyncHTTPClient.HTTPClient.Request(
                url: request.url.absoluteString, method: .POST, headers: headers, body: .bytes(request.body))
        } catch {
            return .notSent("invalid request: \(error)")
        }
        let recorder = AnswerRecorder()
        let deadline = NIODeadline.now() + .milliseconds(Int64(request.timeout * 1000))
        let task = client.execute(request: wireRequest, delegate: recorder, deadline: deadline)
        do {
            let answer = try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
            return .response(status: answer.status, headers: answer.headers, body: answer.body)
        } catch {
            let detail = Self.describe(error, timeout: request.timeout)
            return recorder.headSent ? .mayHaveBeenSent(detail) : .notSent(detail)
        }
    }

    /// Words for an AsyncHTTPClient or NIO error, for the ledger's detail column.
    static func describe(_ error: any Error, timeout: Double) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded: return "timeout after \(HumanText.duration(seconds: timeout))"
            case .readTimeout: return "read timeout (no answer byte in time)"
            case .connectTimeout: return "connect timeout"
            case .remoteConnectionClosed: return "the receiver closed the connection without a complete answer"
            case .cancelled: return "cancelled"
            default: return "\(error)"
            }
        }
        return "\(error)"
    }

    /// Closes the pool; requests after this fail as `notSent`.
    public func shutdown() async throws {
        let first = shutDown.withLock { done in
            defer { done = true }
            return !done
        }
        if first { try await client.shutdown() }
    }

    /// Waits for graceful shutdown, then closes the pool.
    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }

    deinit {
        // A client dropped without shutdown() would crash in AsyncHTTPClient's own deinit.
        if !shutDown.withLock({ $0 }) { try? client.syncShutdown() }
    }
}

/// The answer of one request.
struct WireAnswer: Sendable {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
}

/// Collects the answer and remembers whether the request head went out.
///
/// AsyncHTTPClient calls it on the connection's event loop; the state sits in a Mutex, so
/// reading `headSent` from the awaiting task is safe.
final class AnswerRecorder: HTTPClientResponseDelegate {
    typealias Response = WireAnswer

    private struct State {
        var headSent = false
        var status = 0
        var headers: [String: String] = [:]
        var body: [UInt8] = []
    }

    private let state = Mutex(State())

    var headSent: Bool { state.withLock { $0.headSent } }

    func didSendRequestHead(task: AsyncHTTPClient.HTTPClient.Task<WireAnswer>, _ head: HTTPRequestHead) {
        state.withLock { $0.headSent = true }
    }

    func didReceiveHead(task: AsyncHTTPClient.HTTPClient.Task<WireAnswer>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        state.withLock { state in
            state.status = Int(head.status.code)
            for (name, value) in head.headers {
                let key = name.lowercased()
                state.headers[key] = state.headers[key].map { "\($0), \(value)" } ?? value
            }
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: AsyncHTTPClient.HTTPClient.Task<WireAnswer>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        state.withLock { state in
            let room = WireHTTPClient.maxAnswerBytes - state.body.count
            if room > 0 { state.body += buffer.readableBytesView.prefix(room) }
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: AsyncHTTPClient.HTTPClient.Task<WireAnswer>) throws -> WireAnswer {
        state.withLock { WireAnswer(status: $0.status, headers: $0.headers, body: $0.body) }
    }
}
