import ArgumentParser
import BridgebackAMQP
import CRabbitMQBench
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

    struct Figures {
        var publishRate: Double
        var consumeRate: Double
    }

    func run() async throws {
        logging.bootstrap()
        let configuration = try AMQPConfiguration(url: try resolveAMQPURL(amqpURL), connectionName: "bridgeback-bench")
        let connection = try await AMQPConnection.connect(configuration)
        print(
            "bench amqp: \(count) persistent \(size)-byte messages, confirm window \(window), prefetch \(prefetch), quorum queue, \(configuration.host):\(configuration.port)"
        )
        print(String(format: "%-6@ %-6@ %14@ %14@", "round", "impl", "publish msg/s", "consume msg/s"))
        var c: [Figures] = []
        var swift: [Figures] = []
        for round in 1...rounds {
            let cQueue = "bench.c.\(round).\(UUID().uuidString.prefix(6).lowercased())"
            try await connection.declare(.quorum(cQueue))
            let cFigures = try await runC(configuration, queue: cQueue)
            try await connection.deleteQueue(cQueue)
            c.append(cFigures)
            print(String(format: "%-6d %-6@ %14.0f %14.0f", round, "C", cFigures.publishRate, cFigures.consumeRate))

            let swiftQueue = "bench.swift.\(round).\(UUID().uuidString.prefix(6).lowercased())"
            try await connection.declare(.quorum(swiftQueue))
            let swiftFigures = try await runSwift(configuration, queue: swiftQueue)
            try await connection.deleteQueue(swiftQueue)
            swift.append(swiftFigures)
            print(String(format: "%-6d %-6@ %14.0f %14.0f", round, "Swift", swiftFigures.publishRate, swiftFigures.consumeRate))
        }
        await connection.close()
        let bestC = Figures(publishRate: c.map(\.publishRate).max()!, consumeRate: c.map(\.consumeRate).max()!)
        let bestSwift = Figures(publishRate: swift.map(\.publishRate).max()!, consumeRate: swift.map(\.consumeRate).max()!)
        print(
            "best of \(rounds): publish Swift \(Int(bestSwift.publishRate)) vs C \(Int(bestC.publishRate)) msg/s = \(String(format: "%.0f", 100 * bestSwift.publishRate / bestC.publishRate))%; consume Swift \(Int(bestSwift.consumeRate)) vs C \(Int(bestC.consumeRate)) msg/s = \(String(format: "%.0f", 100 * bestSwift.consumeRate / bestC.consumeRate))%"
        )
    }

    /// The C loop blocks: run it on a thread of its own, never on the cooperative pool.
    func runC(_ configuration: AMQPConfiguration, queue: String) async throws -> Figures {
        let (count, size, window, prefetch) = (self.count, self.size, self.window, self.prefetch)
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<bb_cbench_result, Never>) in
            let thread = Thread {
                let result = bb_cbench_run(
                    configuration.host, Int32(configuration.port), configuration.virtualHost, configuration.user,
                    configuration.password, queue, count, Int32(size), Int32(window), Int32(prefetch))
                continuation.resume(returning: result)
            }
            thread.start()
        }
        guard result.status == 0 else {
            let message = withUnsafeBytes(of: result.error) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw ValidationError("C loop failed: \(message)")
        }
        return Figures(publishRate: Double(count) / result.publish_seconds, consumeRate: Double(count) / result.consume_seconds)
    }

    func runSwift(_ configuration: AMQPConfiguration, queue: String) async throws -> Figures {
        let connection = try await AMQPConnection.connect(configuration)
        defer { Task { await connection.close() } }
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        let messages = (0..<count).map { _ in OutboundMessage(exchange: "", routingKey: queue, body: body, mandatory: false) }
        let publisher = try await connection.makePublisher(confirmWindow: window)
        let publishStart = ContinuousClock.now
        let results = await publisher.publish(contentsOf: messages)
        let publishTime = ContinuousClock.now - publishStart
        let failures = results.filter { if case .failure = $0 { true } else { false } }.count
        guard failures == 0 else { throw ValidationError("\(failures) publishes failed") }

        let consumeStart = ContinuousClock.now
        let consumer = try await connection.consume(queue: queue, prefetch: UInt16(prefetch))
        let ackEvery = max(1, prefetch / 2)
        var received = 0
        for try await delivery in consumer {
            received += 1
            if received % ackEvery == 0 || received == count { delivery.ackMultiple() }
            if received == count { break }
        }
        let consumeTime = ContinuousClock.now - consumeStart
        await connection.close()
        return Figures(publishRate: Double(count) / publishTime.seconds, consumeRate: Double(count) / consumeTime.seconds)
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
