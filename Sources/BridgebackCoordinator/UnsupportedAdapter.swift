import BridgebackCore

/// Stands in for surface kinds this build cannot deliver to yet (chat kinds): the dry-run
/// fails terminally with a clear reason instead of the job waiting forever.
struct UnsupportedAdapter: DeliveryAdapter {
    func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure? {
        DeliveryFailure(.missingTarget, detail: "this coordinator has no adapter for \(delivery.surface.kind.rawValue) surfaces yet")
    }

    func send(_ delivery: PreparedDelivery) async -> DeliveryFailure? { await dryRun(delivery) }
}
