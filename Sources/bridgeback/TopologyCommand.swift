import ArgumentParser
import BridgebackAMQP
import BridgebackTopology
import Foundation
import Logging

struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Make the broker match topology/definitions.json, or report where it does not.",
        subcommands: [Apply.self, Check.self]
    )

    struct Common: ParsableArguments {
        @Option(help: "RabbitMQ definitions file.")
        var definitions: String = "topology/definitions.json"

        @Option(help: "Broker URL of an administrator (default: BRIDGEBACK_AMQP_URL).")
        var amqpURL: String?

        @OptionGroup var logging: LoggingOptions

        func load() throws -> (TopologyDefinitions, AMQPConfiguration) {
            logging.bootstrap()
            let definitions = try TopologyDefinitions.load(from: URL(fileURLWithPath: self.definitions))
            let configuration = try AMQPConfiguration(url: try resolveAMQPURL(amqpURL), connectionName: "bridgeback-topology")
            return (definitions, configuration)
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Declare every exchange, queue and binding in the definitions file.")
        @OptionGroup var common: Common

        func run() async throws {
            let (definitions, configuration) = try common.load()
            let connection = try await AMQPConnection.connect(configuration)
            defer { Task { await connection.close() } }
            let count = try await TopologyManager(definitions: definitions).apply(on: connection)
            print(
                "applied \(count) objects (\(definitions.exchanges.count) exchanges, \(definitions.queues.count) queues, \(definitions.bindings.count) bindings) to vhost '\(configuration.virtualHost)'"
            )
            await connection.close()
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report drift between the broker and the definitions file; exit 1 when there is any.")
        @OptionGroup var common: Common

        @Option(help: "Management API base URL, to check bindings and permissions too (e.g. http://127.0.0.1:15672).")
        var management: String?

        func run() async throws {
            let (definitions, configuration) = try common.load()
            let connection = try await AMQPConnection.connect(configuration)
            var api: ManagementAPI?
            if let management {
                guard let url = URL(string: management), url.scheme != nil else {
                    throw ValidationError("--management must be a URL such as http://127.0.0.1:15672")
                }
                api = ManagementAPI(base: management, user: configuration.user, password: configuration.password)
            }
            let report = try await TopologyManager(definitions: definitions).check(on: connection, management: api)
            await connection.close()
            for note in report.notes { print("note: \(note)") }
            if report.isClean {
                print("no drift: \(report.checked) objects match \(common.definitions)")
            } else {
                print("drift (\(report.drift.count) of \(report.checked) objects):")
                for drift in report.drift { print("  \(drift)") }
                throw ExitCode(1)
            }
        }
    }
}
