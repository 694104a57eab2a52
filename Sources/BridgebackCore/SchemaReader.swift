/// The schema layer's object reader: every JSON format that crosses a process boundary and is
/// read by hand (request bodies, the surface registry, the recipe catalog, config files) is
/// read through it, so unknown keys, types, ranges, lengths, character sets, `null` and the
/// wording of a refusal are decided in one place instead of once per format.
///
/// A caller describes what it expects, field by field; the reader checks the JSON against it
/// and reports each problem as a ``SchemaProblem`` naming the full path (`contract.deadline_s`,
/// `recipes[2].parameters[0].type`), what was expected and what was found. Formats that answer
/// one request at a time fail on the first problem (``Mode/failFast``); files an operator fixes
/// in one pass collect every problem (``Mode/collectAll``). A ``Locator`` turns a path into a
/// line and column for formats read from a file.
///
/// Numbers are range-checked as `Double` before any conversion (`Int(1e19)` would trap), string
/// lengths are counted before the characters are looked at, and no string *value* is echoed in
/// a type error (a bot token put where an object belongs must not end up in a log).
///
/// Not `Sendable`: one reader reads one document, on one task.
public final class SchemaReader {
    /// Whether reading stops at the first problem.
    public enum Mode: Sendable, Hashable {
        /// The first problem is thrown (request bodies: one clear refusal).
        case failFast
        /// Every problem is recorded in ``SchemaReader/problems``; nothing throws.
        case collectAll
    }

    /// A 1-based line and column in the source text.
    public struct Position: Sendable, Hashable {
        public var line: Int
        public var column: Int
        public init(line: Int, column: Int) {
            self.line = line
            self.column = column
        }
    }

    /// Finds where the value at a path starts (for ``SchemaProblem/Kind/unknownField``, where its
    /// key starts), so file formats keep their line numbers.
    public typealias Locator = (_ path: String, _ kind: SchemaProblem.Kind) -> Position?

    public let mode: Mode
    /// `null` reads as an absent field (request bodies), or as a value of the wrong type (files
    /// that never had a meaning for it).
    public let nullIsAbsent: Bool
    /// What the root is called in messages (`the body`, `the audit config`).
    public let rootName: String
    let locate: Locator?

    /// Everything reported so far, in the order it was found.
    public private(set) var problems: [SchemaProblem] = []

    public init(mode: Mode, nullIsAbsent: Bool = true, rootName: String = "the document", locate: Locator? = nil) {
        self.mode = mode
        self.nullIsAbsent = nullIsAbsent
        self.rootName = rootName
        self.locate = locate
    }

    // MARK: Reporting

    /// Records a problem (with its position, when there is a locator); in ``Mode/failFast`` throws it.
    public func report(_ problem: SchemaProblem) throws(SchemaProblem) {
        var located = problem
        located.rootName = rootName
        if located.position == nil, let locate { located.position = locate(problem.path, problem.kind) }
        problems.append(located)
        if mode == .failFast { throw located }
    }

    /// Reports a rule of the caller's own (a semantic check the schema cannot express) at `path`.
    /// `text` follows the path: `must list at least one directory`.
    public func refuse(_ path: String, _ text: String, kind: SchemaProblem.Kind = .invalidValue) throws(SchemaProblem) {
        try report(SchemaProblem(kind: kind, path: path, text: text))
    }

    /// Reports that `value` at `path` is not `expected`.
    public func wrongType(_ path: String, expected: String, found value: JSONValue) throws(SchemaProblem) {
        try report(SchemaProblem(kind: .wrongType, path: path, text: "must be \(expected), got \(value.schemaDescription)"))
    }

    /// The last problem reported, for a fail-fast caller whose required field read as nil (it
    /// has thrown already, so this only keeps the code free of force-unwraps).
    public func lastProblem(at path: String) -> SchemaProblem {
        problems.last ?? SchemaProblem(kind: .missing, path: path, text: "is required")
    }

    /// Whether nothing has been reported.
    public var isClean: Bool { problems.isEmpty }

    // MARK: Reading values

    /// A value that is present; nil (after reporting `missing` when required) for an absent one
    /// or, when ``nullIsAbsent``, a `null`.
    func present(_ value: JSONValue?, at path: String, required: Bool, expected: String) throws(SchemaProblem) -> JSONValue? {
        switch value {
        case nil:
            if required { try report(SchemaProblem(kind: .missing, path: path, text: "is required: \(expected)")) }
            return nil
        case .null? where nullIsAbsent:
            if required { try report(SchemaProblem(kind: .missing, path: path, text: "is required: \(expected); got null")) }
            return nil
        case let value?:
            return value
        }
    }

