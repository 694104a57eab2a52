import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
public import ServiceLifecycle

/// Where admission sends a cancel: the coordinator decides it against its ledger (only it
/// knows whether the job's final notice is already decided).
public protocol CancelForwarding: Sendable {
    /// POSTs `body` to the coordinator's `POST /v1/jobs/{id}/cancel` as the caller (its bearer
    /// token): the coordinator checks the same principals. Returns its status and JSON body.
    func cancel(jobID: String, body: [UInt8], bearer: String) async throws -> (status: Int, body: [UInt8])
}

/// `CancelForwarding` over AsyncHTTPClient: no redirects, 5 s connect, 10 s in all. A
/// `Service` so its connection pool is shut down with the process.
public final class CoordinatorCancelClient: CancelForwarding, Service {
    let baseURL: String
    let client: HTTPClient

    /// `baseURL`: the coordinator's status API, e.g. `http://127.0.0.1:8090`. `caFile`: a PEM CA that an
    /// `https://` coordinator is verified against instead of the system's roots (a team's private CA).
    public init(baseURL: String, caFile: String? = nil) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile { tls.trustRoots = .file(caFile) }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(10)))
        configuration.maximumUsesPerConnection = nil
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func cancel(jobID: String, body: [UInt8], bearer: String) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: "\(baseURL)/v1/jobs/\(jobID)/cancel")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(10))
        let answer = try await response.body.collect(upTo: 64 * 1024)
        return (Int(response.status.code), Array(answer.readableBytesView))
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
