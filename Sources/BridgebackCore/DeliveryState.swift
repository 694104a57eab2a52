public import Foundation

/// Where one part of one job's final delivery stands; one ledger row.
///
/// `pending → dry_run_ok → sending → delivered | failed | uncertain`, with `retry_wait`
/// between a retryable failure and the next dry-run. Cases carry what the row must store.
public enum DeliveryState: Sendable, Hashable {
    /// Waiting for (or back for) a dry-run; `attempts` tries have been made so far.
    case pending(attempts: Int)
    /// The dry-run passed; the send is about to start.
    case dryRunOK(attempts: Int)
    /// Attempt number `attempt` is in flight. Found on restart, it means the outcome is unknown.
    case sending(attempt: Int)
    /// A retryable failure; the next try (starting with a dry-run) is due at `nextAttemptAt`.
    case retryWait(attempts: Int, nextAttemptAt: Date, lastFailure: DeliveryFailure)
    /// The receiver confirmed it.
    case delivered(attempts: Int, at: Date)
    /// Given up: a terminal failure, or retries exhausted (`exhausted`).
    case failed(attempts: Int, failure: DeliveryFailure, exhausted: Bool)
    /// The send may or may not have happened and the receiver cannot deduplicate: never resent.
    case uncertain(attempts: Int, failure: DeliveryFailure)

    /// The ledger's state column: `pending`, `dry_run_ok`, `sending`, `retry_wait`, `delivered`, `failed`, `uncertain`.
    public var name: String {
        switch self {
        case .pending: "pending"
        case .dryRunOK: "dry_run_ok"
        case .sending: "sending"
        case .retryWait: "retry_wait"
        case .delivered: "delivered"
        case .failed: "failed"
        case .uncertain: "uncertain"
        }
    }

    /// Attempts made so far (an in-flight send counts).
    public var attempts: Int {
        switch self {
        case .pending(let n), .dryRunOK(let n), .sending(let n), .retryWait(let n, _, _), .delivered(let n, _),
            .failed(let n, _, _), .uncertain(let n, _):
            n
        }
    }

    /// The terminal outcome, or nil while delivery is still in progress.
    public var outcome: DeliveryOutcome? {
        switch self {
        case .delivered: .delivered
        case .failed: .failed
        case .uncertain: .uncertain
        case .pending, .dryRunOK, .sending, .retryWait: nil
        }
    }

    /// The last failure, if the state records one.
    public var lastFailure: DeliveryFailure? {
        switch self {
        case .retryWait(_, _, let failure), .failed(_, let failure, _), .uncertain(_, let failure): failure
        default: nil
        }
    }

    /// One line for `bridgeback jobs` and `GET /v1/jobs/{id}`.
    public var humanDescription: String {
        func tries(_ n: Int) -> String { n == 1 ? "1 attempt" : "\(n) attempts" }
        switch self {
        case .pending(let n): return n == 0 ? "waiting for its dry-run" : "retrying (\(tries(n)) so far)"
        case .dryRunOK: return "dry-run passed, about to send"
        case .sending(let n): return "sending (attempt \(n))"
        case .retryWait(let n, let at, let failure):
            return "\(failure.kind.humanDescription) after \(tries(n)); next try at \(WireDate.format(at))"
        case .delivered(let n, let at): return "delivered at \(WireDate.format(at)) after \(tries(n))"
        case .failed(let n, let failure, let exhausted):
            return "failed: \(failure.kind.humanDescription)\(failure.detail.isEmpty ? "" : " (\(failure.detail))")"
                + (exhausted ? ", gave up after \(tries(n))" : "")
        case .uncertain(let n, let failure):
            return
                "uncertain after \(tries(n)): \(failure.kind.humanDescription); not resent because the receiver cannot deduplicate\(failure.detail.isEmpty ? "" : " (\(failure.detail))")"
        }
    }
}

extension DeliveryState: Codable {
    enum CodingKeys: String, CodingKey {
        case state, attempts, nextAttemptAt = "next_attempt_at", failure, deliveredAt = "delivered_at", exhausted
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .state)
        let attempts = try c.decodeIfPresent(Int.self, forKey: .attempts) ?? 0
        switch name {
        case "pending": self = .pending(attempts: attempts)
        case "dry_run_ok": self = .dryRunOK(attempts: attempts)
        case "sending": self = .sending(attempt: attempts)
        case "retry_wait":
            self = .retryWait(
                attempts: attempts, nextAttemptAt: try c.decode(Date.self, forKey: .nextAttemptAt),
                lastFailure: try c.decode(DeliveryFailure.self, forKey: .failure))
        case "delivered": self = .delivered(attempts: attempts, at: try c.decode(Date.self, forKey: .deliveredAt))
        case "failed":
            self = .failed(
                attempts: attempts, failure: try c.decode(DeliveryFailure.self, forKey: .failure),
                exhausted: try c.decodeIfPresent(Bool.self, forKey: .exhausted) ?? false)
        case "uncertain": self = .uncertain(attempts: attempts, failure: try c.decode(DeliveryFailure.self, forKey: .failure))
        default:
            throw DecodingError.dataCorruptedError(forKey: .state, in: c, debugDescription: "'\(name)' is not a delivery state")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .state)
        try c.encode(attempts, forKey: .attempts)
        switch self {
        case .retryWait(_, let at, let failure):
            try c.encode(at, forKey: .nextAttemptAt)
            try c.encode(failure, forKey: .failure)
        case .delivered(_, let at): try c.encode(at, forKey: .deliveredAt)
        case .failed(_, let failure, let exhausted):
            try c.encode(failure, forKey: .failure)
            try c.encode(exhausted, forKey: .exhausted)
        case .uncertain(_, let failure): try c.encode(failure, forKey: .failure)
        case .pending, .dryRunOK, .sending: break
        }
    }
}
