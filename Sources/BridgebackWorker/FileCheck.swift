import BridgebackCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Checks one file: it exists and is a regular file, its size and age are within bounds, its
/// SHA-256 is the expected one, a line matches a pattern. The shape behind "verify a backup" and
/// "wait until a log line appears". Each field is fixed in the catalog or a whole `{param}`.
public struct FileCheckSpec: Sendable {
    /// An absolute path, or `{param}` naming a `path` parameter (confined to its roots).
    public var path: String
    public var minBytes: Setting?
    public var maxBytes: Setting?
    public var maxAgeSeconds: Setting?
    /// 64 hex digits, or `{param}`; without it the digest is computed and reported only when `report_sha256` is set.
    public var sha256: Setting?
    /// Compute and report the digest even when no expected value is given.
    public var reportSHA256: Bool
    /// A regular expression some line must match, or `{param}` (a string parameter).
    public var matches: Setting?

    /// A fixed value or a whole-placeholder reference to a parameter.
    public enum Setting: Sendable, Hashable {
        case fixed(String)
        case parameter(String)

        func value(_ values: [String: ParameterValue]) -> String? {
            switch self {
            case .fixed(let text): text
            case .parameter(let name): values[name]?.description
            }
        }
    }

    public init(
        path: String, minBytes: Setting? = nil, maxBytes: Setting? = nil, maxAgeSeconds: Setting? = nil, sha256: Setting? = nil,
        reportSHA256: Bool = false, matches: Setting? = nil
    ) {
        self.path = path
        self.minBytes = minBytes
        self.maxBytes = maxBytes
        self.maxAgeSeconds = maxAgeSeconds
        self.sha256 = sha256
        self.reportSHA256 = reportSHA256
        self.matches = matches
    }
}

enum FileCheck {
    /// A pattern is searched in at most the last this-many bytes of the file (logs grow).
    static let scanLimit = 8 * 1024 * 1024

    static func run(_ spec: FileCheckSpec, _ values: [String: ParameterValue], environment: [String: String]) async throws -> String {
        let path = Template.wholePlaceholder(spec.path).map { values[$0]?.description ?? "" } ?? spec.path
        func fail(_ text: String) -> WorkerError { WorkerError(.conditionNotMet, "\(path) \(text)") }
        var info = stat()
        guard !path.isEmpty, stat(path, &info) == 0 else { throw fail("does not exist") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw fail("is not a regular file") }
        let size = Int(info.st_size)
        #if canImport(Darwin)
            let modified = Double(info.st_mtimespec.tv_sec)
        #else
            let modified = Double(info.st_mtim.tv_sec)
        #endif
        let age = max(0, Date().timeIntervalSince1970 - modified)
        var facts = ["\(size) bytes", "modified \(describe(age: age)) ago"]
        if let text = spec.minBytes?.value(values), let minimum = Int(text), size < minimum {
            throw fail("is \(size) bytes, expected at least \(minimum)")
        }
        if let text = spec.maxBytes?.value(values), let maximum = Int(text), size > maximum {
            throw fail("is \(size) bytes, expected at most \(maximum)")
        }
        if let text = spec.maxAgeSeconds?.value(values), let limit = Int(text), age > Double(limit) {
            throw fail("was modified \(describe(age: age)) ago, expected within \(describe(age: Double(limit)))")
        }
        let expected = spec.sha256?.value(values)?.lowercased()
        if expected != nil || spec.reportSHA256 {
            let digest = try await sha256(path, environment: environment)
            if let expected, digest != expected {
                throw fail("has sha256 \(digest), expected \(expected)")
            }
            facts.append("sha256 \(digest)\(expected == nil ? "" : " (as expected)")")
        }
        if let pattern = spec.matches?.value(values) {
            guard let line = try lastMatch(path, size: size, pattern: pattern) else {
                throw fail("has no line matching \(pattern)")
            }
            facts.append("matched: \(line.count > 200 ? String(line.prefix(200)) + "…" : line)")
        }
        return "\(path): " + facts.joined(separator: ", ")
    }

    /// The last line (in the scanned tail) matching `pattern`.
    static func lastMatch(_ path: String, size: Int, pattern: String) throws(WorkerError) -> String? {
        let regex: NSRegularExpression
        do { regex = try NSRegularExpression(pattern: pattern) } catch {
            throw WorkerError(.invalidParameter, "'\(pattern)' is not a valid regular expression")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw WorkerError(.conditionNotMet, "\(path) cannot be read") }
        defer { try? handle.close() }
        let start = max(0, size - scanLimit)
        try? handle.seek(toOffset: UInt64(start))
        let data = (try? handle.read(upToCount: scanLimit)) ?? Data()
        var lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
        if start > 0, !lines.isEmpty { lines.removeFirst() }  // a partial first line
        for line in lines.reversed() {
            let text = String(line)
            if regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil { return text }
        }
        return nil
    }

    /// `sha256sum` from coreutils, run without a shell like any command.
    static func sha256(_ path: String, environment: [String: String]) async throws -> String {
        let search = (environment["PATH"] ?? "") + ":/usr/bin:/bin:/usr/local/bin"
        guard let program = CatalogLoader.resolveProgram("sha256sum", path: search) else {
            throw WorkerError(.commandFailed, "sha256sum is not installed on this worker")
        }
        let output = try await CommandRunner.run(
            argv: [program, "--", path], environment: [:], workingDirectory: nil, timeout: .seconds(600), outputCap: 4096)
        guard output.exitStatus == 0, let digest = output.stdout.split(separator: " ").first, digest.count == 64 else {
            throw WorkerError(
                .commandFailed, "sha256sum \(path) failed: \(output.stderrTail.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return String(digest)
    }

    static func describe(age seconds: Double) -> String {
        switch seconds {
        case ..<120: "\(Int(seconds)) s"
        case ..<7200: "\(Int(seconds / 60)) min"
        case ..<172_800: "\(Int(seconds / 3600)) h"
        default: "\(Int(seconds / 86400)) d"
        }
    }
}
