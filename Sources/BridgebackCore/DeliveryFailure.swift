/// The failure taxonomy every adapter maps its receiver's errors into.
public enum DeliveryFailureKind: Sendable, Hashable {
    /// Not allowed (401/403, `not_in_channel`, bot blocked). Terminal.
    case permission
    /// The target does not exist (`channel_not_found`, chat not found, Discord 10003, HTTP 404/410). Terminal.
    case missingTarget
    /// Throttled; retry no sooner than `retryAfter` seconds if the receiver said so.
    case rateLimited(retryAfter: Double?)
    /// The payload exceeds the receiver's limit (`msg_too_long`, 413). Terminal: split before sending.
    case tooLarge
    /// The receiver rejected the payload itself (400 on a bad body). Terminal.
    case invalidPayload
    /// The send definitely did not happen (connect refused, DNS, 5xx before processing). Retryable.
    case transport
    /// The send may have happened (timeout after writing the request, connection reset mid-response).
    case unknownOutcome

    /// The snake_case wire name.
    public var name: String {
        switch self {
        case .permission: "permission"
        case .missingTarget: "missing_target"
        case .rateLimited: "rate_limited"
        case .tooLarge: "too_large"
        case .invalidPayload: "invalid_payload"
        case .transport: "transport"
        case .unknownOutcome: "unknown_outcome"
        }
    }

    /// Whether another attempt could succeed. `unknownOutcome` is retryable only to a
    /// receiver that deduplicates; the ledger decides that.
    public var isRetryable: Bool {
        switch self {
        case .rateLimited, .transport, .unknownOutcome: true
        case .permission, .missingTarget, .tooLarge, .invalidPayload: false
        }
    }

    /// Words for people ("rate limited (retry after 30 s)").
    public var humanDescription: String {
        switch self {
        case .permission: "permission denied"
        case .missingTarget: "target not found"
        case .rateLimited(let after): after.map { "rate limited (retry after \(HumanText.duration(seconds: $0)))" } ?? "rate limited"
        case .tooLarge: "message too large"
        case .invalidPayload: "payload rejected"
        case .transport: "could not reach the receiver"
        case .unknownOutcome: "outcome unknown (the send may have happened)"
        }
    }
}

/// One classified failure with the receiver's own words, for the ledger and for people.
public struct DeliveryFailure: Sendable, Hashable, Codable {
    public var kind: DeliveryFailureKind
    /// What the receiver said (`channel_not_found`, `HTTP 503`, `timeout after 10 s`).
    public var detail: String

    public init(_ kind: DeliveryFailureKind, detail: String = "") {
        self.kind = kind
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey { case kind, retryAfterSeconds = "retry_after_seconds", detail }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .kind)
        detail = try c.decodeIfPresent(String.self, forKey: .detail) ?? ""
        switch name {
        case "permission": kind = .permission
        case "missing_target": kind = .missingTarget
        case "rate_limited": kind = .rateLimited(retryAfter: try c.decodeIfPresent(Double.self, forKey: .retryAfterSeconds))
        case "too_large": kind = .tooLarge
        case "invalid_payload": kind = .invalidPayload
        case "transport": kind = .transport
        case "unknown_outcome": kind = .unknownOutcome
        default:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "'\(name)' is not a delivery failure kind")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind.name, forKey: .kind)
        if case .rateLimited(let after?) = kind { try c.encode(after, forKey: .retryAfterSeconds) }
        try c.encode(detail, forKey: .detail)
    }
}
