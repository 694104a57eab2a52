public import BridgebackCore
import Foundation
import Synchronization
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Appends one JSON line per part to the surface's file and fsyncs it before reporting success.
///
/// A file cannot deduplicate by itself, so a write interrupted after it started is
/// `unknown_outcome` (the ledger then says `uncertain`, never writes the line twice).
public final class FileAdapter: DeliveryAdapter {
    /// One writer at a time, so lines from concurrent jobs never interleave.
    private let lock = Mutex(())

    public init() {}

    public func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure? {
        guard let path = delivery.surface.address, !path.isEmpty else {
            return DeliveryFailure(.missingTarget, detail: "surface '\(delivery.surface.id)' has no file path")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let dir = directory.isEmpty ? "." : directory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            return DeliveryFailure(.missingTarget, detail: "directory \(dir) does not exist")
        }
        let writable = FileManager.default.fileExists(atPath: path) ? access(path, W_OK) == 0 : access(dir, W_OK) == 0
        return writable ? nil : DeliveryFailure(.permission, detail: "\(path) is not writable by this process")
    }

    public func send(_ delivery: PreparedDelivery) async -> DeliveryFailure? {
        guard let path = delivery.surface.address, !path.isEmpty else {
            return DeliveryFailure(.missingTarget, detail: "surface '\(delivery.surface.id)' has no file path")
        }
        let line = delivery.body + [UInt8(ascii: "\n")]
        return lock.withLock { _ in Self.append(line, to: path) }
    }

    static func append(_ bytes: [UInt8], to path: String) -> DeliveryFailure? {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return failure(errno, "open \(path)", started: false) }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                return failure(errno, "write \(path)", started: written > 0)
            }
            written += n
        }
        guard fsync(fd) == 0 else { return failure(errno, "fsync \(path)", started: true) }
        return nil
    }

    private static func failure(_ code: Int32, _ what: String, started: Bool) -> DeliveryFailure {
        let detail = "\(what): \(String(cString: strerror(code)))"
        if started { return DeliveryFailure(.unknownOutcome, detail: detail) }
        switch code {
        case EACCES, EPERM, EROFS: return DeliveryFailure(.permission, detail: detail)
        case ENOENT, ENOTDIR, EISDIR: return DeliveryFailure(.missingTarget, detail: detail)
        case EFBIG: return DeliveryFailure(.tooLarge, detail: detail)
        default: return DeliveryFailure(.transport, detail: detail)
        }
    }
}

/// Prints one JSON line per part (demos). Standard output cannot deduplicate; a failed write
/// is `unknown_outcome`, so the part ends `uncertain` rather than printed twice.
public final class StdoutAdapter: DeliveryAdapter {
    private let lock = Mutex(())
    private let sink: @Sendable ([UInt8]) throws -> Void

    /// `sink` receives each line including its newline; the default writes to standard output.
    public init(sink: (@Sendable ([UInt8]) throws -> Void)? = nil) {
        self.sink = sink ?? { bytes in try FileHandle.standardOutput.write(contentsOf: Data(bytes)) }
    }

    public func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure? { nil }

    public func send(_ delivery: PreparedDelivery) async -> DeliveryFailure? {
        let line = delivery.body + [UInt8(ascii: "\n")]
        return lock.withLock { _ in
            do {
                try sink(line)
                return nil
            } catch {
                return DeliveryFailure(.unknownOutcome, detail: "writing to standard output failed: \(error)")
            }
        }
    }
}
