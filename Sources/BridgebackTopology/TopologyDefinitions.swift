public import BridgebackAMQP
import BridgebackCore
public import Foundation

/// The RabbitMQ objects Bridgeback needs, read from a RabbitMQ definitions file
/// (`topology/definitions.json`, the format `rabbitmqctl export_definitions` writes).
///
/// Users and permissions in the file are a template: passwords are never checked in; the local
/// broker script creates the users with generated passwords.
public struct TopologyDefinitions: Sendable {
    public struct Exchange: Sendable {
        public var name: String
        public var vhost: String?
        public var type: String
        public var durable: Bool
        public var autoDelete: Bool
        public var `internal`: Bool
        public var arguments: [String: JSONArgument]
    }

    public struct Queue: Sendable {
        public var name: String
        public var vhost: String?
        public var durable: Bool
        public var autoDelete: Bool
        public var arguments: [String: JSONArgument]
    }

    public struct Binding: Sendable {
        public var source: String
        public var vhost: String?
        public var destination: String
        public var destinationType: String
        public var routingKey: String
        public var arguments: [String: JSONArgument]
    }

    public struct User: Sendable {
        public var name: String
        public var tags: [String]
    }

    /// Also what the management API answers for a vhost's permissions, hence `Decodable`.
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

    public var exchanges: [Exchange] = []
    public var queues: [Queue] = []
    public var bindings: [Binding] = []
    public var users: [User] = []
    public var permissions: [Permission] = []
    public var topicPermissions: [TopicPermission] = []

    /// Loads and validates a definitions file; errors name the object and what is wrong.
    public static func load(from url: URL) throws(TopologyError) -> TopologyDefinitions {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TopologyError(.unreadable, "cannot read the topology file \(url.path): \(error.localizedDescription)")
        }
        return try parse(data, source: url.path)
    }

    /// Reads a definitions document through the schema layer (`SchemaReader`, collect-all): every
    /// problem is listed, each with its path (`exchanges[2].auto_delete`), the object's name when
    /// it has one, what was expected and what came.
    ///
    /// Keys Bridgeback does not read are ignored, not refused: the file is RabbitMQ's own format, and
    /// an export carries more (`rabbit_version`, `vhosts`, `policies`, a user's `password_hash`).
    /// `null` reads as an absent optional field.
    public static func parse(_ data: Data, source: String = "definitions") throws(TopologyError) -> TopologyDefinitions {
        let root: JSONValue
        // JSONDecoder, as before: it takes a repeated key (the last wins), so no file that loaded is refused now.
        do { root = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw TopologyError(.invalid, "\(source) is not valid JSON: \(WireCodec.reason(error))")
        }
        let reader = DefinitionsReader()
        // A collect-all reader records instead of throwing; the catch only satisfies the type checker.
        let definitions = try? reader.definitions(root)
        let problems = reader.reader.problems.map(reader.describe)
        guard let definitions, problems.isEmpty else {
            guard problems.count > 1 else {
                throw TopologyError(.invalid, "\(source): \(problems.first ?? "is not a RabbitMQ definitions file")")
            }
            let lines = problems.map { "  - " + $0 }.joined(separator: "\n")
            throw TopologyError(.invalid, "\(source) has \(problems.count) problems:\n\(lines)")
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

/// A JSON argument value from a definitions file: a number that is whole (and fits) is an integer,
/// as the broker reads `x-max-length` or `x-delivery-limit`.
public enum JSONArgument: Sendable, Hashable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)

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
