import BridgebackCore
import Foundation

/// What the Slack, Telegram and Discord adapters share: reading the planned notice, the
/// checks a dry-run can make, one JSON POST, and the HTTP-level half of the error mapping.
/// Each adapter adds its API's own request shape and error codes.
struct ChatHTTP: Sendable {
    /// One message ready to post.
    struct Message: Sendable {
        var surface: Surface
        /// Channel or chat id from the registry (never from a request or a completion).
        var address: String
        var token: String
        var apiBase: URL
        /// What people see: the context lines, a blank line, the part's text.
        var text: String
    }

    /// A message ready to post, or why it cannot be (the dry-run's answer).
    enum Prepared: Sendable {
        case ready(Message)
        case refused(DeliveryFailure)
    }

    let client: any HTTPClient
    let tokens: Redacted<[SurfaceID: [UInt8]]>
    let timeout: Double
    let now: @Sendable () -> Date

    /// Everything checkable without sending. `fits` answers whether the text (as the API will
    /// count it, e.g. after Slack's escaping) is within the API's own limit.
    func prepare(_ delivery: PreparedDelivery, fits: (String) -> Bool) -> Prepared {
        let surface = delivery.surface
        let kind = surface.kind.rawValue
        guard let address = surface.address, !address.isEmpty else {
            return .refused(DeliveryFailure(.missingTarget, detail: "\(kind) surface '\(surface.id)' has no channel/chat id"))
        }
        guard let tokenBytes = tokens.value[surface.id], let token = String(validating: tokenBytes, as: UTF8.self), !token.isEmpty else {
            return .refused(DeliveryFailure(.permission, detail: "\(kind) surface '\(surface.id)' has no resolved bot token"))
        }
        let base = surface.apiBase ?? surface.kind.defaultAPIBase ?? ""
        guard let apiBase = URL(string: base), ["http", "https"].contains(apiBase.scheme?.lowercased() ?? "") else {
            return .refused(DeliveryFailure(.missingTarget, detail: "\(kind) surface '\(surface.id)' has no usable api_base '\(base)'"))
        }
        let notice: FinalNotice
        do {
            notice = try WireCodec.decode(FinalNotice.self, from: Data(delivery.body))
        } catch {
            return .refused(DeliveryFailure(.invalidPayload, detail: "the stored notice does not decode: \(error.message)"))
        }
        let text = notice.rendered
        guard fits(text) else {
            let limit = surface.kind.hardMaxLength.map { " (limit \($0) \(surface.kind.defaultLengthUnit.rawValue))" } ?? ""
            return .refused(
                DeliveryFailure(.tooLarge, detail: "part \(notice.part)/\(notice.totalParts) exceeds the \(kind) limit\(limit)"))
        }
        return .ready(Message(surface: surface, address: address, token: token, apiBase: apiBase, text: text))
    }

    /// The body as the API would count it fits its hard limit, in the API's own unit.
    static func withinHardLimit(_ text: String, kind: SurfaceKind) -> Bool {
        guard let hard = kind.hardMaxLength else { return true }
        return kind.defaultLengthUnit.measure(text) <= hard
    }

    /// What became of one POST.
    enum Outcome: Sendable {
        case answered(status: Int, headers: [String: String], json: JSONValue?)
        case failed(DeliveryFailure)
    }

    /// POSTs `json`. A request that may have reached the API is `unknown_outcome`; one that
    /// certainly did not is `transport`. The token is scrubbed from every detail (Telegram
    /// carries it in the URL, and URL errors quote the URL).
    func post(_ url: URL, headers: [String: String], json: JSONValue, token: String) async -> Outcome {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let body = try? encoder.encode(json) else {
            return .failed(DeliveryFailure(.invalidPayload, detail: "the request body does not encode as JSON"))
        }
        var allHeaders = headers
        allHeaders["content-type"] = "application/json; charset=utf-8"
        allHeaders["user-agent"] = allHeaders["user-agent"] ?? "bridgeback-coordinator"
        let request = HTTPRequest(url: url, headers: allHeaders, body: Array(body), timeout: timeout)
        switch await client.post(request) {
        case .response(let status, let headers, let body):
            var lowered: [String: String] = [:]
            for (name, value) in headers { lowered[name.lowercased()] = value }
            return .answered(status: status, headers: lowered, json: try? JSONDecoder().decode(JSONValue.self, from: Data(body)))
        case .notSent(let detail):
            return .failed(DeliveryFailure(.transport, detail: Self.scrub(detail, token: token)))
        case .mayHaveBeenSent(let detail):
            return .failed(DeliveryFailure(.unknownOutcome, detail: Self.scrub(detail, token: token)))
        }
    }

