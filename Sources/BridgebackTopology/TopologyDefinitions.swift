public import BridgebackAMQP
public import Foundation

/// The RabbitMQ objects Bridgeback needs, read from a RabbitMQ definitions file
/// (`topology/definitions.json`, the format `rabbitmqctl export_definitions` writes).
///
/// Users and permissions in the file are a template: passwords are never checked in; the local
/// broker script creates the users with generated passwords.
public struct TopologyDefinitions: Sendable, Decodable {
    public struct Exchange: Sendable, Decodable {
        public var name: String
        public var vhost: String?
        public var type: String
        public var durable: Bool
        public var autoDelete: Bool
        public var `internal`: Bool
        public var arguments: [String: JSONArgument]

        enum CodingKeys: String, CodingKey { case name, vhost, type, durable, autoDelete = "auto_delete", `internal`, arguments }
    }

    public struct Queue: Sendable, Decodable {
        public var name: String
        public var vhost: String?
        public var durable: Bool
        public var autoDelete: Bool
        public var arguments: [String: JSONArgument]

        enum CodingKeys: String, CodingKey { case name, vhost, durable, autoDelete = "auto_delete", arguments }
    }

    public struct Binding: Sendable, Decodable {
        public var source: String
        public var vhost: String?
        public var destination: String
        public var destinationType: String
        public var routingKey: String
        public var arguments: [String: JSONArgument]

        enum CodingKeys: String, CodingKey {
            case source, vhost, destination, destinationType = "destination_type", routingKey = "routing_key", arguments
        }
    }

    public struct User: Sendable, Decodable {
        public var name: String
        public var tags: [String]
    }

    public struct Permission: Sendable, Decodable, Equatable {
        public var user: String
        public var vhost: String
        public var configure: String
        public var write: String
        public var read: String
    }

    /// Which routing keys a user may bind (read) or publish (write) on one topic exchange. A user
    /// with none on an exchange may use every key there, so a scoped watcher needs one on each.
    public struct TopicPermission: Sendable, Decodable, Equatable {
        public var user: String
        public var vhost: String
        public var exchange: String
        public var write: String
        public var read: String
    }

    public var exchanges: [Exchange]
    public var queues: [Queue]
    public var bindings: [Binding]
    public var users: [User]
    public var permissions: [Permission]
    public var topicPermissions: [TopicPermission]

    enum CodingKeys: String, CodingKey { case exchanges, queues, bindings, users, permissions, topicPermissions = "topic_permissions" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        exchanges = try container.decodeIfPresent([Exchange].self, forKey: .exchanges) ?? []
        queues = try container.decodeIfPresent([Queue].self, forKey: .queues) ?? []
        bindings = try container.decodeIfPresent([Binding].self, forKey: .bindings) ?? []
        users = try container.decodeIfPresent([User].self, forKey: .users) ?? []
        permissions = try container.decodeIfPresent([Permission].self, forKey: .permissions) ?? []
        topicPermissions = try container.decodeIfPresent([TopicPermission].self, forKey: .topicPermissions) ?? []
    }

    /// Loads and validates a definitions file; errors name the object and what is wrong.
    public static func load(from url: URL) throws(TopologyError) -> TopologyDefinitions {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TopologyError(.unreadable, "cannot read the topology file \(url.path): \(error.localizedDescription)")
        }
        return try parse(data, source: url.path)
    }

    public static func parse(_ data: Data, source: String = "definitions") throws(TopologyError) -> TopologyDefinitions {
        let definitions: TopologyDefinitions
        do { definitions = try JSONDecoder().decode(TopologyDefinitions.self, from: data) } catch {
            throw TopologyError(.invalid, "\(source) is not a valid RabbitMQ definitions file: \(error)")
        }
        for exchange in definitions.exchanges where ExchangeDeclaration.Kind(rawValue: exchange.type) == nil {
            throw TopologyError(.invalid, "\(source): exchange '\(exchange.name)' has unknown type '\(exchange.type)'")
        }
        for binding in definitions.bindings where binding.destinationType != "queue" {
            throw TopologyError(
                .invalid,
                "\(source): binding \(binding.source) → \(binding.destination) binds an exchange; only queue bindings are supported")
        }
        return definitions
    }

    /// The declarations, in the order a broker must receive them.
    public var exchangeDeclarations: [ExchangeDeclaration] {
        exchanges.map {
            ExchangeDeclaration(
                name: $0.name, kind: ExchangeDeclaration.Kind(rawValue: $0.type)!, durable: $0.durable,
                autoDelete: $0.autoDelete, internal: $0.internal, arguments: $0.arguments.mapValues(\.fieldValue))
        }
    }

    public var queueDeclarations: [QueueDeclaration] {
        queues.map {
            QueueDeclaration(
                name: $0.name, durable: $0.durable, exclusive: false, autoDelete: $0.autoDelete,
                arguments: $0.arguments.mapValues(\.fieldValue))
        }
    }

    public var bindingDeclarations: [BindingDeclaration] {
        bindings.map {
            BindingDeclaration(
                queue: $0.destination, exchange: $0.source, routingKey: $0.routingKey, arguments: $0.arguments.mapValues(\.fieldValue))
        }
    }
}

/// A JSON argument value from a definitions file.
public enum JSONArgument: Sendable, Decodable, Hashable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let bool = try? container.decode(Bool.self) { self = .bool(bool); return }
        if let int = try? container.decode(Int64.self) { self = .int(int); return }
        if let double = try? container.decode(Double.self) { self = .double(double); return }
        self = .string(try container.decode(String.self))
    }

    public var fieldValue: FieldValue {
        switch self {
        case .string(let s): .string(s)
        case .int(let i): .int(i)
        case .double(let d): .double(d)
        case .bool(let b): .bool(b)
        }
    }
}

/// A topology error: a code to switch on and a message to act on.
public struct TopologyError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable { case unreadable, invalid, broker }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "topology \(code.rawValue): \(message)" }
}
