public import BridgebackCore
public import Foundation

/// Telegram: Bot API `sendMessage` (`POST {api_base}/bot<token>/sendMessage`) to a chat id.
///
/// Sent as plain text (no `parse_mode`), so a result needs no escaping and its length is
/// what Telegram counts: 4,096 UTF-16 units. Errors come as `{"ok": false, "error_code": n,
/// "description": "…", "parameters": {"retry_after": s}}`. No idempotency key exists, so an
/// unknown outcome becomes `uncertain` and is never re-sent.
public struct TelegramAdapter: ChatAdapter {
    let chat: ChatHTTP

    /// `tokens`: from `SurfaceRegistry.resolveSecrets(environment:)` (the token's UTF-8 bytes).
    public init(
        client: any HTTPClient, tokens: [SurfaceID: [UInt8]], timeout: Double = 10, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        chat = ChatHTTP(client: client, tokens: Redacted(tokens), timeout: timeout, now: now)
    }

    public func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure? { checkWithoutSending(delivery) }

    public func send(_ delivery: PreparedDelivery) async -> DeliveryFailure? { await prepareAndPost(delivery) }

    static func fits(_ text: String) -> Bool { ChatHTTP.withinHardLimit(text, kind: .telegram) }

    static func request(for message: ChatHTTP.Message, delivery: PreparedDelivery) -> (url: URL, headers: [String: String], body: JSONValue)
    {
        let url = message.apiBase.appendingPathComponent("bot\(message.token)").appendingPathComponent("sendMessage")
        let body: JSONValue = .object([
            "chat_id": .string(message.address),
            "text": .string(message.text),
            "link_preview_options": .object(["is_disabled": .bool(true)]),
        ])
        return (url, [:], body)
    }

    /// Maps a `sendMessage` answer into the failure taxonomy (nil = sent).
    public static func classify(status: Int, headers: [String: String], json: JSONValue?, now: Date) -> DeliveryFailure? {
        let parameters = json?["parameters"]
        let retryAfter = ChatHTTP.retryAfter(headers: headers, bodyValue: parameters?["retry_after"]?.numberValue, now: now)
        if status == 200 {
            guard let ok = json?["ok"]?.boolValue else {
                return DeliveryFailure(.unknownOutcome, detail: "HTTP 200 without Telegram's {\"ok\": …} body")
            }
            if ok { return nil }
        }
        // Telegram's error_code mirrors the HTTP status; prefer it when present.
        let code = json?["error_code"]?.numberValue.map { Int($0) } ?? status
        let description = json?["description"]?.stringValue ?? ""
        let detail = description.isEmpty ? "HTTP \(code)" : "\(code) \(description)"
        let lowered = description.lowercased()
        switch code {
        case 429:
            return DeliveryFailure(.rateLimited(retryAfter: retryAfter), detail: detail)
        case 401, 403:
            // Unauthorized (bad token); Forbidden: bot was blocked by the user / kicked / not a member.
            return DeliveryFailure(.permission, detail: detail)
        case 404:
            // sendMessage itself exists, so a 404 means the token in the URL is not a bot's.
            return DeliveryFailure(.permission, detail: detail + " (Telegram answers 404 to an invalid bot token)")
        case 400:
            if let newChat = parameters?["migrate_to_chat_id"]?.numberValue {
                return DeliveryFailure(
                    .missingTarget, detail: detail + "; the group is now chat \(Int64(newChat)): update the surface's address")
            }
            if lowered.contains("chat not found") || lowered.contains("user not found") || lowered.contains("peer_id_invalid") {
                return DeliveryFailure(.missingTarget, detail: detail)
            }
            if lowered.contains("message is too long") || lowered.contains("text is too long") {
                return DeliveryFailure(.tooLarge, detail: detail)
            }
            if lowered.contains("not enough rights") || lowered.contains("have no rights") || lowered.contains("chat_write_forbidden")
                || lowered.contains("need administrator rights")
            {
                return DeliveryFailure(.permission, detail: detail)
            }
            return DeliveryFailure(.invalidPayload, detail: detail)
        default:
            return ChatHTTP.classify(status: code == 200 ? 400 : code, retryAfter: retryAfter, detail: detail)
        }
    }
}
