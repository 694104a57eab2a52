import BridgebackCore
import Foundation

/// Walks the recipes JSON by hand (rather than `Codable`) so each problem can name its recipe
/// and field path, unknown fields (typos) are caught, and all problems are reported at once.
struct CatalogLoader {
    let customKinds: Set<String>
    let environment: [String: String]
    /// Where relative program paths are resolved from (the catalog file's directory).
    let baseDirectory: String?
    var problems: [WorkerError] = []

    static let builtInKinds = RecipeCatalogDocument.builtInKinds

    init(customKinds: Set<String>, environment: [String: String], baseDirectory: String? = nil) {
        self.customKinds = customKinds
        self.environment = environment
        self.baseDirectory = baseDirectory
    }

    mutating func problem(_ recipe: String?, _ field: String?, _ text: String) {
        var where_ = ""
        if let recipe { where_ += "recipe '\(recipe)'" }
        if let field { where_ += (where_.isEmpty ? "" : ", ") + "field '\(field)'" }
        problems.append(WorkerError(.invalidCatalog, (where_.isEmpty ? "" : where_ + ": ") + text, recipe: recipe, field: field))
    }

    /// Reads the shared grammar (``RecipeCatalogDocument``: top level, names, kinds, parameters),
    /// then each recipe's kind-specific fields, which only the worker knows.
    mutating func catalog(_ root: JSONValue) -> RecipeCatalog {
        let document = RecipeCatalogDocument.read(root)
        for problem in document.problems { self.problem(problem.recipe, problem.field, problem.text) }
        var recipes: [Recipe] = []
        for entry in document.entries {
            guard let recipe = self.recipe(entry, hosts: document.allowedHosts) else { continue }
            recipes.append(recipe)
        }
        return RecipeCatalog(recipes: recipes, allowedHosts: document.allowedHosts)
    }

    // MARK: Recipes

