/// Why a benchmark could not produce its figures; the message says what to fix or start.
public struct BenchError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// A flag's value cannot be used (the executable reports it as a usage error).
        case invalidOption
        /// An input file is missing or unreadable, or does not parse.
        case input
        /// The system under measurement failed or did not answer (broker, fleet, C loop).
        case run
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
