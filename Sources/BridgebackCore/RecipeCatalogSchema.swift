public import Foundation

/// The recipe catalog file (`deploy/local/recipes.json`, docs/worker.md) as both of its readers
/// see it. Admission reads it to refuse a bad recipe request at the door (422); the worker reads
/// it to run jobs. Both go through this one grammar, so a catalog one accepts is never one the
/// other refuses, and a request admission lets through is never one the worker turns down for its
/// parameters.
///
/// This part owns the top level, each recipe's `name`, `kind`, `description` and `parameters`;
/// what a recipe *does* (`argv`, `steps`, `probe`, …) belongs to the worker, which reads it from
/// ``Entry/fields``. Every problem is collected, each naming its recipe and field.
public struct RecipeCatalogDocument: Sendable {
    /// One recipe as the shared grammar reads it.
    public struct Entry: Sendable {
        public var name: String
        /// `command`, `checklist`, … or a handler kind registered in the worker's code; admission
        /// cannot know the registered ones, so only the worker checks the value.
        public var kind: String
        public var description: String?
        public var parameters: [ParameterSpec]
        /// Every field of the recipe object, for the worker's kind-specific reading.
        public var fields: [String: JSONValue]
    }

    /// One thing wrong with the document, located as precisely as the grammar can.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        public var recipe: String?
        public var field: String?
        public var text: String

        public init(recipe: String?, field: String?, text: String) {
            self.recipe = recipe
            self.field = field
            self.text = text
        }

