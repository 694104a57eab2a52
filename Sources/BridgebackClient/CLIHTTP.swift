import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOSSL

#if canImport(FoundationNetworking)
    public import FoundationNetworking
#endif

/// How the CLI talks to admission and the coordinator's status API.
///
/// With `BRIDGEBACK_CA_FILE` set, `https://` servers are verified against that CA only (a team's
/// private CA, as `deploy/local/tls.sh` makes), through AsyncHTTPClient: Foundation's URLSession on
/// Linux cannot be given a CA. Without it, URLSession and the system's trust store, as before.
public enum CLIHTTP {
    /// The PEM CA file servers are verified against, from `BRIDGEBACK_CA_FILE`.
    public static var caFile: String? {
        ProcessInfo.processInfo.environment["BRIDGEBACK_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Sends `request`; returns the body and the status code. Throws when no answer came (unreachable,
    /// TLS verification failed, timeout); the error's description says which.
    public static func send(_ request: URLRequest, session: URLSession = .shared, timeout: TimeInterval = 30) async throws -> (Data, Int) {
        guard let caFile else {
            let (data, response) = try await session.data(for: request)
            return (data, (response as? HTTPURLResponse)?.statusCode ?? 0)
        }
        guard let url = request.url else { throw CLIHTTPError(description: "the request has no URL") }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        tls.minimumTLSVersion = .tlsv12
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(5), read: .milliseconds(Int64(timeout * 1000)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            var outgoing = HTTPClientRequest(url: url.absoluteString)
            outgoing.method = .init(rawValue: request.httpMethod ?? "GET")
            for (name, value) in request.allHTTPHeaderFields ?? [:] { outgoing.headers.add(name: name, value: value) }
            if let body = request.httpBody { outgoing.body = .bytes(ByteBuffer(bytes: body)) }
            let response = try await client.execute(outgoing, timeout: .milliseconds(Int64(timeout * 1000)))
            let body = try await response.body.collect(upTo: 64 << 20)
            try await client.shutdown()
            return (Data(body.readableBytesView), Int(response.status.code))
        } catch {
            try? await client.shutdown()
            throw CLIHTTPError(description: "\(error) (server verified against BRIDGEBACK_CA_FILE=\(caFile))")
        }
    }
}

/// Why a request got no answer, in words.
public struct CLIHTTPError: Error, CustomStringConvertible, LocalizedError {
    public var description: String
    public var errorDescription: String? { description }

    public init(description: String) { self.description = description }
}

extension String {
    /// The URL without a trailing slash, so a path can be appended.
    var trimmingTrailingSlash: String { hasSuffix("/") ? String(dropLast()) : self }
}
