public import BridgebackCore
public import BridgebackTopology
import Foundation

/// The fleet as the broker sees it: every `bb.*` queue with its depth, consumers and rates, the
/// workers consuming job queues (host, pool, slots, jobs in flight), and how many coordinators
/// consume the completions queue (one active, the rest standbys). Read from the RabbitMQ
/// management API; the dashboard shows it beside what the ledger knows.
public struct BrokerOverview: Sendable, Hashable {
    /// The verdicts of `bridgeback status`, judged by the same `FleetRules`.
    public typealias Verdict = FleetVerdict

    public struct Queue: Sendable, Hashable {
        public var name: String
        public var ready: Int
        public var unacked: Int
        public var consumers: Int
        /// Messages per second, as the management API averages them.
        public var publishRate: Double
        public var deliverRate: Double
        public var ackRate: Double
        public var verdict: Verdict
        /// Why the verdict: "empty", "flowing", "3 waiting and nobody consumes this queue".
        public var why: String
        /// `quorum` or `classic` (nil when the broker does not say).
        public var type: String? = nil
        /// Seconds since the head message was published, when the broker reports it: classic queues
        /// whose messages carry a timestamp. Quorum queues (RabbitMQ 3.10) never report it.
        public var oldestMessageAge: Double? = nil
    }

    public struct Worker: Sendable, Hashable {
        /// The AMQP connection name the worker gave ("bridgeback-worker host-1").
        public var connection: String
        public var host: String
        public var pool: String
        public var slots: Int
        public var inFlight: Int
    }

    public var queues: [Queue]
    public var workers: [Worker]
    public var activeCoordinators: Int
    /// Coordinators waiting to take over: inactive consumers of the single-active-consumer queue,
    /// or connected coordinators that consume nothing (a standby waiting for the ledger lock).
    public var standbyCoordinators: Int

    /// From the management API's `/api/queues/{vhost}`, `/api/consumers/{vhost}` and (for jobs in
    /// flight per worker channel) `/api/vhosts/{vhost}/channels`.
    /// `connections` (`/api/vhosts/{vhost}/connections`) gives each worker the name it connected
    /// with ("bridgeback-worker worker1") instead of the broker's "host:port -> host:port".
    public static func parse(queues: JSONValue, consumers: JSONValue, channels: JSONValue?, connections: JSONValue? = nil) -> BrokerOverview
    {
        var overview = BrokerOverview(queues: [], workers: [], activeCoordinators: 0, standbyCoordinators: 0)
        for queue in queues.items {
            guard let name = queue["name"]?.stringValue, name.hasPrefix("bb.") else { continue }
            overview.queues.append(Self.queue(name: name, queue))
        }
        overview.queues.sort { $0.name < $1.name }
        var unackedByChannel: [String: Int] = [:]
        for channel in channels?.items ?? [] {
            if let name = channel["name"]?.stringValue { unackedByChannel[name] = Int(number(channel["messages_unacknowledged"])) }
        }
        var givenNames: [String: String] = [:]
        for connection in connections?.items ?? [] {
            guard let name = connection["name"]?.stringValue else { continue }
            if let given = connection["user_provided_name"]?.stringValue ?? connection["client_properties"]?["connection_name"]?.stringValue
            {
                givenNames[name] = given
            }
        }
        for consumer in consumers.items {
            let queue = consumer["queue"]?["name"]?.stringValue ?? ""
            let details = consumer["channel_details"]
            if queue.hasPrefix("bb.jobs.") {
                overview.workers.append(
                    Worker(
                        connection: (details?["connection_name"]?.stringValue).map { givenNames[$0] ?? $0 } ?? "?",
                        host: details?["peer_host"]?.stringValue ?? "?",
                        pool: String(queue.dropFirst("bb.jobs.".count)), slots: Int(number(consumer["prefetch_count"])),
                        inFlight: unackedByChannel[details?["name"]?.stringValue ?? ""] ?? 0))
            } else if queue == "bb.coordinator.completions" {
                if consumer["active"]?.boolValue == true { overview.activeCoordinators += 1 } else { overview.standbyCoordinators += 1 }
            }
        }
        overview.workers.sort { ($0.pool, $0.connection) < ($1.pool, $1.connection) }
        // A standby on the active one's data directory waits for the ledger lock without consuming,
        // so the broker shows it only as a connection named "bridgeback-coordinator".
        let coordinatorConnections = givenNames.values.filter { $0 == "bridgeback-coordinator" }.count
        overview.standbyCoordinators = max(overview.standbyCoordinators, coordinatorConnections - overview.activeCoordinators)
        return overview
    }

