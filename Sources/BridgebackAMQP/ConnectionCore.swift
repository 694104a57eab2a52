#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import CRabbitMQ
import Logging
import Metrics
import Synchronization

/// Why a rabbitmq-c call failed: only the channel, or the whole connection.
enum CoreFailure: Error {
    case channel(AMQPError)
    case connection(AMQPError)

    var error: AMQPError {
        switch self {
        case .channel(let e), .connection(let e): e
        }
    }
}

/// Everything that touches rabbitmq-c for one connection. Lives on, and is only used by, the
/// connection's own thread: rabbitmq-c is blocking and not thread-safe.
final class ConnectionCore {
    let configuration: AMQPConfiguration
    let inbox: CommandInbox
    let shared: SharedConnectionState
    var logger: Logger
    let metrics: AMQPMetrics
    var machine: ConnectionStateMachine
    var conn: amqp_connection_state_t?
    /// Every channel's state, epoch, confirm window and waiting publishes (sans-I/O; this class performs its answers).
    var channels = Channels()
    /// What was declared, to declare again after a reconnect.
    var topology = RecordedTopology()
    var retryDeadline: ContinuousClock.Instant?
    /// Why each node failed in the current connect round (for one error naming them all).
    var roundErrors: [String] = []
    var closeWaiters: [CheckedContinuation<Void, Never>] = []
    typealias Channels = ChannelTable<OutboundMessage, PublishToken, ConsumerRecord>
    static let controlChannel = Channels.controlChannel
    static let returnTagHeader = "x-bb-publish-tag"

    init(configuration: AMQPConfiguration, inbox: CommandInbox, shared: SharedConnectionState, logger: Logger) {
        self.configuration = configuration
        self.inbox = inbox
        self.shared = shared
        self.logger = logger
        self.metrics = AMQPMetrics(connectionName: configuration.connectionName)
        self.machine = ConnectionStateMachine(
            baseDelay: configuration.reconnectBaseDelay, maxDelay: configuration.reconnectMaxDelay,
            endpointCount: configuration.endpoints.count)
    }

    func notConnectedError() -> AMQPError {
        if case .closed = machine.state { return AMQPError(.closedByUser, "the connection is closed") }
        return AMQPError(.notConnected, "the broker connection is down and being re-established; nothing was sent, try again")
    }

    static func uptimeNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    func close(waiter: CheckedContinuation<Void, Never>?) {
        if let waiter { closeWaiters.append(waiter) }
        _ = machine.close()
    }

    /// For tests: drop the socket as if the network failed.
    func simulateNetworkFailure() {
        if let conn { shutdown(amqp_get_sockfd(conn), Int32(SHUT_RDWR)) }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
