import Foundation
import Testing
import BridgebackCore

@Suite struct WireCodecTests {
    func object(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func roundTrip<M: WireMessage & Equatable>(_ message: M) throws -> [String: Any] {
        let data = try WireCodec.encode(message)
        #expect(try WireCodec.decode(M.self, from: data) == message)
        let json = try object(data)
        #expect(json["schema"] as? String == M.schema.description)
        for key in json.keys { #expect(key == key.lowercased(), "key \(key) is not snake_case") }
        return json
    }

    @Test func contractRoundTrips() throws {
        let json = try roundTrip(try Fixtures.contract())
        #expect(json["schema"] as? String == "bridgeback.contract.v1")
        #expect(json["final_surface"] as? String == "cli:alice")
        #expect(json["delivery_mode"] as? String == "parent")
        #expect((json["deadline"] as? String)?.hasSuffix("Z") == true)
        let recipe = try #require(json["recipe"] as? [String: Any])
        #expect((recipe["params"] as? [String: Any])?["canary"] as? Bool == true)
    }

    @Test func jobProgressReceiptFinalRoundTrip() throws {
        let contract = try Fixtures.contract()
        let job = try roundTrip(JobMessage(contract: contract, pool: "gates"))
        #expect(job["final_surface"] == nil && job["work_surface"] as? String == "work:alice")
        _ = try roundTrip(
            ProgressEvent(
                jobID: Fixtures.jobID, workSurface: "work:alice", sequence: 3, phase: .running, message: "step 2/5", fraction: 0.4,
                worker: "w1", at: Fixtures.now))
        _ = try roundTrip(
            DeliveryReceipt(
                deliveryID: DeliveryID(job: Fixtures.jobID, part: 2), totalParts: 3, surface: "hooks:local", outcome: .uncertain,
                attempts: 1, failure: DeliveryFailure(.unknownOutcome, detail: "timeout"), at: Fixtures.now))
        let context = HumanContext(contract: contract, completion: Fixtures.completion(), kind: .result, originName: "Alice's terminal")
        let final = try roundTrip(
            FinalNotice(
                deliveryID: DeliveryID(job: Fixtures.jobID, part: 1), kind: .result, totalParts: 1, text: "all green", context: context,
                origin: "cli:alice", finalSurface: "cli:alice", deliveryMode: .parent, createdAt: Fixtures.now))
        #expect(final["schema"] as? String == "bridgeback.final.v1")
        #expect(final["full_result"] as? String == "GET /v1/jobs/\(Fixtures.jobID)/result")
    }

    @Test(arguments: [CompletionOutcome.succeeded(result: "ok"), .failed(reason: "exit 2"), .cancelled])
    func completionOutcomesRoundTrip(_ outcome: CompletionOutcome) throws {
        let json = try roundTrip(Fixtures.completion(outcome))
        let encoded = try #require(json["outcome"] as? [String: Any])
        #expect(["succeeded", "failed", "cancelled"].contains(encoded["status"] as? String ?? ""))
    }

    @Test func failureKindsRoundTrip() throws {
        let kinds: [DeliveryFailureKind] = [
            .permission, .missingTarget, .rateLimited(retryAfter: 30), .rateLimited(retryAfter: nil), .tooLarge, .invalidPayload,
            .transport, .unknownOutcome,
        ]
        for kind in kinds {
            let failure = DeliveryFailure(kind, detail: "x")
            let data = try JSONEncoder().encode(failure)
            #expect(try JSONDecoder().decode(DeliveryFailure.self, from: data) == failure)
        }
    }

    @Test func completionClaimingADestinationDecodesWithoutOne() throws {
        let json = """
            {"schema": "bridgeback.completion.v1", "job_id": "\(Fixtures.jobID)", "worker": "evil", "attempt": 1,
             "started_at": "2025-10-09T08:00:00Z", "finished_at": "2025-10-09T08:01:00.250Z",
             "outcome": {"status": "succeeded", "result": "hi"},
             "final_surface": "hooks:attacker", "delivery_mode": "direct", "address": "http://attacker.example/"}
            """
        let completion = try WireCodec.decode(Completion.self, from: Data(json.utf8))
        #expect(completion.outcome == .succeeded(result: "hi"))
        let reencoded = try object(try WireCodec.encode(completion))
        #expect(reencoded["final_surface"] == nil && reencoded["address"] == nil && reencoded["delivery_mode"] == nil)
        #expect(Set(reencoded.keys) == ["schema", "job_id", "worker", "attempt", "started_at", "finished_at", "outcome"])
    }

    func decodeError(_ text: String) -> BridgebackError? {
        do {
            _ = try WireCodec.decodeAny(from: Data(text.utf8))
            return nil
        } catch {
            return error
        }
    }

    @Test func schemaIsCheckedFirst() throws {
        #expect(decodeError(#"{"job_id": "x"}"#)?.code == .missingSchema)
        #expect(decodeError("not json")?.code == .missingSchema)
        #expect(decodeError(#"[1, 2]"#)?.code == .missingSchema)
        #expect(decodeError(#"{"schema": 3}"#)?.code == .missingSchema)
        #expect(decodeError(#"{"schema": "acme.job.v1"}"#)?.code == .unknownSchema)
        #expect(decodeError(#"{"schema": "bridgeback.invoice.v1"}"#)?.code == .unknownSchema)
        #expect(decodeError(#"{"schema": "bridgeback.job"}"#)?.code == .unknownSchema)
        #expect(decodeError(#"{"schema": "bridgeback.job.vx"}"#)?.code == .unknownSchema)
        let newer = try #require(decodeError(#"{"schema": "bridgeback.completion.v2", "whatever": true}"#))
        #expect(newer.code == .unsupportedSchemaVersion)
        #expect(newer.schema == "bridgeback.completion.v2")
        #expect(newer.message.contains("versions 1-1"))
    }

    @Test func malformedBodiesGiveAFieldReason() throws {
        let missing = try #require(decodeError(#"{"schema": "bridgeback.progress.v1", "job_id": "\#(Fixtures.jobID)"}"#))
        #expect(missing.code == .malformedMessage)
        #expect(missing.message.contains("missing field"))
        let badID = try #require(
            decodeError(
                #"{"schema": "bridgeback.completion.v1", "job_id": "job_nope", "worker": "w", "attempt": 1, "started_at": "2025-10-09T08:00:00Z", "finished_at": "2025-10-09T08:00:00Z", "outcome": {"status": "cancelled"}}"#
            ))
        #expect(badID.code == .malformedMessage && badID.message.contains("job_id"))
        let badStatus = try #require(
            decodeError(
                #"{"schema": "bridgeback.completion.v1", "job_id": "\#(Fixtures.jobID)", "worker": "w", "attempt": 1, "started_at": "2025-10-09T08:00:00Z", "finished_at": "2025-10-09T08:00:00Z", "outcome": {"status": "exploded"}}"#
            ))
        #expect(badStatus.message.contains("exploded"))
        let badDate = try #require(
            decodeError(
                #"{"schema": "bridgeback.completion.v1", "job_id": "\#(Fixtures.jobID)", "worker": "w", "attempt": 1, "started_at": "yesterday", "finished_at": "2025-10-09T08:00:00Z", "outcome": {"status": "cancelled"}}"#
            ))
        #expect(badDate.message.contains("RFC 3339"))
    }

    @Test func decodingTheWrongKindIsRejected() throws {
        let data = try WireCodec.encode(Fixtures.completion())
        do {
            _ = try WireCodec.decode(JobMessage.self, from: data)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unexpectedSchema)
        }
        guard case .completion = try WireCodec.decodeAny(from: data) else {
            Issue.record("expected a completion")
            return
        }
    }

    @Test func unknownFieldsAreIgnoredWithinAVersion() throws {
        var json = try object(
            try WireCodec.encode(
                ProgressEvent(
                    jobID: Fixtures.jobID, workSurface: "work:alice", sequence: 1, phase: .started, message: "go", at: Fixtures.now)))
        json["added_in_a_later_minor"] = ["x": 1]
        let data = try JSONSerialization.data(withJSONObject: json)
        #expect(try WireCodec.decode(ProgressEvent.self, from: data).message == "go")
    }

    @Test func wireDatesKeepMilliseconds() throws {
        let date = Date(timeIntervalSince1970: 1_760_000_000.123)
        let text = WireDate.format(date)
        #expect(text == "2025-10-09T08:53:20.123Z")
        #expect(abs(try #require(WireDate.parse(text)).timeIntervalSince(date)) < 0.001)
        #expect(WireDate.parse("2025-10-09T08:53:20Z") != nil)
        #expect(WireDate.parse("9 October") == nil)
    }

    /// The direct path of `WireDate` writes what the Foundation path wrote (Foundation's whole
    /// seconds, then the rounded milliseconds) and reads the same instant back as Foundation
    /// does, across its whole range (1900–9999); other forms still go to Foundation.
    @Test func wireDatesMatchFoundationAcrossTheDirectRange() throws {
        var generator = SystemRandomNumberGenerator()
        let whole = Date.ISO8601FormatStyle()
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var instants: [Int64] = [-2_208_988_800_000, -1, 0, 951_782_400_000, 253_402_300_799_999, 1_709_164_800_000]
        for _ in 0..<3000 { instants.append(Int64.random(in: -2_208_988_800_000..<253_402_300_800_000, using: &generator)) }
        for milliseconds in instants {
            let (seconds, millis) = (milliseconds - (milliseconds % 1000 + 1000) % 1000, (milliseconds % 1000 + 1000) % 1000)
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            let text = WireDate.format(date)
            let digits = String(millis)
            let expected =
                Date(timeIntervalSince1970: Double(seconds / 1000)).formatted(whole).dropLast() + "."
                + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
            #expect(text == expected, "\(milliseconds)")
            let parsed = try #require(WireDate.parse(text))
            #expect(parsed == date, "\(text)")
            // Foundation reads the same instant (it may be a few ulps off at large years).
            #expect(abs(parsed.timeIntervalSince(try fractional.parse(text))) < 0.0001, "\(text)")
            let wholeText = String(text.prefix(19)) + "Z"
            #expect(WireDate.parse(wholeText) == Date(timeIntervalSince1970: Double(seconds / 1000)), "\(wholeText)")
        }
        // Not the direct forms: still read by Foundation, as before.
        #expect(WireDate.parse("2024-01-01T12:00:00+01:00") == Date(timeIntervalSince1970: 1_704_106_800))
        #expect(WireDate.parse("2024-01-01T12:00:00.1Z") != nil)
        #expect(WireDate.parse("2024-13-01T12:00:00Z") == nil)
        #expect(WireDate.parse("2024-01-01T12:00:00.12xZ") == nil)
    }

    @Test func encodingIsByteStable() throws {
        let contract = try Fixtures.contract()
        #expect(try WireCodec.encode(contract) == WireCodec.encode(contract))
    }
}
