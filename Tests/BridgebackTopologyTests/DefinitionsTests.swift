import BridgebackAMQP
import Foundation
import Testing

@testable import BridgebackTopology

@Suite("Topology definitions file")
struct DefinitionsTests {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../topology/definitions.json").standardized

    static func refusal(_ json: String) -> String? {
        do {
            _ = try TopologyDefinitions.parse(Data(json.utf8), source: "defs.json")
            return nil
        } catch {
            return error.message
        }
    }

    /// Each declaration is checked against an independent reading of the same file
    /// (JSONSerialization), so the schema reader drops and changes nothing.
    @Test("the shipped definitions load with every object and argument as written")
    func shippedFileLoadsAsWritten() throws {
        let definitions = try TopologyDefinitions.load(from: Self.shipped)
        let raw = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: Self.shipped)) as? [String: Any])
        func list(_ key: String) -> [[String: Any]] { raw[key] as? [[String: Any]] ?? [] }
        func arguments(_ object: [String: Any]) -> [String: String] {
            (object["arguments"] as? [String: Any] ?? [:]).mapValues { "\($0)" }
        }
        func shown(_ arguments: [String: JSONArgument]) -> [String: String] {
            arguments.mapValues {
                switch $0 {
                case .string(let s): s
                case .int(let i): "\(i)"
                case .double(let d): "\(d)"
                case .bool(let b): b ? "1" : "0"
                }
            }
        }
        #expect(definitions.exchanges.map(\.name) == list("exchanges").map { $0["name"] as? String })
        for (exchange, object) in zip(definitions.exchanges, list("exchanges")) {
            #expect(exchange.type == object["type"] as? String)
            #expect(exchange.durable == object["durable"] as? Bool && exchange.autoDelete == object["auto_delete"] as? Bool)
            #expect(exchange.internal == object["internal"] as? Bool)
            #expect(shown(exchange.arguments) == arguments(object))
        }
        #expect(definitions.queues.map(\.name) == list("queues").map { $0["name"] as? String })
        for (queue, object) in zip(definitions.queues, list("queues")) {
            #expect(queue.durable == object["durable"] as? Bool && queue.autoDelete == object["auto_delete"] as? Bool)
            #expect(shown(queue.arguments) == arguments(object), "\(queue.name)")
        }
        #expect(definitions.bindings.map(\.routingKey) == list("bindings").map { $0["routing_key"] as? String })
        #expect(definitions.bindings.map(\.destination) == list("bindings").map { $0["destination"] as? String })
        #expect(definitions.users.map(\.name) == list("users").map { $0["name"] as? String })
        #expect(definitions.permissions.map(\.user) == list("permissions").map { $0["user"] as? String })
        #expect(definitions.topicPermissions.map(\.read) == list("topic_permissions").map { $0["read"] as? String })
        #expect(definitions.queues.contains { $0.arguments["x-delivery-limit"].map { if case .int = $0 { true } else { false } } == true })
    }

    @Test("an export's keys that Bridgeback does not read are ignored; null is an absent vhost")
    func exportKeysAreIgnored() throws {
        let export = """
            {"rabbit_version": "4.0.5", "vhosts": [{"name": "/"}], "policies": [], "parameters": [],
             "users": [{"name": "bb-worker", "password_hash": "x", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": [],
                        "limits": {}}],
             "queues": [{"name": "q", "vhost": null, "durable": true, "auto_delete": false, "type": "quorum",
                         "arguments": {"x-queue-type": "quorum", "x-delivery-limit": 5, "x-ratio": 0.5, "x-single-active-consumer": true}}]}
            """
        let definitions = try TopologyDefinitions.parse(Data(export.utf8))
        #expect(definitions.users.map(\.name) == ["bb-worker"])
        let queue = try #require(definitions.queues.first)
        #expect(queue.vhost == nil)
        #expect(
            queue.arguments == [
                "x-queue-type": .string("quorum"), "x-delivery-limit": .int(5), "x-ratio": .double(0.5),
                "x-single-active-consumer": .bool(true),
            ])
        #expect(definitions.exchanges.isEmpty && definitions.bindings.isEmpty)
    }

    @Test("a refusal names the object, the field's path, what was expected and what came")
    func refusalsNameObjectAndField() {
        #expect(
            Self.refusal(
                #"{"exchanges": [{"name": "x", "type": "sideways", "durable": true, "auto_delete": false, "internal": false, "arguments": {}}]}"#
            ) == #"defs.json: exchange 'x': "exchanges[0].type" must be "direct", "topic", "fanout" or "headers", got "sideways""#)
        #expect(
            Self.refusal(#"{"queues": [{"name": "q", "durable": "yes", "auto_delete": false, "arguments": {"x-max-length": [1]}}]}"#)
                == """
                defs.json has 2 problems:
                  - queue 'q': "queues[0].durable" must be true or false, got a string
                  - queue 'q': "queues[0].arguments.x-max-length" must be a string, a number or true/false, got an array
                """)
        #expect(
            Self.refusal(
                ##"{"bindings": [{"source": "a", "destination": "b", "destination_type": "exchange", "routing_key": "#", "arguments": {}}]}"##
            )
                == #"defs.json: binding a → b: "bindings[0].destination_type" is "exchange"; only queue bindings are supported (use "queue")"#
        )
        #expect(
            Self.refusal(#"{"exchanges": [{"name": "x", "type": "topic", "durable": true, "internal": false, "arguments": {}}]}"#)
                == #"defs.json: exchange 'x': "exchanges[0].auto_delete" is required: true or false"#)
        #expect(
            Self.refusal(#"{"users": [{"name": "u", "tags": null}]}"#)
                == #"defs.json: user 'u': "users[0].tags" is required: an array of tags; got null"#)
        #expect(Self.refusal(#"{"queues": {}}"#) == #"defs.json: "queues" must be an array of objects, got an object"#)
        #expect(Self.refusal("[]") == "defs.json: the definitions file must be a JSON object (a RabbitMQ definitions file), got an array")
        #expect(Self.refusal(#"{"queues": [}"#)?.hasPrefix("defs.json is not valid JSON: ") == true)
    }
}
