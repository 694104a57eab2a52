@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Testing

/// Chat surfaces and helpers shared by the chat adapter tests.
enum Chat {
    static let environment = ["SLACK_BOT_TOKEN": "xoxb-1-secret", "TG_TOKEN": "123456:AAsecret", "DISCORD_TOKEN": "MTIz.secret"]

    static let surfaces: [Surface] = [
        Surface(
            id: "slack:ops", kind: .slack, address: "C0123ABCD", humanName: "#ops on Slack", directAllowed: true,
            token: .environment("SLACK_BOT_TOKEN"), apiBase: "http://127.0.0.1:9/slack"),
        Surface(
            id: "tg:ops", kind: .telegram, address: "-1001234567890", humanName: "the ops Telegram group", directAllowed: true,
            token: .environment("TG_TOKEN"), apiBase: "http://127.0.0.1:9/telegram"),
        Surface(
            id: "discord:ops", kind: .discord, address: "123456789012345678", humanName: "#ops on Discord", directAllowed: true,
            token: .environment("DISCORD_TOKEN"), apiBase: "http://127.0.0.1:9/discord"),
    ]

    static func surface(_ kind: SurfaceKind) -> Surface { surfaces.first { $0.kind == kind }! }

    static func adapter(_ kind: SurfaceKind, _ http: FakeHTTPClient, tokens: [SurfaceID: [UInt8]]? = nil) -> any DeliveryAdapter {
        let tokens = tokens ?? Dictionary(uniqueKeysWithValues: surfaces.map { ($0.id, Array(environment[tokenVariable($0)]!.utf8)) })
        switch kind {
        case .slack: return SlackAdapter(client: http, tokens: tokens)
        case .telegram: return TelegramAdapter(client: http, tokens: tokens)
        default: return DiscordAdapter(client: http, tokens: tokens)
        }
    }

    static func tokenVariable(_ surface: Surface) -> String {
        guard case .environment(let name)? = surface.token else { return "" }
        return name
    }

    /// Part 1 of a planned notice for `surface`, as the ledger would hand it to the adapter.
    static func delivery(_ surface: Surface, text: String = "All 5 gates passed. Safe to ship.", attempt: Int = 1) throws
        -> PreparedDelivery
    {
        let contract = makeContract(final: surface.id, mode: .direct)
        let decision = JobLifecycle.FinalDecision(kind: .result, text: text, completion: makeCompletion(contract.jobID))
        let notices = try FinalNoticePlanner.plan(
            contract: contract, decision: decision, surface: surface, originName: "Alice's terminal", createdAt: Date())
        return PreparedDelivery(
            deliveryID: notices[0].deliveryID, totalParts: notices.count, surface: surface, body: Array(try WireCodec.encode(notices[0])),
            attempt: attempt)
    }

    static func json(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func requestJSON(_ request: HTTPRequest) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
    }
}

/// One receiver answer, in the real API's shape, and the taxonomy kind it must map to.
struct ChatAnswer: Sendable, CustomTestStringConvertible {
    var kind: SurfaceKind
    var name: String
    var answer: HTTPResult
    var expected: DeliveryFailureKind?

    var testDescription: String { "\(kind.rawValue): \(name)" }

    init(_ kind: SurfaceKind, _ name: String, _ answer: HTTPResult, _ expected: DeliveryFailureKind?) {
        (self.kind, self.name, self.answer, self.expected) = (kind, name, answer, expected)
    }

    static func status(
        _ kind: SurfaceKind, _ status: Int, _ body: String, headers: [String: String] = [:], _ expected: DeliveryFailureKind?
    )
        -> ChatAnswer
    {
        ChatAnswer(kind, "HTTP \(status) \(body)", .response(status: status, headers: headers, body: Chat.json(body)), expected)
    }
}