    /// Reads an object at `path`. With `known`, any other key is an unknown field (keys starting
    /// with `commentPrefix` are comments and allowed).
    public func object(
        _ value: JSONValue?, at path: String, known: [String]? = nil, commentPrefix: String? = nil, required: Bool = false,
        expected: String = "an object"
    ) throws(SchemaProblem) -> JSONFields? {
        guard let value = try present(value, at: path, required: required, expected: expected) else { return nil }
        guard case .object(let members) = value else {
            try wrongType(path, expected: expected, found: value)
            return nil
        }
        let fields = JSONFields(members, at: path, reader: self)
        if let known { try fields.refuseUnknown(known: known, commentPrefix: commentPrefix) }
        return fields
    }

    /// Reads an array at `path`, each element with its own path (`path[i]`).
    public func array(
        _ value: JSONValue?, at path: String, required: Bool = false, count: ClosedRange<Int>? = nil, expected: String = "an array"
    ) throws(SchemaProblem) -> [(path: String, value: JSONValue)]? {
        guard let value = try present(value, at: path, required: required, expected: expected) else { return nil }
        guard case .array(let items) = value else {
            try wrongType(path, expected: expected, found: value)
            return nil
        }
        if let count, !count.contains(items.count) {
            try report(
                SchemaProblem(
                    kind: .outOfRange, path: path, text: "must have \(Self.describe(count, unit: "item")), got \(items.count)"))
            return nil
        }
        return items.enumerated().map { (Self.path(path, index: $0.offset), $0.element) }
    }

    /// Reads a string at `path`, checking its length before its characters.
    public func string(
        _ value: JSONValue?, at path: String, required: Bool = false, length: StringLength? = nil, alphabet: Alphabet? = nil,
        expected: String? = nil
    ) throws(SchemaProblem) -> String? {
        let expected = expected ?? "a string"
        guard let value = try present(value, at: path, required: required, expected: expected) else { return nil }
        guard case .string(let text) = value else {
            try wrongType(path, expected: expected, found: value)
            return nil
        }
        if let length {
            let count = length.count(text)
            guard length.range.contains(count) else {
                try report(SchemaProblem(kind: .outOfRange, path: path, text: "must be \(length.describe()), got \(count)"))
                return nil
            }
        }
        if let alphabet, let bad = text.unicodeScalars.first(where: { !alphabet.allows($0) }) {
            try report(
                SchemaProblem(
                    kind: .invalidValue, path: path,
                    text: "contains \(Self.describe(bad)), which is not allowed; use \(alphabet.description)"))
            return nil
        }
        return text
    }

    /// Reads a number at `path`, inside `bounds` (checked on the `Double`, finite only).
    public func number(
        _ value: JSONValue?, at path: String, required: Bool = false, bounds: NumberBounds = .any, expected: String? = nil
    ) throws(SchemaProblem) -> Double? {
        let expected = expected ?? bounds.describe(noun: "a number")
        guard let value = try present(value, at: path, required: required, expected: expected) else { return nil }
        guard case .number(let number) = value else {
            try wrongType(path, expected: expected, found: value)
            return nil
        }
        guard number.isFinite, bounds.contains(number) else {
            try report(SchemaProblem(kind: .outOfRange, path: path, text: "must be \(expected), got \(value.schemaDescription)"))
            return nil
        }
        return number
    }

    /// Reads a whole number at `path`. The range is checked before `Int` is made, so no value traps.
    public func integer(
        _ value: JSONValue?, at path: String, required: Bool = false, range: ClosedRange<Int>? = nil, expected: String? = nil
    ) throws(SchemaProblem) -> Int? {
        let expected = expected ?? (range.map { Self.describe($0, noun: "a whole number") } ?? "a whole number")
        guard let value = try present(value, at: path, required: required, expected: expected) else { return nil }
        guard case .number(let number) = value else {
            try wrongType(path, expected: expected, found: value)
            return nil
        }
        // 2^53: every whole Double below it is exact, and Int(_:) of it cannot trap.
        guard number.isFinite, number.rounded() == number, number.magnitude < 9_007_199_254_740_992 else {
            try report(SchemaProblem(kind: .wrongType, path: path, text: "must be \(expected), got \(value.schemaDescription)"))
            return nil
        }
        let whole = Int(number)
        if let range, !range.contains(whole) {
            try report(SchemaProblem(kind: .outOfRange, path: path, text: "must be \(expected), got \(whole)"))
            return nil
        }
        return whole
    }

