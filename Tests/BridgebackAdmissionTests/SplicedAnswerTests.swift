import BridgebackAuth
import BridgebackCore
import Foundation
import Testing

@testable import BridgebackAdmission

/// The 202 of a detach splices the contract's wire bytes in as its `contract` instead of encoding
/// the contract again: the served bytes must be exactly those of the answer encoded whole.
@Suite("A detach answer with its contract spliced in")
struct SplicedAnswerTests {
    /// Strings a client controls that could confuse a byte splice: the stand-in itself, quotes,
    /// backslashes, slashes, control characters, non-ASCII, a member named `contract`.
    static let awkward = [
        "plain", #""contract":"bb:contract-spliced-here""#, "bb:contract-spliced-here", #"a \"quoted\" \\ back/slash"#,
        "tab\tnew\nline\u{1}\u{1F}", "é, 日本語, 🚀", "}{][,:", "",
    ]

    static func contract(_ text: String, index: Int, hash: String?) -> OwnershipContract {
        OwnershipContract(
            jobID: JobID(milliseconds: 1_765_000_000_000 + UInt64(index), randomHigh: 7, randomLow: UInt64(index)), origin: "cli:alice",
            workSurface: "work:alice", finalSurface: "cli:alice", deliveryMode: .parent,
            deadline: Date(timeIntervalSince1970: 1_765_003_600.123), policyVersion: "2026.12-\(text)", summary: text,
            requestExcerpt: text, parentID: "parent-\(index)",
            recipe: RecipeInvocation(
                name: "noop",
                params: [
                    "contract": .string(text), "n": .number(Double(index) + 0.5), "nested": .object(["a": .array([.bool(true), .null])]),
                ]),
            idempotencyKey: index.isMultiple(of: 2) ? text : nil, createdAt: Date(timeIntervalSince1970: 1_765_000_000.5),
            defaultsApplied: index.isMultiple(of: 3) ? [] : ["work_surface", "deadline"], completionCapabilitySHA256: hash)
    }

    static func answer(for contract: OwnershipContract, text: String) -> AdmissionAnswer {
        AdmissionAnswer(
            decision: "detach", triggers: ["work", text], reason: "because: \(text)", policyVersion: contract.policyVersion, forced: true,
            confidence: 0.875, requestID: "req_\(text.count)",
            job: AdmittedJob(
                jobID: contract.jobID.description, human: "Detached: \(text)", contract: contract, state: "accepted", stateNote: text,
                createdAt: WireDate.format(contract.createdAt), links: ["self": "/v1/jobs/x", "cancel": "/v1/jobs/x/cancel"]),
            idempotentReplay: false, defaultsApplied: ["deadline"], notes: [text, "Defaults used: \(text)"])
    }

    @Test("the shown contract cut from the wire bytes is the shown contract encoded, and the answer's bytes are the same")
    func sameBytesAsEncodedWhole() throws {
        for (index, text) in Self.awkward.enumerated() {
            let contract = Self.contract(text, index: index, hash: CompletionCapability.mint().sha256)
            let wire = Array(try WireCodec.encode(contract))
            let shown = try #require(APIResponse.shownContract(fromWire: wire))
            #expect(shown == Array(try JSONEncoder.sorted.encode(OwnershipContract.Shown(contract))))
            let answer = Self.answer(for: contract, text: text)
            let spliced = APIResponse(status: 202, answer: answer, shownContract: shown)
            let whole = APIResponse(status: 202, typed: answer)
            #expect(spliced.bodyBytes == whole.bodyBytes, "\(text)")
            #expect(spliced.status == 202 && spliced == whole)
        }
    }

