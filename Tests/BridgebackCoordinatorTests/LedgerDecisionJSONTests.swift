import BridgebackCore
@testable import BridgebackCoordinator
import BridgebackLedger
import Foundation
import Testing

/// A job's stored decision (`jobs.decision_json`) is written by hand (`StoredDecision.handWrittenJSON`):
/// the ledger's bytes must stay those `JSONEncoder` wrote (millisecond dates, sorted keys), so old
/// rows and new ones read alike.
@Suite("Ledger JSON: the hand-written decision is byte-equal to JSONEncoder's")
struct LedgerDecisionJSONTests {
    static let pieces: [String] =
        ["", "ok", "\"", "\\", "/", "é", "e\u{301}", "😀", "\u{2028}", "\u{0}", "\u{7F}", "日本", "\r\n", "</x>"]
        + (1..<0x20).map { String(Unicode.Scalar(UInt8($0))) }

    static func text(_ generator: inout Splitter) -> String {
        if Int.random(in: 0..<12, using: &generator) == 0 { return String(repeating: "ab/\"", count: 800) }
        return (0..<Int.random(in: 0...5, using: &generator)).map { _ in Self.pieces.randomElement(using: &generator)! }.joined()
    }

    static func date(_ generator: inout Splitter) -> Date {
        switch Int.random(in: 0...3, using: &generator) {
        case 0: Date()
        case 1: Date(timeIntervalSince1970: Double.random(in: -3e9...3e11, using: &generator))
        case 2: Date(timeIntervalSince1970: Double(Int.random(in: 0...2_000_000_000, using: &generator)))
        default: Date(timeIntervalSince1970: 1_760_000_000.0005)
        }
    }

    static func completion(_ generator: inout Splitter) -> Completion {
        let outcome: CompletionOutcome =
            switch Int.random(in: 0...2, using: &generator) {
            case 0: .succeeded(result: text(&generator))
            case 1: .failed(reason: text(&generator))
            default: .cancelled
            }
        return Completion(
            jobID: JobID.make(using: &generator), worker: text(&generator),
            attempt: Int.random(in: Int.min...Int.max, using: &generator), startedAt: date(&generator),
            finishedAt: date(&generator), outcome: outcome, capability: Bool.random(using: &generator) ? text(&generator) : nil)
    }

    @Test("random decisions, with and without a completion, every kind and outcome")
    func decisionsMatchJSONEncoder() throws {
        var generator = Splitter(state: 0x1ED6_E500)
        var written = 0
        for _ in 0..<400 {
            let completion = Self.completion(&generator)
            let decision = JobLifecycle.FinalDecision(
                kind: FinalNoticeKind.allCases.randomElement(using: &generator)!, text: Self.text(&generator),
                completion: Bool.random(using: &generator) ? completion : nil)
            let stored = StoredDecision(decision)
            let old = try LedgerJSON.foundationEncode(stored)
            let hand = try #require(stored.handWrittenJSON())
            #expect(String(decoding: hand, as: UTF8.self) == old)
            #expect(Array(try LedgerJSON.encode(stored).utf8) == Array(old.utf8))
            // And it reads back as the decision it was.
            #expect(try LedgerJSON.decode(StoredDecision.self, from: String(decoding: hand, as: UTF8.self)).decision.kind == decision.kind)
            written += 1
        }
        #expect(written == 400)
    }

    /// A parked ending (`jobs.ending_json`, a completion or dead letter waiting for its contract)
    /// is written by hand too (`StoredEnding.handWrittenJSON`).
    @Test("random parked endings: completions with and without alternates, dead letters")
    func endingsMatchJSONEncoder() throws {
        var generator = Splitter(state: 0xE4D1_4C)
        var kinds: Set<String> = []
        var byHand = 0
        for _ in 0..<400 {
            let ending: JobLifecycle.Ending =
                switch Int.random(in: 0...2, using: &generator) {
                case 0: .deadLettered(reason: Self.text(&generator))
                case 1: .completion(Self.completion(&generator), alternates: [])
                default:
                    .completion(
                        Self.completion(&generator),
                        alternates: (0..<Int.random(in: 1...3, using: &generator)).map { _ in Self.completion(&generator) })
                }
            let stored = StoredEnding(ending)
            let old = try LedgerJSON.foundationEncode(stored)
            let hand = try #require(stored.handWrittenJSON())
            #expect(String(decoding: hand, as: UTF8.self) == old)
            let text = try LedgerCoding.encode(stored)
            #expect(Array(text.utf8) == Array(old.utf8))
            // And it reads back as the ending it was (to the millisecond the ledger keeps), in one
            // pass as through JSONDecoder.
            let read = try LedgerCoding.decode(StoredEnding.self, from: text, jobID: "job").ending(jobID: "job")
            let decoded = try LedgerJSON.decode(StoredEnding.self, from: text).ending(jobID: "job")
            #expect(read == decoded)
            #expect(try LedgerCoding.encode(StoredEnding(read)) == text)
            if StoredEnding.handRead(text) != nil { byHand += 1 }
            kinds.insert(stored.alternates == nil ? stored.type : "alternates")
        }
        #expect(kinds == ["dead_lettered", "completion", "alternates"])
        // Attempts past 18 digits go to JSONDecoder; the rest are read by hand.
        #expect(byHand > 100)
    }

