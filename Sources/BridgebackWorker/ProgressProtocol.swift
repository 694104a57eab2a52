import Foundation

/// One line of the progress protocol a command may print on its standard output
/// (docs/worker.md, "Progress from a command"):
///
/// ```
/// ::progress 40 checked 12 of 30 endpoints     a routine update at 40 % (throttled)
/// ::step 2/5 dependency check                  a state change (always published)
/// ::result all 30 endpoints answered           one line of the job's result
/// ```
///
/// Everything else, including a `::` line that does not parse, is ordinary output.
public enum ProgressDirective: Sendable, Hashable {
    /// `::progress PERCENT [TEXT]`: PERCENT is 0–100 (a decimal point and a trailing `%` are allowed).
    case progress(percent: Double, message: String)
    /// `::step N/M [TEXT]`: 1 ≤ N ≤ M ≤ ``ProgressProtocol/maxSteps``.
    case step(number: Int, total: Int, message: String)
    /// `::result [TEXT]`: once a command prints one, its result is these lines alone, in order.
    case result(String)
}

/// Splits a command's standard output into ordinary output and ``ProgressDirective``s.
///
/// A pure value with no I/O: feed it bytes as they arrive, in chunks of any size, then call
/// ``finish()``. Output bytes come back unchanged and in order; only complete, well-formed
/// protocol lines are taken out. Memory is bounded: at most ``maxLineBytes`` of a line that
/// starts with `::` are held; a longer one is output.
public struct ProgressProtocol: Sendable {
    /// What one call hands back, in stream order.
    public enum Event: Sendable, Hashable {
        case output([UInt8])
        case directive(ProgressDirective)
    }

    /// A protocol line longer than this (without its newline) is not protocol.
    public static let maxLineBytes = 4096
    /// Messages longer than this many characters are cut, ending in "…".
    public static let maxMessageCharacters = 300
    /// The largest step count a `::step` line may name.
    public static let maxSteps = 10_000

    private enum LineState: Sendable {
        /// At the first byte of a line.
        case start
        /// The line so far starts with `:` and is held in `pending`.
        case candidate
        /// The line is ordinary output; pass bytes through until the newline.
        case output
    }

    private var state = LineState.start
    private var pending: [UInt8] = []

    public init() {}

    /// Consumes the next bytes of the stream.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        var events: [Event] = []
        var run: [UInt8] = []
        func flushRun() {
            if !run.isEmpty {
                events.append(.output(run))
                run.removeAll(keepingCapacity: true)
            }
        }
        for byte in bytes {
            switch state {
            case .start:
                if byte == UInt8(ascii: ":") {
                    pending = [byte]
                    state = .candidate
                } else {
                    run.append(byte)
                    if byte != UInt8(ascii: "\n") { state = .output }
                }
            case .output:
                run.append(byte)
                if byte == UInt8(ascii: "\n") { state = .start }
            case .candidate:
                if byte == UInt8(ascii: "\n") {
                    if let directive = Self.parse(line: pending) {
                        flushRun()
                        events.append(.directive(directive))
                    } else {
                        run.append(contentsOf: pending)
                        run.append(byte)
                    }
                    pending.removeAll()
                    state = .start
                } else if (pending.count == 1 && byte != UInt8(ascii: ":")) || pending.count >= Self.maxLineBytes {
                    // Not `::`, or too long to be protocol: the held bytes and the rest of the line are output.
                    run.append(contentsOf: pending)
                    run.append(byte)
                    pending.removeAll()
                    state = .output
                } else {
                    pending.append(byte)
                }
            }
        }
        flushRun()
        return events
    }

    /// Ends the stream: a last protocol line without a newline still counts.
    public mutating func finish() -> [Event] {
        defer {
            pending.removeAll()
            state = .start
        }
        guard state == .candidate, !pending.isEmpty else { return [] }
        if let directive = Self.parse(line: pending) { return [.directive(directive)] }
        return [.output(pending)]
    }

    /// Parses one line (without its newline); nil when it is not a well-formed protocol line.
    public static func parse(line bytes: [UInt8]) -> ProgressDirective? {
        guard bytes.count <= maxLineBytes, bytes.starts(with: [58, 58]) else { return nil }  // "::"
        var text = String(decoding: bytes.dropFirst(2), as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        let verb: Substring
        let rest: Substring
        if let space = text.firstIndex(of: " ") {
            verb = text[..<space]
            rest = text[text.index(after: space)...]
        } else {
            verb = text[...]
            rest = ""
        }
        switch verb {
        case "progress":
            let (token, message) = split(rest)
            guard let percent = percent(token) else { return nil }
            return .progress(percent: percent, message: clean(message))
        case "step":
            let (token, message) = split(rest)
            let parts = token.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let number = count(parts[0]), let total = count(parts[1]), number <= total else { return nil }
            return .step(number: number, total: total, message: clean(message))
        case "result":
            return .result(String(rest))
        default:
            return nil
        }
    }

    private static func split(_ text: Substring) -> (Substring, Substring) {
        guard let space = text.firstIndex(of: " ") else { return (text, "") }
        return (text[..<space], text[text.index(after: space)...])
    }

    /// `40`, `40.5`, `40%`: digits with at most one decimal point, 0…100.
    private static func percent(_ token: Substring) -> Double? {
        var digits = token
        if digits.hasSuffix("%") { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.count <= 12, digits.first != ".", digits.last != ".",
            digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), digits.filter({ $0 == "." }).count <= 1,
            let value = Double(digits), (0...100).contains(value)
        else { return nil }
        return value
    }

    /// A step number: 1…maxSteps, plain ASCII digits.
    private static func count(_ token: Substring) -> Int? {
        guard !token.isEmpty, token.count <= 6, token.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(token),
            (1...maxSteps).contains(value)
        else { return nil }
        return value
    }

    /// One printable line: control characters become spaces, surrounding spaces go, long text is cut.
    static func clean(_ text: Substring) -> String {
        let scalars = text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) }
        let line = String(scalars).trimmingCharacters(in: .whitespaces)
        guard line.count > maxMessageCharacters else { return line }
        return String(line.prefix(maxMessageCharacters - 1)) + "…"
    }
}