    static func scrub(_ text: String, token: String) -> String {
        token.isEmpty ? text : text.replacingOccurrences(of: token, with: "<token>")
    }

    /// The status-only mapping, for answers the API's own codes do not settle.
    ///
    /// Unlike a webhook, a chat API cannot deduplicate, so a server error that may come after
    /// the message was stored (500, 502, 504) is `unknown_outcome`; 503 means the request was
    /// not taken and is `transport` (or `rate_limited` when it says when to come back).
    static func classify(status: Int, retryAfter: Double?, detail: String) -> DeliveryFailure? {
        switch status {
        case 200..<300: return nil
        case 401, 403: return DeliveryFailure(.permission, detail: detail)
        case 404, 410: return DeliveryFailure(.missingTarget, detail: detail)
        case 413: return DeliveryFailure(.tooLarge, detail: detail)
        case 429: return DeliveryFailure(.rateLimited(retryAfter: retryAfter), detail: detail)
        case 503:
            if let retryAfter { return DeliveryFailure(.rateLimited(retryAfter: retryAfter), detail: detail) }
            return DeliveryFailure(.transport, detail: detail)
        case 400..<500: return DeliveryFailure(.invalidPayload, detail: detail)
        default: return DeliveryFailure(.unknownOutcome, detail: detail)
        }
    }

    /// The longest wait any of the receiver's hints asks for (`Retry-After` header, body field).
    static func retryAfter(headers: [String: String], bodyValue: Double?, now: Date) -> Double? {
        let header = headers["retry-after"].flatMap { WebhookResponse.parseRetryAfter($0, now: now) }
        let hints = [header, bodyValue.flatMap { $0 >= 0 ? $0 : nil }].compactMap { $0 }
        return hints.max()
    }
}

extension JSONValue {
    subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }
}

/// The dry-run/send skeleton the Slack, Telegram and Discord adapters share. Each says only
/// how its API counts a text, the request it takes, and how it answers.
protocol ChatAdapter: DeliveryAdapter {
    var chat: ChatHTTP { get }
    /// Whether the text fits the API's own limit, counted as the API counts it.
    static func fits(_ text: String) -> Bool
    /// The request that posts `message`: URL, headers beyond content type, JSON body.
    static func request(for message: ChatHTTP.Message, delivery: PreparedDelivery) -> (url: URL, headers: [String: String], body: JSONValue)
    /// Maps the API's answer into the failure taxonomy (nil = posted).
    static func classify(status: Int, headers: [String: String], json: JSONValue?, now: Date) -> DeliveryFailure?
}

extension ChatAdapter {
    /// Everything a dry-run can check, without sending.
    func checkWithoutSending(_ delivery: PreparedDelivery) -> DeliveryFailure? {
        if case .refused(let failure) = chat.prepare(delivery, fits: Self.fits) { return failure }
        return nil
    }

    /// The same checks, then one POST and its classification.
    func prepareAndPost(_ delivery: PreparedDelivery) async -> DeliveryFailure? {
        let message: ChatHTTP.Message
        switch chat.prepare(delivery, fits: Self.fits) {
        case .refused(let failure): return failure
        case .ready(let prepared): message = prepared
        }
        let request = Self.request(for: message, delivery: delivery)
        switch await chat.post(request.url, headers: request.headers, json: request.body, token: message.token) {
        case .failed(let failure): return failure
        case .answered(let status, let headers, let json):
            if let redirect = HTTPRedirect.failure(status: status, headers: headers) { return redirect }
            return Self.classify(status: status, headers: headers, json: json, now: chat.now())
        }
    }
}
