/// Where each value of a JSON document starts, so errors found after decoding can name a line.
///
/// JSONDecoder reports a coding path but no position; this small scanner supplies positions,
/// object keys (to catch typos the decoder would silently ignore) and string values (to name
/// the cue or family an error is in). It validates syntax on the way.
struct JSONSourceMap: Sendable {
    struct Position: Sendable, Hashable {
        var line: Int
        var column: Int
    }

    /// Path of a value → where it starts. Paths look like `families[2].cues[0].pattern`.
    private(set) var positions: [String: Position] = [:]
    /// Path of an object member → where its key starts.
    private(set) var keyPositions: [String: Position] = [:]
    /// Path of an object → its keys, in document order.
    private(set) var objectKeys: [String: [String]] = [:]
    /// Path of a string value → the string (escapes left raw; used only for naming things).
    private(set) var strings: [String: String] = [:]

    static func child(_ parent: String, key: String) -> String {
        parent.isEmpty ? key : parent + "." + key
    }

    static func child(_ parent: String, index: Int) -> String {
        parent + "[\(index)]"
    }

    /// The position of `path`, or of its nearest enclosing value that has one.
    func position(of path: String) -> Position? {
        var current = path
        while true {
            if let p = positions[current] { return p }
            if current.isEmpty { return nil }
            current = Self.parent(of: current)
        }
    }

    static func parent(of path: String) -> String {
        if path.hasSuffix("]"), let open = path.lastIndex(of: "[") {
            return String(path[..<open])
        }
        if let dot = path.lastIndex(of: ".") { return String(path[..<dot]) }
        return ""
    }

    static func parse(_ bytes: [UInt8]) throws(PolicyError) -> JSONSourceMap {
        var scanner = Scanner(bytes: bytes)
        var map = JSONSourceMap()
        scanner.skipBOM()
        scanner.skipWhitespace()
        guard !scanner.atEnd else {
            throw scanner.error("the file is empty; expected a JSON object")
        }
        try scanner.value(path: "", into: &map)
        scanner.skipWhitespace()
        if !scanner.atEnd {
            throw scanner.error(
                "unexpected \(scanner.describeCurrent()) after the end of the top-level object")
        }
        return map
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var line = 1
        var column = 1

        var atEnd: Bool { index >= bytes.count }
        var current: UInt8? { index < bytes.count ? bytes[index] : nil }
        var position: Position { Position(line: line, column: column) }

        func error(_ reason: String) -> PolicyError {
            PolicyError(kind: .syntax, reason: reason, line: line, column: column)
        }

        func describeCurrent() -> String {
            guard let c = current else { return "end of file" }
            if c >= 0x20 && c < 0x7f { return "'\(Character(UnicodeScalar(c)))'" }
            return "byte 0x\(String(c, radix: 16))"
        }

        mutating func skipBOM() {
            if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        }

        mutating func advance() {
            guard let c = current else { return }
            index += 1
            if c == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if c & 0xC0 != 0x80 {
                column += 1  // count characters, not UTF-8 continuation bytes
            }
        }

        mutating func skipWhitespace() {
            while let c = current,
                c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09
            {
                advance()
            }
        }

        mutating func expect(_ literal: String) throws(PolicyError) {
            for byte in literal.utf8 {
                guard current == byte else {
                    throw error("expected '\(literal)', found \(describeCurrent())")
                }
                advance()
            }
        }

        mutating func value(path: String, into map: inout JSONSourceMap) throws(PolicyError) {
            skipWhitespace()
            map.positions[path] = position
            guard let c = current else { throw error("unexpected end of file; expected a value") }
            switch c {
            case UInt8(ascii: "{"): try object(path: path, into: &map)
            case UInt8(ascii: "["): try array(path: path, into: &map)
            case UInt8(ascii: "\""): map.strings[path] = try string()
            case UInt8(ascii: "t"): try expect("true")
            case UInt8(ascii: "f"): try expect("false")
            case UInt8(ascii: "n"): try expect("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default:
                throw error(
                    "unexpected \(describeCurrent()); expected a value (object, array, string, number, true, false or null)"
                )
            }
        }

        mutating func object(path: String, into map: inout JSONSourceMap) throws(PolicyError) {
            advance()  // {
            var keys: [String] = []
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                advance()
                map.objectKeys[path] = keys
                return
            }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else {
                    throw error(
                        "expected a quoted key, found \(describeCurrent()) (trailing commas are not allowed in JSON)"
                    )
                }
                let keyPosition = position
                let key = try string()
                if keys.contains(key) {
                    throw PolicyError(
                        kind: .duplicateIdentifier,
                        reason: "key '\(key)' appears twice in the same object; keep one",
                        path: JSONSourceMap.child(path, key: key), line: keyPosition.line,
                        column: keyPosition.column)
                }
                keys.append(key)
                let childPath = JSONSourceMap.child(path, key: key)
                map.keyPositions[childPath] = keyPosition
                skipWhitespace()
                guard current == UInt8(ascii: ":") else {
                    throw error("expected ':' after key '\(key)', found \(describeCurrent())")
                }
                advance()
                try value(path: childPath, into: &map)
                skipWhitespace()
                if current == UInt8(ascii: ",") {
                    advance()
                    continue
                }
                if current == UInt8(ascii: "}") {
                    advance()
                    break
                }
                throw error(
                    "expected ',' or '}' after the value of '\(key)', found \(describeCurrent())")
            }
            map.objectKeys[path] = keys
        }

