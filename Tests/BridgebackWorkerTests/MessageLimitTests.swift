import BridgebackCore
import Foundation
import Testing

@testable import BridgebackWorker

@Suite("A worker's completion over the message limit is cut before it is published")
struct MessageLimitTests {
    static func completion(_ outcome: CompletionOutcome) -> Completion {
        Completion(jobID: JobID.make(), worker: "w1", startedAt: Date(), finishedAt: Date(), outcome: outcome, capability: "bbc_x")
    }

    @Test("5 MiB of result: cut to the kept prefix, marked with the full size, well under the limit; a small one untouched")
    func cutsOnlyOverTheLimit() throws {
        var big = Self.completion(.succeeded(result: String(repeating: "é", count: 5 << 19)))
        let size = try #require(WorkerService<FakeTransport, FakeTransport>.cutToMessageLimit(&big))
        #expect(size > MessageLimits.maxMessageBytes)
        guard case .succeeded(let result) = big.outcome else {
            Issue.record("the outcome changed kind")
            return
        }
        #expect(result.hasPrefix("éé") && result.contains("[truncated: the worker's message was \(size) bytes"))
        #expect(!result.contains("\u{FFFD}"), "cut at a character boundary")
        #expect(try WireCodec.encode(big).count < MessageLimits.maxMessageBytes)
        #expect(big.capability == "bbc_x")

        var small = Self.completion(.failed(reason: "exit 1"))
        #expect(WorkerService<FakeTransport, FakeTransport>.cutToMessageLimit(&small) == nil)
        #expect(small.outcome == .failed(reason: "exit 1"))
    }

    @Test("The no-encode check never lets a completion over the limit through: worst-case escapes at the bound still fit")
    func lengthBoundIsSafe() throws {
        typealias Service = WorkerService<FakeTransport, FakeTransport>
        // Control characters are written as `\u00XX`: 6 bytes each, JSON's worst case.
        let other = Self.completion(.cancelled)
        let otherBytes = other.jobID.description.utf8.count + other.worker.utf8.count + (other.capability?.utf8.count ?? 0)
        let room = (MessageLimits.maxMessageBytes - Service.fixedBytesBound) / 6 - otherBytes
        let worst = Self.completion(.failed(reason: String(repeating: "\u{01}", count: room)))
        #expect(Service.fitsUnderMessageLimit(worst))
        #expect(try WireCodec.encode(worst).count <= MessageLimits.maxMessageBytes)
        var unchanged = worst
        #expect(Service.cutToMessageLimit(&unchanged) == nil)
        #expect(unchanged == worst)
        // One byte more and the check no longer vouches for it: it is encoded to know (and fits).
        let past = Self.completion(.failed(reason: String(repeating: "\u{01}", count: room + 1)))
        #expect(!Service.fitsUnderMessageLimit(past))
        var stillUnder = past
        #expect(Service.cutToMessageLimit(&stillUnder) == nil)
        #expect(Service.fitsUnderMessageLimit(Self.completion(.succeeded(result: "done"))))
    }
}
