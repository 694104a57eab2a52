import ArgumentParser
import BridgebackAMQP
import BridgebackBench
import Foundation
import Logging

/// `bridgeback roundtrip`: flags for ``RoundTrip`` (BridgebackBench), which does the work.
struct RoundTripCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roundtrip",
        abstract: "Publish a few messages with confirms to a quorum queue, consume them, and say what happened.")

    @Option(help: "Broker URL (default: BRIDGEBACK_AMQP_URL).")
    var amqpURL: String?

    @Option(help: "How many messages.")
    var count: Int = 5

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        logging.bootstrap()
        let configuration = try AMQPConfiguration(url: try resolveAMQPURL(amqpURL), connectionName: "bridgeback-roundtrip")
        try await RoundTrip(configuration: configuration, count: count).run()
    }
}
