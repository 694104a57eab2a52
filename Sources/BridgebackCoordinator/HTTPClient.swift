public import Foundation
public import BridgebackCore

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

/// The HTTP seam: `WireHTTPClient` (AsyncHTTPClient) in production, a fake in tests.
public protocol HTTPClient: Sendable {
    func post(_ request: HTTPRequest) async -> HTTPResult
}

/// A 3xx answer. Bridgeback never follows one: a followed redirect is a request the ledger
/// did not count, to an address the registry does not name (and a 301/302/303 turns the
/// POST into a GET without the signed body). The receiver moved, so it is terminal
/// `missing_target`, with the new location in the detail for the operator to put in the
/// registry.
public enum HTTPRedirect {
    /// The failure for a 3xx answer; nil for any other status.
    public static func failure(status: Int, headers: [String: String]) -> DeliveryFailure? {
        guard (300..<400).contains(status) else { return nil }
        let location = headers.first { $0.key.lowercased() == "location" }?.value
        let target = location.map { " to \(String($0.prefix(300)))" } ?? " (no Location)"
        return DeliveryFailure(
            .missingTarget,
            detail: "HTTP \(status) redirect\(target); redirects are not followed: update the surface's address in the registry")
    }
}