    /// Reads `true` or `false` at `path`.
    public func bool(_ value: JSONValue?, at path: String, required: Bool = false, expected: String = "true or false")
        throws(SchemaProblem) -> Bool?
    {
        guard let value = try present(value, at: path, required: required, expected: expected) else { return nil }
        guard case .bool(let flag) = value else {
            try wrongType(path, expected: expected, found: value)
            return nil
        }
        return flag
    }

    /// Reads a string that must be one of `E`'s raw values.
    public func oneOf<E: RawRepresentable & CaseIterable>(
        _ value: JSONValue?, at path: String, _: E.Type, required: Bool = false
    ) throws(SchemaProblem) -> E? where E.RawValue == String {
        try oneOf(value, at: path, E.allCases.map(\.rawValue), required: required).flatMap(E.init(rawValue:))
    }

    /// Reads a string that must be one of `choices`.
    public func oneOf(_ value: JSONValue?, at path: String, _ choices: [String], required: Bool = false) throws(SchemaProblem)
        -> String?
    {
        let expected = Self.describeChoices(choices)
        guard let text = try string(value, at: path, required: required, expected: expected) else { return nil }
        guard choices.contains(text) else {
            try report(
                SchemaProblem(kind: .invalidValue, path: path, text: "must be \(expected), got \(Self.quote(text))"))
            return nil
        }
        return text
    }

    // MARK: Paths and wording

    /// `parent.key`, or `key` at the root.
    public static func path(_ parent: String, key: String) -> String { parent.isEmpty ? key : parent + "." + key }
    /// `parent[index]`.
    public static func path(_ parent: String, index: Int) -> String { parent + "[\(index)]" }

    /// A short value quoted for a message: `"pigeon"`, cut after 40 characters.
    public static func quote(_ text: String) -> String {
        "\"\(text.count > 40 ? String(text.prefix(40)) + "…" : text)\""
    }

    /// `"a", "b" or "c"`
    public static func describeChoices(_ choices: [String]) -> String {
        let quoted = choices.map { "\"\($0)\"" }
        guard let last = quoted.last else { return "nothing" }
        return quoted.count == 1 ? "\(last)" : "\(quoted.dropLast().joined(separator: ", ")) or \(last)"
    }

    static func describe(_ range: ClosedRange<Int>, noun: String) -> String {
        if range.lowerBound == Int.min { return "\(noun) at most \(range.upperBound)" }
        if range.upperBound == Int.max { return "\(noun) of at least \(range.lowerBound)" }
        return "\(noun) from \(range.lowerBound) to \(range.upperBound)"
    }

    static func describe(_ range: ClosedRange<Int>, unit: String) -> String {
        if range.lowerBound <= 0 { return "at most \(range.upperBound) \(unit)s" }
        if range.upperBound == Int.max { return "at least \(range.lowerBound) \(unit)\(range.lowerBound == 1 ? "" : "s")" }
        return "\(range.lowerBound)-\(range.upperBound) \(unit)s"
    }

    /// A character named so a person can find it: `'#' (U+0023)`, or `the character U+0007` for
    /// one that does not print.
    public static func describe(_ scalar: Unicode.Scalar) -> String {
        let digits = String(scalar.value, radix: 16, uppercase: true)
        let hex = "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        return scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar == " "
            ? "the character \(hex)" : "'\(scalar)' (\(hex))"
    }

    /// The candidate closest to a mistyped `word`, if one is close enough to be a likely typo:
    /// few edits away, or one is the start of the other.
    public static func closest(to word: String, in candidates: [String]) -> String? {
        guard word.count <= 64 else { return nil }
        // A cut-short or run-on key (`max_len`, `deadline_seconds`) is a typo too.
        if word.count >= 4, let stem = candidates.first(where: { $0.hasPrefix(word) || (word.hasPrefix($0) && $0.count >= 4) }) {
            return stem
        }
        let scored = candidates.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, word.count / 3) else { return nil }
        return best
    }

    /// Levenshtein distance, by characters.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// The members of one JSON object being read, at a path, with getters that name each field's
/// full path in their problems. Made by ``SchemaReader/object(_:at:known:commentPrefix:required:expected:)``.
public struct JSONFields {
    /// The members as received.
    public let members: [String: JSONValue]
    /// Where this object is (`contract`; empty for the root).
    public let path: String
    public let reader: SchemaReader

    public init(_ members: [String: JSONValue], at path: String, reader: SchemaReader) {
        self.members = members
        self.path = path
        self.reader = reader
    }

    /// The raw value of `key`, if present (a `null` included).
    public subscript(key: String) -> JSONValue? { members[key] }

