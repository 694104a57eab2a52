@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Synchronization
import Testing

/// A fake Discord channel that behaves like the real one for `enforce_nonce`: a repeated
/// nonce returns the message already created instead of creating another.
final class FakeDiscordChannel: Sendable {
    struct Message: Sendable { var nonce: String; var content: String }
    private let state = Mutex<(messages: [Message], calls: Int)>(([], 0))
    /// Call numbers (1-based) whose message is stored but whose answer is "lost" (a timeout).
    private let loseAnswerTo: Set<Int>

    init(loseAnswerTo: Set<Int> = []) { self.loseAnswerTo = loseAnswerTo }

    func answer(_ request: HTTPRequest) -> HTTPResult {
        guard let json = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
            let nonce = json["nonce"] as? String, let content = json["content"] as? String, json["enforce_nonce"] as? Bool == true
        else { return .response(status: 400, headers: [:], body: Array(#"{"message":"Invalid Form Body","code":50035}"#.utf8)) }
        let call = state.withLock { state -> Int in
            state.calls += 1
            if !state.messages.contains(where: { $0.nonce == nonce }) { state.messages.append(Message(nonce: nonce, content: content)) }
            return state.calls
        }
        if loseAnswerTo.contains(call) { return .mayHaveBeenSent("timeout after 10 s") }
        return .response(status: 200, headers: [:], body: Array(#"{"id":"1","nonce":"\#(nonce)"}"#.utf8))
    }

    var messages: [Message] { state.withLock { $0.messages } }
}

@Suite("Chat delivery through the coordinator: retries, fallback, split parts, uncertain, no head-of-line blocking")
struct ChatDeliveryTests {
    func harness(http: FakeHTTPClient, configuration: CoordinatorConfiguration = Harness.fastConfiguration) throws -> Harness {
        try Harness(http: http, configuration: configuration, extraSurfaces: Chat.surfaces, environment: Chat.environment)
    }

    static let permissionAnswers: [ChatAnswer] = [
        .status(.slack, 200, #"{"ok":false,"error":"not_in_channel"}"#, .permission),
        .status(.telegram, 403, #"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#, .permission),
        .status(.discord, 403, #"{"message":"Missing Permissions","code":50013}"#, .permission),
    ]

    @Test(
        "direct mode, permission denied by the chat API: one request, exactly one fallback notice to the work surface",
        arguments: permissionAnswers)
    func permissionFallback(_ answer: ChatAnswer) async throws {
        let http = FakeHTTPClient { _, _ in answer.answer }
        let h = try harness(http: http)
        let contract = makeContract(final: Chat.surface(answer.kind).id, mode: .direct)
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))  // a duplicate changes nothing
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "failed" })
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(http.requests.count == 1)  // permission is terminal
        let progress = h.publisher.messages(exchange: "bb.progress")
        #expect(progress.count == 1)
        #expect(progress.first?.routingKey == "work:alice")
        let notice = try decodeNotice(try #require(progress.first).body)
        #expect(notice.deliveryID == DeliveryID(job: contract.jobID, part: 1, purpose: .fallback))
        #expect(notice.text.contains("Could not deliver to \(Chat.surface(answer.kind).humanName): permission denied"))
        #expect(notice.text.contains("All 5 gates passed. Safe to ship."))
        #expect(h.receipts.receipts.map(\.outcome) == [.failed])
        #expect(try await h.ledger.parts(of: contract.jobID).map(\.state.name) == ["failed", "delivered"])
    }

    static let rateLimits: [ChatAnswer] = [
        .status(.slack, 429, #"{"ok":false,"error":"ratelimited"}"#, headers: ["Retry-After": "30"], .rateLimited(retryAfter: 30)),
        .status(
            .telegram, 429,
            #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 34","parameters":{"retry_after":34}}"#,
            .rateLimited(retryAfter: 34)),
        .status(
            .discord, 429, #"{"message":"You are being rate limited.","retry_after":64.57,"global":false}"#, .rateLimited(retryAfter: 64.57)
        ),
    ]

    @Test("429: the next attempt is scheduled no sooner than the receiver's retry-after (injected clock)", arguments: rateLimits)
    func retryAfterHonoured(_ answer: ChatAnswer) async throws {
        let start = Date()
        var configuration = Harness.fastConfiguration
        configuration.now = { start }
        let http = FakeHTTPClient { _, _ in answer.answer }
        let h = try harness(http: http, configuration: configuration)
        let contract = makeContract(final: Chat.surface(answer.kind).id, mode: .direct)
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            #expect(try await eventually { try await h.ledger.parts(of: contract.jobID).first?.state.name == "retry_wait" })
        }
        let part = try #require(try await h.ledger.parts(of: contract.jobID).first)
        guard case .retryWait(let attempts, let next, let failure) = part.state, case .rateLimited(let after?) = answer.expected else {
            Issue.record("part is \(part.state.name)")
            return
        }
        #expect(attempts == 1 && http.requests.count == 1)
        #expect(failure.kind == answer.expected)
        // The policy's own backoff here is 0.01 s: the receiver's wait wins, to the millisecond.
        #expect(abs(next.timeIntervalSince(start) - after) < 0.001)
        var machine = DeliveryStateMachine(
            restoring: part.state, deliveryID: part.deliveryID, receiverDeduplicates: part.receiverDeduplicates,
            retryPolicy: configuration.retryPolicy)
        #expect(try machine.retryDue(now: start.addingTimeInterval(after - 1)) == .wait(until: next))
        #expect(try machine.retryDue(now: next) == .runDryRun)
    }

    @Test("Discord 429 with a short retry_after, then success: delivered once, same nonce on the retry")
    func rateLimitedThenDelivered() async throws {
        let channel = FakeDiscordChannel()
        let http = FakeHTTPClient { request, previous in
            previous == 0
                ? .response(
                    status: 429, headers: [:],
                    body: Array(#"{"message":"You are being rate limited.","retry_after":0.05,"global":false}"#.utf8))
                : channel.answer(request)
        }
        let h = try harness(http: http)
        let contract = makeContract(final: "discord:ops", mode: .direct)
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        #expect(http.requests.count == 2)
        let nonces = try http.requests.map { try Chat.requestJSON($0)["nonce"] as? String }
        #expect(Set(nonces).count == 1)
        #expect(channel.messages.count == 1)
        #expect(try await h.ledger.parts(of: contract.jobID).first?.state.attempts == 2)
    }

    /// About 20,000 characters of prose and fenced code blocks (each block well under 2,000).
    static func longResultWithCode() -> String {
        var text = ""
        var section = 0
        while text.count < 20_000 {
            section += 1
            text += "## Gate \(section)\n\nThe gate checked the service's health endpoints, its error budget and the canary's latency. "
            text += String(repeating: "Everything stayed within bounds for this gate. ", count: 4) + "\n\n"
            text += "```swift\n"
            for line in 1...(6 + section % 9) { text += "let check\(section)_\(line) = try await gate.run(step: \(line)) // ok\n" }
            text += "```\n\n"
        }
        return text + "All gates passed."
    }

    @Test("a 20,000-character result to Discord (2,000): ordered parts, each posted exactly once, no code block split")
    func longResultToDiscord() async throws {
        let result = Self.longResultWithCode()
        #expect(result.count >= 20_000)
        // The answer to the 3rd post is lost after Discord stored it: the retry reuses the nonce.
        let channel = FakeDiscordChannel(loseAnswerTo: [3])
        let http = FakeHTTPClient { request, _ in channel.answer(request) }
        let h = try harness(http: http)
        let contract = makeContract(final: "discord:ops", mode: .direct)
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID, result: result)))
            #expect(try await eventually(10) { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        let parts = try await h.ledger.parts(of: contract.jobID)
        let notices = try parts.map { try decodeNotice($0.body) }
        #expect(notices.count >= 10)
        #expect(notices.map(\.part) == Array(1...notices.count))
        #expect(parts.allSatisfy { $0.state.name == "delivered" })
        #expect(parts[2].state.attempts == 2)  // the lost answer: re-sent, deduplicated by nonce
        #expect(http.requests.count == notices.count + 1)
        // The channel holds each part exactly once, in order, each within Discord's 2,000.
        let posted = channel.messages
        #expect(posted.map(\.content) == notices.map(\.rendered))
        #expect(posted.map(\.nonce) == notices.map { DiscordAdapter.nonce(for: $0.deliveryID) })
        for message in posted { #expect(message.content.unicodeScalars.count <= 2_000) }
        #expect(FinalNotice.rejoin(notices) == result)
        // No part splits a code block: no fence was closed and reopened, every part's fences
        // pair up, and every block of the original lies whole inside one part.
        for notice in notices {
            #expect(notice.addedPrefix.isEmpty && notice.addedSuffix.isEmpty)
            #expect(notice.text.components(separatedBy: "\n").filter { $0.hasPrefix("```") }.count % 2 == 0)
        }
        let blocks = result.components(separatedBy: "```swift\n").dropFirst().map {
            "```swift\n" + $0.components(separatedBy: "```\n")[0] + "```\n"
        }
        #expect(blocks.count > 10)
        for block in blocks { #expect(notices.contains { $0.text.contains(block) }, "block split: \(block.prefix(40))") }
    }

    static let unknownOutcomes: [ChatAnswer] = [
        ChatAnswer(.slack, "timeout after the request was written", .mayHaveBeenSent("timeout after 10 s"), .unknownOutcome),
        .status(.slack, 200, #"{"ok":false,"error":"internal_error"}"#, .unknownOutcome),
        .status(.telegram, 502, "<html>502 Bad Gateway</html>", .unknownOutcome),
    ]

    @Test(
        "unknown outcome at a receiver that cannot deduplicate: not re-sent, recorded uncertain, the parent told",
        arguments: unknownOutcomes)
    func uncertainNotResent(_ answer: ChatAnswer) async throws {
        let http = FakeHTTPClient { _, _ in answer.answer }
        let h = try harness(http: http)
        let contract = makeContract(final: Chat.surface(answer.kind).id, mode: .direct)
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "uncertain" })
            try await Task.sleep(for: .milliseconds(100))  // room for a wrong retry (the policy's backoff is 0.01 s)
        }
        #expect(http.requests.count == 1)
        let part = try #require(try await h.ledger.parts(of: contract.jobID).first)
        #expect(part.state.name == "uncertain")
        #expect(!part.receiverDeduplicates)
        #expect(part.state.lastFailure?.kind == .unknownOutcome)
        let receipt = try #require(h.receipts.receipts.first)
        #expect(h.receipts.receipts.count == 1)
        #expect(receipt.outcome == .uncertain && receipt.failure?.kind == .unknownOutcome)
        #expect(h.publisher.messages(exchange: "bb.progress").isEmpty)  // uncertain is not failed: no fallback copy
    }

    @Test("a rate-limited Slack surface does not block other jobs to Telegram and Discord")
    func noHeadOfLineBlocking() async throws {
        let channel = FakeDiscordChannel()
        let http = FakeHTTPClient { request, _ in
            switch request.url.path {
            case let path where path.hasPrefix("/slack"):
                .response(status: 429, headers: ["Retry-After": "3600"], body: Array(#"{"ok":false,"error":"ratelimited"}"#.utf8))
            case let path where path.hasPrefix("/discord"):
                channel.answer(request)
            default:
                .response(status: 200, headers: [:], body: Array(#"{"ok":true,"result":{"message_id":1}}"#.utf8))
            }
        }
        let h = try harness(http: http)
        let slow = makeContract(final: "slack:ops", mode: .direct)
        let fast = [makeContract(final: "tg:ops", mode: .direct), makeContract(final: "discord:ops", mode: .direct)]
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(slow))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(slow.jobID)))
            #expect(try await eventually { try await h.ledger.parts(of: slow.jobID).first?.state.name == "retry_wait" })
            for contract in fast {
                _ = try await h.coordinator.handleContract(body(contract))
                _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            }
            for contract in fast { #expect(try await eventually(2) { try await h.ledger.outcome(contract.jobID) == "delivered" }) }
        }
        let slowPart = try #require(try await h.ledger.parts(of: slow.jobID).first)
        guard case .retryWait(_, let next, let failure) = slowPart.state else {
            Issue.record("slow part is \(slowPart.state.name)")
            return
        }
        #expect(failure.kind == .rateLimited(retryAfter: 3600))
        #expect(next.timeIntervalSinceNow > 3500)
        #expect(http.requests.filter { $0.url.path.hasPrefix("/slack") }.count == 1)
        #expect(channel.messages.count == 1)
    }
}
