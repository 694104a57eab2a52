public import BridgebackCore

/// One part ready to go: the bytes are fixed in the ledger, so every attempt is identical.
public struct PreparedDelivery: Sendable {
    /// The stable id: `webhook-id`, AMQP message id, ledger key.
    public var deliveryID: DeliveryID
    public var totalParts: Int
    /// The registry entry of the destination.
    public var surface: Surface
    /// The `bridgeback.final.v1` JSON body.
    public var body: [UInt8]
    /// 1-based attempt number of this send.
    public var attempt: Int

    public init(deliveryID: DeliveryID, totalParts: Int, surface: Surface, body: [UInt8], attempt: Int) {
        self.deliveryID = deliveryID
        self.totalParts = totalParts
        self.surface = surface
        self.body = body
        self.attempt = attempt
    }
}

/// A way to deliver to one kind of surface. Adapters never throw: every receiver answer is
/// mapped into the failure taxonomy so the state machine can decide retry, fail or uncertain.
public protocol DeliveryAdapter: Sendable {
    /// Checks what can be checked without sending (address, secret, size); nil = passed.
    func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure?
    /// Sends once; nil = the receiver confirmed it.
    func send(_ delivery: PreparedDelivery) async -> DeliveryFailure?
}

/// Which adapter serves which surface kind, plus the one for work-surface fallback notices.
public struct AdapterSet: Sendable {
    public var byKind: [SurfaceKind: any DeliveryAdapter]
    /// Carries `dlv_<ulid>_fallback_<n>` notices to the work surface (normally `bb.progress`).
    public var fallback: any DeliveryAdapter

    public init(byKind: [SurfaceKind: any DeliveryAdapter], fallback: any DeliveryAdapter) {
        self.byKind = byKind
        self.fallback = fallback
    }

    func adapter(for id: DeliveryID, surface: Surface) -> (any DeliveryAdapter)? {
        id.purpose == .fallback ? fallback : byKind[surface.kind]
    }
}
