/// A JSON reader for bytes that come from outside the process (HTTP bodies, broker messages).
///
/// `JSONDecoder` accepts duplicate keys (the last one wins), reads UTF-16 and UTF-32 bodies,
/// and builds a tree whose memory grows faster than the input. This reader is strict and
/// bounded instead: UTF-8 only (no byte-order mark), duplicate keys refused with the key's
/// path, nesting depth capped, NUL characters refused unless allowed, and long strings either
/// refused or cut to a prefix while the full size is counted, so a 20 MB string costs only
/// the input plus the kept prefix.
public enum StrictJSON {
    /// What the reader accepts.
    public struct Limits: Sendable, Hashable {
        /// Deepest nesting of arrays and objects.
        public var maxDepth: Int
        /// Longest string (decoded UTF-8 bytes); nil for no limit.
        public var maxStringBytes: Int?
        /// With `maxStringBytes`: keep a prefix of a longer string (reported in `truncated`)
        /// instead of refusing the document.
        public var truncateLongStrings: Bool
        /// Whether a string may contain U+0000 (it cannot become a process argument or a C string).
        public var allowNUL: Bool

        public init(maxDepth: Int = 32, maxStringBytes: Int? = nil, truncateLongStrings: Bool = false, allowNUL: Bool = false) {
            self.maxDepth = maxDepth
            self.maxStringBytes = maxStringBytes
            self.truncateLongStrings = truncateLongStrings
            self.allowNUL = allowNUL
        }
    }

