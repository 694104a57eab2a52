public import BridgebackAMQP
import Foundation
public import Logging

/// One difference between the broker and the definitions file.
public struct TopologyDrift: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case missing, different, unexpected
        /// A quorum queue with too few members, or members offline: it still works while a majority
        /// is online, but one more lost node may stop it.
        case underReplicated = "under-replicated"
    }
    public var kind: Kind
    /// e.g. `queue bb.jobs.default`, `binding bb.jobs → bb.jobs.default (default)`.
    public var object: String
    public var detail: String

    public var description: String { "\(kind.rawValue): \(object) — \(detail)" }
}

/// What `check` found.
public struct TopologyReport: Sendable {
    public var checked: Int
    public var drift: [TopologyDrift]
    /// What could not be checked (e.g. bindings without the management API) and why.
    public var notes: [String]
    public var isClean: Bool { drift.isEmpty }
}

/// Makes a broker match the definitions (`apply`) and reports where it does not (`check`).
///
/// Exchanges and queues are checked over AMQP: a passive declare finds missing objects, and a
/// declare with the expected arguments is refused by RabbitMQ (406 PRECONDITION_FAILED, naming the
/// argument) when the live object differs — without changing it. Bindings and permissions are only
/// visible through the management API, so they are checked when its URL is given.
public struct TopologyManager: Sendable {
    public let definitions: TopologyDefinitions
    public let logger: Logger

    public init(definitions: TopologyDefinitions, logger: Logger = Logger(label: "bridgeback.topology")) {
        self.definitions = definitions
        self.logger = logger
    }

    /// Declares every exchange, queue and binding. Fails on the first conflict, naming it.
    @discardableResult
    public func apply(on connection: AMQPConnection) async throws(TopologyError) -> Int {
        var count = 0
        do {
            for exchange in definitions.exchangeDeclarations {
                try await connection.declare(exchange)
                count += 1
            }
            for queue in definitions.queueDeclarations {
                try await connection.declare(queue)
                count += 1
            }
            for binding in definitions.bindingDeclarations {
                try await connection.bind(binding)
                count += 1
            }
        } catch let error as AMQPError {
            let hint = error.replyCode == 406 ? " (an object exists with other settings: delete it or migrate it, then apply again)" : ""
            throw TopologyError(.broker, "\(error)\(hint)")
        } catch {
            throw TopologyError(.broker, "\(error)")
        }
        logger.info("topology applied", metadata: ["objects": "\(count)"])
        return count
    }

    /// Compares the broker with the definitions without creating or changing anything.
    public func check(on connection: AMQPConnection, management: ManagementAPI? = nil) async throws(TopologyError) -> TopologyReport {
        var report = TopologyReport(checked: 0, drift: [], notes: [])
        do {
            for exchange in definitions.exchangeDeclarations {
                report.checked += 1
                let object = "exchange \(exchange.name)"
                do {
                    try await connection.inspectExchange(exchange.name)
                } catch let error as AMQPError where error.replyCode == 404 {
                    report.drift.append(TopologyDrift(kind: .missing, object: object, detail: "not declared on the broker"))
                    continue
                }
                do {
                    try await connection.declare(exchange)
                } catch let error as AMQPError where error.replyCode == 406 {
                    report.drift.append(TopologyDrift(kind: .different, object: object, detail: error.replyText ?? error.message))
                }
            }
            for queue in definitions.queueDeclarations {
                report.checked += 1
                let object = "queue \(queue.name)"
                do {
                    _ = try await connection.inspectQueue(queue.name)
                } catch let error as AMQPError where error.replyCode == 404 {
                    report.drift.append(TopologyDrift(kind: .missing, object: object, detail: "not declared on the broker"))
                    continue
                }
                do {
                    try await connection.declare(queue)
                } catch let error as AMQPError where error.replyCode == 406 {
                    report.drift.append(TopologyDrift(kind: .different, object: object, detail: error.replyText ?? error.message))
                }
            }
        } catch let error as AMQPError {
            throw TopologyError(.broker, "\(error)")
        } catch {
            throw TopologyError(.broker, "\(error)")
        }
        if let management {
            try await checkBindingsAndPermissions(management, vhost: connection.configuration.virtualHost, into: &report)
        } else {
            report.notes.append(
                "bindings and permissions not checked: AMQP cannot list them; pass the management API URL (--management http://127.0.0.1:15672)"
            )
        }
        return report
    }

