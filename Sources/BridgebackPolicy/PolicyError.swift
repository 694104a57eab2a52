/// Why a policy file was refused: a kind to switch on, where it is, and what to do about it.
public struct PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a value a caller can switch on (`case .invalidPattern:`).
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unreadable, syntax, unknownField, missingField, wrongType, invalidValue
            case invalidPattern, unknownTriggerClass, duplicateIdentifier
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The file could not be read (missing, permissions, not UTF-8, bundle missing).
        public static let unreadable = Kind(.unreadable)
        /// Not valid JSON.
        public static let syntax = Kind(.syntax)
        /// A key the policy format does not have (usually a typo).
        public static let unknownField = Kind(.unknownField)
        /// A required key is absent.
        public static let missingField = Kind(.missingField)
        /// A value has the wrong JSON type.
        public static let wrongType = Kind(.wrongType)
        /// A value is out of range or inconsistent with another.
        public static let invalidValue = Kind(.invalidValue)
        /// A cue pattern does not compile, names an unknown macro, or matches everything.
        public static let invalidPattern = Kind(.invalidPattern)
        /// A trigger class outside `TriggerClass.known`, or not declared in `triggers`.
        public static let unknownTriggerClass = Kind(.unknownTriggerClass)
        /// Two families, cues, triggers or JSON keys share a name.
        public static let duplicateIdentifier = Kind(.duplicateIdentifier)

        public var description: String {
            switch base {
            case .unreadable: "unreadable"
            case .syntax: "syntax error"
            case .unknownField: "unknown field"
            case .missingField: "missing field"
            case .wrongType: "wrong type"
            case .invalidValue: "invalid value"
            case .invalidPattern: "invalid pattern"
            case .unknownTriggerClass: "unknown trigger class"
            case .duplicateIdentifier: "duplicate identifier"
            }
        }
    }

    public var kind: Kind
    /// What is wrong and how to fix it, for a person.
    public var reason: String
    /// Where in the document, e.g. `families[3].cues[2].pattern`; empty for the whole file.
    public var path: String
    /// 1-based line in the file, when the error came from a file.
    public var line: Int?
    /// 1-based column (in characters) on that line.
    public var column: Int?
    /// The file name, when loaded from a file.
    public var file: String?

    public init(
        kind: Kind, reason: String, path: String = "", line: Int? = nil, column: Int? = nil,
        file: String? = nil
    ) {
        self.kind = kind
        self.reason = reason
        self.path = path
        self.line = line
        self.column = column
        self.file = file
    }

    /// `file:line:column: kind: reason` — the shape editors and CI logs already understand.
    public var description: String {
        var location = file ?? "policy"
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        let at = path.isEmpty ? "" : " (at \(path))"
        return "\(location): \(kind): \(reason)\(at)"
    }
}
