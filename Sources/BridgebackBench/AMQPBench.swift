public import BridgebackAMQP
import CRabbitMQBench
import Foundation

/// The Swift AMQP layer against a plain C loop over rabbitmq-c (`bridgeback bench amqp`): same
/// broker, same queue settings, same run. Writes its report to standard output.
public struct AMQPBench: Sendable {
    public var configuration: AMQPConfiguration
    /// Messages per phase.
    public var count: Int
    /// Message size in bytes.
    public var size: Int
    /// Publisher confirm window (unconfirmed messages in flight).
    public var window: Int
    /// Consumer prefetch.
    public var prefetch: Int
    /// Rounds (C then Swift each round).
    public var rounds: Int

    public init(configuration: AMQPConfiguration, count: Int, size: Int, window: Int, prefetch: Int, rounds: Int) {
        self.configuration = configuration
        self.count = count
        self.size = size
        self.window = window
        self.prefetch = prefetch
        self.rounds = rounds
    }

    struct Figures {
        var publishRate: Double
        var consumeRate: Double
    }

    /// One table line: two left-aligned columns of 6, two right-aligned of 14. Padded in Swift:
    /// `%@` ignores its width on Linux, and `%s` needs a C string, not a Swift one.
    func row(_ round: String, _ impl: String, _ publish: String, _ consume: String) -> String {
        func left(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        func right(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        return "\(left(round, 6)) \(left(impl, 6)) \(right(publish, 14)) \(right(consume, 14))"
    }

    /// Runs every round and prints one line per implementation and round, then the best of each.
    public func run() async throws {
        let connection = try await AMQPConnection.connect(configuration)
        print(
            "bench amqp: \(count) persistent \(size)-byte messages, confirm window \(window), prefetch \(prefetch), quorum queue, \(configuration.host):\(configuration.port)"
        )
        print(row("round", "impl", "publish msg/s", "consume msg/s"))
        var c: [Figures] = []
        var swift: [Figures] = []
        for round in 1...rounds {
            let cQueue = "bench.c.\(round).\(UUID().uuidString.prefix(6).lowercased())"
            try await connection.declare(.quorum(cQueue))
            let cFigures = try await runC(configuration, queue: cQueue)
            try await connection.deleteQueue(cQueue)
            c.append(cFigures)
            print(row("\(round)", "C", String(format: "%.0f", cFigures.publishRate), String(format: "%.0f", cFigures.consumeRate)))

            let swiftQueue = "bench.swift.\(round).\(UUID().uuidString.prefix(6).lowercased())"
            try await connection.declare(.quorum(swiftQueue))
            let swiftFigures = try await runSwift(configuration, queue: swiftQueue)
            try await connection.deleteQueue(swiftQueue)
            swift.append(swiftFigures)
            print(
                row("\(round)", "Swift", String(format: "%.0f", swiftFigures.publishRate), String(format: "%.0f", swiftFigures.consumeRate))
            )
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
            throw BenchError(.run, "C loop failed: \(message)")
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
        guard failures == 0 else { throw BenchError(.run, "\(failures) publishes failed") }

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