    private func checkBindingsAndPermissions(_ management: ManagementAPI, vhost: String, into report: inout TopologyReport)
        async throws(TopologyError)
    {
        let live = try await management.bindings(vhost: vhost)
        for binding in definitions.bindingDeclarations {
            report.checked += 1
            let present = live.contains {
                $0.source == binding.exchange && $0.destination == binding.queue && $0.routingKey == binding.routingKey
            }
            if !present {
                report.drift.append(
                    TopologyDrift(
                        kind: .missing, object: "binding \(binding.exchange) → \(binding.queue) (\(binding.routingKey))",
                        detail: "not bound on the broker"))
            }
        }
        let managedQueues = Set(definitions.queues.map(\.name))
        for binding in live where managedQueues.contains(binding.destination) && !binding.source.isEmpty {
            let expected = definitions.bindingDeclarations.contains {
                $0.exchange == binding.source && $0.queue == binding.destination && $0.routingKey == binding.routingKey
            }
            if !expected {
                report.drift.append(
                    TopologyDrift(
                        kind: .unexpected, object: "binding \(binding.source) → \(binding.destination) (\(binding.routingKey))",
                        detail: "bound on the broker but not in the definitions"))
            }
        }
        let nodes = try await management.nodes()
        for queue in definitions.queues where queue.arguments["x-queue-type"] == .string("quorum") {
            report.checked += 1
            guard let live = try await management.queue(vhost: vhost, name: queue.name) else { continue }  // missing: reported above
            if let drift = Self.replicationDrift(
                queue: queue.name, members: live.members ?? [], online: live.online ?? [], clusterNodes: nodes.map(\.name))
            {
                report.drift.append(drift)
            }
        }
        let permissions = try await management.permissions(vhost: vhost)
        for wanted in definitions.permissions where wanted.vhost == vhost {
            report.checked += 1
            guard let actual = permissions.first(where: { $0.user == wanted.user }) else {
                report.drift.append(
                    TopologyDrift(
                        kind: .missing, object: "permissions of \(wanted.user)", detail: "user has no permissions on vhost \(vhost)"))
                continue
            }
            if actual != wanted {
                report.drift.append(
                    TopologyDrift(
                        kind: .different, object: "permissions of \(wanted.user)",
                        detail:
                            "configure/write/read are '\(actual.configure)' '\(actual.write)' '\(actual.read)', expected '\(wanted.configure)' '\(wanted.write)' '\(wanted.read)'"
                    ))
            }
        }
        try await checkTopicPermissions(management, vhost: vhost, users: permissions.map(\.user), into: &report)
    }

    /// The template's topic permissions, and one on `bb.progress` and `bb.inbox` for every scoped
    /// watcher (`bb-watch-<name>`, template or `broker.sh watcher add`): without one, that user may
    /// bind `#` on the exchange and read every person's progress or inbox.
    private func checkTopicPermissions(
        _ management: ManagementAPI, vhost: String, users: [String], into report: inout TopologyReport
    ) async throws(TopologyError) {
        let live = try await management.topicPermissions(vhost: vhost)
        for wanted in definitions.topicPermissions where wanted.vhost == vhost {
            report.checked += 1
            let object = "topic permissions of \(wanted.user) on \(wanted.exchange)"
            guard let actual = live.first(where: { $0.user == wanted.user && $0.exchange == wanted.exchange }) else {
                report.drift.append(
                    TopologyDrift(kind: .missing, object: object, detail: "none: \(wanted.user) may bind every key on \(wanted.exchange)"))
                continue
            }
            if actual != wanted {
                report.drift.append(
                    TopologyDrift(
                        kind: .different, object: object,
                        detail: "write/read are '\(actual.write)' '\(actual.read)', expected '\(wanted.write)' '\(wanted.read)'"))
            }
        }
        let templated = Set(definitions.topicPermissions.filter { $0.vhost == vhost }.map { "\($0.user) \($0.exchange)" })
        for user in Set(users).sorted() where user.hasPrefix("bb-watch-") {
            for exchange in Self.watchedExchanges where !templated.contains("\(user) \(exchange)") {
                report.checked += 1
                if !live.contains(where: { $0.user == user && $0.exchange == exchange }) {
                    report.drift.append(
                        TopologyDrift(
                            kind: .missing, object: "topic permissions of \(user) on \(exchange)",
                            detail: "a scoped watcher without one may bind every key on \(exchange), '#' included; "
                                + "deploy/local/broker.sh watcher add sets both"))
                }
            }
        }
    }