        /// "recipe 'x', field 'parameters.y.type': is required: …"
        public var description: String {
            var location = ""
            if let recipe { location += "recipe '\(recipe)'" }
            if let field { location += (location.isEmpty ? "" : ", ") + "field '\(field)'" }
            return (location.isEmpty ? "" : location + ": ") + text
        }
    }

    /// Keys the top level may have. `default_recipe` is read by admission only (the recipe free-text
    /// detaches run); the worker ignores it.
    public static let topLevelKeys = ["recipes", "allowed_hosts", "version", "description", "default_recipe"]
    /// Keys every parameter declaration may have.
    public static let parameterKeys = [
        "name", "type", "required", "pattern", "allowed", "minimum", "maximum", "max_length", "default", "description", "roots",
    ]

    /// Keys every recipe may have, whatever its kind.
    public static let commonRecipeKeys = ["name", "kind", "description", "parameters"]
    public static let commandKeys = [
        "argv", "timeout_seconds", "output_cap_bytes", "env", "working_directory", "progress_protocol", "expect_output",
    ]
    public static let fileKeys = ["path", "min_bytes", "max_bytes", "max_age_seconds", "sha256", "report_sha256", "matches"]
    public static let httpKeys = ["method", "url", "expect_status", "expect_body_contains", "timeout_seconds"]
    public static let waitKeys = ["probe", "interval_seconds", "timeout_seconds", "timeout_param"]
    /// The kinds the worker runs itself; any other kind is a handler registered in its code.
    public static let builtInKinds = ["command", "checklist", "http", "wait", "file", "noop"]

    /// The keys a recipe of `kind` may have at its top level (nested steps and probes are the
    /// worker's to check). A registered handler's recipe takes its settings under `options`.
    public static func recipeKeys(kind: String, fields: [String: JSONValue]) -> [String] {
        let specific: [String] =
            switch kind {
            case "command": commandKeys
            case "http" where fields["urls"] != nil: httpKeys.filter { $0 != "url" } + ["urls"]
            case "http": httpKeys
            case "file": fileKeys
            case "checklist": ["steps"]
            case "wait": waitKeys
            case "noop": []
            default: ["options"]
            }
        return commonRecipeKeys + specific
    }

    public var entries: [Entry] = []
    /// Host names HTTP recipes may reach, lower-cased.
    public var allowedHosts: Set<String> = []
    public var defaultRecipe: String?
    public var problems: [Problem] = []

    /// Parses catalog bytes with the project's strict JSON reader (duplicate keys refused).
    public static func read(_ data: Data) -> RecipeCatalogDocument {
        do {
            return read(try StrictJSON.parse(Array(data)))
        } catch {
            var document = RecipeCatalogDocument()
            document.problems.append(Problem(recipe: nil, field: nil, text: "not valid JSON: \(error.message)"))
            return document
        }
    }

    /// Reads an already-parsed document.
    public static func read(_ root: JSONValue) -> RecipeCatalogDocument {
        var document = RecipeCatalogDocument()
        document.readTop(root)
        return document
    }

    private mutating func problem(_ recipe: String?, _ field: String?, _ text: String) {
        problems.append(Problem(recipe: recipe, field: field, text: text))
    }

    /// A reader for one part of the document: collect-all, `null` a wrong type (the catalog never
    /// gave it a meaning). Its problems are taken over by ``absorb(_:recipe:)``.
    private static func reader() -> SchemaReader { SchemaReader(mode: .collectAll, nullIsAbsent: false, rootName: "the catalog") }

    private mutating func absorb(_ reader: SchemaReader, recipe: String?) {
        for problem in reader.problems { self.problem(recipe, problem.path.isEmpty ? nil : problem.path, problem.text) }
    }

    private mutating func readTop(_ root: JSONValue) {
        let reader = Self.reader()
        // Collect-all readers record instead of throwing; the catch only satisfies the type checker.
        var top: JSONFields?
        do {
            top = try reader.object(
                root, at: "", known: Self.topLevelKeys, expected: "an object with \"recipes\" (and optionally \"allowed_hosts\")")
            for (path, item) in try top?.array("allowed_hosts", expected: "an array of host names") ?? [] {
                if let host = try reader.string(item, at: path, length: .bytes(1...Int.max), expected: "a non-empty host name") {
                    allowedHosts.insert(host.lowercased())
                }
            }
        } catch {}
        absorb(reader, recipe: nil)
        guard let top else { return }
        guard case .array(let items)? = top["recipes"] else {
            problem(nil, "recipes", "is required and must be an array of recipe objects")
            return
        }
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            guard let entry = readRecipe(item, index: index) else { continue }
            guard seen.insert(entry.name).inserted else {
                problem(entry.name, "name", "is defined more than once (recipes[\(index)])")
                continue
            }
            entries.append(entry)
        }
        switch top["default_recipe"] {
        case nil: break
        case .string(let name)? where seen.contains(name): defaultRecipe = name
        case .string(let name)?: problem(nil, "default_recipe", "names '\(name)', which is not a recipe in this catalog")
        default: problem(nil, "default_recipe", "must be the name of a recipe in this catalog")
        }
    }

    private mutating func readRecipe(_ json: JSONValue, index: Int) -> Entry? {
        let at = "recipes[\(index)]"
        guard case .object(let members) = json else {
            problem(nil, at, "must be an object, got \(json.schemaDescription)")
            return nil
        }
        guard case .string(let name)? = members["name"], Self.isRecipeName(name) else {
            problem(nil, "\(at).name", "is required: 1-64 characters from a-z, 0-9, - and _, starting with a letter")
            return nil
        }
        guard case .string(let kind)? = members["kind"], !kind.isEmpty else {
            problem(name, "kind", "is required: a recipe kind such as command, checklist, http, wait or file")
            return nil
        }
        let reader = Self.reader()
        let fields = JSONFields(members, at: "", reader: reader)
        var description: String?
        var parameters: [ParameterSpec] = []
        do {
            try fields.refuseUnknown(known: Self.recipeKeys(kind: kind, fields: members))
            description = try fields.string("description")
            let declarations = try fields.array("parameters", expected: "an array of parameter objects") ?? []
            for (index, item) in declarations.enumerated() {
                guard let spec = try readParameter(item.value, path: "parameters[\(index)]", recipe: name, reader: reader) else { continue }
                if parameters.contains(where: { $0.name == spec.name }) {
                    try reader.refuse("parameters.\(spec.name)", "is declared twice")
                    continue
                }
                parameters.append(spec)
            }
        } catch {}
        absorb(reader, recipe: name)
        return Entry(name: name, kind: kind, description: description, parameters: parameters, fields: members)
    }

    /// Recipe names become routing-key-safe ids in logs and metrics: a-z first, then a-z, 0-9, - and _.
    public static func isRecipeName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, ("a"..."z").contains(first), text.utf8.count <= 64 else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
    }

    static let parameterName = Alphabet("lower-case letters, digits and _") {
        ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
    }

    /// One parameter declaration; its fields are named `parameters.<name>.…` once the name is known.
    private func readParameter(_ json: JSONValue, path: String, recipe: String, reader: SchemaReader) throws(SchemaProblem)
        -> ParameterSpec?
    {
        guard let declaration = try reader.object(json, at: path, known: Self.parameterKeys) else { return nil }
        guard
            let name = try declaration.string(
                "name", required: true, length: .bytes(1...64), alphabet: Self.parameterName,
                expected: "a parameter name (lower-case letters, digits and _)")
        else { return nil }
        let fields = JSONFields(declaration.members, at: "parameters.\(name)", reader: reader)
        guard let kind = try fields.oneOf("type", ParameterSpec.Kind.self, required: true) else { return nil }
        let required = try fields.bool("required") ?? false
        var pattern: String?
        if fields["pattern"] != nil {
            if kind == .string || kind == .path {
                pattern = try fields.string("pattern", expected: "a regular expression string")
            } else {
                try fields.refuse("pattern", "applies to string and path parameters only")
            }
        }
        var roots: [String] = []
        switch (kind, fields["roots"]) {
        case (.path, _?):
            for (rootPath, item) in try fields.array("roots", count: 1...Int.max, expected: "an array of directories") ?? [] {
                let expected = "an absolute directory path without '..'"
                if let root = try reader.string(item, at: rootPath, expected: expected) {
                    if (try? ConfinedPath.components(root)) != nil {
                        roots.append(root)
                    } else {
                        try reader.refuse(rootPath, "must be \(expected)")
                    }
                }
            }
        case (.path, nil):
            try fields.refuse("roots", "is required for a path parameter: the directories its value must stay inside", kind: .missing)
        case (_, nil): break
        case (_, _?): try fields.refuse("roots", "applies to path parameters only")
        }
        let minimum = try fields.integer("minimum")
        let maximum = try fields.integer("maximum")
        if (minimum != nil || maximum != nil) && kind != .int {
            try fields.refuse("minimum", "minimum/maximum apply to int parameters only")
        }
        let maxLength = try fields.integer("max_length", range: 1...1_048_576) ?? ParameterSpec.defaultMaxLength
        var description: String?
        // Read leniently, as it always was: a description is for people and changes nothing.
        if case .string(let text)? = fields["description"] { description = text }
        var spec: ParameterSpec
        do {
            spec = try ParameterSpec(
                name: name, kind: kind, required: required, pattern: pattern, minimum: minimum, maximum: maximum,
                maxLength: maxLength, description: description, roots: roots)
        } catch {
            try fields.refuse("pattern", "is not a valid regular expression: \(pattern ?? "")")
            return nil
        }
        if fields["allowed"] != nil, let options = try fields.array("allowed", count: 1...Int.max, expected: "a non-empty array of values")
        {
            var allowed: [ParameterValue] = []
            for option in options {
                do {
                    allowed.append(try spec.validate(option.value, recipe: recipe, paths: .lexical))
                } catch {
                    try fields.refuse("allowed", "lists a value that the parameter itself refuses: \(error.problemText)")
                }
            }
            spec.allowed = allowed
        }
        if let value = fields["default"] {
            do {
                spec.defaultValue = try spec.validate(value, recipe: recipe, paths: .lexical)
            } catch {
                try fields.refuse("default", "does not satisfy the parameter: \(error.problemText)")
            }
        }
        return spec
    }
}

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

