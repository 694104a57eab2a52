public import BridgebackCore
public import Foundation

/// Standard Webhooks delivery: POST the final notice JSON, signed, with `webhook-id` = delivery id.
///
/// Receivers deduplicate by `webhook-id`, so a retry (also after a coordinator crash)
/// carries the same id with a fresh timestamp and signature.
public struct WebhookAdapter: DeliveryAdapter {
    let client: any HTTPClient
    let secrets: Redacted<[SurfaceID: [UInt8]]>
    let timeout: Double
    let now: @Sendable () -> Date

    /// `secrets`: from `SurfaceRegistry.resolveSecrets(environment:)`.
    public init(
        client: any HTTPClient, secrets: [SurfaceID: [UInt8]], timeout: Double = 10, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.client = client
        self.secrets = Redacted(secrets)
        self.timeout = timeout
        self.now = now
    }

    public func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure? {
        let surface = delivery.surface
        guard let address = surface.address, let url = URL(string: address), ["http", "https"].contains(url.scheme?.lowercased() ?? "")
        else {
            return DeliveryFailure(.missingTarget, detail: "surface '\(surface.id)' has no usable http(s) address")
        }
        guard secrets.value[surface.id] != nil else {
            return DeliveryFailure(.permission, detail: "surface '\(surface.id)' has no resolved signing secret")
        }
        return nil
    }

    public func send(_ delivery: PreparedDelivery) async -> DeliveryFailure? {
        if let failure = await dryRun(delivery) { return failure }
        let surface = delivery.surface
        let signer = WebhookSigner(secret: secrets.value[surface.id] ?? [])
        let id = delivery.deliveryID.description
        let timestamp = Int64(now().timeIntervalSince1970.rounded(.down))
        let request = HTTPRequest(
            url: URL(string: surface.address ?? "")!,
            headers: [
                "content-type": "application/json",
                "webhook-id": id,
                "webhook-timestamp": String(timestamp),
                "webhook-signature": signer.signature(id: id, timestamp: timestamp, body: delivery.body),
                "user-agent": "bridgeback-coordinator",
            ],
            body: delivery.body, timeout: timeout)
        switch await client.post(request) {
        case .response(let status, let headers, _):
            if let redirect = HTTPRedirect.failure(status: status, headers: headers) { return redirect }
            return WebhookResponse.classify(status: status, headers: headers, now: now())
        case .notSent(let detail):
            return DeliveryFailure(.transport, detail: detail)
        case .mayHaveBeenSent(let detail):
            return DeliveryFailure(.unknownOutcome, detail: detail)
        }
    }
}

/// Maps a webhook receiver's HTTP answer into the failure taxonomy (nil = delivered).
public enum WebhookResponse {
    public static func classify(status: Int, headers: [String: String], now: Date) -> DeliveryFailure? {
        let retryAfter = headers.first { $0.key.lowercased() == "retry-after" }.flatMap { parseRetryAfter($0.value, now: now) }
        switch status {
        case 200..<300: return nil
        case 300..<400: return HTTPRedirect.failure(status: status, headers: headers)
        case 401, 403: return DeliveryFailure(.permission, detail: "HTTP \(status)")
        case 404: return DeliveryFailure(.missingTarget, detail: "HTTP 404")
        case 410: return DeliveryFailure(.missingTarget, detail: "HTTP 410: the endpoint asked to be disabled")
        case 413: return DeliveryFailure(.tooLarge, detail: "HTTP 413")
        case 429: return DeliveryFailure(.rateLimited(retryAfter: retryAfter), detail: "HTTP 429")
        case 502, 503, 504:
            // A throttling gateway that says when to come back is treated as a rate limit.
            if let retryAfter { return DeliveryFailure(.rateLimited(retryAfter: retryAfter), detail: "HTTP \(status)") }
            return DeliveryFailure(.transport, detail: "HTTP \(status)")
        case 400..<500: return DeliveryFailure(.invalidPayload, detail: "HTTP \(status)")
        default:
            // 500 and other server errors (and an unexpected 1xx): retry; the receiver dedups by webhook-id.
            return DeliveryFailure(.transport, detail: "HTTP \(status)")
        }
    }

    /// `Retry-After`: delta-seconds or an HTTP-date; nil if neither.
    public static func parseRetryAfter(_ value: String, now: Date) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed), seconds >= 0 { return seconds }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }
}
