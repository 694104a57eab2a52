@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Testing

@Suite("Adapters: webhook signing and status mapping, file lines")
struct AdapterTests {
    @Test("signature matches the Standard Webhooks published test vector")
    func standardWebhooksVector() throws {
        let key = try SigningSecret.decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", source: "test")
        let signature = WebhookSigner(secret: key).signature(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test("a webhook delivery carries id, timestamp, a verifying signature and the notice body")
    func webhookRequest() async throws {
        let h = try Harness()
        let contract = makeContract(final: "hooks:a", mode: .direct)
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        let request = try #require(h.http.requests.first)
        let id = try #require(request.headers["webhook-id"])
        let timestamp = try #require(request.headers["webhook-timestamp"].flatMap { Int64($0) })
        #expect(id == DeliveryID(job: contract.jobID, part: 1).description)
        #expect(abs(Double(timestamp) - Date().timeIntervalSince1970) < 60)
        let key = try SigningSecret.decode(Harness.secret, source: "test")
        #expect(
            request.headers["webhook-signature"] == WebhookSigner(secret: key).signature(id: id, timestamp: timestamp, body: request.body))
        #expect(request.url.absoluteString == "http://127.0.0.1:9/a")
        let notice = try decodeNotice(request.body)
        #expect(notice.jobID == contract.jobID)
        #expect((notice.part, notice.totalParts) == (1, 1))
        #expect(notice.text == "All 5 gates passed. Safe to ship.")
        #expect(notice.contextText.contains("You asked in Alice's terminal"))
    }

    @Test(
        "HTTP answers map into the failure taxonomy",
        arguments: [
            (200, [:], nil),
            (204, [:], nil),
            (401, [:], DeliveryFailureKind.permission),
            (403, [:], .permission),
            (404, [:], .missingTarget),
            (410, [:], .missingTarget),
            (413, [:], .tooLarge),
            (400, [:], .invalidPayload),
            (422, [:], .invalidPayload),
            (429, ["Retry-After": "30"], .rateLimited(retryAfter: 30)),
            (429, [:], .rateLimited(retryAfter: nil)),
            (503, ["retry-after": "12"], .rateLimited(retryAfter: 12)),
            (502, [:], .transport),
            (504, [:], .transport),
            (500, [:], .transport),
        ] as [(Int, [String: String], DeliveryFailureKind?)])
    func statusMapping(status: Int, headers: [String: String], kind: DeliveryFailureKind?) {
        #expect(WebhookResponse.classify(status: status, headers: headers, now: Date())?.kind == kind)
    }

    @Test("Retry-After as an HTTP date")
    func retryAfterDate() {
        let now = Date(timeIntervalSince1970: 1_445_412_470)  // 2015-10-21T07:27:50Z
        #expect(WebhookResponse.parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == 10)
        #expect(WebhookResponse.parseRetryAfter("soon", now: now) == nil)
    }

    @Test("transport errors: not sent → transport, maybe sent → unknown outcome")
    func httpTransport() async throws {
        let registry = try Harness.makeRegistry()
        let surface = try #require(registry["hooks:a"])
        let secrets = try registry.resolveSecrets(environment: [:])
        let delivery = PreparedDelivery(
            deliveryID: DeliveryID(job: JobID.make(), part: 1), totalParts: 1, surface: surface, body: Array("{}".utf8), attempt: 1)
        let refused = WebhookAdapter(client: FakeHTTPClient { _, _ in .notSent("connection refused") }, secrets: secrets)
        #expect(await refused.send(delivery)?.kind == .transport)
        let timeout = WebhookAdapter(client: FakeHTTPClient { _, _ in .mayHaveBeenSent("timeout after 10 s") }, secrets: secrets)
        #expect(await timeout.send(delivery)?.kind == .unknownOutcome)
        let noSecret = WebhookAdapter(client: FakeHTTPClient(), secrets: [:])
        #expect(await noSecret.dryRun(delivery)?.kind == .permission)
    }

    @Test("file adapter appends one JSON line per part; a missing directory is missing_target")
    func fileLines() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bb-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("finals.jsonl").path
        let surface = Surface(id: "file:log", kind: .file, address: path, humanName: "the log file")
        let adapter = FileAdapter()
        for part in 1...2 {
            let delivery = PreparedDelivery(
                deliveryID: DeliveryID(job: JobID.make(), part: part), totalParts: 2, surface: surface,
                body: Array(#"{"n":\#(part)}"#.utf8), attempt: 1)
            #expect(await adapter.dryRun(delivery) == nil)
            #expect(await adapter.send(delivery) == nil)
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\"n\":1}\n{\"n\":2}\n")
        let missing = Surface(id: "file:gone", kind: .file, address: dir.path + "/nope/finals.jsonl", humanName: "gone")
        let delivery = PreparedDelivery(
            deliveryID: DeliveryID(job: JobID.make(), part: 1), totalParts: 1, surface: missing, body: [], attempt: 1)
        #expect(await adapter.dryRun(delivery)?.kind == .missingTarget)
        #expect(await adapter.send(delivery)?.kind == .missingTarget)
    }
}
