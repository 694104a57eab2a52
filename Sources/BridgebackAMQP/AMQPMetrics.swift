import Metrics

/// The AMQP layer's metrics, recorded on the connection's thread through the global
/// swift-metrics factory (the executable bootstraps it; otherwise they are no-ops).
///
/// Every series carries `connection`: the connection name up to its first space
/// (`bridgeback-worker worker1` → `bridgeback-worker`), so the label stays bounded however many
/// workers come and go. Queue labels are Bridgeback's own queue names.
struct AMQPMetrics {
    let connection: String
    private let connected: Gauge
    private let reconnects: Counter
    private let confirmLatency: Metrics.Timer
    private let unconfirmed: Gauge
    private let mergedAcks: Counter
    private let factory: any MetricsFactory

    init(connectionName: String, factory: any MetricsFactory = MetricsSystem.factory) {
        let label = String(connectionName.split(separator: " ").first ?? "bridgeback")
        connection = label
        self.factory = factory
        let dimensions = [("connection", label)]
        connected = Gauge(label: "bridgeback_amqp_connected", dimensions: dimensions, factory: factory)
        reconnects = Counter(label: "bridgeback_amqp_reconnects_total", dimensions: dimensions, factory: factory)
        confirmLatency = Metrics.Timer(label: "bridgeback_amqp_publish_confirm_seconds", dimensions: dimensions, factory: factory)
        unconfirmed = Gauge(label: "bridgeback_amqp_unconfirmed_publishes", dimensions: dimensions, factory: factory)
        mergedAcks = Counter(label: "bridgeback_amqp_acks_merged_total", dimensions: dimensions, factory: factory)
    }

    func connected(_ up: Bool) { connected.record(up ? 1 : 0) }
    func reconnected() { reconnects.increment() }
    func confirmed(afterNanoseconds nanoseconds: UInt64) { confirmLatency.recordNanoseconds(Int64(clamping: nanoseconds)) }
    func unconfirmed(_ count: Int) { unconfirmed.record(count) }
    /// `count` plain acks went out as one `multiple` ack.
    func acksMerged(_ count: Int) { mergedAcks.increment(by: Int64(count)) }

    /// Deliveries handed to a consumer and not yet settled, against its prefetch.
    func consumerGauges(queue: String) -> (inUse: Gauge, prefetch: Gauge) {
        let dimensions = [("connection", connection), ("queue", queue)]
        return (
            Gauge(label: "bridgeback_amqp_consumer_unacked", dimensions: dimensions, factory: factory),
            Gauge(label: "bridgeback_amqp_consumer_prefetch", dimensions: dimensions, factory: factory)
        )
    }
}
