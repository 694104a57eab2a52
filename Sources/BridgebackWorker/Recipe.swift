public import BridgebackCore
public import Foundation

/// A child process run without a shell: argv elements that are exactly `{param}` are replaced by
/// the parameter's value as one whole argument, so no value can inject flags' syntax or commands.
public struct CommandSpec: Sendable {
    /// `argv[0]` is an absolute path (names without `/` are resolved on `PATH` when the catalog loads).
    public var argv: [String]
    public var timeout: Duration
    /// Bytes of standard output kept; the rest is read and discarded, and the result says so.
    public var outputCapBytes: Int
    /// Names of variables copied from the worker's environment; nothing else is inherited.
    public var environment: [String]
    public var workingDirectory: String?
    /// Whether `::progress`/`::step`/`::result` lines on standard output are read as the progress
    /// protocol (docs/worker.md); when off, every line is output.
    public var progressProtocol: Bool
    /// A regular expression (or a whole `{param}`) the output must contain a match for; a run
    /// whose output does not match fails (a `wait` probe then tries again).
    public var expectOutput: FileCheckSpec.Setting?

    public init(
        argv: [String], timeout: Duration = .seconds(60), outputCapBytes: Int = 64 * 1024, environment: [String] = ["PATH", "LANG"],
        workingDirectory: String? = nil, progressProtocol: Bool = true, expectOutput: FileCheckSpec.Setting? = nil
    ) {
        self.expectOutput = expectOutput
        self.argv = argv
        self.timeout = timeout
        self.outputCapBytes = outputCapBytes
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.progressProtocol = progressProtocol
    }
}

/// An HTTP request whose outcome is judged by status (and optionally a body substring).
/// The URL is a template; after substitution its host must be in the catalog's `allowed_hosts`.
public struct HTTPProbeSpec: Sendable {
    public var method: String
    public var url: String
    public var expectStatus: [Int]
    public var expectBodyContains: String?
    public var timeout: Duration

    public init(
        method: String = "GET", url: String, expectStatus: [Int] = [200], expectBodyContains: String? = nil,
        timeout: Duration = .seconds(10)
    ) {
        self.method = method
        self.url = url
        self.expectStatus = expectStatus
        self.expectBodyContains = expectBodyContains
        self.timeout = timeout
    }
}

/// One thing a step can do: run a command, probe a URL, or check a file.
public enum RecipeAction: Sendable {
    case command(CommandSpec)
    case http(HTTPProbeSpec)
    case file(FileCheckSpec)
}

/// A checklist step; `rollback` runs (in reverse step order) if a later step fails.
public struct ChecklistStep: Sendable {
    public var name: String
    public var action: RecipeAction
    public var rollback: RecipeAction?

    public init(name: String, action: RecipeAction, rollback: RecipeAction? = nil) {
        self.name = name
        self.action = action
        self.rollback = rollback
    }
}

/// Poll `probe` every `interval` until it succeeds or `timeout` passes. Without a probe the
/// recipe simply waits out the timeout and succeeds (a "sleep", for demos and benchmarks).
public struct WaitSpec: Sendable {
    public var probe: RecipeAction?
    public var interval: Duration
    public var timeout: Duration
    /// An `int` parameter (seconds) that overrides `timeout` per job.
    public var timeoutParameter: String?

    public init(
        probe: RecipeAction? = nil, interval: Duration = .seconds(5), timeout: Duration = .seconds(300), timeoutParameter: String? = nil
    ) {
        self.probe = probe
        self.interval = interval
        self.timeout = timeout
        self.timeoutParameter = timeoutParameter
    }
}

/// What a recipe does.
public enum RecipeKind: Sendable {
    case command(CommandSpec)
    case checklist([ChecklistStep])
    case http(HTTPProbeSpec)
    /// `http` with `urls`: every endpoint is probed and reported; the job fails if any fails.
    case endpoints([HTTPProbeSpec])
    case wait(WaitSpec)
    case file(FileCheckSpec)
    /// A kind implemented by a `JobHandler` registered in code under `handler`; `options` is the
    /// recipe's free-form `options` object from the file.
    case custom(handler: String, options: JSONValue)

    public var name: String {
        switch self {
        case .command: "command"
        case .checklist: "checklist"
        case .http, .endpoints: "http"
        case .wait: "wait"
        case .file: "file"
        case .custom(let handler, _): handler
        }
    }
}

/// A named, parameterised unit of work. Jobs name a recipe; they never carry code.
public struct Recipe: Sendable {
    public var name: String
    public var description: String?
    public var parameters: [ParameterSpec]
    public var kind: RecipeKind

    public init(name: String, description: String? = nil, parameters: [ParameterSpec] = [], kind: RecipeKind) {
        self.name = name
        self.description = description
        self.parameters = parameters
        self.kind = kind
    }
}

/// The recipes a worker can run, loaded and validated once at start.
public struct RecipeCatalog: Sendable {
    public private(set) var recipes: [String: Recipe]
    /// Hosts HTTP probes may reach (exact, case-insensitive match). Keeps job parameters from
    /// turning probes into a request forger against arbitrary addresses.
    public var allowedHosts: Set<String>

    public init(recipes: [Recipe] = [], allowedHosts: Set<String> = []) {
        self.recipes = Dictionary(recipes.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
    }

    public subscript(name: String) -> Recipe? { recipes[name] }

    /// Adds or replaces a recipe defined in code.
    public mutating func register(_ recipe: Recipe) { recipes[recipe.name] = recipe }

    /// Loads a recipes file. `customKinds` are the handler names registered in code, so a
    /// recipe of an unknown kind fails at start rather than on its first job.
    public static func load(contentsOf url: URL, customKinds: Set<String> = []) throws(WorkerError) -> RecipeCatalog {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw WorkerError(.invalidCatalog, "cannot read recipes file \(url.path): \(error.localizedDescription)")
        }
        return try parse(data, source: url.lastPathComponent, customKinds: customKinds, baseDirectory: url.deletingLastPathComponent().path)
    }

    /// Parses and validates a recipes document; every problem found is listed, each naming its
    /// recipe and field. A program given as a relative path with a `/` (`agents/fake-agent.sh`)
    /// is resolved against `baseDirectory`, the catalog file's directory when loaded from a file.
    public static func parse(
        _ data: Data, source: String = "recipes file", customKinds: Set<String> = [],
        environment: [String: String] = ProcessInfo.processInfo.environment, baseDirectory: String? = nil
    ) throws(WorkerError) -> RecipeCatalog {
        let root: JSONValue
        do {
            root = try StrictJSON.parse(Array(data))
        } catch {
            throw WorkerError(.invalidCatalog, "\(source) is not valid JSON: \(error.message)")
        }
        var loader = CatalogLoader(customKinds: customKinds, environment: environment, baseDirectory: baseDirectory)
        let catalog = loader.catalog(root)
        if !loader.problems.isEmpty {
            let lines = loader.problems.map { "  - " + $0.message }.joined(separator: "\n")
            throw WorkerError(
                .invalidCatalog, "\(source) has \(loader.problems.count) problem(s):\n\(lines)",
                recipe: loader.problems.count == 1 ? loader.problems[0].recipe : nil,
                field: loader.problems.count == 1 ? loader.problems[0].field : nil,
                problems: loader.problems)
        }
        return catalog
    }
}