    /// Whether `key` is present with a value other than `null`.
    public func has(_ key: String) -> Bool { members[key].map { $0 != .null } ?? false }

    /// The full path of `key`: `contract.deadline_s`.
    public func path(_ key: String) -> String { SchemaReader.path(path, key: key) }

    /// Reports every key outside `known`, in sorted order, each with the known keys and the
    /// closest one when the key looks like a typo.
    public func refuseUnknown(known: [String], commentPrefix: String? = nil) throws(SchemaProblem) {
        for key in members.keys.sorted() where !known.contains(key) {
            if let commentPrefix, key.hasPrefix(commentPrefix) { continue }
            let shown = key.count > 64 ? String(key.prefix(32)) + "…" : key
            var text = "is not a known field"
            if let guess = SchemaReader.closest(to: key, in: known) {
                text += "; did you mean \"\(guess)\"? Known fields"
            } else {
                text += "; known fields"
            }
            text += "\(path.isEmpty ? "" : " here"): \(known.joined(separator: ", "))"
            if let commentPrefix { text += " (prefix a key with \(commentPrefix) for a comment)" }
            try reader.report(SchemaProblem(kind: .unknownField, path: SchemaReader.path(path, key: shown), text: text))
        }
    }

    /// Reports a caller's own rule about `key`.
    public func refuse(_ key: String, _ text: String, kind: SchemaProblem.Kind = .invalidValue) throws(SchemaProblem) {
        try reader.refuse(path(key), text, kind: kind)
    }

    public func object(
        _ key: String, known: [String]? = nil, commentPrefix: String? = nil, required: Bool = false, expected: String = "an object"
    ) throws(SchemaProblem) -> JSONFields? {
        try reader.object(members[key], at: path(key), known: known, commentPrefix: commentPrefix, required: required, expected: expected)
    }

    public func array(_ key: String, required: Bool = false, count: ClosedRange<Int>? = nil, expected: String = "an array")
        throws(SchemaProblem) -> [(path: String, value: JSONValue)]?
    {
        try reader.array(members[key], at: path(key), required: required, count: count, expected: expected)
    }

    public func string(
        _ key: String, required: Bool = false, length: StringLength? = nil, alphabet: Alphabet? = nil, expected: String? = nil
    ) throws(SchemaProblem) -> String? {
        try reader.string(members[key], at: path(key), required: required, length: length, alphabet: alphabet, expected: expected)
    }

    public func number(_ key: String, required: Bool = false, bounds: NumberBounds = .any, expected: String? = nil)
        throws(SchemaProblem) -> Double?
    {
        try reader.number(members[key], at: path(key), required: required, bounds: bounds, expected: expected)
    }

    public func integer(_ key: String, required: Bool = false, range: ClosedRange<Int>? = nil, expected: String? = nil)
        throws(SchemaProblem) -> Int?
    {
        try reader.integer(members[key], at: path(key), required: required, range: range, expected: expected)
    }

    public func bool(_ key: String, required: Bool = false, expected: String = "true or false") throws(SchemaProblem) -> Bool? {
        try reader.bool(members[key], at: path(key), required: required, expected: expected)
    }

    public func oneOf<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type, required: Bool = false)
        throws(SchemaProblem) -> E? where E.RawValue == String
    {
        try reader.oneOf(members[key], at: path(key), type, required: required)
    }

    public func oneOf(_ key: String, _ choices: [String], required: Bool = false) throws(SchemaProblem) -> String? {
        try reader.oneOf(members[key], at: path(key), choices, required: required)
    }
}

/// One thing wrong with a document: what kind of problem, where (path, and line when the format
/// has a locator), and what was expected. ``text`` follows the path; ``message`` is the whole
/// sentence.
public struct SchemaProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for a caller to switch on.
    public enum Kind: String, Sendable, Hashable {
        /// A key the format does not have (usually a typo).
        case unknownField = "unknown_field"
        /// A required field is absent (or `null`).
        case missing
        /// A value of the wrong JSON type (or a fraction where a whole number belongs).
        case wrongType = "wrong_type"
        /// A number, length or count outside its range.
        case outOfRange = "out_of_range"
        /// The right type but not an accepted value: a refused character, not one of the choices,
        /// or a caller's own rule.
        case invalidValue = "invalid_value"
    }

    public var kind: Kind
    /// Where: `contract.deadline_s`, `recipes[2].name`; empty for the whole document.
    public var path: String
    /// What is wrong, after the path: `must be true or false, got the number 1`.
    public var text: String
    /// Where the value (for an unknown field, its key) starts, when the format has a locator.
    public var position: SchemaReader.Position?
    /// What the root is called when ``path`` is empty.
    public var rootName = "the document"

    public init(kind: Kind, path: String, text: String, position: SchemaReader.Position? = nil) {
        self.kind = kind
        self.path = path
        self.text = text
        self.position = position
    }

    /// The last component of the path: `deadline_s` for `contract.deadline_s`, `name` for `recipes[2].name`.
    public var field: String {
        let tail = path.split(separator: ".").last.map(String.init) ?? path
        return tail
    }

    /// The first component of the path: `contract` for `contract.deadline_s`, `recipes` for `recipes[2].name`.
    public var topField: String {
        String(path.prefix { $0 != "." && $0 != "[" })
    }

    /// `"contract.deadline_s" must be a positive number of seconds, got a string`
    public var message: String {
        path.isEmpty ? "\(rootName) \(text)" : "\"\(path)\" \(text)"
    }

    /// The message, after `line L, column C: ` when the position is known.
    public var description: String {
        guard let position else { return message }
        return "line \(position.line), column \(position.column): \(message)"
    }
}

