/// An error of the coordinator's own (ledger, configuration, wiring), as a value to switch on.
///
/// Domain errors (bad messages, invalid transitions) stay `BridgebackError`; this type covers
/// what only the coordinator can get wrong, each with a message an operator can act on.
public struct CoordinatorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, switchable code. New codes may be added; match with a `default` case.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case ledgerUnavailable = "ledger_unavailable"
            case ledgerCorrupt = "ledger_corrupt"
            case invalidConfiguration = "invalid_configuration"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The SQLite ledger cannot be opened, migrated or written.
        public static let ledgerUnavailable = Code(.ledgerUnavailable)
        /// A ledger row does not decode (hand-edited, or written by an incompatible build).
        public static let ledgerCorrupt = Code(.ledgerCorrupt)
        /// A setting (option, environment variable, file) cannot be used.
        public static let invalidConfiguration = Code(.invalidConfiguration)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// What is wrong and what to change.
    public var message: String
    /// The job concerned, if any.
    public var jobID: String?

    public init(_ code: Code, _ message: String, jobID: String? = nil) {
        self.code = code
        self.message = message
        self.jobID = jobID
    }

    public var description: String {
        "\(code): \(message)" + (jobID.map { " [job=\($0)]" } ?? "")
    }
}
