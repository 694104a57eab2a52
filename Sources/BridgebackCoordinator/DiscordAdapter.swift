public import BridgebackCore
import Crypto
public import Foundation

/// Discord: `POST {api_base}/channels/{channel id}/messages` with `Authorization: Bot <token>`.
///
/// Every part carries a `nonce` derived from its delivery id with `enforce_nonce: true`:
/// Discord then returns the already-created message instead of posting a second one, so a
/// retry after an unknown outcome is safe and Discord surfaces deduplicate by default.
/// `allowed_mentions` is empty, so a result quoting `@everyone` pings nobody.
public struct DiscordAdapter: ChatAdapter {
    let chat: ChatHTTP

    /// `tokens`: from `SurfaceRegistry.resolveSecrets(environment:)` (the token's UTF-8 bytes).
    public init(
        client: any HTTPClient, tokens: [SurfaceID: [UInt8]], timeout: Double = 10, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        chat = ChatHTTP(client: client, tokens: Redacted(tokens), timeout: timeout, now: now)
    }

    public func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure? { checkWithoutSending(delivery) }

    public func send(_ delivery: PreparedDelivery) async -> DeliveryFailure? { await prepareAndPost(delivery) }

    static func fits(_ text: String) -> Bool { ChatHTTP.withinHardLimit(text, kind: .discord) }

    static func request(for message: ChatHTTP.Message, delivery: PreparedDelivery) -> (url: URL, headers: [String: String], body: JSONValue)
    {
        let url = message.apiBase.appendingPathComponent("channels").appendingPathComponent(message.address)
            .appendingPathComponent("messages")
        let body: JSONValue = .object([
            "content": .string(message.text),
            "nonce": .string(Self.nonce(for: delivery.deliveryID)),
            "enforce_nonce": .bool(true),
            "allowed_mentions": .object(["parse": .array([])]),
        ])
        let headers = [
            "authorization": "Bot \(message.token)",
            // Discord requires this form of User-Agent for bots.
            "user-agent": "DiscordBot (https://github.com/bridgeback, 1)",
        ]
        return (url, headers, body)
    }

    /// Discord nonces hold at most 25 characters and delivery ids are longer: the first 25
    /// hex digits (100 bits) of the id's SHA-256. Same part, same nonce, on every attempt.
    public static func nonce(for id: DeliveryID) -> String {
        let digest = SHA256.hash(data: Array(id.description.utf8))
        return String(digest.map { String(format: "%02x", $0) }.joined().prefix(25))
    }

    /// Maps a create-message answer into the failure taxonomy (nil = posted, or an earlier
    /// post with the same nonce was returned).
    public static func classify(status: Int, headers: [String: String], json: JSONValue?, now: Date) -> DeliveryFailure? {
        if (200..<300).contains(status) { return nil }
        let code = json?["code"]?.numberValue.map { Int($0) }
        let text = json?["message"]?.stringValue ?? ""
        var detail = "HTTP \(status)" + (code.map { " code \($0)" } ?? "") + (text.isEmpty ? "" : ": \(text)")
        let retryAfter = ChatHTTP.retryAfter(headers: headers, bodyValue: json?["retry_after"]?.numberValue, now: now)
        switch (status, code) {
        case (429, _):
            if json?["global"]?.boolValue == true { detail += " (global limit)" }
            return DeliveryFailure(.rateLimited(retryAfter: retryAfter), detail: detail)
        case (_, 50013?), (_, 50001?), (_, 50007?), (_, 40002?):
            // Missing Permissions, Missing Access, cannot message this user, unverified bot (401 falls to the status).
            return DeliveryFailure(.permission, detail: detail)
        case (_, 10003?), (_, 10004?), (_, 10013?):
            // Unknown Channel, Unknown Guild, Unknown User.
            return DeliveryFailure(.missingTarget, detail: detail)
        case (_, 40005?):
            return DeliveryFailure(.tooLarge, detail: detail)
        case (400, 50035?):
            // Invalid Form Body; a content over the limit says BASE_TYPE_MAX_LENGTH under errors.content.
            if let errors = json?["errors"], Self.mentionsMaxLength(errors) {
                return DeliveryFailure(.tooLarge, detail: detail + " (content too long)")
            }
            return DeliveryFailure(.invalidPayload, detail: detail)
        default:
            return ChatHTTP.classify(status: status, retryAfter: retryAfter, detail: detail)
        }
    }

    private static func mentionsMaxLength(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text): text.contains("MAX_LENGTH")
        case .array(let items): items.contains(where: mentionsMaxLength)
        case .object(let fields): fields.values.contains(where: mentionsMaxLength)
        default: false
        }
    }
}