    mutating func recipe(_ entry: RecipeCatalogDocument.Entry, hosts: Set<String>) -> Recipe? {
        let name = entry.name, kind = entry.kind, fields = entry.fields
        let parameters = entry.parameters
        let declared = Dictionary(parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let description = entry.description
        let body: RecipeKind?
        switch kind {
        case "command":
            body = command(fields, recipe: name, path: nil, declared: declared).map(RecipeKind.command)
        case "http" where fields["urls"] != nil:
            body = endpoints(fields, recipe: name, declared: declared, hosts: hosts).map(RecipeKind.endpoints)
        case "http":
            body = http(fields, recipe: name, path: nil, declared: declared, hosts: hosts).map(RecipeKind.http)
        case "file":
            body = file(fields, recipe: name, path: nil, declared: declared).map(RecipeKind.file)
        case "checklist":
            body = checklist(fields["steps"], recipe: name, declared: declared, hosts: hosts).map(RecipeKind.checklist)
        case "wait":
            body = wait(fields, recipe: name, declared: declared, hosts: hosts).map(RecipeKind.wait)
        case "noop":
            // Succeeds at once with an empty result, in process (benchmarks, smoke tests).
            body = .custom(handler: NoopHandler.kind, options: .object([:]))
        default:
            guard customKinds.contains(kind) else {
                problem(
                    name, "kind",
                    "'\(kind)' is not a recipe kind; expected one of \((Self.builtInKinds + customKinds.sorted()).joined(separator: ", ")) (custom kinds must be registered in code)"
                )
                return nil
            }
            body = .custom(handler: kind, options: fields["options"] ?? .object([:]))
        }
        guard let body else { return nil }
        return Recipe(name: name, description: description, parameters: parameters, kind: body)
    }

    mutating func checkKeys(_ fields: [String: JSONValue], allowed: [String], recipe: String, path: String?) {
        for key in fields.keys.sorted() where !allowed.contains(key) {
            problem(recipe, join(path, key), "unknown field; expected one of \(allowed.joined(separator: ", "))")
        }
    }

    func join(_ path: String?, _ key: String) -> String { path.map { "\($0).\(key)" } ?? key }

    mutating func int(_ json: JSONValue?, recipe: String, field: String) -> Int? {
        guard let json else { return nil }
        if case .number(let n) = json, let value = Int(exactly: n) { return value }
        problem(recipe, field, "must be a whole number")
        return nil
    }

    mutating func seconds(_ json: JSONValue?, recipe: String, field: String, default fallback: Duration) -> Duration {
        guard let json else { return fallback }
        if case .number(let n) = json, n > 0, n <= 7 * 24 * 3600 { return .milliseconds(Int64(n * 1000)) }
        problem(recipe, field, "must be a number of seconds greater than 0 (at most a week)")
        return fallback
    }

    // MARK: Actions

    // One list per kind, shared with admission through the catalog grammar.
    enum CommandKeys { static let all = RecipeCatalogDocument.commandKeys }
    enum FileKeys { static let all = RecipeCatalogDocument.fileKeys }
    enum HTTPKeys { static let all = RecipeCatalogDocument.httpKeys }

    mutating func command(_ fields: [String: JSONValue], recipe: String, path: String?, declared: [String: ParameterSpec]) -> CommandSpec? {
        guard case .array(let items)? = fields["argv"], !items.isEmpty else {
            problem(recipe, join(path, "argv"), "is required: a non-empty array of strings (no shell: one element per argument)")
            return nil
        }
        var argv: [String] = []
        var ok = true
        for (index, item) in items.enumerated() {
            let field = join(path, "argv[\(index)]")
            guard case .string(let element) = item, !element.isEmpty else {
                problem(recipe, field, "must be a non-empty string"); ok = false; continue
            }
            if let name = Template.wholePlaceholder(element) {
                if index == 0 { problem(recipe, field, "the program cannot be a parameter"); ok = false }
                if declared[name] == nil {
                    problem(recipe, field, "uses {\(name)} but the recipe declares no parameter '\(name)'"); ok = false
                }
            } else if let name = Template.placeholders(in: element).first(where: { declared[$0] != nil }) {
                problem(
                    recipe, field,
                    "embeds {\(name)} inside '\(element)'; placeholders must be a whole argument (no shell, no string splicing)")
                ok = false
            }
            argv.append(element)
        }
        if ok, let program = argv.first {
            let located =
                program.contains("/") && !program.hasPrefix("/") && baseDirectory != nil
                ? URL(fileURLWithPath: baseDirectory!).appendingPathComponent(program).standardized.path : program
            if let resolved = Self.resolveProgram(located, path: environment["PATH"]) {
                argv[0] = resolved
            } else {
                problem(recipe, join(path, "argv[0]"), "'\(program)' is not an executable file\(program.contains("/") ? "" : " on PATH")")
                ok = false
            }
        }
        let timeout = seconds(fields["timeout_seconds"], recipe: recipe, field: join(path, "timeout_seconds"), default: .seconds(60))
        let cap = int(fields["output_cap_bytes"], recipe: recipe, field: join(path, "output_cap_bytes")) ?? 64 * 1024
        if cap < 1 || cap > 64 * 1024 * 1024 { problem(recipe, join(path, "output_cap_bytes"), "must be 1 … 67108864 bytes"); ok = false }
        var env = ["PATH", "LANG"]
        if let value = fields["env"] {
            if case .array(let names) = value, let strings = Optional(names.compactMap { if case .string(let s) = $0 { s } else { nil } }),
                strings.count == names.count
            {
                env = strings
            } else {
                problem(recipe, join(path, "env"), "must be an array of environment variable names to pass through")
                ok = false
            }
        }
        var directory: String?
        if let value = fields["working_directory"] {
            if case .string(let text) = value, text.hasPrefix("/") {
                directory = text
            } else {
                problem(recipe, join(path, "working_directory"), "must be an absolute path"); ok = false
            }
        }
        var progressProtocol = true
        if let value = fields["progress_protocol"] {
            if case .bool(let flag) = value {
                progressProtocol = flag
            } else {
                problem(recipe, join(path, "progress_protocol"), "must be true or false"); ok = false
            }
        }
        let expectOutput = setting(
            fields["expect_output"], recipe: recipe, field: join(path, "expect_output"), declared: declared, kinds: [.string], ok: &ok)
        if case .fixed(let pattern)? = expectOutput, (try? NSRegularExpression(pattern: pattern)) == nil {
            problem(recipe, join(path, "expect_output"), "is not a valid regular expression: \(pattern)")
            ok = false
        }
        return ok
            ? CommandSpec(
                argv: argv, timeout: timeout, outputCapBytes: cap, environment: env, workingDirectory: directory,
                progressProtocol: progressProtocol, expectOutput: expectOutput)
            : nil
    }

    /// A fixed value (a string, or a number for int settings) or a whole `{param}` of one of `kinds`.
    mutating func setting(
        _ json: JSONValue?, recipe: String, field: String, declared: [String: ParameterSpec], kinds: Set<ParameterSpec.Kind>, ok: inout Bool
    ) -> FileCheckSpec.Setting? {
        switch json {
        case nil: return nil
        case .string(let text)?:
            if let name = Template.wholePlaceholder(text) {
                guard let spec = declared[name], kinds.contains(spec.kind) else {
                    problem(
                        recipe, field,
                        "uses {\(name)} but the recipe declares no \(kinds.map(\.rawValue).sorted().joined(separator: " or ")) parameter '\(name)'"
                    )
                    ok = false
                    return nil
                }
                return .parameter(name)
            }
            if kinds == [.int] {
                problem(recipe, field, "must be a whole number or a {param} naming an int parameter")
                ok = false
                return nil
            }
            return .fixed(text)
        case .number(let n)? where kinds == [.int] && Int(exactly: n) != nil && n >= 0:
            return .fixed(String(Int(n)))
        default:
            problem(
                recipe, field,
                kinds == [.int] ? "must be a whole number ≥ 0 or a {param} naming an int parameter" : "must be a string or a {param}")
            ok = false
            return nil
        }
    }

    mutating func file(_ fields: [String: JSONValue], recipe: String, path: String?, declared: [String: ParameterSpec]) -> FileCheckSpec? {
        var ok = true
        guard case .string(let target)? = fields["path"] else {
            problem(recipe, join(path, "path"), "is required: an absolute path or {param} naming a path parameter")
            return nil
        }
        if let name = Template.wholePlaceholder(target) {
            if declared[name]?.kind != .path {
                problem(
                    recipe, join(path, "path"),
                    "uses {\(name)} but '\(name)' is not a declared path parameter (paths from jobs must be confined to roots)")
                ok = false
            }
        } else if (try? ConfinedPath.components(target)) == nil || !Template.placeholders(in: target).isEmpty {
            problem(recipe, join(path, "path"), "must be an absolute path without '..', or exactly {param} naming a path parameter")
            ok = false
        }
        let minBytes = setting(
            fields["min_bytes"], recipe: recipe, field: join(path, "min_bytes"), declared: declared, kinds: [.int], ok: &ok)
        let maxBytes = setting(
            fields["max_bytes"], recipe: recipe, field: join(path, "max_bytes"), declared: declared, kinds: [.int], ok: &ok)
        let maxAge = setting(
            fields["max_age_seconds"], recipe: recipe, field: join(path, "max_age_seconds"), declared: declared, kinds: [.int], ok: &ok)
        let sha = setting(fields["sha256"], recipe: recipe, field: join(path, "sha256"), declared: declared, kinds: [.string], ok: &ok)
        if case .fixed(let hex)? = sha, hex.count != 64 || !hex.allSatisfy(\.isHexDigit) {
            problem(recipe, join(path, "sha256"), "must be 64 hex digits or a {param}")
            ok = false
        }
        var report = false
        if let value = fields["report_sha256"] {
            if case .bool(let flag) = value {
                report = flag
            } else {
                problem(recipe, join(path, "report_sha256"), "must be true or false"); ok = false
            }
        }
        let matches = setting(
            fields["matches"], recipe: recipe, field: join(path, "matches"), declared: declared, kinds: [.string], ok: &ok)
        if case .fixed(let pattern)? = matches, (try? NSRegularExpression(pattern: pattern)) == nil {
            problem(recipe, join(path, "matches"), "is not a valid regular expression: \(pattern)")
            ok = false
        }
        return ok
            ? FileCheckSpec(
                path: target, minBytes: minBytes, maxBytes: maxBytes, maxAgeSeconds: maxAge, sha256: sha, reportSHA256: report,
                matches: matches)
            : nil
    }

    mutating func endpoints(_ fields: [String: JSONValue], recipe: String, declared: [String: ParameterSpec], hosts: Set<String>)
        -> [HTTPProbeSpec]?
    {
        guard case .array(let items)? = fields["urls"], !items.isEmpty, items.count <= 100 else {
            problem(recipe, "urls", "must be an array of 1-100 URL templates")
            return nil
        }
        var probes: [HTTPProbeSpec] = []
        var ok = true
        for (index, item) in items.enumerated() {
            guard case .string = item else { problem(recipe, "urls[\(index)]", "must be a URL template string"); ok = false; continue }
            var single = fields
            single["urls"] = nil
            single["url"] = item
            guard let probe = http(single, recipe: recipe, path: nil, declared: declared, hosts: hosts) else { ok = false; continue }
            probes.append(probe)
        }
        return ok ? probes : nil
    }

    static func resolveProgram(_ program: String, path: String?) -> String? {
        let manager = FileManager.default
        if program.contains("/") {
            return program.hasPrefix("/") && manager.isExecutableFile(atPath: program) ? program : nil
        }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if manager.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    mutating func http(_ fields: [String: JSONValue], recipe: String, path: String?, declared: [String: ParameterSpec], hosts: Set<String>)
        -> HTTPProbeSpec?
    {
        guard case .string(let url)? = fields["url"] else {
            problem(recipe, join(path, "url"), "is required: an http(s) URL template such as http://127.0.0.1:8080/health/{service}")
            return nil
        }
        var ok = true
        for name in Template.placeholders(in: url) where declared[name] == nil {
            problem(recipe, join(path, "url"), "uses {\(name)} but the recipe declares no parameter '\(name)'")
            ok = false
        }
        if let authorityEnd = Template.authorityRange(of: url), Template.placeholders(in: String(url[authorityEnd])).isEmpty {
            // The host is fixed: check it now rather than on the first job.
            switch Template.checkHost(url, allowed: hosts) {
            case .success: break
            case .failure(let error): problem(recipe, join(path, "url"), error.message); ok = false
            }
        } else if Template.authorityRange(of: url) == nil {
            problem(recipe, join(path, "url"), "must start with http:// or https://")
            ok = false
        }
        var method = "GET"
        if let value = fields["method"] {
            if case .string(let text) = value, ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"].contains(text.uppercased()) {
                method = text.uppercased()
            } else {
                problem(recipe, join(path, "method"), "must be an HTTP method such as GET or HEAD"); ok = false
            }
        }
        var statuses = [200]
        if let value = fields["expect_status"] {
            switch value {
            case .number(let n) where Int(exactly: n).map({ (100...599).contains($0) }) == true: statuses = [Int(n)]
            case .array(let items):
                let codes = items.compactMap {
                    if case .number(let n) = $0, let c = Int(exactly: n), (100...599).contains(c) { c } else { nil }
                }
                if codes.count == items.count, !codes.isEmpty {
                    statuses = codes
                } else {
                    problem(recipe, join(path, "expect_status"), "must be status codes 100-599"); ok = false
                }
            default: problem(recipe, join(path, "expect_status"), "must be a status code or an array of them"); ok = false
            }
        }
        var contains: String?
        if let value = fields["expect_body_contains"] {
            if case .string(let text) = value {
                contains = text
            } else {
                problem(recipe, join(path, "expect_body_contains"), "must be a string"); ok = false
            }
        }
        let timeout = seconds(fields["timeout_seconds"], recipe: recipe, field: join(path, "timeout_seconds"), default: .seconds(10))
        return ok ? HTTPProbeSpec(method: method, url: url, expectStatus: statuses, expectBodyContains: contains, timeout: timeout) : nil
    }

    /// `{"command": {...}}` or `{"http": {...}}`, plus any extra keys the caller allows.
    mutating func action(
        _ fields: [String: JSONValue], recipe: String, path: String, declared: [String: ParameterSpec], hosts: Set<String>,
        extraKeys: [String]
    ) -> RecipeAction? {
        checkKeys(fields, allowed: extraKeys + ["command", "http", "file"], recipe: recipe, path: path)
        if case .object(let file)? = fields["file"], fields["command"] == nil, fields["http"] == nil {
            checkKeys(file, allowed: FileKeys.all, recipe: recipe, path: "\(path).file")
            return self.file(file, recipe: recipe, path: "\(path).file", declared: declared).map(RecipeAction.file)
        }
        switch (fields["command"], fields["file"] == nil ? fields["http"] : .null) {
        case (.object(let command)?, nil):
            checkKeys(command, allowed: CommandKeys.all, recipe: recipe, path: "\(path).command")
            return self.command(command, recipe: recipe, path: "\(path).command", declared: declared).map(RecipeAction.command)
        case (nil, .object(let http)?):
            checkKeys(http, allowed: HTTPKeys.all, recipe: recipe, path: "\(path).http")
            return self.http(http, recipe: recipe, path: "\(path).http", declared: declared, hosts: hosts).map(RecipeAction.http)
        default:
            problem(recipe, path, "needs exactly one of \"command\", \"http\" or \"file\" (an object)")
            return nil
        }
    }

    mutating func checklist(_ json: JSONValue?, recipe: String, declared: [String: ParameterSpec], hosts: Set<String>) -> [ChecklistStep]? {
        guard case .array(let items)? = json, !items.isEmpty else {
            problem(recipe, "steps", "is required: a non-empty array of steps")
            return nil
        }
        var steps: [ChecklistStep] = []
        var ok = true
        for (index, item) in items.enumerated() {
            let path = "steps[\(index)]"
            guard case .object(let fields) = item else { problem(recipe, path, "must be an object"); ok = false; continue }
            guard case .string(let name)? = fields["name"], !name.isEmpty else {
                problem(recipe, "\(path).name", "is required"); ok = false; continue
            }
            guard
                let action = action(fields, recipe: recipe, path: path, declared: declared, hosts: hosts, extraKeys: ["name", "rollback"])
            else { ok = false; continue }
            var rollback: RecipeAction?
            if let value = fields["rollback"] {
                if case .object(let rollbackFields) = value {
                    rollback = self.action(
                        rollbackFields, recipe: recipe, path: "\(path).rollback", declared: declared, hosts: hosts, extraKeys: [])
                    if rollback == nil { ok = false }
                } else {
                    problem(recipe, "\(path).rollback", "must be an object with \"command\" or \"http\"")
                    ok = false
                }
            }
            steps.append(ChecklistStep(name: name, action: action, rollback: rollback))
        }
        return ok ? steps : nil
    }

    mutating func wait(_ fields: [String: JSONValue], recipe: String, declared: [String: ParameterSpec], hosts: Set<String>) -> WaitSpec? {
        var ok = true
        var probe: RecipeAction?
        if let value = fields["probe"] {
            if case .object(let probeFields) = value {
                probe = action(probeFields, recipe: recipe, path: "probe", declared: declared, hosts: hosts, extraKeys: [])
                if probe == nil { ok = false }
            } else {
                problem(recipe, "probe", "must be an object with \"command\" or \"http\"")
                ok = false
            }
        }
        let interval = seconds(fields["interval_seconds"], recipe: recipe, field: "interval_seconds", default: .seconds(5))
        let timeout = seconds(fields["timeout_seconds"], recipe: recipe, field: "timeout_seconds", default: .seconds(300))
        var timeoutParameter: String?
        if let value = fields["timeout_param"] {
            if case .string(let name) = value, declared[name]?.kind == .int {
                timeoutParameter = name
            } else {
                problem(recipe, "timeout_param", "must name a declared int parameter (seconds)")
                ok = false
            }
        }
        return ok ? WaitSpec(probe: probe, interval: interval, timeout: timeout, timeoutParameter: timeoutParameter) : nil
    }
}