    /// The topic exchanges scoped watchers read.
    static let watchedExchanges = ["bb.progress", "bb.inbox"]
}

extension TopologyManager {
    /// Whether a quorum queue is replicated as a cluster of `clusterNodes` should have it: a member on
    /// every node up to three (RabbitMQ places a new quorum queue on every cluster node), and every
    /// member online. A single-node broker needs one member.
    public static func replicationDrift(queue: String, members: [String], online: [String], clusterNodes: [String]) -> TopologyDrift? {
        let object = "queue \(queue)"
        let offline = members.filter { !online.contains($0) }
        if !offline.isEmpty {
            let majority = members.count / 2 + 1
            let consequence =
                online.count >= majority
                ? "it keeps working while a majority (\(majority)) is online; one more lost node may stop it"
                : "fewer than a majority (\(majority)) online: the queue is unavailable until a member returns"
            return TopologyDrift(
                kind: .underReplicated, object: object,
                detail: "\(online.count) of \(members.count) members online (offline: \(offline.joined(separator: ", "))); \(consequence)")
        }
        let wanted = min(max(clusterNodes.count, 1), 3)
        if members.count < wanted {
            let missing = clusterNodes.filter { !members.contains($0) }
            return TopologyDrift(
                kind: .underReplicated, object: object,
                detail: "\(members.count) member(s) on a cluster of \(clusterNodes.count) nodes; want \(wanted) "
                    + "(add with: rabbitmq-queues add_member -p <vhost> \(queue) \(missing.first ?? "<node>"))")
        }
        return nil
    }
}

/// The few read-only calls `check` needs from the management API.
extension ManagementAPI {
    struct LiveBinding: Decodable {
        var source: String
        var destination: String
        var routingKey: String
        enum CodingKeys: String, CodingKey { case source, destination, routingKey = "routing_key" }
    }

    func bindings(vhost: String) async throws(TopologyError) -> [LiveBinding] {
        try await get("/api/bindings/\(Self.escape(vhost))", as: [LiveBinding].self)
    }

    struct LiveNode: Decodable {
        var name: String
    }

    struct LiveQueue: Decodable {
        var members: [String]?
        var online: [String]?
    }

    func nodes() async throws(TopologyError) -> [LiveNode] {
        try await get("/api/nodes", as: [LiveNode].self)
    }

    /// A queue's replication state, or nil when the queue does not exist (404).
    func queue(vhost: String, name: String) async throws(TopologyError) -> LiveQueue? {
        try await get("/api/queues/\(Self.escape(vhost))/\(Self.escape(name))", as: LiveQueue.self, absentOn404: true)
    }

    func permissions(vhost: String) async throws(TopologyError) -> [TopologyDefinitions.Permission] {
        try await get("/api/vhosts/\(Self.escape(vhost))/permissions", as: [TopologyDefinitions.Permission].self)
    }

    func topicPermissions(vhost: String) async throws(TopologyError) -> [TopologyDefinitions.TopicPermission] {
        try await get("/api/vhosts/\(Self.escape(vhost))/topic-permissions", as: [TopologyDefinitions.TopicPermission].self)
    }

    private func get<T: Decodable>(_ path: String, as type: T.Type) async throws(TopologyError) -> T {
        guard let value = try await get(path, as: type, absentOn404: false) else {
            throw TopologyError(.broker, "the management API answered 404 for \(path)")
        }
        return value
    }

    private func get<T: Decodable>(_ path: String, as type: T.Type, absentOn404: Bool) async throws(TopologyError) -> T? {
        switch await fetch(path) {
        case .success(let data):
            do {
                return try JSONDecoder().decode(T.self, from: data)
            } catch {
                throw TopologyError(.broker, "the management API's answer for \(path) is not what this version reads: \(error)")
            }
        case .failure(let failure) where absentOn404 && failure.status == 404:
            return nil
        case .failure(let failure):
            throw TopologyError(.broker, failure.reason)
        }
    }
}
