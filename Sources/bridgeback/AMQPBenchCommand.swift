import ArgumentParser
import BridgebackAMQP
import BridgebackBench
import Foundation
import Logging

/// Swift AMQP layer vs a plain C loop over rabbitmq-c, same broker, same queue settings, same run.
struct AMQPBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amqp",
        abstract: "Publish persistent messages with confirms to a quorum queue and consume them: Swift layer vs plain C loop.",
        discussion: "Prints messages/s per phase and the Swift/C ratio. Each round runs C then Swift on fresh queues.")

    @Option(help: "Broker URL (default: BRIDGEBACK_AMQP_URL).")
    var amqpURL: String?
    @Option(help: "Messages per phase.")
    var count: Int = 50_000
    @Option(help: "Message size in bytes.")
    var size: Int = 512
    @Option(help: "Publisher confirm window (unconfirmed messages in flight).")
    var window: Int = 1000
    @Option(help: "Consumer prefetch.")
    var prefetch: Int = 500
    @Option(help: "Rounds (C then Swift each round).")
    var rounds: Int = 2

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        logging.bootstrap()
        let configuration = try AMQPConfiguration(url: try resolveAMQPURL(amqpURL), connectionName: "bridgeback-bench")
        let bench = AMQPBench(configuration: configuration, count: count, size: size, window: window, prefetch: prefetch, rounds: rounds)
        do {
            try await bench.run()
        } catch let error as BenchError {
            throw ValidationError(error.message)
        }
    }
}
