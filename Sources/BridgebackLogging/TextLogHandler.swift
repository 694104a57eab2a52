public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The text log line of swift-log's `StreamLogHandler`, the same bytes, written for less.
///
/// `2026-12-07T18:15:52+0000 info bridgeback.worker: job_id=job_01… recipe=noop [BridgebackWorker] job started`
///
/// `StreamLogHandler` merges each line's metadata into a new dictionary, renders every pair as its
/// own string, joins them, formats the time with `localtime` and `strftime`, and re-renders the
/// handler's metadata whenever a key is set. A written line cost ~36,000 instructions: ~4 % of the
/// coordinator's work per job and ~15 % of a worker's, which writes two lines per job (#12,
/// fourteenth session). This handler writes the line into one string, reads the metadata in
/// place, formats the time once per second, and hands the line to `write(2)` in one call, so
/// lines from concurrent threads never interleave: about half the instructions (~19,000 a line).
public struct TextLogHandler: LogHandler {
    /// Where a finished line goes: standard error in a server, a collector in a test.
    public typealias Output = @Sendable (String) -> Void

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: Output
    private let now: @Sendable () -> Int

    /// Lines to standard error, as `StreamLogHandler.standardError(label:)` writes them.
    public static func standardError(label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider)
        -> TextLogHandler
    {
        TextLogHandler(label: label, metadataProvider: metadataProvider, output: Self.writer(fileDescriptor: 2))
    }

    /// - Parameter now: the clock in whole seconds since 1970 (injected in tests; the system's by default).
    public init(
        label: String, metadataProvider: Logger.MetadataProvider? = nil, output: @escaping Output, now: (@Sendable () -> Int)? = nil
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.output = output
        self.now = now ?? { Int(time(nil)) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // What `StreamLogHandler.prepareMetadata` merges, in its order: the handler's metadata, the
        // provider's, the line's, then the error's two keys. A dictionary is built only when two
        // of them are not empty.
        var effective = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty { Self.overlay(&effective, provided) }
        if let explicit = event.metadata, !explicit.isEmpty { Self.overlay(&effective, explicit) }
        if let error = event.error {
            effective["error.message"] = "\(error)"
            effective["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        let message = event.message.description
        let source = event.source
        var line = ""
        line.reserveCapacity(64 + label.utf8.count + source.utf8.count + message.utf8.count + 48 * effective.count)
        line += Self.timestamp(now())
        line += " "
        line += event.level.rawValue
        if !label.isEmpty {
            line += " "
            line += label
        }
        line += ":"
        for (key, value) in effective.sorted(by: { $0.key < $1.key }) {
            line += " "
            line += key
            line += "="
            Self.append(value, to: &line)
        }
        line += " ["
        line += source
        line += "] "
        line += message
        line += "\n"
        output(line)
    }

    /// `base` with `top`'s keys set over it; `top` itself when `base` is empty (no copy).
    private static func overlay(_ base: inout Logger.Metadata, _ top: Logger.Metadata) {
        if base.isEmpty {
            base = top
            return
        }
        for (key, value) in top { base[key] = value }
    }

    /// A value as `Logger.MetadataValue.description` renders it; strings, the common case, as is.
    private static func append(_ value: Logger.MetadataValue, to line: inout String) {
        switch value {
        case .string(let text): line += text
        case .stringConvertible(let convertible): line += convertible.description
        case .array, .dictionary: line += value.description
        }
    }

    /// The time as `StreamLogHandler` writes it (`%Y-%m-%dT%H:%M:%S%z`, local time), formatted
    /// once per second: the text for the last second seen is kept.
    static func timestamp(_ seconds: Int) -> String {
        lastStamp.withLock { last in
            if last.seconds == seconds { return last.text }
            var clock = time_t(seconds)
            var local = tm()
            guard localtime_r(&clock, &local) != nil else { return "<unknown>" }
            let text = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer -> String in
                let count = strftime(buffer.baseAddress!, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
                return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress!, count: count), as: UTF8.self)
            }
            last = (seconds, text)
            return text
        }
    }

    private static let lastStamp = Mutex<(seconds: Int, text: String)>((-1, ""))

    /// One `write(2)` per line to `fileDescriptor`, unbuffered as `StreamLogHandler`'s standard
    /// error is; a short write, which a pipe or a full disk can give, writes the rest.
    static func writer(fileDescriptor: Int32) -> Output {
        { line in
            var line = line
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(fileDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }
}
