public import BridgebackCore
public import Foundation

/// What admission needs to know about the worker's recipe catalog: which recipes exist and
/// which parameters each declares, so a bad request is refused at the door (422) instead of
/// failing on a worker minutes later.
///
/// It reads only names and parameter declarations of the worker's catalog file
/// (`deploy/local/recipes.json`, docs/worker.md) and ignores everything else (argv, steps,
/// timeouts belong to the worker). The checks mirror the worker's `validateParameters`:
/// types `string`/`int`/`bool`/`path` (with `roots`: absolute, no `..`, under a root), `required` (satisfied by a `default`), `pattern` (whole value),
/// `allowed`, `minimum`/`maximum`, `max_length` (default 4096), and no undeclared parameters.
///
/// ```json
/// {"default_recipe": "noop",
///  "recipes": [{"name": "release-gate", "parameters": [
///     {"name": "service", "type": "string", "required": true, "pattern": "[a-z][a-z0-9-]{0,30}"},
///     {"name": "fail_at", "type": "string", "allowed": ["none", "validation"], "default": "none"}]}]}
/// ```
///
/// `recipes` may also be an object keyed by name; `parameters` (or `params`) an object keyed by
/// parameter name. `default_recipe` is optional (admission's `--default-recipe` overrides it).
public struct RecipeCatalogView: Sendable {
    /// One declared parameter.
    public struct Param: Sendable, Hashable {
        public var name: String
        /// `string`, `integer`, `number`, `boolean`, `array`, `object` or `any`.
        public var type: String
        /// Required and without a default.
        public var required: Bool
        public var minimum: Double?
        public var maximum: Double?
        /// Strings only; the worker's default is 4096 characters.
        public var maxLength: Int?
        /// Allowed values (compared as JSON), if the recipe restricts them.
        public var allowed: [JSONValue]?
        /// A regular expression a string value must match (whole value).
        public var pattern: String?
        /// `path` parameters: the directories the value must stay inside. Admission checks the
        /// text (absolute, no `..`, under a root); the worker also resolves symlinks.
        public var roots: [String]?

        public init(
            name: String, type: String = "any", required: Bool = false, allowed: [JSONValue]? = nil, pattern: String? = nil,
            minimum: Double? = nil, maximum: Double? = nil, maxLength: Int? = nil, roots: [String]? = nil
        ) {
            self.roots = roots
            self.name = name
            self.type = type
            self.required = required
            self.allowed = allowed
            self.pattern = pattern
            self.minimum = minimum
            self.maximum = maximum
            self.maxLength = maxLength
        }
    }

    /// One recipe: its name and declared parameters.
    public struct Recipe: Sendable, Hashable {
        public var name: String
        public var params: [Param]
        /// Whether parameters the recipe does not declare are refused (default: yes, to catch typos).
        public var strict: Bool

        public init(name: String, params: [Param] = [], strict: Bool = true) {
            self.name = name
            self.params = params
            self.strict = strict
        }
    }

    public let recipes: [String: Recipe]
    /// The catalog's own default for free-text detaches (`default_recipe`), if it names one.
    public let defaultRecipe: String?

    public init(recipes: [Recipe], defaultRecipe: String? = nil) {
        self.recipes = Dictionary(recipes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.defaultRecipe = defaultRecipe
    }

    /// Loads the catalog file; errors name the file and what is wrong with it.
    public static func load(contentsOf url: URL) throws(AdmissionError) -> RecipeCatalogView {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw AdmissionError(.invalidRequest, "cannot read recipe catalog at \(url.path): \(error.localizedDescription)")
        }
        do { return try parse(data) } catch {
            throw AdmissionError(error.code, "recipe catalog \(url.path): \(error.message)")
        }
    }