    /// What the one-pass reader does not take goes to `JSONDecoder`, which answers as before: the
    /// same value for a form `encode` does not write, the same refusal for a broken one.
    @Test("parked endings in other shapes: JSONDecoder's answer, value or error")
    func endingsInOtherShapes() throws {
        let completion =
            #"{"attempt":1,"finished_at":1760000000123.5,"job_id":"job_01JQ00000000000000000000A1","#
            + #""outcome":{"status":"cancelled"},"started_at":17.6e11,"worker":"w"}"#
        let accepted = [
            #"{"type":"dead_lettered","reason":"r"}"#,
            #"{"completion":null,"reason":"r","type":"dead_lettered"}"#,
            #"{"completion":\#(completion),"type":"completion","unknown":1}"#,
            #"{"alternates":[],"completion":\#(completion),"type":"completion"}"#,
            #"{"completion":\#(completion),"type":"completion"}"#,
            #"{"type":"completion","completion":\#(completion.replacingOccurrences(of: #""attempt":1"#, with: #""attempt":99999999999999999"#))}"#,
        ]
        for text in accepted {
            let read = try LedgerCoding.decode(StoredEnding.self, from: text, jobID: "job").ending(jobID: "job")
            #expect(read == (try LedgerJSON.decode(StoredEnding.self, from: text).ending(jobID: "job")), "\(text)")
        }
        for text in [#"{"reason":"r"}"#, #"{"type":"completion","completion":{"attempt":1}}"#, "[]", #"{"type":1}"#, ""] {
            #expect(StoredEnding.handRead(text) == nil)
            #expect(throws: CoordinatorError.self) { try LedgerCoding.decode(StoredEnding.self, from: text, jobID: "job") }
        }
    }

    @Test("every delivery state, the ones written by hand and the ones left to JSONEncoder")
    func statesMatchJSONEncoder() throws {
        var generator = Splitter(state: 0x57A7E)
        var byHand = 0
        for _ in 0..<300 {
            let attempts =
                Bool.random(using: &generator)
                ? Int.random(in: 0...9, using: &generator) : Int.random(in: Int.min...Int.max, using: &generator)
            let at = Date(timeIntervalSince1970: Double.random(in: -3e9...3e11, using: &generator))
            let failure = DeliveryFailure(
                [.permission, .rateLimited(retryAfter: 1.5), .rateLimited(retryAfter: nil), .transport].randomElement(using: &generator)!,
                detail: Self.pieces.randomElement(using: &generator)!)
            let state: DeliveryState = [
                .pending(attempts: attempts), .dryRunOK(attempts: attempts), .sending(attempt: attempts),
                .delivered(attempts: attempts, at: at),
                .delivered(attempts: attempts, at: Date()), .retryWait(attempts: attempts, nextAttemptAt: at, lastFailure: failure),
                .failed(attempts: attempts, failure: failure, exhausted: Bool.random(using: &generator)),
                .uncertain(attempts: attempts, failure: failure),
            ].randomElement(using: &generator)!
            let old = try LedgerJSON.foundationEncode(state)
            #expect(try LedgerJSON.encode(state) == old)
            if let hand = state.handWrittenLedgerJSON() {
                #expect(String(decoding: hand, as: UTF8.self) == old)
                #expect(state.lastFailure == nil)
                byHand += 1
            } else {
                #expect(state.lastFailure != nil)
            }
        }
        #expect(byHand > 100)
    }

    struct Splitter: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
