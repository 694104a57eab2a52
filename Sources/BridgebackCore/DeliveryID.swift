/// The stable identity of one send: the `webhook-id` header, the inbox message id, the ledger key.
///
/// Derived, never random: `dlv_<ulid>_<part>` for the final answer and
/// `dlv_<ulid>_fallback_<part>` for the work-surface notice that replaces a failed `direct`
/// send. The same (job, purpose, part) always yields the same id, so a retry after a crash
/// carries the id the receiver has already seen and a deduplicating receiver drops it.
public struct DeliveryID: Sendable, Hashable, Comparable, WireStringIdentifier {
    /// Why a delivery exists; part of the id so a fallback never collides with the final send.
    public enum Purpose: String, Sendable, Hashable, Codable {
        /// The final notice to the contract's final surface.
        case final
        /// The notice to the work surface after a terminal failure of a `direct` delivery.
        case fallback
    }

    public let job: JobID
    public let purpose: Purpose
    /// 1-based part number.
    public let part: Int

    /// The id for part `part` (1-based) of `job`.
    public init(job: JobID, part: Int, purpose: Purpose = .final) {
        precondition(part >= 1, "delivery parts are 1-based")
        self.job = job
        self.part = part
        self.purpose = purpose
    }

    public var description: String {
        switch purpose {
        case .final: Crockford.encode128(high: job.high, low: job.low, prefix: "dlv_", suffix: "_\(part)")
        case .fallback: Crockford.encode128(high: job.high, low: job.low, prefix: "dlv_", suffix: "_fallback_\(part)")
        }
    }

    /// Parses the text form back; throws `invalidDeliveryID`.
    public init(parsing text: String) throws(BridgebackError) {
        let pieces = text.split(separator: "_", omittingEmptySubsequences: false)
        func fail() -> BridgebackError {
            BridgebackError(.invalidDeliveryID, "delivery id '\(text)' must look like dlv_<ulid>_<part> or dlv_<ulid>_fallback_<part>")
        }
        guard pieces.first == "dlv", pieces.count == 3 || (pieces.count == 4 && pieces[2] == "fallback") else { throw fail() }
        guard let part = Int(pieces[pieces.count - 1]), part >= 1, String(part) == pieces[pieces.count - 1] else { throw fail() }
        let job: JobID
        do {
            job = try JobID(parsing: JobID.prefix + pieces[1])
        } catch {
            throw BridgebackError(.invalidDeliveryID, "delivery id '\(text)': \(error.message)")
        }
        self.init(job: job, part: part, purpose: pieces.count == 4 ? .fallback : .final)
    }

    public static func < (lhs: DeliveryID, rhs: DeliveryID) -> Bool {
        (lhs.job, lhs.purpose == .fallback ? 1 : 0, lhs.part) < (rhs.job, rhs.purpose == .fallback ? 1 : 0, rhs.part)
    }

    public init(wireString: String) throws(BridgebackError) { try self.init(parsing: wireString) }
}