    /// Parses catalog JSON (see the type's documentation for the shape).
    public static func parse(_ data: Data) throws(AdmissionError) -> RecipeCatalogView {
        let root: JSONValue
        do { root = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw AdmissionError(.invalidRequest, "not valid JSON: \(WireCodec.reason(error))")
        }
        guard case .object(let top) = root else {
            throw AdmissionError(.invalidRequest, "must be a JSON object with a \"recipes\" list")
        }
        var recipes: [Recipe] = []
        switch top["recipes"] {
        case .array(let entries)?:
            for (index, entry) in entries.enumerated() {
                guard case .object(let fields) = entry, case .string(let name)? = fields["name"], !name.isEmpty else {
                    throw AdmissionError(.invalidRequest, "recipes[\(index)] needs a string \"name\"")
                }
                recipes.append(try recipe(name: name, fields: fields))
            }
        case .object(let byName)?:
            for (name, entry) in byName.sorted(by: { $0.key < $1.key }) {
                guard case .object(let fields) = entry else {
                    throw AdmissionError(.invalidRequest, "recipe '\(name)' must be an object")
                }
                recipes.append(try recipe(name: name, fields: fields))
            }
        default:
            throw AdmissionError(.invalidRequest, "needs a \"recipes\" list")
        }
        var defaultName: String?
        for key in ["default_recipe", "default_free_text_recipe"] {
            if case .string(let name)? = top[key] { defaultName = name }
        }
        return RecipeCatalogView(recipes: recipes, defaultRecipe: defaultName)
    }

    private static func recipe(name: String, fields: [String: JSONValue]) throws(AdmissionError) -> Recipe {
        var params: [Param] = []
        let strict: Bool = if case .bool(let value)? = fields["additional_params"] { !value } else { true }
        switch fields["parameters"] ?? fields["params"] {
        case nil, .null?:
            break
        case .array(let entries)?:
            for (index, entry) in entries.enumerated() {
                guard case .object(let p) = entry, case .string(let pname)? = p["name"] else {
                    throw AdmissionError(.invalidRequest, "recipe '\(name)' params[\(index)] needs a string \"name\"")
                }
                params.append(try param(pname, p, recipe: name))
            }
        case .object(let byName)?:
            for (pname, entry) in byName.sorted(by: { $0.key < $1.key }) {
                guard case .object(let p) = entry else {
                    throw AdmissionError(.invalidRequest, "recipe '\(name)' param '\(pname)' must be an object")
                }
                params.append(try param(pname, p, recipe: name))
            }
        default:
            throw AdmissionError(.invalidRequest, "recipe '\(name)': \"params\" must be a list or an object")
        }
        return Recipe(name: name, params: params, strict: strict)
    }

    private static let types: Set<String> = ["string", "integer", "int", "number", "boolean", "bool", "array", "object", "any", "path"]

    private static func param(_ name: String, _ p: [String: JSONValue], recipe: String) throws(AdmissionError) -> Param {
        var type = "any"
        if case .string(let t)? = p["type"] {
            guard types.contains(t) else {
                throw AdmissionError(.invalidRequest, "recipe '\(recipe)' param '\(name)' has unknown type '\(t)'")
            }
            type = t == "int" ? "integer" : t == "bool" ? "boolean" : t
        }
        let hasDefault = p["default"].map { $0 != .null } ?? false
        let required: Bool = if case .bool(let r)? = p["required"] { r && !hasDefault } else { false }
        func number(_ key: String) -> Double? { if case .number(let n)? = p[key] { n } else { nil } }
        var maxLength: Int? = number("max_length").map { Int(exactly: $0) } ?? nil
        if (type == "string" || type == "path") && maxLength == nil { maxLength = 4096 }
        var roots: [String]?
        if type == "path" {
            guard case .array(let items)? = p["roots"], !items.isEmpty else {
                throw AdmissionError(.invalidRequest, "recipe '\(recipe)' param '\(name)' is a path and needs \"roots\": the directories it must stay inside")
            }
            roots = try items.map { item throws(AdmissionError) in
                guard case .string(let root) = item, (try? ConfinedPath.components(root)) != nil else {
                    throw AdmissionError(.invalidRequest, "recipe '\(recipe)' param '\(name)' roots must be absolute paths without '..'")
                }
                return root
            }
        }
        var allowed: [JSONValue]?
        for key in ["allowed", "enum"] {
            if case .array(let values)? = p[key] { allowed = values }
        }
        var pattern: String?
        if case .string(let pat)? = p["pattern"] {
            guard (try? NSRegularExpression(pattern: pat)) != nil else {
                throw AdmissionError(.invalidRequest, "recipe '\(recipe)' param '\(name)' has an invalid pattern '\(pat)'")
            }
            pattern = pat
        }
        return Param(
            name: name, type: type, required: required, allowed: allowed, pattern: pattern, minimum: number("minimum"),
            maximum: number("maximum"), maxLength: maxLength, roots: roots)
    }

