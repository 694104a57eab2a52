import BridgebackCore
import Logging
import Synchronization
import Testing

@testable import BridgebackCoordinator

/// Records each written line's metadata.
private struct RecordingHandler: LogHandler {
    let recorder: Recorder
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorder.written.withLock { $0.append(metadata.merging(event.metadata ?? [:]) { _, new in new }) }
    }
}

private final class Recorder: Sendable {
    let written = Mutex<[Logger.Metadata]>([])
    var lines: [Logger.Metadata] { written.withLock { $0 } }
    func logger() -> Logger {
        var logger = Logger(label: "test") { _ in RecordingHandler(recorder: self) }
        logger[metadataKey: "pool"] = "default"
        return logger
    }
}

private final class Count: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}

@Suite("A job's log context, built only for written lines")
struct LoggerMetadataTests {
    @Test func contextReachesWrittenLinesAndLaterKeysWin() {
        let recorder = Recorder()
        let id = JobID.make()
        let job = recorder.logger().forJob(id)
        let part = job.adding {
            $0["part"] = "1/2"
            $0["surface"] = "cli:alice"
        }
        part.info("final delivery finished", metadata: ["outcome": "delivered", "surface": "line wins"])
        job.warning("job line")
        #expect(
            recorder.lines == [
                ["pool": "default", "job_id": "\(id)", "part": "1/2", "surface": "line wins", "outcome": "delivered"],
                ["pool": "default", "job_id": "\(id)"],
            ])
    }

    @Test func contextIsNotBuiltForLinesBelowTheLevel() {
        let recorder = Recorder()
        let built = Count()
        let log = recorder.logger().forJob(JobID.make()).adding { _ in built.add() }
        log.debug("recorded", metadata: ["state": "delivering"])
        log.log(level: .trace, "hidden")
        #expect(recorder.lines.isEmpty && built.value == 0)
        log.notice("shown")
        #expect(recorder.lines.count == 1 && built.value == 1)
    }
}