@Suite("Chat adapters: Slack, Telegram and Discord answers map into the failure taxonomy")
struct ChatAdapterTests {
    static let answers: [ChatAnswer] = [
        // Slack chat.postMessage: errors under HTTP 200 as {"ok": false, "error": …}; 429 with Retry-After.
        .status(.slack, 200, #"{"ok":true,"channel":"C0123ABCD","ts":"1503435956.000247","message":{"text":"hi","type":"message"}}"#, nil),
        .status(.slack, 200, #"{"ok":false,"error":"not_in_channel"}"#, .permission),
        .status(.slack, 200, #"{"ok":false,"error":"invalid_auth"}"#, .permission),
        .status(.slack, 200, #"{"ok":false,"error":"missing_scope","needed":"chat:write","provided":"channels:read"}"#, .permission),
        .status(.slack, 200, #"{"ok":false,"error":"channel_not_found"}"#, .missingTarget),
        .status(.slack, 200, #"{"ok":false,"error":"is_archived"}"#, .missingTarget),
        .status(.slack, 200, #"{"ok":false,"error":"msg_too_long"}"#, .tooLarge),
        .status(.slack, 200, #"{"ok":false,"error":"no_text"}"#, .invalidPayload),
        .status(.slack, 200, #"{"ok":false,"error":"invalid_blocks"}"#, .invalidPayload),
        .status(.slack, 200, #"{"ok":false,"error":"some_future_error"}"#, .invalidPayload),
        .status(.slack, 429, #"{"ok":false,"error":"ratelimited"}"#, headers: ["Retry-After": "30"], .rateLimited(retryAfter: 30)),
        .status(.slack, 200, #"{"ok":false,"error":"rate_limited"}"#, .rateLimited(retryAfter: nil)),
        .status(.slack, 200, #"{"ok":false,"error":"service_unavailable"}"#, .transport),
        .status(.slack, 200, #"{"ok":false,"error":"internal_error"}"#, .unknownOutcome),
        .status(.slack, 200, "<html>hello from a proxy</html>", .unknownOutcome),
        .status(.slack, 500, "<html>500</html>", .unknownOutcome),
        .status(.slack, 503, "", .transport),
        ChatAnswer(.slack, "connection refused", .notSent("Could not connect to the server."), .transport),
        ChatAnswer(.slack, "timeout after the request was written", .mayHaveBeenSent("timeout after 10 s"), .unknownOutcome),

        // Telegram sendMessage: {"ok": false, "error_code": n, "description": …, "parameters": {…}}.
        .status(
            .telegram, 200,
            #"{"ok":true,"result":{"message_id":42,"chat":{"id":-1001234567890,"type":"supergroup"},"date":1700000000,"text":"hi"}}"#, nil),
        .status(.telegram, 403, #"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#, .permission),
        .status(
            .telegram, 403, #"{"ok":false,"error_code":403,"description":"Forbidden: bot was kicked from the supergroup chat"}"#,
            .permission),
        .status(.telegram, 401, #"{"ok":false,"error_code":401,"description":"Unauthorized"}"#, .permission),
        .status(
            .telegram, 400,
            #"{"ok":false,"error_code":400,"description":"Bad Request: not enough rights to send text messages to the chat"}"#, .permission),
        .status(.telegram, 400, #"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#, .missingTarget),
        .status(
            .telegram, 400,
            #"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001987654321}}"#,
            .missingTarget),
        .status(.telegram, 400, #"{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}"#, .tooLarge),
        .status(.telegram, 400, #"{"ok":false,"error_code":400,"description":"Bad Request: message text is empty"}"#, .invalidPayload),
        .status(
            .telegram, 429,
            #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 34","parameters":{"retry_after":34}}"#,
            .rateLimited(retryAfter: 34)),
        .status(.telegram, 502, "<html><head><title>502 Bad Gateway</title></head></html>", .unknownOutcome),
        ChatAnswer(.telegram, "DNS failure", .notSent("cannot find host"), .transport),
        ChatAnswer(.telegram, "timeout after the request was written", .mayHaveBeenSent("timeout after 10 s"), .unknownOutcome),

        // Discord create message: {"message": …, "code": n}; 429 with float retry_after and Retry-After.
        .status(.discord, 200, #"{"id":"1180000000000000000","channel_id":"123456789012345678","content":"hi","nonce":"x","type":0}"#, nil),
        .status(.discord, 403, #"{"message":"Missing Permissions","code":50013}"#, .permission),
        .status(.discord, 403, #"{"message":"Missing Access","code":50001}"#, .permission),
        .status(.discord, 401, #"{"message":"401: Unauthorized","code":0}"#, .permission),
        .status(.discord, 404, #"{"message":"Unknown Channel","code":10003}"#, .missingTarget),
        .status(
            .discord, 400,
            #"{"message":"Invalid Form Body","code":50035,"errors":{"content":{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH","message":"Must be 2000 or fewer in length."}]}}}"#,
            .tooLarge),
        .status(
            .discord, 400,
            #"{"message":"Invalid Form Body","code":50035,"errors":{"allowed_mentions":{"_errors":[{"code":"MODEL_TYPE_CONVERT","message":"Only dictionaries may be used in a ModelType"}]}}}"#,
            .invalidPayload),
        .status(.discord, 400, #"{"message":"Cannot send an empty message","code":50006}"#, .invalidPayload),
        .status(.discord, 413, #"{"message":"Request entity too large","code":40005}"#, .tooLarge),
        .status(
            .discord, 429, #"{"message":"You are being rate limited.","retry_after":64.57,"global":false}"#, headers: ["Retry-After": "65"],
            .rateLimited(retryAfter: 65)),
        .status(
            .discord, 429, #"{"message":"You are being rate limited.","retry_after":1.5,"global":true}"#, .rateLimited(retryAfter: 1.5)),
        .status(.discord, 500, #"{"message":"500: Internal Server Error","code":0}"#, .unknownOutcome),
        ChatAnswer(.discord, "connection refused", .notSent("Could not connect to the server."), .transport),
        ChatAnswer(.discord, "timeout after the request was written", .mayHaveBeenSent("timeout after 10 s"), .unknownOutcome),
    ]

    @Test("each real answer shape maps to its taxonomy kind", arguments: answers)
    func mapping(_ answer: ChatAnswer) async throws {
        let http = FakeHTTPClient { _, _ in answer.answer }
        let adapter = Chat.adapter(answer.kind, http)
        let delivery = try Chat.delivery(Chat.surface(answer.kind))
        #expect(await adapter.dryRun(delivery) == nil)
        let failure = await adapter.send(delivery)
        #expect(failure?.kind == answer.expected, "detail: \(failure?.detail ?? "")")
        #expect(http.requests.count == 1)
        if let failure { #expect(!failure.detail.isEmpty) }
    }

    @Test("every taxonomy kind is produced by every chat adapter")
    func everyKindCovered() {
        for kind in [SurfaceKind.slack, .telegram, .discord] {
            let names = Set(Self.answers.filter { $0.kind == kind }.compactMap { $0.expected?.name })
            #expect(
                names == ["permission", "missing_target", "rate_limited", "too_large", "invalid_payload", "transport", "unknown_outcome"],
                "\(kind.rawValue) covers \(names.sorted())")
        }
    }

    @Test("Slack request: chat.postMessage at api_base, Bearer token, channel id, escaped mrkdwn text")
    func slackRequest() async throws {
        let http = FakeHTTPClient { _, _ in .response(status: 200, headers: [:], body: Chat.json(#"{"ok":true}"#)) }
        let delivery = try Chat.delivery(Chat.surface(.slack), text: "if a < b && c > d:\n```\nx <- 1\n```")
        #expect(await Chat.adapter(.slack, http).send(delivery) == nil)
        let request = try #require(http.requests.first)
        #expect(request.url.absoluteString == "http://127.0.0.1:9/slack/chat.postMessage")
        #expect(request.headers["authorization"] == "Bearer xoxb-1-secret")
        #expect(request.headers["content-type"] == "application/json; charset=utf-8")
        let json = try Chat.requestJSON(request)
        #expect(json["channel"] as? String == "C0123ABCD")
        let text = try #require(json["text"] as? String)
        #expect(text.hasSuffix("if a &lt; b &amp;&amp; c &gt; d:\n```\nx &lt;- 1\n```"))
        #expect(text.contains("You asked in Alice's terminal"))
    }

    @Test("Telegram request: /bot<token>/sendMessage, chat id, plain text without parse_mode")
    func telegramRequest() async throws {
        let http = FakeHTTPClient { _, _ in .response(status: 200, headers: [:], body: Chat.json(#"{"ok":true,"result":{}}"#)) }
        let delivery = try Chat.delivery(Chat.surface(.telegram), text: "a < b & *not bold*")
        #expect(await Chat.adapter(.telegram, http).send(delivery) == nil)
        let request = try #require(http.requests.first)
        #expect(request.url.absoluteString == "http://127.0.0.1:9/telegram/bot123456:AAsecret/sendMessage")
        let json = try Chat.requestJSON(request)
        #expect(json["chat_id"] as? String == "-1001234567890")
        #expect((json["text"] as? String)?.hasSuffix("a < b & *not bold*") == true)
        #expect(json["parse_mode"] == nil)
    }

    @Test("Discord request: channel messages, Bot token, a 25-character nonce stable across attempts, enforce_nonce, no mentions")
    func discordRequest() async throws {
        let http = FakeHTTPClient { _, _ in .response(status: 200, headers: [:], body: Chat.json(#"{"id":"1"}"#)) }
        let adapter = Chat.adapter(.discord, http)
        let first = try Chat.delivery(Chat.surface(.discord), text: "@everyone the build is green")
        var second = first
        second.attempt = 2
        #expect(await adapter.send(first) == nil)
        #expect(await adapter.send(second) == nil)
        let requests = http.requests
        #expect(requests.count == 2)
        #expect(requests[0].url.absoluteString == "http://127.0.0.1:9/discord/channels/123456789012345678/messages")
        #expect(requests[0].headers["authorization"] == "Bot MTIz.secret")
        #expect(requests[0].headers["user-agent"]?.hasPrefix("DiscordBot (") == true)
        let json = try Chat.requestJSON(requests[0])
        let nonce = try #require(json["nonce"] as? String)
        #expect(nonce.count == 25)
        #expect(nonce == DiscordAdapter.nonce(for: first.deliveryID))
        #expect(try Chat.requestJSON(requests[1])["nonce"] as? String == nonce)
        #expect(json["enforce_nonce"] as? Bool == true)
        #expect((json["allowed_mentions"] as? [String: Any])?["parse"] as? [Any] != nil)
        #expect(((json["allowed_mentions"] as? [String: Any])?["parse"] as? [Any])?.isEmpty == true)
        let other = DeliveryID(job: first.deliveryID.job, part: 2)
        #expect(DiscordAdapter.nonce(for: other) != nonce)
    }

    @Test("dry-run: no resolved token is permission, text over Slack's hard limit after escaping is too_large; nothing is sent")
    func dryRunRefusals() async throws {
        let http = FakeHTTPClient()
        let noToken = Chat.adapter(.slack, http, tokens: [:])
        let delivery = try Chat.delivery(Chat.surface(.slack))
        #expect(await noToken.dryRun(delivery)?.kind == .permission)
        #expect(await noToken.send(delivery)?.kind == .permission)
        var big = Chat.surface(.slack)
        big.maxLength = 40_000
        let huge = try Chat.delivery(big, text: String(repeating: "<", count: 39_000))
        let failure = await Chat.adapter(.slack, http).dryRun(huge)
        #expect(failure?.kind == .tooLarge)
        #expect(failure?.detail.contains("40000") == true)
        #expect(http.requests.isEmpty)
    }

    @Test("the bot token never appears in a failure detail (Telegram carries it in the URL)")
    func tokenScrubbed() async throws {
        let http = FakeHTTPClient { request, _ in .mayHaveBeenSent("URLError -1001: timed out for \(request.url.absoluteString)") }
        let failure = try #require(await Chat.adapter(.telegram, http).send(try Chat.delivery(Chat.surface(.telegram))))
        #expect(failure.kind == .unknownOutcome)
        #expect(!failure.detail.contains("AAsecret"))
        #expect(failure.detail.contains("bot<token>/sendMessage"))
    }
}
