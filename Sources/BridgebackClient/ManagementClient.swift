import BridgebackCoordinator
public import BridgebackCore
public import BridgebackTopology

/// The RabbitMQ management API with basic auth (a user with the `monitoring` tag), as `bridgeback
/// status` reads it. Its answers are the broker's JSON, not Bridgeback's: they are read by key in
/// one place, `BrokerOverview.parse`, which the dashboard shares.
public struct ManagementClient: Sendable {
    /// The dashboard's client of the same API: one place that fetches, authenticates and words
    /// a failure.
    let api: ManagementAPI

    public init(base: String, vhost: String, user: String, password: String) {
        api = ManagementAPI(base: base, vhost: vhost, user: user, password: password)
    }

    /// Why the management API gave nothing usable, in words.
    public typealias Failure = ManagementFailure

    /// `GET path` with `{vhost}` filled in: the answer's JSON, or why there is none.
    public func get(_ path: String) async -> Result<JSONValue, Failure> {
        await api.get(path)
    }
}
