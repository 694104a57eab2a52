public import BridgebackCore
public import Foundation
public import Logging

/// A custom recipe kind implemented in Swift (for example an agent run), registered by name in
/// code: recipes of `"kind": "<name>"` in the catalog are run by it.
///
/// Return the result text for a `succeeded` completion; throw to fail the job (a `WorkerError`'s
/// message becomes the failure reason verbatim; other errors are described). Task cancellation
/// means the deadline passed or the worker is shutting down: stop promptly.
public protocol JobHandler: Sendable {
    func run(_ context: JobContext) async throws -> String
    /// Whether `run` returns at once, waiting on nothing (no I/O, no sleep): the worker then
    /// runs it inline instead of racing it against the job's deadline, shutdown and cancel
    /// (a child task per signal and an armed timer per job). False unless a handler says so.
    var returnsAtOnce: Bool { get }
}

extension JobHandler {
    public var returnsAtOnce: Bool { false }
}

/// Everything a recipe run may look at. Parameters are already validated against the recipe.
public struct JobContext: Sendable {
    public let jobID: JobID
    public let recipe: Recipe
    public let parameters: [String: ParameterValue]
    /// The recipe's `options` object for custom kinds (`{}` otherwise).
    public let options: JSONValue
    public let deadline: Date
    /// 1 on the first delivery of the job message.
    public let attempt: Int
    /// Carries `job_id`, `recipe` and `pool` metadata.
    public let logger: Logger
    public let progress: ProgressReporter
    /// Fired when someone cancels the job (not on deadline or shutdown).
    var cancelSignal: Signal?

    /// Whether the job is being stopped because someone cancelled it (a checklist then runs
    /// its rollbacks; a deadline or shutdown does not).
    public var isCancelRequested: Bool { cancelSignal?.isFired ?? false }

    public init(
        jobID: JobID, recipe: Recipe, parameters: [String: ParameterValue], options: JSONValue = .object([:]), deadline: Date,
        attempt: Int = 1, logger: Logger, progress: ProgressReporter = .discard
    ) {
        self.jobID = jobID
        self.recipe = recipe
        self.parameters = parameters
        self.options = options
        self.deadline = deadline
        self.attempt = attempt
        self.logger = logger
        self.progress = progress
    }
}

/// One progress report from a recipe.
public struct ProgressUpdate: Sendable, Hashable {
    /// State changes (a new step) are always published; routine updates are throttled.
    public var isStateChange: Bool
    public var message: String
    public var fraction: Double?

    public init(isStateChange: Bool, message: String, fraction: Double? = nil) {
        self.isStateChange = isStateChange
        self.message = message
        self.fraction = fraction
    }
}

/// How recipes report progress. The worker decides what is actually published (sparse: state
/// changes always, other updates at most once per interval per job), so recipes can report freely.
public struct ProgressReporter: Sendable {
    let sink: @Sendable (ProgressUpdate) async -> Void

    public init(_ sink: @escaping @Sendable (ProgressUpdate) async -> Void) { self.sink = sink }

    /// A state change: "step n/N: name". Always published.
    public func step(_ number: Int, of total: Int, _ message: String) async {
        await sink(
            ProgressUpdate(
                isStateChange: true, message: "step \(number)/\(total): \(message)",
                fraction: total > 0 ? Double(number - 1) / Double(total) : nil))
    }

    /// A routine update; dropped if another was published for this job within the interval.
    public func update(_ message: String, fraction: Double? = nil) async {
        await sink(ProgressUpdate(isStateChange: false, message: message, fraction: fraction))
    }

    /// Reports nothing (tests, benchmarks).
    public static let discard = ProgressReporter { _ in }
}

/// The built-in `noop` kind: succeeds at once with an empty result, without spawning a process,
/// so a benchmark measures the fleet and not `posix_spawn` (a `command` recipe of `/bin/true`
/// costs one spawn per job: `bench fleet --recipe true` against `--recipe noop` measures it).
public struct NoopHandler: JobHandler {
    public static let kind = "noop"

    public init() {}

    public func run(_ context: JobContext) async throws -> String { "" }

    public var returnsAtOnce: Bool { true }
}
