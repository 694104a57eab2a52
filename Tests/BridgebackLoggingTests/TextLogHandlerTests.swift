import Foundation
import Logging
import Synchronization
import Testing

@testable import BridgebackLogging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The lines a handler wrote.
private final class Collected: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func output() -> TextLogHandler.Output { { line in self.lines.withLock { $0.append(line) } } }
}

/// `StreamLogHandler`'s time stamp for `seconds`, made the way it makes it (`localtime`, `strftime`).
private func streamStamp(_ seconds: Int) -> String {
    var clock = time_t(seconds)
    var buffer = [Int8](repeating: 0, count: 255)
    strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", localtime(&clock))
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// A settable clock in whole seconds.
private final class Clock: Sendable {
    private let seconds = Mutex(TextLogHandlerTests.moment)
    var now: Int { seconds.withLock { $0 } }
    func advance(_ by: Int) { seconds.withLock { $0 += by } }
}

struct DiskFull: Error, CustomStringConvertible {
    var description: String { "no space left" }
}

@Suite("The text log line")
struct TextLogHandlerTests {
    static let moment = 1_765_000_000

    /// The line `StreamLogHandler` writes: `<time> <level> <label>: <key=value sorted> [<source>] <message>`,
    /// the handler's metadata under the line's, the line's keys winning.
    @Test func aLineReadsAsStreamLogHandlersLineDoes() {
        let collected = Collected()
        var logger = Logger(label: "bridgeback.worker") { TextLogHandler(label: $0, output: collected.output(), now: { Self.moment }) }
        logger[metadataKey: "recipe"] = "noop"
        logger[metadataKey: "job_id"] = "job_1"
        logger.info("job started", metadata: ["attempt": "2", "recipe": "override", "ids": ["a", "b"], "count": .stringConvertible(42)])
        logger.notice("no metadata of its own")
        let stamp = streamStamp(Self.moment)
        #expect(
            collected.all == [
                "\(stamp) info bridgeback.worker: attempt=2 count=42 ids=[\"a\", \"b\"] job_id=job_1 recipe=override [BridgebackLoggingTests] job started\n",
                "\(stamp) notice bridgeback.worker: job_id=job_1 recipe=noop [BridgebackLoggingTests] no metadata of its own\n",
            ])
    }

    @Test func withoutMetadataOrLabelTheLineHasNoPairs() {
        let collected = Collected()
        let logger = Logger(label: "") { TextLogHandler(label: $0, output: collected.output(), now: { Self.moment }) }
        logger.warning("plain", source: "here")
        #expect(collected.all == ["\(streamStamp(Self.moment)) warning: [here] plain\n"])
    }

    /// An error attached to the event adds `error.message` and `error.type`, as `StreamLogHandler` does.
    @Test func anErrorAddsItsMessageAndType() {
        let collected = Collected()
        let handler = TextLogHandler(label: "l", output: collected.output(), now: { Self.moment })
        handler.log(
            event: LogEvent(
                level: .error, message: "write failed", error: DiskFull(), metadata: nil, source: "s", file: #fileID,
                function: #function, line: #line))
        #expect(
            collected.all == [
                "\(streamStamp(Self.moment)) error l: error.message=no space left error.type=BridgebackLoggingTests.DiskFull [s] write failed\n"
            ])
    }

    /// Below the level nothing is written, and the message and metadata are never built.
    @Test func belowTheLevelNothingIsBuilt() {
        let collected = Collected()
        let built = Mutex(0)
        var logger = Logger(label: "l") { TextLogHandler(label: $0, output: collected.output()) }
        logger.logLevel = .info
        func expensive() -> Logger.Metadata {
            built.withLock { $0 += 1 }
            return ["k": "v"]
        }
        logger.debug("hidden", metadata: expensive())
        logger.trace("hidden", metadata: expensive())
        #expect(collected.all.isEmpty)
        #expect(built.withLock { $0 } == 0)
        logger.info("shown", metadata: expensive())
        #expect(collected.all.count == 1 && built.withLock { $0 } == 1)
    }

    /// The time is formatted once per second and follows the clock.
    @Test func theTimeFollowsTheClock() {
        let collected = Collected()
        let clock = Clock()
        let logger = Logger(label: "l") { TextLogHandler(label: $0, output: collected.output(), now: { clock.now }) }
        logger.info("a")
        logger.info("b")
        clock.advance(61)
        logger.info("c")
        let stamps = collected.all.map { String($0.prefix { $0 != " " }) }
        #expect(stamps == [streamStamp(Self.moment), streamStamp(Self.moment), streamStamp(Self.moment + 61)])
    }

    /// Lines written at once from many threads reach the file whole: one `write(2)` each.
    @Test func concurrentLinesReachTheFileWhole() async throws {
        let path = "/tmp/bb-text-log-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o600)
        try #require(fd >= 0)
        defer { unlink(path) }
        let handler = TextLogHandler(label: "l", output: TextLogHandler.writer(fileDescriptor: fd), now: { Self.moment })
        let filler = String(repeating: "x", count: 300)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    let logger = Logger(label: "l") { _ in handler }
                    for index in 0..<200 { logger.info("line \(task)-\(index) \(filler)") }
                }
            }
        }
        close(fd)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 1600)
        #expect(lines.allSatisfy { $0.hasSuffix(filler) && $0.contains(" info l: [BridgebackLoggingTests] line ") })
        #expect(Set(lines.map { $0.split(separator: " ")[5] }).count == 1600)
    }
}
