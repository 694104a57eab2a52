/// One entry of a principal's scope: an exact value, or a pattern where `*` stands for any run
/// of characters (`cli:alice`, `hooks:*`, `alice.*`, `*`).
///
/// Only `*` is special, so a pattern can never match by accident what its author did not
/// write; the same pattern is translated to an SQLite `GLOB` (`sqliteGlob`) so that lists are
/// filtered by the store, not after a `LIMIT`.
public struct ScopePattern: Sendable, Hashable, CustomStringConvertible, Codable {
    public let rawValue: String

    /// The longest pattern accepted (routing keys are at most 255 bytes).
    public static let maxLength = 255

    /// Accepts 1–255 printable ASCII characters without spaces; throws a message naming the problem.
    public init(validating rawValue: String) throws(AuthError) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= Self.maxLength,
            rawValue.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            throw AuthError(
                .invalidPrincipals,
                "pattern '\(rawValue.prefix(80))' must be 1-\(Self.maxLength) printable ASCII characters without spaces ('*' matches any run of characters)"
            )
        }
        self.rawValue = rawValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do { try self.init(validating: text) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    /// Whether `value` matches: `*` matches any run of characters (also none), everything else itself.
    public func matches(_ value: String) -> Bool {
        Self.glob(Array(rawValue.utf8), Array(value.utf8))
    }

    /// The same pattern as an SQLite `GLOB` operand (`?` and `[` escaped as character classes).
    public var sqliteGlob: String {
        var out = ""
        for character in rawValue {
            switch character {
            case "?": out += "[?]"
            case "[": out += "[[]"
            default: out.append(character)
            }
        }
        return out
    }

    /// Iterative wildcard match with one backtrack point: O(pattern × value) at worst, no recursion.
    static func glob(_ pattern: [UInt8], _ value: [UInt8]) -> Bool {
        let star = UInt8(ascii: "*")
        var p = 0
        var v = 0
        var starAt = -1
        var resumeAt = 0
        while v < value.count {
            if p < pattern.count, pattern[p] != star, pattern[p] == value[v] {
                p += 1
                v += 1
            } else if p < pattern.count, pattern[p] == star {
                starAt = p
                resumeAt = v
                p += 1
            } else if starAt >= 0 {
                p = starAt + 1
                resumeAt += 1
                v = resumeAt
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == star { p += 1 }
        return p == pattern.count
    }
}

extension Array where Element == ScopePattern {
    /// Whether any pattern matches `value`.
    public func anyMatches(_ value: String) -> Bool { contains { $0.matches(value) } }
}