/// Why a job's parameters were refused: every problem, each naming its parameter, so admission's
/// 422 and a worker's failed job say the same thing in the same words.
public struct ParameterError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Problem: Sendable, Hashable {
        /// The parameter the problem is about (for an undeclared one, the name the job used).
        public var parameter: String
        /// "parameter 'service' must match …"
        public var text: String
    }

    public var recipe: String
    public var problems: [Problem]

    /// The first problem's parameter, for callers that point at one field.
    public var parameter: String? { problems.first?.parameter }
    /// The problems without the recipe, joined.
    public var problemText: String { problems.map(\.text).joined(separator: "; ") }
    /// "recipe 'x': parameter 'y' must …; parameter 'z' is required (string)"
    public var message: String { "recipe '\(recipe)': \(problemText)" }
    public var description: String { message }
}

/// One declared parameter of a recipe. Jobs may pass only declared parameters.
public struct ParameterSpec: Sendable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// `path`: an absolute path confined to `roots` (see ``ConfinedPath``); the value a recipe
        /// sees is the path with symlinks resolved.
        case string, int, bool, path
    }

    /// How a `path` value is checked: admission sees only the text (`lexical`: absolute, no `..`,
    /// under a root); the worker also resolves symlinks on its own host (`resolve`).
    public enum PathCheck: Sendable {
        case lexical, resolve
    }

    /// A job cannot pass megabytes into an argv unless the catalog says so.
    public static let defaultMaxLength = 4096

    public var name: String
    public var kind: Kind
    public var required: Bool
    /// The whole value must match (strings only); compiled once when the catalog loads.
    public var pattern: String?
    /// If set, the value must be one of these.
    public var allowed: [ParameterValue]?
    public var minimum: Int?
    public var maximum: Int?
    /// Strings and paths only, in characters.
    public var maxLength: Int
    public var defaultValue: ParameterValue?
    public var description: String?
    /// `path` parameters only: the directories the value must stay inside.
    public var roots: [String]

    let regex: NSRegularExpression?

    /// Fails when `pattern` is not a valid regular expression.
    public init(
        name: String, kind: Kind, required: Bool = false, pattern: String? = nil, allowed: [ParameterValue]? = nil,
        minimum: Int? = nil, maximum: Int? = nil, maxLength: Int = ParameterSpec.defaultMaxLength, defaultValue: ParameterValue? = nil,
        description: String? = nil, roots: [String] = []
    ) throws(ParameterError) {
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
                throw ParameterError(
                    recipe: "", problems: [.init(parameter: name, text: "pattern '\(pattern)' is not a valid regular expression")])
            }
        } else {
            regex = nil
        }
    }

    /// Checks one JSON value against this declaration.
    public func validate(_ json: JSONValue, recipe: String, paths: PathCheck) throws(ParameterError) -> ParameterValue {
        func fail(_ text: String) -> ParameterError {
            ParameterError(recipe: recipe, problems: [.init(parameter: name, text: "parameter '\(name)' \(text)")])
        }
        let value: ParameterValue
        switch (kind, json) {
        case (.string, .string(let text)), (.path, .string(let text)):
            guard !text.utf8.contains(0) else { throw fail("must not contain NUL characters") }
            guard text.count <= maxLength else { throw fail("must be at most \(maxLength) characters, got \(text.count)") }
            if let regex, !regex.matchesWhole(text) {
                throw fail("must match \(pattern ?? ""), got \(Self.quote(text))")
            }
            if kind == .path {
                do {
                    value = .string(
                        paths == .resolve ? try ConfinedPath.resolve(text, roots: roots) : try ConfinedPath.lexical(text, roots: roots))
                } catch {
                    throw fail(error.message)
                }
            } else {
                value = .string(text)
            }
        case (.int, .number(let number)):
            guard number.rounded() == number, number.magnitude < 9e15, let int = Int(exactly: number) else {
                throw fail("must be a whole number, got \(Self.describe(json))")
            }
            if let minimum, int < minimum { throw fail("must be at least \(minimum), got \(int)") }
            if let maximum, int > maximum { throw fail("must be at most \(maximum), got \(int)") }
            value = .int(int)
        case (.bool, .bool(let flag)):
            value = .bool(flag)
        default:
            throw fail(
                "must be \(kind == .int ? "an int" : kind == .path ? "a path (a string)" : "a \(kind.rawValue)"), got \(Self.describe(json))"
            )
        }
        if let allowed, !allowed.contains(value) {
            throw fail(
                "must be one of \(allowed.map { Self.quote($0.description) }.joined(separator: ", ")), got \(Self.quote(value.description))"
            )
        }
        return value
    }

    /// Validates a job's parameters against a recipe's declarations, reporting every problem.
    /// Undeclared parameters are refused too: a typo in a request should fail loudly, not be
    /// ignored. Defaults fill what the job left out; `null` counts as left out.
    public static func validate(
        _ params: [String: JSONValue], against specs: [ParameterSpec], recipe: String, paths: PathCheck
    ) throws(ParameterError) -> [String: ParameterValue] {
        var problems: [ParameterError.Problem] = []
        let declared = Set(specs.map(\.name))
        let names = specs.map(\.name).joined(separator: ", ")
        for unknown in params.keys.sorted() where !declared.contains(unknown) {
            problems.append(
                .init(
                    parameter: unknown, text: "parameter '\(unknown)' is not declared; it takes \(names.isEmpty ? "no parameters" : names)")
            )
        }
        var values: [String: ParameterValue] = [:]
        for spec in specs {
            if let json = params[spec.name], json != .null {
                do { values[spec.name] = try spec.validate(json, recipe: recipe, paths: paths) } catch { problems += error.problems }
            } else if let fallback = spec.defaultValue {
                values[spec.name] = fallback
            } else if spec.required {
                problems.append(.init(parameter: spec.name, text: "parameter '\(spec.name)' is required (\(spec.kind.rawValue))"))
            }
        }
        guard problems.isEmpty else { throw ParameterError(recipe: recipe, problems: problems) }
        return values
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
