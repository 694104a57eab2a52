import BridgebackCore
import Logging

/// A logger whose context (a job's id, a part's delivery id) is built only for a line that is
/// written. Setting it on a `Logger` instead renders it at once: swift-log's `StreamLogHandler`
/// formats its whole metadata on every change, and the coordinator did that for every job event
/// and part, whether or not a line followed (most are at debug): ~25 string allocations per job
/// (#12, fourteenth session).
struct ContextLogger: Sendable {
    let base: Logger
    /// Writes the context's keys into a line's metadata (one dictionary per written line; merging
    /// dictionaries cost more than the keys).
    let context: @Sendable (inout Logger.Metadata) -> Void

    init(_ base: Logger, context: @escaping @Sendable (inout Logger.Metadata) -> Void) {
        self.base = base
        self.context = context
    }

    /// This logger with more context, written after (and so overriding) the present context.
    func adding(_ more: @escaping @Sendable (inout Logger.Metadata) -> Void) -> ContextLogger {
        let context = self.context
        return ContextLogger(base) {
            context(&$0)
            more(&$0)
        }
    }

    func log(
        level: Logger.Level, _ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata? = nil,
        file: String = #fileID, function: String = #function, line: UInt = #line
    ) {
        base.log(
            level: level, message(),
            metadata: {
                var merged = Logger.Metadata(minimumCapacity: 8)
                context(&merged)
                if let extra = metadata() {
                    for (key, value) in extra { merged[key] = value }
                }
                return merged
            }(), file: file, function: function, line: line)
    }

    func debug(
        _ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata? = nil,
        file: String = #fileID, function: String = #function, line: UInt = #line
    ) {
        log(level: .debug, message(), metadata: metadata(), file: file, function: function, line: line)
    }

    func info(
        _ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata? = nil,
        file: String = #fileID, function: String = #function, line: UInt = #line
    ) {
        log(level: .info, message(), metadata: metadata(), file: file, function: function, line: line)
    }

    func notice(
        _ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata? = nil,
        file: String = #fileID, function: String = #function, line: UInt = #line
    ) {
        log(level: .notice, message(), metadata: metadata(), file: file, function: function, line: line)
    }

    func warning(
        _ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata? = nil,
        file: String = #fileID, function: String = #function, line: UInt = #line
    ) {
        log(level: .warning, message(), metadata: metadata(), file: file, function: function, line: line)
    }

    func error(
        _ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata? = nil,
        file: String = #fileID, function: String = #function, line: UInt = #line
    ) {
        log(level: .error, message(), metadata: metadata(), file: file, function: function, line: line)
    }

    func critical(
        _ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata? = nil,
        file: String = #fileID, function: String = #function, line: UInt = #line
    ) {
        log(level: .critical, message(), metadata: metadata(), file: file, function: function, line: line)
    }
}

extension Logger {
    /// This logger with a job's id as context, built only for a line that is written.
    func forJob(_ id: JobID) -> ContextLogger {
        ContextLogger(self) { $0["job_id"] = .string(id.description) }
    }
}