    static func queue(name: String, _ queue: JSONValue) -> Queue {
        let ready = Int(number(queue["messages_ready"]))
        let unacked = Int(number(queue["messages_unacknowledged"]))
        let consumers = Int(number(queue["consumers"]))
        let stats = queue["message_stats"]
        let publish = number(stats?["publish_details"]?["rate"])
        let deliver = number(stats?["deliver_get_details"]?["rate"])
        let ack = number(stats?["ack_details"]?["rate"])
        let judgement = FleetRules.queue(
            name: name, ready: ready, unacked: unacked, consumers: consumers, publishRate: publish, ackRate: ack)
        return Queue(
            name: name, ready: ready, unacked: unacked, consumers: consumers, publishRate: publish, deliverRate: deliver, ackRate: ack,
            verdict: judgement.verdict, why: judgement.why, type: queue["type"]?.stringValue,
            oldestMessageAge: queue["head_message_timestamp"]?.numberValue.map { max(0, Date().timeIntervalSince1970 - $0) })
    }

    static func number(_ value: JSONValue?) -> Double { value?.numberValue ?? 0 }
}

/// The management API as the dashboard and `bridgeback status` read it: with a user that has
/// the `monitoring` tag (broker.sh makes `bb-monitor`).
extension ManagementAPI {
    /// From `BRIDGEBACK_MANAGEMENT_URL` (default http://127.0.0.1:15672), `_USER` (default
    /// bb-monitor) and `_PASSWORD`, as `bridgeback status` reads them.
    public static func fromEnvironment(_ environment: [String: String], vhost: String = "bridgeback") -> ManagementAPI {
        ManagementAPI(
            base: environment["BRIDGEBACK_MANAGEMENT_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://127.0.0.1:15672", vhost: vhost,
            user: environment["BRIDGEBACK_MANAGEMENT_USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "bb-monitor",
            password: environment["BRIDGEBACK_MANAGEMENT_PASSWORD"] ?? "")
    }

    /// Queues, consumers and channels, fetched together; the reason in words when they cannot be.
    public func overview() async -> Result<BrokerOverview, ManagementFailure> {
        async let queues = get("/api/queues/{vhost}")
        async let consumers = get("/api/consumers/{vhost}")
        async let channels = get("/api/vhosts/{vhost}/channels")
        async let connections = get("/api/vhosts/{vhost}/connections")
        switch await (queues, consumers) {
        case (.success(let queues), .success(let consumers)):
            return .success(
                BrokerOverview.parse(
                    queues: queues, consumers: consumers, channels: try? await channels.get(), connections: try? await connections.get()))
        case (.failure(let failure), _), (_, .failure(let failure)):
            return .failure(failure)
        }
    }

    /// `GET path` with `{vhost}` filled in: the answer's JSON, or why there is none (also what
    /// `bridgeback status` reads through `ManagementClient`).
    public func get(_ path: String) async -> Result<JSONValue, ManagementFailure> {
        switch await fetch(path, timeout: 5) {
        case .success(let data):
            do {
                return .success(try JSONDecoder().decode(JSONValue.self, from: data))
            } catch {
                return .failure(ManagementFailure(reason: "the management API's answer for \(path) is not JSON: \(error)"))
            }
        case .failure(let failure):
            return .failure(failure)
        }
    }
}

extension JSONValue {
    /// The elements of an array (none for anything else).
    var items: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }
}
