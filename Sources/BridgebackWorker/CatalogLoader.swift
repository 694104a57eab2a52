import BridgebackCore
import Foundation

/// Reads the recipe catalog for the worker: the shared grammar (``RecipeCatalogDocument``) first,
/// then each recipe's kind-specific fields (`argv`, `steps`, `probe`, …), which only the worker
/// knows. Both go through `SchemaReader` (collect-all, `null` a wrong type), so every problem is
/// reported at once, names its recipe and the field's full path (`steps[0].command.argv[1]`),
/// and says what was expected and what came.
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
    /// then each recipe's kind-specific fields.
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

    mutating func recipe(_ entry: RecipeCatalogDocument.Entry, hosts: Set<String>) -> Recipe? {
        let name = entry.name, kind = entry.kind
        let reader = SchemaReader(mode: .collectAll, nullIsAbsent: false, rootName: "the recipe")
        let fields = RecipeFieldReader(
            reader: reader, declared: Dictionary(entry.parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }),
            hosts: hosts, environment: environment, baseDirectory: baseDirectory)
        let members = JSONFields(entry.fields, at: "", reader: reader)
        var body: RecipeKind?
        // A collect-all reader records instead of throwing; the catch only satisfies the type checker.
        do {
            switch kind {
            case "command": body = try fields.command(members).map(RecipeKind.command)
            case "http" where members["urls"] != nil: body = try fields.endpoints(members).map(RecipeKind.endpoints)
            case "http": body = try fields.http(members).map(RecipeKind.http)
            case "file": body = try fields.file(members).map(RecipeKind.file)
            case "checklist": body = try fields.checklist(members).map(RecipeKind.checklist)
            case "wait": body = try fields.wait(members).map(RecipeKind.wait)
            case "noop":
                // Succeeds at once with an empty result, in process (benchmarks, smoke tests).
                body = .custom(handler: NoopHandler.kind, options: .object([:]))
            default:
                guard customKinds.contains(kind) else {
                    let kinds = (Self.builtInKinds + customKinds.sorted()).joined(separator: ", ")
                    try reader.refuse(
                        "kind", "'\(kind)' is not a recipe kind; expected one of \(kinds) (custom kinds must be registered in code)")
                    break
                }
                body = .custom(handler: kind, options: members["options"] ?? .object([:]))
            }
        } catch {}
        for problem in reader.problems { self.problem(name, problem.path.isEmpty ? nil : problem.path, problem.text) }
        guard let body, reader.isClean else { return nil }
        return Recipe(name: name, description: entry.description, parameters: entry.parameters, kind: body)
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
}

/// The worker's part of one recipe: its kind-specific fields read through one `SchemaReader`.
/// Each reader returns nil when anything it read was refused (the problems are in the reader).
struct RecipeFieldReader {
    let reader: SchemaReader
    /// The recipe's declared parameters, by name, for `{param}` checks.
    let declared: [String: ParameterSpec]
    let hosts: Set<String>
    let environment: [String: String]
    let baseDirectory: String?

    /// A week: no recipe waits longer for one step.
    static let secondsBounds = NumberBounds.positive(atMost: 7 * 24 * 3600)
    static let secondsExpected = "a number of seconds greater than 0 (at most a week, 604800)"
    static let methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

    /// Runs `read` and keeps its value only if it reported no problem.
    func clean<T>(_ read: () throws(SchemaProblem) -> T?) throws(SchemaProblem) -> T? {
        let before = reader.problems.count
        let value = try read()
        return reader.problems.count == before ? value : nil
    }

    func seconds(_ fields: JSONFields, _ key: String, default fallback: Duration) throws(SchemaProblem) -> Duration {
        guard let seconds = try fields.number(key, bounds: Self.secondsBounds, expected: Self.secondsExpected) else { return fallback }
        return .milliseconds(Int64(seconds * 1000))
    }

    /// A regular expression setting (fixed or a `{param}`): a fixed one that does not compile is reported.
    func pattern(_ fields: JSONFields, _ key: String) throws(SchemaProblem) -> FileCheckSpec.Setting? {
        let setting = try setting(fields, key, kinds: [.string])
        if case .fixed(let pattern)? = setting, (try? NSRegularExpression(pattern: pattern)) == nil {
            try fields.refuse(key, "is not a valid regular expression: \(pattern)")
        }
        return setting
    }

