import BridgebackCoordinator
import Foundation
import Testing

@testable import BridgebackReceiver

@Suite("Webhook receiver")
struct WebhookReceiverTests {
    let signer = WebhookSigner(secret: Array("0123456789abcdef0123456789abcdef".utf8))
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let body = Array(#"{"kind":"result"}"#.utf8)

    func check(id: String? = "msg_1", timestamp: String? = "1800000000", signatures: String?) -> WebhookVerification.Verdict {
        WebhookVerification.check(
            id: id, timestamp: timestamp, signatures: signatures, body: body, signer: signer, tolerance: 300, now: now)
    }

    @Test func aSignedDeliveryIsAccepted() {
        let good = signer.signature(id: "msg_1", timestamp: 1_800_000_000, body: body)
        #expect(check(signatures: good) == .accepted(id: "msg_1"))
        // Key rotation: any one of several space-separated signatures may match.
        #expect(check(signatures: "v1,c3RhbGU= " + good) == .accepted(id: "msg_1"))
    }

    @Test func forgedStaleOrIncompleteDeliveriesAreRejected() {
        let good = signer.signature(id: "msg_1", timestamp: 1_800_000_000, body: body)
        #expect(check(signatures: "v1,c3RhbGU=") == .rejected("no webhook-signature matches"))
        #expect(check(id: "msg_2", signatures: good) == .rejected("no webhook-signature matches"))
        #expect(
            check(timestamp: "1799999000", signatures: good) == .rejected("webhook-timestamp 1799999000 is outside the 300 s tolerance"))
        #expect(check(id: nil, signatures: good) == .rejected("missing webhook-id, webhook-timestamp or webhook-signature"))
        #expect(check(timestamp: "soon", signatures: good) == .rejected("missing webhook-id, webhook-timestamp or webhook-signature"))
    }

    @Test func theJournalDeduplicatesAcrossRestarts() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bb-receiver-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try ReceiverJournal(path: path, printLines: false)
        #expect(try await first.record(id: "msg_1", body: body) == false)
        #expect(try await first.record(id: "msg_1", body: body) == true)
        let restarted = try ReceiverJournal(path: path, printLines: false)
        #expect(try await restarted.record(id: "msg_1", body: body) == true)
        #expect(try await restarted.record(id: "msg_2", body: body) == false)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines.filter { $0.contains(#""duplicate":true"#) }.count == 2)
    }

    @Test func theKeyComesFromTheFlagOrTheEnvironmentOrItIsAClearError() throws {
        let key = try WebhookReceiver.resolveKey(
            secret: nil, surfaces: nil, surface: nil,
            environment: ["BRIDGEBACK_RECEIVER_SECRET": "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="])
        #expect(key == Array("0123456789abcdef0123456789abcdef".utf8))
        #expect(throws: ReceiverError.self) {
            try WebhookReceiver.resolveKey(secret: "nope", surfaces: nil, surface: nil, environment: [:])
        }
        do {
            _ = try WebhookReceiver.resolveKey(secret: nil, surfaces: nil, surface: nil, environment: [:])
            Issue.record("no secret was accepted")
        } catch let error as ReceiverError {
            #expect(error.kind == .noSecret)
            #expect(error.message.hasPrefix("no signing secret: pass --secret whsec_…"))
        }
    }
}
