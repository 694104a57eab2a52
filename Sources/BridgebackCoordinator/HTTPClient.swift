public import Foundation
import BridgebackCore
#if canImport(FoundationNetworking)
    public import FoundationNetworking
#endif

/// One POST, as the webhook and chat adapters need it.
public struct HTTPRequest: Sendable {
    public var url: URL
    public var headers: [String: String]
    public var body: [UInt8]
    /// Seconds for the whole exchange.
    public var timeout: Double

    public init(url: URL, headers: [String: String], body: [UInt8], timeout: Double) {
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// What became of a request, split by whether the receiver may have seen it.
public enum HTTPResult: Sendable {
    /// The receiver answered. Header names are lowercased; `body` is what it said (chat APIs
    /// put their error codes there, Slack even under HTTP 200).
    case response(status: Int, headers: [String: String], body: [UInt8] = [])
    /// It certainly did not reach the receiver (DNS, connection refused, TLS handshake).
    case notSent(String)
    /// It may have been processed (timeout, connection lost mid-exchange).
    case mayHaveBeenSent(String)
}

/// The HTTP seam: `URLSessionHTTPClient` in production, a fake in tests.
public protocol HTTPClient: Sendable {
    func post(_ request: HTTPRequest) async -> HTTPResult
}

/// `URLSession` (FoundationNetworking on Linux): no extra dependency to build.
///
/// A timeout is reported as `mayHaveBeenSent` even when it happened while connecting:
/// URLSession does not say which, and guessing "not sent" could duplicate a delivery.
public struct URLSessionHTTPClient: HTTPClient {
    private let session: URLSession

    public init(session: URLSession = URLSession(configuration: .ephemeral)) {
        self.session = session
    }

    /// Enforces `request.timeout` itself as well: FoundationNetworking on Linux lets the
    /// session's 60 s request timeout win over a shorter `timeoutInterval` (seen in
    /// ChatLoopbackTests), which would stretch `--webhook-timeout 10` to a minute.
    public func post(_ request: HTTPRequest) async -> HTTPResult {
        await withTaskGroup(of: HTTPResult?.self) { group in
            group.addTask { await self.exchange(request) }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int64(request.timeout * 1000)))
                return Task.isCancelled ? nil : .mayHaveBeenSent("timeout after \(HumanText.duration(seconds: request.timeout))")
            }
            var result = HTTPResult.mayHaveBeenSent("no answer")
            for await next in group {
                guard let next else { continue }
                result = next
                break
            }
            group.cancelAll()
            return result
        }
    }

    private func exchange(_ request: HTTPRequest) async -> HTTPResult {
        var urlRequest = URLRequest(url: request.url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: request.timeout)
        urlRequest.httpMethod = "POST"
        urlRequest.httpBody = Data(request.body)
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
        do {
            let (data, response) = try await session.data(for: urlRequest)
            guard let http = response as? HTTPURLResponse else { return .mayHaveBeenSent("the response is not HTTP") }
            var headers: [String: String] = [:]
            for (name, value) in http.allHeaderFields {
                if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
            }
            return .response(status: http.statusCode, headers: headers, body: Array(data.prefix(65_536)))
        } catch let error as URLError {
            switch error.code {
            case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet, .badURL,
                .unsupportedURL, .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
                .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot, .clientCertificateRejected:
                return .notSent("\(error.code.rawValue): \(error.localizedDescription)")
            case .timedOut:
                return .mayHaveBeenSent("timeout after \(Int(request.timeout)) s")
            default:
                return .mayHaveBeenSent("URLError \(error.code.rawValue): \(error.localizedDescription)")
            }
        } catch {
            return .mayHaveBeenSent(String(describing: error))
        }
    }
}