    // MARK: Kinds

    func command(_ fields: JSONFields) throws(SchemaProblem) -> CommandSpec? {
        try clean { () throws(SchemaProblem) -> CommandSpec? in
            let argv = try self.argv(fields)
            let timeout = try seconds(fields, "timeout_seconds", default: .seconds(60))
            let cap =
                try fields.integer("output_cap_bytes", range: 1...64 * 1024 * 1024, expected: "a whole number of bytes from 1 to 67108864")
                ?? 64 * 1024
            var environment = ["PATH", "LANG"]
            if let names = try fields.array("env", expected: "an array of environment variable names to pass through") {
                environment = []
                for name in names {
                    if let text = try reader.string(name.value, at: name.path, expected: "an environment variable name") {
                        environment.append(text)
                    }
                }
            }
            let directory = try fields.string("working_directory", expected: "an absolute path")
            if let directory, !directory.hasPrefix("/") {
                try fields.refuse("working_directory", "must be an absolute path (starting with /), got \(SchemaReader.quote(directory))")
            }
            let progressProtocol = try fields.bool("progress_protocol") ?? true
            let expectOutput = try pattern(fields, "expect_output")
            guard let argv else { return nil }
            return CommandSpec(
                argv: argv, timeout: timeout, outputCapBytes: cap, environment: environment, workingDirectory: directory,
                progressProtocol: progressProtocol, expectOutput: expectOutput)
        }
    }

    /// `argv`: whole-argument placeholders only, the program resolved on `PATH` (or against the
    /// catalog's directory) once every element is right.
    func argv(_ fields: JSONFields) throws(SchemaProblem) -> [String]? {
        try clean { () throws(SchemaProblem) -> [String]? in
            guard
                let items = try fields.array(
                    "argv", required: true, count: 1...Int.max,
                    expected: "a non-empty array of strings (no shell: one element per argument)")
            else { return nil }
            var argv: [String] = []
            for (index, item) in items.enumerated() {
                guard
                    let element = try reader.string(item.value, at: item.path, length: .bytes(1...Int.max), expected: "a non-empty string")
                else { continue }
                if let name = Template.wholePlaceholder(element) {
                    if index == 0 { try reader.refuse(item.path, "the program cannot be a parameter") }
                    if declared[name] == nil {
                        try reader.refuse(item.path, "uses {\(name)} but the recipe declares no parameter '\(name)'")
                    }
                } else if let name = Template.placeholders(in: element).first(where: { declared[$0] != nil }) {
                    try reader.refuse(
                        item.path,
                        "embeds {\(name)} inside '\(element)'; placeholders must be a whole argument (no shell, no string splicing)")
                }
                argv.append(element)
            }
            guard argv.count == items.count, let program = argv.first else { return nil }
            let located =
                if let baseDirectory, program.contains("/"), !program.hasPrefix("/") {
                    URL(fileURLWithPath: baseDirectory).appendingPathComponent(program).standardized.path
                } else {
                    program
                }
            guard let resolved = CatalogLoader.resolveProgram(located, path: environment["PATH"]) else {
                try reader.refuse(
                    SchemaReader.path(fields.path("argv"), index: 0),
                    "'\(program)' is not an executable file\(program.contains("/") ? "" : " on PATH")")
                return nil
            }
            argv[0] = resolved
            return argv
        }
    }

    /// A fixed value (a string, or a whole number ≥ 0 for int settings) or a whole `{param}` of
    /// one of `kinds`.
    func setting(_ fields: JSONFields, _ key: String, kinds: Set<ParameterSpec.Kind>) throws(SchemaProblem) -> FileCheckSpec.Setting? {
        let path = fields.path(key)
        let wholeNumber = kinds == [.int]
        let expected = wholeNumber ? "a whole number ≥ 0 or a {param} naming an int parameter" : "a string or a {param}"
        switch fields[key] {
        case nil:
            return nil
        case .string(let text)?:
            if let name = Template.wholePlaceholder(text) {
                guard let spec = declared[name], kinds.contains(spec.kind) else {
                    let kindNames = kinds.map(\.rawValue).sorted().joined(separator: " or ")
                    try reader.refuse(path, "uses {\(name)} but the recipe declares no \(kindNames) parameter '\(name)'")
                    return nil
                }
                return .parameter(name)
            }
            guard !wholeNumber else {
                try reader.refuse(path, "must be \(expected), got a string that is not a {param}", kind: .wrongType)
                return nil
            }
            return .fixed(text)
        case .number(let number)? where wholeNumber:
            guard number >= 0, let whole = Int(exactly: number) else {
                try reader.refuse(path, "must be \(expected), got \(JSONValue.number(number).schemaDescription)", kind: .outOfRange)
                return nil
            }
            return .fixed(String(whole))
        case let value?:
            try reader.wrongType(path, expected: expected, found: value)
            return nil
        }
    }

