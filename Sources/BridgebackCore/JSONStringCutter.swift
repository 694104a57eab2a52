/// Shrinks a JSON document read in pieces, without ever holding it whole: everything is kept
/// as is except that each string is cut to its first `keepStringBytes` bytes (of its encoded
/// form, at a character or escape boundary) and closed again. A completion whose result is
/// 20 MB becomes the same completion with a short result, so its job id, capability and
/// outcome can still be read, and it costs `maxOutputBytes` at most.
///
/// It checks no JSON syntax (a decoder does that on the output); when the output would exceed
/// `maxOutputBytes` (a document made of many small values, not one long string) or the input
/// ends inside a string, `finish()` returns an empty array, which no decoder accepts.
public struct JSONStringCutter: Sendable {
    public let keepStringBytes: Int
    public let maxOutputBytes: Int
    private var output: [UInt8] = []
    private var overflowed = false
    private var inString = false
    private var cutting = false
    private var keptInString = 0
    /// A character or escape sequence being collected, written (or dropped) whole.
    private var unit: [UInt8] = []
    private var state = UnitState.none
    /// How many strings were cut.
    public private(set) var cutStrings = 0

    private enum UnitState: Sendable {
        case none
        case utf8(remaining: Int)
        case afterBackslash
        case hex(remaining: Int)
        /// After a high-surrogate `\uD8xx`: its low half must stay with it.
        case pairBackslash
        case pairU
    }

    public init(keepStringBytes: Int, maxOutputBytes: Int) {
        self.keepStringBytes = max(0, keepStringBytes)
        self.maxOutputBytes = max(0, maxOutputBytes)
    }

    /// Feeds the next bytes of the document.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        let count = bytes.count
        while index < count {
            if inString, cutting, case .none = state {
                // Inside a string past its cut nothing is kept until its closing quote: skip the run.
                while index < count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") { index += 1 }
                if index == count { return }
            }
            feed(bytes[index])
            index += 1
        }
    }

    /// Feeds the next bytes of the document.
    public mutating func consume(_ bytes: some Sequence<UInt8>) {
        for byte in bytes { feed(byte) }
    }

    /// The shrunk document, or `[]` when it could not be kept within `maxOutputBytes`.
    public mutating func finish() -> [UInt8] {
        if inString || overflowed { return [] }
        return output
    }

    private mutating func write(_ bytes: [UInt8]) {
        guard !overflowed else { return }
        guard output.count + bytes.count <= maxOutputBytes else {
            overflowed = true
            output = []
            return
        }
        output.append(contentsOf: bytes)
    }

    private mutating func write(_ byte: UInt8) {
        guard !overflowed else { return }
        guard output.count < maxOutputBytes else {
            overflowed = true
            output = []
            return
        }
        output.append(byte)
    }

    /// A whole character or escape of the current string: kept while the string is under its cut.
    private mutating func commit() {
        defer {
            unit.removeAll(keepingCapacity: true)
            state = .none
        }
        guard !cutting, keptInString + unit.count <= keepStringBytes else {
            cutting = true
            return
        }
        keptInString += unit.count
        write(unit)
    }

    private mutating func feed(_ byte: UInt8) {
        guard !overflowed else { return }
        guard inString else {
            write(byte)
            if byte == UInt8(ascii: "\"") {
                inString = true
                cutting = false
                keptInString = 0
            }
            return
        }
        switch state {
        case .none:
            startUnit(byte)
        case .utf8(let remaining):
            unit.append(byte)
            if remaining <= 1 { commit() } else { state = .utf8(remaining: remaining - 1) }
        case .afterBackslash:
            unit.append(byte)
            if byte == UInt8(ascii: "u") { state = .hex(remaining: 4) } else { commit() }
        case .hex(let remaining):
            unit.append(byte)
            guard remaining <= 1 else {
                state = .hex(remaining: remaining - 1)
                return
            }
            if unit.count == 6, Self.isHighSurrogate(unit[2...]) { state = .pairBackslash } else { commit() }
        case .pairBackslash:
            if byte == UInt8(ascii: "\\") {
                unit.append(byte)
                state = .pairU
            } else {
                commit()
                startUnit(byte)
            }
        case .pairU:
            unit.append(byte)
            if byte == UInt8(ascii: "u") { state = .hex(remaining: 4) } else { commit() }
        }
    }

    /// The first byte of a character or escape inside a string, or its closing quote.
    private mutating func startUnit(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""):
            if cutting { cutStrings += 1 }
            inString = false
            write(byte)
        case UInt8(ascii: "\\"):
            unit = [byte]
            state = .afterBackslash
        case 0xC0...0xDF:
            unit = [byte]
            state = .utf8(remaining: 1)
        case 0xE0...0xEF:
            unit = [byte]
            state = .utf8(remaining: 2)
        case 0xF0...0xF7:
            unit = [byte]
            state = .utf8(remaining: 3)
        default:
            unit = [byte]
            commit()
        }
    }

    private static func isHighSurrogate(_ hex: ArraySlice<UInt8>) -> Bool {
        var value: UInt32 = 0
        for byte in hex {
            guard let digit = JSONHex.digit(byte) else { return false }
            value = value << 4 | digit
        }
        return (0xD800...0xDBFF).contains(value)
    }
}