    @Test("a contract without a capability hash is not cut (the answer is then encoded whole)")
    func noHashNoSplice() throws {
        let contract = Self.contract("old", index: 1, hash: nil)
        #expect(APIResponse.shownContract(fromWire: Array(try WireCodec.encode(contract))) == nil)
        #expect(APIResponse.shownContract(fromWire: Array(#"{"completion_capability_sha256":"zz","job_id":"x"}"#.utf8)) == nil)
        #expect(APIResponse.shownContract(fromWire: Array(#"{"completion_capability_sha256":"ab"}"#.utf8)) == nil)
    }

    @Test("through submit: the served 202 is the answer it decodes to, encoded whole")
    func submitServesTheWholeEncoding() async throws {
        // No catalog: recipe parameters are not checked here, so a client may name one `contract`.
        let h = try Harness(catalog: nil)
        defer { h.dir.cleanup() }
        for text in Self.awkward where !text.isEmpty && !text.contains("\u{1}") {
            let body: JSONValue = [
                "origin": "cli:alice", "text": .string("Run the release gate: \(text)"), "force": "detach",
                "summary": .string(text), "recipe": ["name": "noop", "params": ["contract": .string(text), "n": 2.5]],
            ]
            let response = await h.api.submit(body: Array(try JSONEncoder.sorted.encode(body)), as: .testOperator)
            #expect(response.status == 202, "\(response.body)")
            let decoded = try JSONDecoder().decode(AdmissionAnswer.self, from: Data(response.bodyBytes))
            #expect(decoded.job?.contract.summary == text)
            #expect(response.bodyBytes == APIResponse(status: 202, typed: decoded).bodyBytes, "\(text)")
            #expect(response["contract"]?["completion_capability_sha256"] == nil)
        }
    }

    @Test("written by hand, every optional member present or left out: the same bytes as the answer encoded whole")
    func handWrittenSameBytesAsEncodedWhole() throws {
        for (index, text) in Self.awkward.enumerated() {
            let contract = Self.contract(text, index: index, hash: CompletionCapability.mint().sha256)
            let shown = try #require(APIResponse.shownContract(fromWire: Array(try WireCodec.encode(contract))))
            // Each of the eight optional members on or off, and a confidence JSONEncoder writes oddly.
            for mask in 0..<256 {
                var answer = Self.answer(for: contract, text: text)
                func on(_ bit: Int) -> Bool { mask & (1 << bit) != 0 }
                answer.confidence = on(0) ? [0.875, 1, 0.1, 1e-7, 123_456_789.125][mask % 5] : nil
                answer.idempotentReplay = on(1) ? mask.isMultiple(of: 3) : nil
                answer.defaultsApplied = on(2) ? (mask.isMultiple(of: 5) ? [] : ["deadline", text]) : nil
                answer.notes = on(3) ? [text] : nil
                answer.job?.publishedAt = on(4) ? "2026-12-07T03:00:00.123Z" : nil
                answer.job?.cancelRequestedAt = on(5) ? text : nil
                answer.job?.cancelReason = on(6) ? "reason: \(text)" : nil
                answer.job?.links = on(7) ? [text: text, "self": "/v1/jobs/x", "cancel": "/v1/jobs/x/cancel", "a/b": "é"] : [:]
                let hand = try #require(APIResponse.handWritten(answer, shownContract: shown))
                #expect(hand == APIResponse(status: 202, typed: answer).bodyBytes, "\(text), mask \(mask)")
            }
        }
    }

    @Test("a confidence that is not a finite number is left to JSONEncoder; an answer without a job is not spliced")
    func handWrittenRefuses() throws {
        let contract = Self.contract("x", index: 1, hash: CompletionCapability.mint().sha256)
        let shown = try #require(APIResponse.shownContract(fromWire: Array(try WireCodec.encode(contract))))
        var answer = Self.answer(for: contract, text: "x")
        answer.confidence = .nan
        #expect(APIResponse.handWritten(answer, shownContract: shown) == nil)
        answer.confidence = 0.5
        answer.job = nil
        #expect(APIResponse.handWritten(answer, shownContract: shown) == nil)
    }
}
