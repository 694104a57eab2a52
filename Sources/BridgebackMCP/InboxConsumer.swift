public import BridgebackAMQP
import BridgebackCore
import Foundation
public import Logging
public import ServiceLifecycle

/// Reads the parent inbox and the progress of watched work surfaces from the broker into an `Inbox`.
///
/// The inbox queue is `<prefix>inbox.<parent>`: client-named, durable (a quorum queue), bound
/// to `bb.inbox` with the parent key, and single-active-consumer, so notices that arrive while
/// no assistant is connected wait for the next one, and two servers for the same parent never
/// split the notices between them. Messages stay unacknowledged until an assistant takes them
/// (`Inbox.take`). The prefix follows the broker user (`WatchQueues`): `bb.watch.alice.` for the
/// scoped watcher `bb-watch-alice`, which may bind only alice's inbox keys and work surfaces;
/// `bb.watch.` for the operator's `bb-watch`.
///
/// Progress goes to a private queue (`<prefix>mcp.<random>`, exclusive, auto-delete), bound on
/// demand to each work surface a job of this session uses.
public final class InboxConsumer: Service, Sendable {
    public static let inboxExchange = "bb.inbox"
    public static let progressExchange = "bb.progress"

    public let connection: AMQPConnection
    public let inbox: Inbox
    let logger: Logger
    let progressQueue: String
    /// The durable queue that holds the parent's notices.
    public let inboxQueue: String
    private let bound = BoundSurfaces()

    /// The durable queue that holds `parent`'s notices for a client connected as `brokerUser`.
    public static func queueName(parent: String, brokerUser: String = "bb-watch") -> String {
        "\(WatchQueues.prefix(brokerUser: brokerUser))inbox.\(parent)"
    }

    public init(connection: AMQPConnection, inbox: Inbox, logger: Logger) {
        self.connection = connection
        self.inbox = inbox
        self.logger = logger
        let prefix = WatchQueues.prefix(brokerUser: connection.configuration.user)
        inboxQueue = Self.queueName(parent: inbox.parent, brokerUser: connection.configuration.user)
        progressQueue = "\(prefix)mcp.\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased())"
    }

    /// Declares and binds the inbox queue; call before serving so a detach made through this
    /// server always has a queue for its answer to land in.
    public func prepare() async throws {
        let queue = inboxQueue
        do {
            _ = try await connection.declare(QueueDeclaration.quorum(queue, singleActiveConsumer: true))
            try await connection.bind(BindingDeclaration(queue: queue, exchange: Self.inboxExchange, routingKey: inbox.parent))
            _ = try await connection.declare(QueueDeclaration(name: progressQueue, durable: false, exclusive: true, autoDelete: true))
        } catch let error as AMQPError where error.replyCode == 403 {
            throw MCPServerError(
                .brokerRefused,
                "the broker refused the inbox queue \(queue) (\(error.message)); use this person's scoped watcher "
                    + "bb-watch-<name> (BRIDGEBACK_WATCH_AMQP_URL; deploy/local/broker.sh watcher add), whose topic permissions "
                    + "must name the parent key \(inbox.parent), or the operator's bb-watch")
        } catch let error as AMQPError where error.replyCode == 406 {
            throw MCPServerError(
                .brokerRefused,
                "the queue \(queue) exists with other arguments (\(error.message)); delete it (it holds notices for parent \(inbox.parent): read them first) or pick another --parent"
            )
        }
    }

    /// Binds the progress queue to `surface` (once per surface).
    public func watchProgress(surface: String) async {
        guard await bound.insert(surface) else { return }
        do {
            try await connection.bind(BindingDeclaration(queue: progressQueue, exchange: Self.progressExchange, routingKey: surface))
        } catch {
            await bound.remove(surface)
            logger.warning("cannot follow progress", metadata: ["surface": "\(surface)", "error": "\(error)"])
        }
    }

    public func run() async throws {
        let queue = inboxQueue
        // Bounded messages: notices come from the coordinator (the broker's own ceiling bounds them);
        // progress comes from workers, and one over the message limit is dropped unread.
        let notices = try await connection.consume(queue: queue, prefetch: 256, bodyLimit: .prefix(MessageLimits.brokerMaxMessageBytes))
        let progress = try await connection.consume(
            queue: progressQueue, prefetch: 256, exclusive: true, bodyLimit: .prefix(MessageLimits.maxMessageBytes))
        await inbox.brokerUp()
        logger.info("inbox consuming", metadata: ["queue": "\(queue)", "parent": "\(inbox.parent)"])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                for try await delivery in notices.cancelOnGracefulShutdown() {
                    guard let item = InboxItem.decode(delivery.body, messageID: delivery.properties.messageID, arrivedAt: Date()) else {
                        // Not ours to read: leave no poison behind, but say so.
                        self.logger.warning(
                            "inbox message that is not a Bridgeback notice dropped",
                            metadata: ["type": "\(delivery.properties.type ?? "")", "message_id": "\(delivery.properties.messageID ?? "")"])
                        delivery.ack()
                        continue
                    }
                    let new = await self.inbox.arrived(item, ack: { delivery.ack() })
                    if new { self.logger.info("inbox notice waiting", metadata: ["job_id": "\(item.jobID)", "kind": "\(item.kind)"]) }
                }
                await self.inbox.brokerLost("the inbox consumer stopped")
            }
            group.addTask {
                for try await delivery in progress.cancelOnGracefulShutdown() {
                    delivery.ack()
                    if case .progress(let event)? = try? WireCodec.decodeAny(from: Data(delivery.body)) {
                        await self.inbox.progressed(event)
                    }
                }
            }
        }
    }
}

/// The surfaces the progress queue is bound to.
actor BoundSurfaces {
    private var surfaces: Set<String> = []
    func insert(_ surface: String) -> Bool { surfaces.insert(surface).inserted }
    func remove(_ surface: String) { surfaces.remove(surface) }
}
