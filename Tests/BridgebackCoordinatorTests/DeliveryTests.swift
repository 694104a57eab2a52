import BridgebackAMQP
@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Testing

@Suite("Delivery: retries, fallbacks, no head-of-line blocking, split parts")
struct DeliveryTests {
    @Test("direct-mode permission failure: exactly one fallback notice to the work surface, carrying the result")
    func directFallback() async throws {
        let http = FakeHTTPClient { _, _ in .response(status: 403, headers: [:]) }
        let h = try Harness(http: http)
        let contract = makeContract(final: "hooks:a", mode: .direct)
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "failed" })
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(http.requests.count == 1)  // permission is terminal: no retry
        let progress = h.publisher.messages(exchange: "bb.progress")
        #expect(progress.count == 1)
        #expect(progress.first?.routingKey == "work:alice")
        #expect(progress.first?.properties.messageID == DeliveryID(job: contract.jobID, part: 1, purpose: .fallback).description)
        let notice = try decodeNotice(progress[0].body)
        #expect(notice.text.contains("Could not deliver to receiver A: permission denied"))
        #expect(notice.text.contains("All 5 gates passed. Safe to ship."))
        let parts = try await h.ledger.parts(of: contract.jobID)
        #expect(parts.map(\.state.name) == ["failed", "delivered"])
        #expect(parts.first?.state.lastFailure?.kind == .permission)
        #expect(h.receipts.receipts.map(\.outcome) == [.failed])
        #expect(try await h.ledger.job(contract.jobID)?.finalDetail == "fallback notice to the work surface: delivered")
    }

    @Test("parent mode: a terminal failure is recorded, no fallback")
    func parentModeNoFallback() async throws {
        let publisher = FakePublisher { message in
            message.exchange == "bb.inbox" ? AMQPError(.unroutable, "returned") : nil
        }
        let h = try Harness(publisher: publisher)
        let contract = makeContract()
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "failed" })
        }
        #expect(publisher.messages.isEmpty)
        #expect(try await h.ledger.parts(of: contract.jobID).first?.state.lastFailure?.kind == .missingTarget)
    }

    @Test("a rate-limited surface does not block another job's delivery")
    func noHeadOfLineBlocking() async throws {
        let http = FakeHTTPClient { request, _ in
            request.url.path == "/a" ? .response(status: 429, headers: ["retry-after": "3600"]) : .response(status: 204, headers: [:])
        }
        let h = try Harness(http: http)
        let slow = makeContract(final: "hooks:a", mode: .direct)
        let fast = makeContract(final: "hooks:b", mode: .direct)
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(slow))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(slow.jobID)))
            #expect(try await eventually { try await h.ledger.parts(of: slow.jobID).first?.state.name == "retry_wait" })
            _ = try await h.coordinator.handleContract(body(fast))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(fast.jobID)))
            #expect(try await eventually(2) { try await h.ledger.outcome(fast.jobID) == "delivered" })
        }
        let slowPart = try #require(try await h.ledger.parts(of: slow.jobID).first)
        guard case .retryWait(_, let next, let failure) = slowPart.state else {
            Issue.record("slow part is \(slowPart.state.name)")
            return
        }
        #expect(failure.kind == .rateLimited(retryAfter: 3600))
        #expect(next.timeIntervalSinceNow > 3500)  // Retry-After honoured
    }

    @Test("transport failure then success: retried with the same webhook-id, fresh signature")
    func retrySameID() async throws {
        let http = FakeHTTPClient { _, previous in
            previous == 0 ? .response(status: 503, headers: [:]) : .response(status: 200, headers: [:])
        }
        let h = try Harness(http: http)
        let contract = makeContract(final: "hooks:a", mode: .direct)
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        let ids = http.requests.map { $0.headers["webhook-id"] }
        #expect(ids.count == 2)
        #expect(Set(ids).count == 1)
        #expect(ids.first == DeliveryID(job: contract.jobID, part: 1).description)
        #expect(try await h.ledger.parts(of: contract.jobID).first?.state.attempts == 2)
        // Receipts (docs/protocol.md) are for parts that did not certainly arrive: none here.
        #expect(h.receipts.receipts.isEmpty)
    }

    @Test("one 'waiting to retry' line per retry, however the wake-up falls")
    func oneLinePerRetry() async throws {
        let http = FakeHTTPClient { _, previous in
            previous < 3 ? .response(status: 503, headers: [:]) : .response(status: 200, headers: [:])
        }
        let captured = CapturedLines()
        var configuration = Harness.fastConfiguration
        configuration.retryPolicy = RetryPolicy(maxAttempts: 6, baseDelay: 0.0137, maxDelay: 0.0291, jitter: 0)
        let h = try Harness(http: http, configuration: configuration, logger: captured.logger)
        let contract = makeContract(final: "hooks:a", mode: .direct)
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        #expect(http.requests.count == 4)
        #expect(captured.count("send failed") == 3)
        #expect(captured.count("waiting to retry") == 3)
    }

    @Test("receipts: one for the part that failed, none for the later parts it abandoned")
    func receiptsForFailedNotAbandoned() async throws {
        let short = Surface(
            id: "hooks:short", kind: .webhook, address: "http://127.0.0.1:9/short", humanName: "a short receiver", maxLength: 400,
            signingSecret: .inline(Harness.secret))
        let http = FakeHTTPClient { _, _ in .response(status: 403, headers: [:]) }
        let h = try Harness(http: http, extraSurfaces: [short])
        let contract = makeContract(final: "hooks:short", mode: .parent)
        let result = (1...40).map { "Line \($0): all checks passed on host-\($0)." }.joined(separator: "\n")
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID, result: result)))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "failed" })
        }
        let parts = try await h.ledger.parts(of: contract.jobID)
        try #require(parts.count > 1)
        #expect(parts.allSatisfy { $0.state.name == "failed" })
        #expect(http.requests.count == 1)
        #expect(h.receipts.receipts.map(\.deliveryID) == [parts[0].deliveryID])
        #expect(h.receipts.receipts.first?.outcome == .failed)
    }

    @Test("a result longer than the surface arrives as ordered parts, each once")
    func splitParts() async throws {
        let h = try Harness()
        let contract = makeContract(final: "out:demo", mode: .direct)
        let result = (1...40).map { "Line \($0): all checks passed on host-\($0)." }.joined(separator: "\n")
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID, result: result)))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        let notices = try h.stdout.lines.map { try decodeNotice(Array($0.utf8.dropLast())) }
        #expect(notices.count > 1)
        #expect(notices.map(\.part) == Array(1...notices.count))
        #expect(Set(notices.map(\.deliveryID)).count == notices.count)
        #expect(FinalNotice.rejoin(notices) == result)
        for notice in notices { #expect(notice.rendered.utf8.count <= 400) }
    }
}
