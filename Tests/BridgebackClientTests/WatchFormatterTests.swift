import BridgebackClient
import BridgebackCore
import Foundation
import Testing

/// `bridgeback watch`'s lines for people, from the wire messages as workers and the coordinator
/// publish them (no coordinator asked: jobs are named by id).
@Suite("Watch lines")
struct WatchFormatterTests {
    static let job = JobID.make()

    static func progress(_ sequence: Int, _ message: String, fraction: Double? = nil) throws -> [UInt8] {
        let event = ProgressEvent(
            jobID: job, workSurface: try SurfaceID(validating: "work:alice"), sequence: sequence, phase: .running, message: message,
            fraction: fraction, worker: "worker-a/1", at: Date(timeIntervalSince1970: 1_800_000_000))
        return Array(try WireCodec.encode(event))
    }

    @Test("a progress line names time, surface, job, phase, percent, message and worker; an older update is dropped")
    func progressLines() async throws {
        var formatter = WatchFormatter(coordinator: nil, token: nil)
        let clock = WatchFormatter.clock(Date(timeIntervalSince1970: 1_800_000_000))
        let line = await formatter.line(
            for: try Self.progress(2, "step 2/5", fraction: 0.4), exchange: "bb.progress", routingKey: "work:alice")
        #expect(line == "\(clock) · work:alice · \(Self.job) · running 40% · step 2/5 (worker-a/1)")
        #expect(await formatter.line(for: try Self.progress(1, "step 1/5"), exchange: "bb.progress", routingKey: "work:alice") == nil)
        #expect(await formatter.line(for: try Self.progress(2, "again"), exchange: "bb.progress", routingKey: "work:alice") == nil)
        #expect(await formatter.line(for: try Self.progress(3, "step 3/5"), exchange: "bb.progress", routingKey: "work:alice") != nil)
    }

    @Test("what is not a Bridgeback message is shown as such, with an excerpt")
    func garbage() async {
        var formatter = WatchFormatter(coordinator: nil, token: nil)
        let line = await formatter.line(for: Array(#"{"hello": 1}"#.utf8), exchange: "bb.progress", routingKey: "work:bob")
        #expect(line?.contains(" · work:bob · not a Bridgeback message (") == true && line?.hasSuffix(#"{"hello": 1}"#) == true)
    }
}
