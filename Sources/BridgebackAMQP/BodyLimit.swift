/// How a consumer bounds the message bodies it takes.
///
/// The connection reads a message frame by frame (the content header first, which declares the
/// body's size). A body within `maxBytes` is delivered whole. A longer one is never held whole:
/// each body frame is handed to a fresh reducer and released, and the delivery carries what the
/// reducer kept plus the full size in `AMQPDelivery.oversizeBytes`. So one message costs the
/// consumer at most `maxBytes` plus what the reducer keeps, whatever its size on the wire.
public struct BodyLimit: Sendable {
    /// The largest body delivered as is.
    public var maxBytes: Int
    /// Makes the reducer for one over-limit body. It runs on the connection's thread.
    public var makeReducer: @Sendable () -> any OversizeBodyReducer

    public init(maxBytes: Int, makeReducer: @escaping @Sendable () -> any OversizeBodyReducer) {
        self.maxBytes = max(0, maxBytes)
        self.makeReducer = makeReducer
    }

    /// Over-limit bodies keep their first `keep` bytes (none by default).
    public static func prefix(_ maxBytes: Int, keep: Int = 0) -> BodyLimit {
        BodyLimit(maxBytes: maxBytes) { PrefixReducer(keep: keep) }
    }
}

/// Sees an over-limit body fragment by fragment and says what to deliver in its place.
public protocol OversizeBodyReducer {
    /// One body frame's bytes, valid only during the call.
    mutating func consume(_ fragment: UnsafeRawBufferPointer)
    /// What the delivery's `body` holds.
    mutating func finish() -> [UInt8]
}

/// Keeps the first `keep` bytes of a body.
public struct PrefixReducer: OversizeBodyReducer {
    public let keep: Int
    private var kept: [UInt8] = []

    public init(keep: Int) {
        self.keep = max(0, keep)
    }

    public mutating func consume(_ fragment: UnsafeRawBufferPointer) {
        guard kept.count < keep else { return }
        kept.append(contentsOf: fragment.prefix(keep - kept.count))
    }

    public mutating func finish() -> [UInt8] { kept }
}