        mutating func array(path: String, into map: inout JSONSourceMap) throws(PolicyError) {
            advance()  // [
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                advance()
                return
            }
            var i = 0
            while true {
                try value(path: JSONSourceMap.child(path, index: i), into: &map)
                i += 1
                skipWhitespace()
                if current == UInt8(ascii: ",") {
                    advance()
                    skipWhitespace()
                    if current == UInt8(ascii: "]") {
                        throw error("trailing comma before ']' is not allowed in JSON")
                    }
                    continue
                }
                if current == UInt8(ascii: "]") {
                    advance()
                    return
                }
                throw error("expected ',' or ']' in array, found \(describeCurrent())")
            }
        }

        mutating func string() throws(PolicyError) -> String {
            advance()  // opening quote
            var out: [UInt8] = []
            while true {
                guard let c = current else { throw error("unterminated string") }
                if c == UInt8(ascii: "\"") {
                    advance()
                    return String(decoding: out, as: UTF8.self)
                }
                if c < 0x20 {
                    throw error(
                        "control character inside a string (a line break must be written \\n)")
                }
                if c == UInt8(ascii: "\\") {
                    advance()
                    guard let e = current else { throw error("unterminated string") }
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"):
                        out.append(e)
                    case UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                        UInt8(ascii: "r"), UInt8(ascii: "t"):
                        out.append(UInt8(ascii: " "))
                    case UInt8(ascii: "u"):
                        for _ in 0..<4 {
                            advance()
                            guard let h = current, isHex(h) else {
                                throw error("\\u must be followed by four hex digits")
                            }
                        }
                        out.append(UInt8(ascii: "?"))
                    default:
                        throw error(
                            "invalid escape '\\\(Character(UnicodeScalar(e)))' in string; in a JSON string a regex backslash is written \\\\ (for example \\\\b)"
                        )
                    }
                    advance()
                    continue
                }
                out.append(c)
                advance()
            }
        }

        func isHex(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
        }

        mutating func number() throws(PolicyError) {
            if current == UInt8(ascii: "-") { advance() }
            guard let first = current, first >= 0x30 && first <= 0x39 else {
                throw error("invalid number")
            }
            while let c = current, c >= 0x30 && c <= 0x39 { advance() }
            if current == UInt8(ascii: ".") {
                advance()
                guard let c = current, c >= 0x30 && c <= 0x39 else {
                    throw error("invalid number: digits must follow '.'")
                }
                while let c = current, c >= 0x30 && c <= 0x39 { advance() }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                advance()
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { advance() }
                guard let c = current, c >= 0x30 && c <= 0x39 else {
                    throw error("invalid number exponent")
                }
                while let c = current, c >= 0x30 && c <= 0x39 { advance() }
            }
        }
    }
}