    func file(_ fields: JSONFields) throws(SchemaProblem) -> FileCheckSpec? {
        try clean { () throws(SchemaProblem) -> FileCheckSpec? in
            let target = try fields.string("path", required: true, expected: "an absolute path or {param} naming a path parameter")
            if let target, let name = Template.wholePlaceholder(target) {
                if declared[name]?.kind != .path {
                    try fields.refuse(
                        "path", "uses {\(name)} but '\(name)' is not a declared path parameter (paths from jobs must be confined to roots)")
                }
            } else if let target, (try? ConfinedPath.components(target)) == nil || !Template.placeholders(in: target).isEmpty {
                try fields.refuse("path", "must be an absolute path without '..', or exactly {param} naming a path parameter")
            }
            let minBytes = try setting(fields, "min_bytes", kinds: [.int])
            let maxBytes = try setting(fields, "max_bytes", kinds: [.int])
            let maxAge = try setting(fields, "max_age_seconds", kinds: [.int])
            let sha = try setting(fields, "sha256", kinds: [.string])
            if case .fixed(let hex)? = sha, hex.count != 64 || !hex.allSatisfy(\.isHexDigit) {
                try fields.refuse("sha256", "must be 64 hex digits or a {param}")
            }
            let report = try fields.bool("report_sha256") ?? false
            let matches = try pattern(fields, "matches")
            guard let target else { return nil }
            return FileCheckSpec(
                path: target, minBytes: minBytes, maxBytes: maxBytes, maxAgeSeconds: maxAge, sha256: sha, reportSHA256: report,
                matches: matches)
        }
    }

    /// An `http` recipe or action with one `url`.
    func http(_ fields: JSONFields) throws(SchemaProblem) -> HTTPProbeSpec? {
        try clean { () throws(SchemaProblem) -> HTTPProbeSpec? in
            let url = try fields.string(
                "url", required: true, expected: "an http(s) URL template such as http://127.0.0.1:8080/health/{service}")
            if let url { try checkURL(url, at: fields.path("url")) }
            guard var probe = try probeSettings(fields), let url else { return nil }
            probe.url = url
            return probe
        }
    }

    /// An `http` recipe with `urls`: the same settings for every endpoint.
    func endpoints(_ fields: JSONFields) throws(SchemaProblem) -> [HTTPProbeSpec]? {
        try clean { () throws(SchemaProblem) -> [HTTPProbeSpec]? in
            var urls: [String] = []
            for item in try fields.array("urls", required: true, count: 1...100, expected: "an array of 1-100 URL templates") ?? [] {
                guard let url = try reader.string(item.value, at: item.path, expected: "a URL template string") else { continue }
                try checkURL(url, at: item.path)
                urls.append(url)
            }
            guard let probe = try probeSettings(fields) else { return nil }
            return urls.map { url in
                var one = probe
                one.url = url
                return one
            }
        }
    }

    /// A URL template: its placeholders declared, and a fixed host checked now rather than on the first job.
    func checkURL(_ url: String, at path: String) throws(SchemaProblem) {
        for name in Template.placeholders(in: url) where declared[name] == nil {
            try reader.refuse(path, "uses {\(name)} but the recipe declares no parameter '\(name)'")
        }
        guard let authority = Template.authorityRange(of: url) else {
            try reader.refuse(path, "must start with http:// or https://")
            return
        }
        guard Template.placeholders(in: String(url[authority])).isEmpty else { return }
        if case .failure(let error) = Template.checkHost(url, allowed: hosts) { try reader.refuse(path, error.message) }
    }