    /// Why a document was refused: a kind to switch on, the path of the value and a message.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public enum Kind: String, Sendable, Hashable {
            case notUTF8 = "not_utf8"
            case syntax
            case duplicateKey = "duplicate_key"
            case tooDeep = "too_deep"
            case stringTooLong = "string_too_long"
            case nulCharacter = "nul_character"
        }
        public var kind: Kind
        /// Where: `contract.parent_id`, `recipe.params.files[2]`; empty for the top level.
        public var path: String
        public var message: String
        public var description: String { message }
    }

    /// A string cut to `maxStringBytes` (with `truncateLongStrings`).
    public struct Truncation: Sendable, Hashable {
        public var path: String
        /// The decoded size of the whole string, in UTF-8 bytes.
        public var fullBytes: Int
    }

    /// Parses one JSON document.
    public static func parse(_ bytes: [UInt8], limits: Limits = Limits()) throws(Failure) -> JSONValue {
        try parseReportingTruncations(bytes, limits: limits).value
    }

    /// Parses one JSON document and lists the strings that were cut.
    public static func parseReportingTruncations(
        _ bytes: [UInt8], limits: Limits = Limits()
    ) throws(Failure) -> (value: JSONValue, truncated: [Truncation]) {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            throw Failure(kind: .notUTF8, path: "", message: "the body starts with a byte-order mark; send UTF-8 JSON without one")
        }
        if bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE]) || (bytes.count >= 2 && (bytes[0] == 0 || bytes[1] == 0)) {
            throw Failure(kind: .notUTF8, path: "", message: "the body looks like UTF-16 or UTF-32; send UTF-8 JSON")
        }
        var reader = Reader(bytes: bytes, limits: limits)
        reader.skipWhitespace()
        guard !reader.atEnd else { throw reader.fail(.syntax, "", "the body is empty; expected a JSON value") }
        let value = try reader.value(path: "", depth: 0)
        reader.skipWhitespace()
        guard reader.atEnd else { throw reader.fail(.syntax, "", "unexpected \(reader.current) after the end of the JSON value") }
        return (value, reader.truncated)
    }

    private struct Reader {
        let bytes: [UInt8]
        let limits: Limits
        var index = 0
        var truncated: [Truncation] = []

        init(bytes: [UInt8], limits: Limits) {
            self.bytes = bytes
            self.limits = limits
        }

        var atEnd: Bool { index >= bytes.count }

        var current: String {
            guard !atEnd else { return "end of input" }
            let byte = bytes[index]
            return byte >= 0x20 && byte < 0x7F
                ? "'\(Character(Unicode.Scalar(byte)))' at byte \(index)" : "byte 0x\(String(byte, radix: 16)) at \(index)"
        }

        func fail(_ kind: Failure.Kind, _ path: String, _ message: String) -> Failure {
            Failure(kind: kind, path: path, message: message)
        }

        func syntax(_ path: String, _ expected: String) -> Failure {
            fail(.syntax, path, "invalid JSON\(path.isEmpty ? "" : " in \(path)"): expected \(expected), found \(current)")
        }

        mutating func skipWhitespace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func value(path: String, depth: Int) throws(Failure) -> JSONValue {
            guard !atEnd else { throw syntax(path, "a value") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(path: path, depth: depth + 1)
            case UInt8(ascii: "["): return try array(path: path, depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string(path: path))
            case UInt8(ascii: "t"): try literal("true", path: path); return .bool(true)
            case UInt8(ascii: "f"): try literal("false", path: path); return .bool(false)
            case UInt8(ascii: "n"): try literal("null", path: path); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number(path: path))
            default: throw syntax(path, "a value")
            }
        }

        mutating func literal(_ word: String, path: String) throws(Failure) {
            let expected = Array(word.utf8)
            guard bytes.count - index >= expected.count, bytes[index..<index + expected.count].elementsEqual(expected) else {
                throw syntax(path, "\(word)")
            }
            index += expected.count
        }

        mutating func object(path: String, depth: Int) throws(Failure) -> JSONValue {
            guard depth <= limits.maxDepth else {
                throw fail(.tooDeep, path, "JSON nested deeper than \(limits.maxDepth) levels\(path.isEmpty ? "" : " at \(path)")")
            }
            index += 1
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if !atEnd, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard !atEnd, bytes[index] == UInt8(ascii: "\"") else { throw syntax(path, "a string key") }
                let keyPath = path.isEmpty ? "" : path + "."
                let key = try string(path: keyPath + "<key>")
                let child = keyPath + key
                guard members[key] == nil else {
                    throw fail(.duplicateKey, child, "duplicate key \"\(child)\": each field may appear once")
                }
                skipWhitespace()
                guard !atEnd, bytes[index] == UInt8(ascii: ":") else { throw syntax(child, "':' after the key") }
                index += 1
                skipWhitespace()
                members[key] = try value(path: child, depth: depth)
                skipWhitespace()
                guard !atEnd else { throw syntax(path, "',' or '}'") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "}") else { throw syntax(path, "',' or '}'") }
                index += 1
                return .object(members)
            }
        }

        mutating func array(path: String, depth: Int) throws(Failure) -> JSONValue {
            guard depth <= limits.maxDepth else {
                throw fail(.tooDeep, path, "JSON nested deeper than \(limits.maxDepth) levels\(path.isEmpty ? "" : " at \(path)")")
            }
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if !atEnd, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try value(path: "\(path)[\(elements.count)]", depth: depth))
                skipWhitespace()
                guard !atEnd else { throw syntax(path, "',' or ']'") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "]") else { throw syntax(path, "',' or ']'") }
                index += 1
                return .array(elements)
            }
        }

        mutating func number(path: String) throws(Failure) -> Double {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            func digits(_ reader: inout Reader) -> Int {
                let from = reader.index
                while reader.index < reader.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(reader.bytes[reader.index]) {
                    reader.index += 1
                }
                return reader.index - from
            }
            let intStart = index
            let intDigits = digits(&self)
            guard intDigits > 0 else { throw syntax(path, "a digit") }
            if intDigits > 1, bytes[intStart] == UInt8(ascii: "0") { throw syntax(path, "no leading zero in a number") }
            if !atEnd, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits(&self) > 0 else { throw syntax(path, "a digit after '.'") }
            }
            if !atEnd, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if !atEnd, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits(&self) > 0 else { throw syntax(path, "a digit in the exponent") }
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            guard let value = Double(text) else { throw syntax(path, "a number") }
            return value
        }

        /// Reads a string; `index` is on the opening quote.
        mutating func string(path: String) throws(Failure) -> String {
            index += 1
            let keep = limits.maxStringBytes ?? Int.max
            var out: [UInt8] = []
            var total = 0
            func append(_ byte: UInt8, _ out: inout [UInt8], _ total: inout Int) {
                total += 1
                if out.count < keep { out.append(byte) }
            }
            while true {
                guard index < bytes.count else { throw syntax(path, "the closing '\"' of a string") }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    break
                }
                if byte < 0x20 { throw syntax(path, "no raw control character in a string (escape it)") }
                if byte == UInt8(ascii: "\\") {
                    index += 1
                    guard index < bytes.count else { throw syntax(path, "an escape") }
                    let escape = bytes[index]
                    index += 1
                    let simple: UInt8? =
                        switch escape {
                        case UInt8(ascii: "\""): 0x22
                        case UInt8(ascii: "\\"): 0x5C
                        case UInt8(ascii: "/"): 0x2F
                        case UInt8(ascii: "b"): 0x08
                        case UInt8(ascii: "f"): 0x0C
                        case UInt8(ascii: "n"): 0x0A
                        case UInt8(ascii: "r"): 0x0D
                        case UInt8(ascii: "t"): 0x09
                        default: nil
                        }
                    if let simple {
                        append(simple, &out, &total)
                        continue
                    }
                    guard escape == UInt8(ascii: "u") else { throw syntax(path, "a valid escape such as \\n or \\u00e9") }
                    var scalar = try hex4(path: path)
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw fail(.notUTF8, path, "\(path.isEmpty ? "a string" : path) has an unpaired UTF-16 surrogate escape")
                        }
                        index += 2
                        let low = try hex4(path: path)
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw fail(.notUTF8, path, "\(path.isEmpty ? "a string" : path) has an unpaired UTF-16 surrogate escape")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail(.notUTF8, path, "\(path.isEmpty ? "a string" : path) has an unpaired UTF-16 surrogate escape")
                    }
                    if scalar == 0, !limits.allowNUL {
                        throw fail(
                            .nulCharacter, path,
                            "\(path.isEmpty ? "a string" : path) contains a NUL character (\\u0000), which is not allowed")
                    }
                    for unit in String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8 { append(unit, &out, &total) }
                    continue
                }
                // A raw run: copy up to the next quote, backslash or control byte.
                let start = index
                while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 {
                    index += 1
                }
                let run = bytes[start..<index]
                total += run.count
                if out.count < keep { out.append(contentsOf: run.prefix(keep - out.count)) }
                // Validate the raw run on its own (escapes produce valid UTF-8 by construction).
                if run.contains(where: { $0 >= 0x80 }), String(validating: run, as: UTF8.self) == nil {
                    throw fail(.notUTF8, path, "\(path.isEmpty ? "a string" : path) is not valid UTF-8")
                }
            }
            if total > keep {
                guard limits.truncateLongStrings else {
                    throw fail(.stringTooLong, path, "\(path.isEmpty ? "a string" : path) is \(total) bytes; the limit is \(keep)")
                }
                truncated.append(Truncation(path: path, fullBytes: total))
                // Cut back to a whole scalar.
                while let last = out.last, last & 0xC0 == 0x80 { out.removeLast() }
                if let last = out.last, last >= 0xC0 { out.removeLast() }
            }
            return String(decoding: out, as: UTF8.self)
        }

        mutating func hex4(path: String) throws(Failure) -> UInt32 {
            guard bytes.count - index >= 4 else { throw syntax(path, "four hex digits after \\u") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let digit = JSONHex.digit(bytes[index]) else { throw syntax(path, "four hex digits after \\u") }
                value = value << 4 | digit
                index += 1
            }
            return value
        }
    }
}

/// One hexadecimal digit of a `\uXXXX` escape, as every JSON reader here reads it (`StrictJSON`,
/// `WireJSONReader`, `JSONStringCutter`); nil for any other byte.
enum JSONHex {
    @inline(__always)
    static func digit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
