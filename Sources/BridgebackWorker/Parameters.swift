public import BridgebackCore
import Foundation

/// A parameter value after validation: jobs carry JSON, recipes see typed values.
public enum ParameterValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case bool(Bool)

    /// The text substituted into argv elements and URL templates.
    public var description: String {
        switch self {
        case .string(let value): value
        case .int(let value): String(value)
        case .bool(let value): value ? "true" : "false"
        }
    }

    public var intValue: Int? {
        if case .int(let value) = self { return value }
        return nil
    }
}

/// One declared parameter of a recipe. Jobs may pass only declared parameters.
public struct ParameterSpec: Sendable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// `path`: an absolute path confined to `roots` (see ``ConfinedPath``); the value a recipe
        /// sees is the path with symlinks resolved.
        case string, int, bool, path
    }

    public var name: String
    public var kind: Kind
    public var required: Bool
    /// The whole value must match (strings only); compiled once when the catalog loads.
    public var pattern: String?
    /// If set, the value must be one of these.
    public var allowed: [ParameterValue]?
    public var minimum: Int?
    public var maximum: Int?
    /// Strings only; defaults to 4096 so a job cannot pass megabytes into an argv.
    public var maxLength: Int
    public var defaultValue: ParameterValue?
    public var description: String?
    /// `path` parameters only: the directories the value must stay inside.
    public var roots: [String]

    let regex: NSRegularExpression?

    public init(
        name: String, kind: Kind, required: Bool = false, pattern: String? = nil, allowed: [ParameterValue]? = nil,
        minimum: Int? = nil, maximum: Int? = nil, maxLength: Int = 4096, defaultValue: ParameterValue? = nil,
        description: String? = nil, roots: [String] = []
    ) throws(WorkerError) {
        self.roots = roots
        self.name = name
        self.kind = kind
        self.required = required
        self.pattern = pattern
        self.allowed = allowed
        self.minimum = minimum
        self.maximum = maximum
        self.maxLength = maxLength
        self.defaultValue = defaultValue
        self.description = description
        if let pattern {
            do {
                regex = try NSRegularExpression(pattern: pattern)
            } catch {
                throw WorkerError(.invalidCatalog, "pattern '\(pattern)' of parameter '\(name)' is not a valid regular expression", field: name)
            }
        } else {
            regex = nil
        }
    }

    /// Checks one JSON value against this declaration.
    func validate(_ json: JSONValue, recipe: String) throws(WorkerError) -> ParameterValue {
        func fail(_ text: String) -> WorkerError {
            WorkerError(.invalidParameter, "recipe '\(recipe)': parameter '\(name)' \(text)", recipe: recipe, field: name)
        }
        let value: ParameterValue
        switch (kind, json) {
        case (.string, .string(let text)):
            guard !text.utf8.contains(0) else { throw fail("must not contain NUL characters") }
            guard text.count <= maxLength else { throw fail("must be at most \(maxLength) characters, got \(text.count)") }
            if let regex, !regex.matchesWhole(text) {
                throw fail("must match \(pattern ?? ""), got \(Self.quote(text))")
            }
            value = .string(text)
        case (.path, .string(let text)):
            guard text.count <= maxLength else { throw fail("must be at most \(maxLength) characters, got \(text.count)") }
            if let regex, !regex.matchesWhole(text) {
                throw fail("must match \(pattern ?? ""), got \(Self.quote(text))")
            }
            do {
                value = .string(try ConfinedPath.resolve(text, roots: roots))
            } catch {
                throw fail(error.message)
            }
        case (.int, .number(let number)):
            guard number.rounded() == number, let int = Int(exactly: number) else {
                throw fail("must be a whole number, got \(number)")
            }
            if let minimum, int < minimum { throw fail("must be at least \(minimum), got \(int)") }
            if let maximum, int > maximum { throw fail("must be at most \(maximum), got \(int)") }
            value = .int(int)
        case (.bool, .bool(let flag)):
            value = .bool(flag)
        default:
            throw fail("must be \(kind == .int ? "an int" : kind == .path ? "a path (a string)" : "a \(kind.rawValue)"), got \(Self.describe(json))")
        }
        if let allowed, !allowed.contains(value) {
            throw fail("must be one of \(allowed.map { Self.quote($0.description) }.joined(separator: ", ")), got \(Self.quote(value.description))")
        }
        return value
    }

    static func quote(_ text: String) -> String {
        let short = text.count > 60 ? String(text.prefix(60)) + "…" : text
        return "\"\(short)\""
    }

    static func describe(_ json: JSONValue) -> String {
        switch json {
        case .null: "null"
        case .bool(let b): "the bool \(b)"
        case .number(let n): "the number \(n)"
        case .string(let s): "the string \(quote(s))"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension NSRegularExpression {
    /// Whether the pattern matches all of `text`, not just a prefix or a part of it.
    func matchesWhole(_ text: String) -> Bool {
        let range = NSRange(text.startIndex..., in: text)
        guard let match = firstMatch(in: text, options: [.anchored], range: range) else { return false }
        return match.range == range
    }
}

/// Validates a job's parameters against a recipe's declarations.
///
/// Unknown parameters are refused too: a typo in a request should fail loudly, not be ignored.
public func validateParameters(
    _ params: [String: JSONValue], against specs: [ParameterSpec], recipe: String
) throws(WorkerError) -> [String: ParameterValue] {
    let declared = Set(specs.map(\.name))
    if let unknown = params.keys.sorted().first(where: { !declared.contains($0) }) {
        let names = specs.map(\.name).joined(separator: ", ")
        throw WorkerError(
            .invalidParameter,
            "recipe '\(recipe)' has no parameter '\(unknown)'; it takes \(names.isEmpty ? "no parameters" : names)",
            recipe: recipe, field: unknown)
    }
    var values: [String: ParameterValue] = [:]
    for spec in specs {
        if let json = params[spec.name], json != .null {
            values[spec.name] = try spec.validate(json, recipe: recipe)
        } else if let fallback = spec.defaultValue {
            values[spec.name] = fallback
        } else if spec.required {
            throw WorkerError(.invalidParameter, "recipe '\(recipe)' needs parameter '\(spec.name)' (\(spec.kind.rawValue))", recipe: recipe, field: spec.name)
        }
    }
    return values
}