/// A length limit for a string, in UTF-8 bytes (what a routing key, a header or a column holds)
/// or in characters (what a person counts).
public struct StringLength: Sendable, Hashable {
    public enum Unit: Sendable, Hashable { case bytes, characters }
    public var range: ClosedRange<Int>
    public var unit: Unit

    public static func bytes(_ range: ClosedRange<Int>) -> StringLength { StringLength(range: range, unit: .bytes) }
    public static func characters(_ range: ClosedRange<Int>) -> StringLength { StringLength(range: range, unit: .characters) }

    func count(_ text: String) -> Int { unit == .bytes ? text.utf8.count : text.count }

    func describe() -> String {
        let noun = unit == .bytes ? "bytes" : "characters"
        if range.lowerBound <= 0 { return "at most \(range.upperBound) \(noun)" }
        if range.upperBound == Int.max { return "at least \(range.lowerBound) \(range.lowerBound == 1 ? String(noun.dropLast()) : noun)" }
        return "\(range.lowerBound)-\(range.upperBound) \(noun)"
    }
}

/// The characters a string may hold, with the words that tell a person which ones.
public struct Alphabet: Sendable {
    public let allows: @Sendable (Unicode.Scalar) -> Bool
    /// Follows "use": `letters, digits and _ . -`.
    public let description: String

    public init(_ description: String, allows: @escaping @Sendable (Unicode.Scalar) -> Bool) {
        self.description = description
        self.allows = allows
    }
}

/// Where a number may lie. Checked on the `Double`, so no conversion happens first.
public struct NumberBounds: Sendable, Hashable {
    public var lower: Double?
    public var lowerInclusive: Bool
    public var upper: Double?

    public init(lower: Double? = nil, lowerInclusive: Bool = true, upper: Double? = nil) {
        self.lower = lower
        self.lowerInclusive = lowerInclusive
        self.upper = upper
    }

    /// Any finite number.
    public static let any = NumberBounds()
    /// Zero or more, at most `maximum` if given.
    public static func nonNegative(atMost maximum: Double? = nil) -> NumberBounds { NumberBounds(lower: 0, upper: maximum) }
    /// More than zero, at most `maximum` if given.
    public static func positive(atMost maximum: Double? = nil) -> NumberBounds {
        NumberBounds(lower: 0, lowerInclusive: false, upper: maximum)
    }

    public func contains(_ value: Double) -> Bool {
        if let lower, lowerInclusive ? value < lower : value <= lower { return false }
        if let upper, value > upper { return false }
        return true
    }

    func describe(noun: String) -> String {
        var text = noun
        switch (lower, lowerInclusive) {
        case (0?, true): text = "a non-negative number"
        case (0?, false): text = "a positive number"
        case (let l?, true): text += " of at least \(JSONValue.number(l).schemaDescription)"
        case (let l?, false): text += " above \(JSONValue.number(l).schemaDescription)"
        default: break
        }
        if let upper { text += "\(lower == nil ? "" : ",") at most \(JSONValue.number(upper).schemaDescription)" }
        return text
    }
}

extension JSONValue {
    /// What a value is, for "got …" in a refusal. A string's content is not shown (it may be a
    /// secret put in the wrong place, or 60,000 bytes long); numbers and booleans are.
    public var schemaDescription: String {
        switch self {
        case .null: "null"
        case .bool(let flag): flag ? "true" : "false"
        case .number(let n):
            if n.isFinite, n.rounded() == n, n.magnitude < 1e15 { "\(Int(n))" } else { "\(n)" }
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