    /// Checks an invocation against the catalog: the recipe exists, required parameters are
    /// present, types, allowed values and patterns match, and nothing undeclared is passed.
    public func validate(_ invocation: RecipeInvocation) throws(AdmissionError) {
        guard let recipe = recipes[invocation.name] else {
            let known = recipes.keys.sorted().joined(separator: ", ")
            throw AdmissionError(.unknownRecipe, "recipe '\(invocation.name)' is not in the worker catalog; known recipes: \(known)", field: "recipe.name")
        }
        var problems: [String] = []
        let declared = Dictionary(recipe.params.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for param in recipe.params where param.required && (invocation.params[param.name] ?? .null) == .null {
            problems.append("'\(param.name)' is required (\(param.type))")
        }
        for (key, value) in invocation.params.sorted(by: { $0.key < $1.key }) {
            guard let param = declared[key] else {
                if recipe.strict {
                    let names = recipe.params.map(\.name).sorted().joined(separator: ", ")
                    problems.append("'\(key)' is not a parameter of '\(recipe.name)' (it takes: \(names.isEmpty ? "none" : names))")
                }
                continue
            }
            if value == .null && !param.required { continue }
            if !Self.matches(value, type: param.type) {
                problems.append("'\(key)' must be \(param.type == "integer" ? "an integer" : "a \(param.type)"), got \(Self.render(value))")
                continue
            }
            if let allowed = param.allowed, !allowed.contains(where: { Self.equal($0, value) }) {
                problems.append("'\(key)' must be one of \(allowed.map(Self.render).joined(separator: ", ")), got \(Self.render(value))")
            }
            if case .string(let text) = value {
                if text.utf8.contains(0) { problems.append("'\(key)' must not contain NUL characters") }
                if let limit = param.maxLength, text.count > limit {
                    problems.append("'\(key)' must be at most \(limit) characters, got \(text.count)")
                }
                if let pattern = param.pattern, !Self.wholeMatch(text, pattern) {
                    problems.append("'\(key)' must match \(pattern), got \(Self.render(value))")
                }
                if let roots = param.roots {
                    do { _ = try ConfinedPath.lexical(text, roots: roots) } catch { problems.append("'\(key)' \(error.message)") }
                }
            }
            if case .number(let n) = value {
                if let minimum = param.minimum, n < minimum { problems.append("'\(key)' must be at least \(Self.render(.number(minimum))), got \(Self.render(value))") }
                if let maximum = param.maximum, n > maximum { problems.append("'\(key)' must be at most \(Self.render(.number(maximum))), got \(Self.render(value))") }
            }
        }
        if !problems.isEmpty {
            throw AdmissionError(
                .invalidRecipeParams, "recipe '\(recipe.name)' parameters: " + problems.joined(separator: "; "), field: "recipe.params")
        }
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("any", _): true
        case ("string", .string), ("path", .string): true
        case ("number", .number): true
        case ("integer", .number(let n)): n.rounded() == n && abs(n) < 9e15
        case ("boolean", .bool): true
        case ("array", .array): true
        case ("object", .object): true
        default: false
        }
    }

    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool { a == b }

    static func wholeMatch(_ text: String, _ pattern: String) -> Bool {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return false }
        let range = NSRange(text.startIndex..., in: text)
        guard let match = regex.firstMatch(in: text, options: [.anchored], range: range) else { return false }
        return match.range == range
    }

    static func render(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): String(b)
        case .number(let n): n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .string(let s): "\"\(HumanText.excerpt(s, maxCharacters: 60))\""
        case .array: "an array"
        case .object: "an object"
        }
    }
}