    /// Everything of a probe but its URL (`method`, `expect_status`, `expect_body_contains`, `timeout_seconds`).
    func probeSettings(_ fields: JSONFields) throws(SchemaProblem) -> HTTPProbeSpec? {
        try clean { () throws(SchemaProblem) -> HTTPProbeSpec? in
            var method = "GET"
            if let text = try fields.string("method", expected: "an HTTP method such as GET or HEAD") {
                if Self.methods.contains(text.uppercased()) {
                    method = text.uppercased()
                } else {
                    try fields.refuse("method", "must be one of \(Self.methods.joined(separator: ", ")), got \(SchemaReader.quote(text))")
                }
            }
            var statuses = [200]
            let code = "a status code from 100 to 599"
            switch fields["expect_status"] {
            case nil: break
            case .array?:
                statuses = []
                for item in try fields.array("expect_status", count: 1...Int.max, expected: "status codes 100-599") ?? [] {
                    if let status = try reader.integer(item.value, at: item.path, range: 100...599, expected: code) {
                        statuses.append(status)
                    }
                }
            default:
                if let status = try fields.integer("expect_status", range: 100...599, expected: "\(code) or an array of them") {
                    statuses = [status]
                }
            }
            let contains = try fields.string("expect_body_contains")
            let timeout = try seconds(fields, "timeout_seconds", default: .seconds(10))
            return HTTPProbeSpec(method: method, url: "", expectStatus: statuses, expectBodyContains: contains, timeout: timeout)
        }
    }

    /// `{"command": {...}}`, `{"http": {...}}` or `{"file": {...}}`, plus the caller's own keys.
    func action(_ fields: JSONFields, extraKeys: [String]) throws(SchemaProblem) -> RecipeAction? {
        let actions = ["command", "http", "file"]
        try fields.refuseUnknown(known: extraKeys + actions)
        let present = actions.filter { fields[$0] != nil }
        guard present.count == 1, let key = present.first else {
            try reader.refuse(fields.path, "needs exactly one of \"command\", \"http\" or \"file\" (an object)")
            return nil
        }
        switch key {
        case "command":
            guard let command = try fields.object(key, known: RecipeCatalogDocument.commandKeys) else { return nil }
            return try self.command(command).map(RecipeAction.command)
        case "http":
            guard let http = try fields.object(key, known: RecipeCatalogDocument.httpKeys) else { return nil }
            return try self.http(http).map(RecipeAction.http)
        default:
            guard let file = try fields.object(key, known: RecipeCatalogDocument.fileKeys) else { return nil }
            return try self.file(file).map(RecipeAction.file)
        }
    }

    func checklist(_ fields: JSONFields) throws(SchemaProblem) -> [ChecklistStep]? {
        try clean { () throws(SchemaProblem) -> [ChecklistStep]? in
            var steps: [ChecklistStep] = []
            for item in try fields.array("steps", required: true, count: 1...Int.max, expected: "a non-empty array of steps") ?? [] {
                guard let step = try reader.object(item.value, at: item.path, expected: "a step object") else { continue }
                let name = try step.string("name", required: true, length: .bytes(1...Int.max), expected: "the step's name")
                let action = try action(step, extraKeys: ["name", "rollback"])
                var rollback: RecipeAction?
                if let undo = try step.object("rollback", expected: "an object with \"command\", \"http\" or \"file\"") {
                    rollback = try self.action(undo, extraKeys: [])
                }
                if let name, let action { steps.append(ChecklistStep(name: name, action: action, rollback: rollback)) }
            }
            return steps
        }
    }

    func wait(_ fields: JSONFields) throws(SchemaProblem) -> WaitSpec? {
        try clean { () throws(SchemaProblem) -> WaitSpec? in
            var probe: RecipeAction?
            if let probeFields = try fields.object("probe", expected: "an object with \"command\", \"http\" or \"file\"") {
                probe = try action(probeFields, extraKeys: [])
            }
            let interval = try seconds(fields, "interval_seconds", default: .seconds(5))
            let timeout = try seconds(fields, "timeout_seconds", default: .seconds(300))
            let timeoutParameter = try fields.string("timeout_param", expected: "the name of a declared int parameter (seconds)")
            if let timeoutParameter, declared[timeoutParameter]?.kind != .int {
                try fields.refuse("timeout_param", "names '\(timeoutParameter)', which is not a declared int parameter (seconds)")
            }
            return WaitSpec(probe: probe, interval: interval, timeout: timeout, timeoutParameter: timeoutParameter)
        }
    }
}
