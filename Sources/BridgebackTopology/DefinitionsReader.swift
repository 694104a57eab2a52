import BridgebackAMQP
import BridgebackCore

/// Reads a RabbitMQ definitions document through one `SchemaReader` (collect-all, `null` an
/// absent optional field). Each list element is named by what it declares (`exchange 'bb.jobs'`)
/// so a problem says which object it is in, not only its index.
final class DefinitionsReader {
    let reader = SchemaReader(mode: .collectAll, nullIsAbsent: true, rootName: "the definitions file")
    /// `exchanges[2]` → `exchange 'bb.jobs'`, for the problems found inside it.
    private var names: [String: String] = [:]

    /// A problem as a line of the refusal: `exchange 'x': "exchanges[0].type" must be …`.
    func describe(_ problem: SchemaProblem) -> String {
        guard let close = problem.path.firstIndex(of: "]"), let name = names[String(problem.path[...close])] else {
            return problem.message
        }
        return "\(name): \(problem.message)"
    }

    func definitions(_ root: JSONValue) throws(SchemaProblem) -> TopologyDefinitions? {
        guard let top = try reader.object(root, at: "", required: true, expected: "a JSON object (a RabbitMQ definitions file)") else {
            return nil
        }
        var definitions = TopologyDefinitions()
        definitions.exchanges = try list(top, "exchanges", exchange)
        definitions.queues = try list(top, "queues", queue)
        definitions.bindings = try list(top, "bindings", binding)
        definitions.users = try list(top, "users", user)
        definitions.permissions = try list(top, "permissions", permission)
        definitions.topicPermissions = try list(top, "topic_permissions", topicPermission)
        return reader.isClean ? definitions : nil
    }

    /// An optional array of objects, each read by `element`.
    private func list<T>(_ top: JSONFields, _ key: String, _ element: (JSONFields) throws(SchemaProblem) -> T?) throws(SchemaProblem)
        -> [T]
    {
        var items: [T] = []
        for item in try top.array(key, expected: "an array of objects") ?? [] {
            guard let fields = try reader.object(item.value, at: item.path, required: true) else { continue }
            if let value = try element(fields) { items.append(value) }
        }
        return items
    }

    /// Reads `key` as a name and remembers it as the element's name for its problems.
    private func name(_ fields: JSONFields, _ key: String, as noun: String) throws(SchemaProblem) -> String? {
        let name = try fields.string(key, required: true)
        if let name { names[fields.path] = "\(noun) '\(name)'" }
        return name
    }

    private func exchange(_ fields: JSONFields) throws(SchemaProblem) -> TopologyDefinitions.Exchange? {
        let name = try name(fields, "name", as: "exchange")
        let vhost = try fields.string("vhost")
        let type = try fields.oneOf("type", ExchangeDeclaration.Kind.self, required: true)
        let durable = try fields.bool("durable", required: true)
        let autoDelete = try fields.bool("auto_delete", required: true)
        let `internal` = try fields.bool("internal", required: true)
        let arguments = try self.arguments(fields)
        guard let name, let type, let durable, let autoDelete, let `internal`, let arguments else { return nil }
        return .init(
            name: name, vhost: vhost, type: type.rawValue, durable: durable, autoDelete: autoDelete, internal: `internal`,
            arguments: arguments)
    }

    private func queue(_ fields: JSONFields) throws(SchemaProblem) -> TopologyDefinitions.Queue? {
        let name = try name(fields, "name", as: "queue")
        let vhost = try fields.string("vhost")
        let durable = try fields.bool("durable", required: true)
        let autoDelete = try fields.bool("auto_delete", required: true)
        let arguments = try self.arguments(fields)
        guard let name, let durable, let autoDelete, let arguments else { return nil }
        return .init(name: name, vhost: vhost, durable: durable, autoDelete: autoDelete, arguments: arguments)
    }

    private func binding(_ fields: JSONFields) throws(SchemaProblem) -> TopologyDefinitions.Binding? {
        let source = try fields.string("source", required: true)
        let vhost = try fields.string("vhost")
        let destination = try fields.string("destination", required: true)
        if let source, let destination { names[fields.path] = "binding \(source) → \(destination)" }
        let destinationType = try fields.string("destination_type", required: true, expected: "\"queue\"")
        if let destinationType, destinationType != "queue" {
            try fields.refuse(
                "destination_type", "is \(SchemaReader.quote(destinationType)); only queue bindings are supported (use \"queue\")")
        }
        let routingKey = try fields.string("routing_key", required: true)
        let arguments = try self.arguments(fields)
        guard let source, let destination, let destinationType, let routingKey, let arguments else { return nil }
        return .init(
            source: source, vhost: vhost, destination: destination, destinationType: destinationType, routingKey: routingKey,
            arguments: arguments)
    }

    private func user(_ fields: JSONFields) throws(SchemaProblem) -> TopologyDefinitions.User? {
        let name = try name(fields, "name", as: "user")
        var tags: [String]?
        if let items = try fields.array("tags", required: true, expected: "an array of tags") {
            tags = []
            for item in items {
                if let tag = try reader.string(item.value, at: item.path, required: true) { tags?.append(tag) }
            }
        }
        guard let name, let tags else { return nil }
        return .init(name: name, tags: tags)
    }

    private func permission(_ fields: JSONFields) throws(SchemaProblem) -> TopologyDefinitions.Permission? {
        let user = try fields.string("user", required: true)
        let vhost = try fields.string("vhost", required: true)
        if let user, let vhost { names[fields.path] = "permissions of '\(user)' on vhost '\(vhost)'" }
        let configure = try fields.string("configure", required: true, expected: "a regular expression")
        let write = try fields.string("write", required: true, expected: "a regular expression")
        let read = try fields.string("read", required: true, expected: "a regular expression")
        guard let user, let vhost, let configure, let write, let read else { return nil }
        return .init(user: user, vhost: vhost, configure: configure, write: write, read: read)
    }

    private func topicPermission(_ fields: JSONFields) throws(SchemaProblem) -> TopologyDefinitions.TopicPermission? {
        let user = try fields.string("user", required: true)
        let vhost = try fields.string("vhost", required: true)
        let exchange = try fields.string("exchange", required: true)
        if let user, let exchange { names[fields.path] = "topic permissions of '\(user)' on '\(exchange)'" }
        let write = try fields.string("write", required: true, expected: "a regular expression")
        let read = try fields.string("read", required: true, expected: "a regular expression")
        guard let user, let vhost, let exchange, let write, let read else { return nil }
        return .init(user: user, vhost: vhost, exchange: exchange, write: write, read: read)
    }

    /// `arguments`: an object of strings, numbers and booleans (`x-queue-type`, `x-delivery-limit`).
    private func arguments(_ fields: JSONFields) throws(SchemaProblem) -> [String: JSONArgument]? {
        guard let members = try fields.object("arguments", required: true, expected: "an object (empty for none)") else { return nil }
        var arguments: [String: JSONArgument] = [:]
        for key in members.members.keys.sorted() {
            switch members[key] {
            case .bool(let flag)?: arguments[key] = .bool(flag)
            case .number(let number)?: arguments[key] = Int64(exactly: number).map(JSONArgument.int) ?? .double(number)
            case .string(let text)?: arguments[key] = .string(text)
            case let value?:
                try reader.wrongType(members.path(key), expected: "a string, a number or true/false", found: value)
            case nil: break
            }
        }
        return arguments
    }
}
