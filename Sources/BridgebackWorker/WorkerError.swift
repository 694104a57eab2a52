/// An error from the worker: a ``Code`` to switch on, the recipe/field concerned, and a sentence
/// a person can act on. Recipe failures become the `reason` of a `failed` completion verbatim,
/// so messages are written for the person who asked for the job, not for the worker's author.
public struct WorkerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong. New codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Hashable, Sendable {
            case invalidCatalog = "invalid_catalog"
            case unknownRecipe = "unknown_recipe"
            case invalidParameter = "invalid_parameter"
            case commandFailed = "command_failed"
            case timedOut = "timed_out"
            case deadlineExceeded = "deadline_exceeded"
            case httpFailed = "http_failed"
            case hostNotAllowed = "host_not_allowed"
            case conditionNotMet = "condition_not_met"
            case checklistFailed = "checklist_failed"
            case handlerFailed = "handler_failed"
            case invalidConfiguration = "invalid_configuration"
        }
        let base: Base
        private init(_ base: Base) { self.base = base }

        /// The recipes file does not load or validate (the message names recipe and field).
        public static let invalidCatalog = Code(.invalidCatalog)
        /// A job names a recipe this worker's catalog does not have.
        public static let unknownRecipe = Code(.unknownRecipe)
        /// A job's parameters do not satisfy the recipe's declarations.
        public static let invalidParameter = Code(.invalidParameter)
        /// A command could not start or exited non-zero.
        public static let commandFailed = Code(.commandFailed)
        /// A step ran longer than its own timeout.
        public static let timedOut = Code(.timedOut)
        /// The job's deadline passed before the recipe finished.
        public static let deadlineExceeded = Code(.deadlineExceeded)
        /// An HTTP probe got a transport error, an unexpected status or body.
        public static let httpFailed = Code(.httpFailed)
        /// An HTTP URL resolved to a host outside the catalog's `allowed_hosts`.
        public static let hostNotAllowed = Code(.hostNotAllowed)
        /// A `wait` recipe's condition did not hold before its timeout.
        public static let conditionNotMet = Code(.conditionNotMet)
        /// A checklist step failed (the message is the full step report).
        public static let checklistFailed = Code(.checklistFailed)
        /// A custom `JobHandler` threw something that was not a `WorkerError`.
        public static let handlerFailed = Code(.handlerFailed)
        /// Worker options (slots, pool, URLs) are unusable.
        public static let invalidConfiguration = Code(.invalidConfiguration)

        /// The snake_case form used in logs, e.g. `invalid_parameter`.
        public var description: String { base.rawValue }
    }

    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The recipe concerned, if any.
    public var recipe: String?
    /// The field or parameter concerned, if any (`argv[1]`, `steps[0].rollback`, `service`).
    public var field: String?
    /// For aggregate errors (catalog validation): every individual problem.
    public var problems: [WorkerError]

    public init(_ code: Code, _ message: String, recipe: String? = nil, field: String? = nil, problems: [WorkerError] = []) {
        self.code = code
        self.message = message
        self.recipe = recipe
        self.field = field
        self.problems = problems
    }

    /// One loggable line: `code: message [recipe=… field=…]`.
    public var description: String {
        var context: [String] = []
        if let recipe { context.append("recipe=\(recipe)") }
        if let field { context.append("field=\(field)") }
        return "\(code): \(message)" + (context.isEmpty ? "" : " [" + context.joined(separator: " ") + "]")
    }
}
