public import BridgebackCore
public import Foundation

/// Slack: `chat.postMessage` with a bot token (`Authorization: Bearer xoxb-…`) to a channel id.
///
/// Slack answers most errors with HTTP 200 and `{"ok": false, "error": "<code>"}`, and
/// throttles with HTTP 429 and `Retry-After`. It takes no idempotency key, so an unknown
/// outcome (timeout, `internal_error`) becomes `uncertain` and is never re-sent.
public struct SlackAdapter: ChatAdapter {
    let chat: ChatHTTP

    /// `tokens`: from `SurfaceRegistry.resolveSecrets(environment:)` (the token's UTF-8 bytes).
    public init(
        client: any HTTPClient, tokens: [SurfaceID: [UInt8]], timeout: Double = 10, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        chat = ChatHTTP(client: client, tokens: Redacted(tokens), timeout: timeout, now: now)
    }

    public func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure? { checkWithoutSending(delivery) }

    public func send(_ delivery: PreparedDelivery) async -> DeliveryFailure? { await prepareAndPost(delivery) }

    static func fits(_ text: String) -> Bool { ChatHTTP.withinHardLimit(Self.escape(text), kind: .slack) }

    static func request(for message: ChatHTTP.Message, delivery: PreparedDelivery) -> (url: URL, headers: [String: String], body: JSONValue)
    {
        let url = message.apiBase.appendingPathComponent("chat.postMessage")
        let body: JSONValue = .object([
            "channel": .string(message.address),
            "text": .string(Self.escape(message.text)),
            "unfurl_links": .bool(false),
            "unfurl_media": .bool(false),
        ])
        return (url, ["authorization": "Bearer \(message.token)"], body)
    }

    /// Slack's mrkdwn needs `&`, `<` and `>` escaped; nothing else, so code fences still render.
    public static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Maps a `chat.postMessage` answer into the failure taxonomy (nil = posted).
    public static func classify(status: Int, headers: [String: String], json: JSONValue?, now: Date) -> DeliveryFailure? {
        let retryAfter = ChatHTTP.retryAfter(headers: headers, bodyValue: nil, now: now)
        let error = json?["error"]?.stringValue
        guard status == 200 else {
            let detail = "HTTP \(status)" + (error.map { ": \($0)" } ?? "")
            if let error, let kind = kind(of: error, retryAfter: retryAfter) { return DeliveryFailure(kind, detail: detail) }
            return ChatHTTP.classify(status: status, retryAfter: retryAfter, detail: detail)
        }
        guard let ok = json?["ok"]?.boolValue else {
            // 200 without Slack's JSON: something answered, nobody can say whether it posted.
            return DeliveryFailure(.unknownOutcome, detail: "HTTP 200 without Slack's {\"ok\": …} body")
        }
        if ok { return nil }
        let code = error ?? "unknown_error"
        return DeliveryFailure(kind(of: code, retryAfter: retryAfter) ?? .invalidPayload, detail: code)
    }

    /// Slack's documented `chat.postMessage` error codes; nil for codes not listed here.
    static func kind(of error: String, retryAfter: Double?) -> DeliveryFailureKind? {
        switch error {
        case "not_in_channel", "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
            "no_permission", "missing_scope", "access_denied", "ekm_access_denied", "restricted_action",
            "restricted_action_read_only_channel", "restricted_action_thread_only_channel",
            "restricted_action_non_threadable_channel", "team_access_not_granted", "not_allowed_token_type",
            "org_login_required", "enterprise_is_restricted", "is_inactive":
            return .permission
        case "channel_not_found", "is_archived", "user_not_found", "team_not_found":
            return .missingTarget
        case "msg_too_long", "msg_blocks_too_long":
            return .tooLarge
        case "ratelimited", "rate_limited", "message_limit_exceeded":
            return .rateLimited(retryAfter: retryAfter)
        case "service_unavailable", "request_timeout":
            // Slack did not take the request (overloaded, or the POST body arrived truncated).
            return .transport
        case "internal_error", "fatal_error":
            // Slack's docs: "it's possible some aspect of the operation succeeded".
            return .unknownOutcome
        case "no_text", "invalid_blocks", "invalid_arguments", "invalid_arg_name", "invalid_array_arg", "invalid_charset",
            "invalid_form_data", "invalid_post_type", "missing_post_type", "invalid_json", "json_not_object",
            "too_many_attachments", "invalid_attachments", "invalid_metadata_format", "invalid_metadata_schema",
            "metadata_too_large", "duplicate_channel_not_found", "duplicate_message_not_found":
            return .invalidPayload
        default:
            return nil
        }
    }
}
