import ArgumentParser
import BridgebackAMQP
import Foundation
import Logging
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// End to end through a running fleet: submit → admission → broker → worker → broker →
/// coordinator → parent inbox, timed from the HTTP submit to the final notice's arrival.
/// The baseline, measured in the same run on the same broker, is the bare broker hop
/// (persistent publish with confirms → consume on a quorum queue): the floor any fleet
/// built on it pays once per hop.
struct FleetBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Jobs/s and submit-to-delivered latency through a running fleet, against the bare broker hop.",
        discussion: """
            Needs a running fleet (admission, workers, coordinator) and the admin broker URL to
            watch the parent inbox: scripts/bench-fleet starts all of it. Submits --jobs no-op
            jobs (parent-mediated back to --origin) as fast as --concurrency allows and times
            each from submit to its final notice on bb.inbox; then --samples single jobs one at
            a time for idle latency. The same counts go through one quorum queue as the baseline.
            """)

    @Option(help: ArgumentHelp("Admission service base URL.", valueName: "url"))
    var admission: String = ProcessInfo.processInfo.environment["BRIDGEBACK_ADMISSION_URL"] ?? "http://127.0.0.1:8080"
    @Option(help: "Broker URL of a user that may declare a queue and bind it to bb.inbox (default: BRIDGEBACK_AMQP_URL).")
    var amqpURL: String?
    @Option(help: "Jobs in the throughput run.")
    var jobs: Int = 5000
    @Option(help: "Single jobs, one at a time, for idle latency.")
    var samples: Int = 200
    @Option(help: "HTTP submits in flight.")
    var concurrency: Int = 32
    @Option(help: "Origin surface (an inbox surface; the answer returns there).")
    var origin: String = "cli:alice"
    @Option(help: "That surface's inbox routing key (its address in the surface registry).")
    var parent: String = "alice"
    @Option(help: "Recipe to run (a no-op measures the fleet, not the work).")
    var recipe: String = "noop"

    @OptionGroup var logging: LoggingOptions

    @OptionGroup var auth: ClientAuthOptions

    func run() async throws {
        logging.bootstrap()
        let configuration = try AMQPConfiguration(url: try resolveAMQPURL(amqpURL), connectionName: "bridgeback-bench-fleet")
        let connection = try await AMQPConnection.connect(configuration)
        let inbox = "bb.bench.inbox.\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await connection.declare(QueueDeclaration(name: inbox, durable: false, exclusive: true, autoDelete: true))
        try await connection.bind(BindingDeclaration(queue: inbox, exchange: "bb.inbox", routingKey: parent))
        let arrivals = try await Arrivals.start(connection: connection, queue: inbox)
        let client = Submitter(admission: admission, origin: origin, recipe: recipe, token: try auth.token())
        print("bench fleet: \(jobs) \(recipe) jobs, \(concurrency) submits in flight, then \(samples) one at a time; admission \(admission)")

        // Throughput.
        let start = ContinuousClock.now
        let submitted = try await client.submitMany(jobs, concurrency: concurrency)
        let submitEnd = ContinuousClock.now
        let landed = try await arrivals.wait(for: Set(submitted.keys), timeout: .seconds(max(120, jobs / 10)))
        let end = landed.values.max() ?? ContinuousClock.now
        let throughput = Double(jobs) / (end - start).seconds
        let loaded = submitted.compactMap { id, sent in landed[id].map { ($0 - sent).seconds } }.sorted()

        // Idle latency.
        var idle: [Double] = []
        for _ in 0..<samples {
            let (id, sent) = try await client.submitOne()
            let arrived = try await arrivals.wait(for: [id], timeout: .seconds(60))
            idle.append((arrived[id]! - sent).seconds)
        }
        idle.sort()
        await arrivals.stop()

        // Baseline: the bare broker hop, same counts, same run.
        let baseline = try await Self.brokerBaseline(connection, count: jobs, samples: samples)
        await connection.close()

        func row(_ label: String, _ rate: Double?, _ latencies: [Double]) -> String {
            let cells = [
                rate.map { String(format: "%.0f", $0) } ?? "-",
                String(format: "%.1f", Self.percentile(latencies, 0.5) * 1000),
                String(format: "%.1f", Self.percentile(latencies, 0.99) * 1000),
            ]
            return label.padding(toLength: 36, withPad: " ", startingAt: 0)
                + cells.map { String(repeating: " ", count: max(0, 12 - $0.count)) + $0 }.joined(separator: " ")
        }
        print("".padding(toLength: 36, withPad: " ", startingAt: 0) + "     per s       p50 ms       p99 ms")
        print(row("fleet: submit → delivered, loaded", throughput, loaded))
        print(row("fleet: submit → delivered, idle", nil, idle))
        print(row("baseline: one broker hop", baseline.rate, baseline.latencies))
        print(String(format: "submits accepted at %.0f/s; fleet throughput is %.1f%% of one bare broker hop; idle p50 is %.1f× a hop", Double(jobs) / (submitEnd - start).seconds, 100 * throughput / baseline.rate, Self.percentile(idle, 0.5) / max(Self.percentile(baseline.latencies, 0.5), 1e-9)))
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    /// Persistent publishes with confirms to a quorum queue, then consumed and acked: rate
    /// for `count`, and `samples` single round trips for latency.
    static func brokerBaseline(_ connection: AMQPConnection, count: Int, samples: Int) async throws -> (rate: Double, latencies: [Double]) {
        let queue = "bb.bench.hop.\(UUID().uuidString.prefix(8).lowercased())"
        try await connection.declare(.quorum(queue))
        defer { Task { _ = try? await connection.deleteQueue(queue) } }
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 600)  // about a job message
        let publisher = try await connection.makePublisher(confirmWindow: 256)
        let consumer = try await connection.consume(queue: queue, prefetch: 256)
        var iterator = consumer.makeAsyncIterator()
        let start = ContinuousClock.now
        async let published = publisher.publish(contentsOf: (0..<count).map { _ in OutboundMessage(exchange: "", routingKey: queue, body: body) })
        for _ in 0..<count {
            guard let delivery = try await iterator.next() else { throw ValidationError("baseline consumer ended early") }
            try await delivery.ack()
        }
        _ = await published
        let rate = Double(count) / (ContinuousClock.now - start).seconds
        var latencies: [Double] = []
        for _ in 0..<samples {
            let sent = ContinuousClock.now
            try await publisher.publish(OutboundMessage(exchange: "", routingKey: queue, body: body))
            guard let delivery = try await iterator.next() else { throw ValidationError("baseline consumer ended early") }
            try await delivery.ack()
            latencies.append((ContinuousClock.now - sent).seconds)
        }
        return (rate, latencies.sorted())
    }
}

/// When each job's final notice reached the inbox.
actor Arrivals {
    private var seen: [String: ContinuousClock.Instant] = [:]
    private var task: Task<Void, Never>?

    static func start(connection: AMQPConnection, queue: String) async throws -> Arrivals {
        let arrivals = Arrivals()
        let consumer = try await connection.consume(queue: queue, prefetch: 500, exclusive: true)
        await arrivals.run(consumer)
        return arrivals
    }

    private func run(_ consumer: AMQPConsumer) {
        task = Task {
            do {
                for try await delivery in consumer {
                    let now = ContinuousClock.now
                    if let object = try? JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any],
                        let id = object["job_id"] as? String
                    {
                        self.record(id, now)
                    }
                    try? await delivery.ack()
                }
            } catch {}
        }
    }

    private func record(_ id: String, _ at: ContinuousClock.Instant) {
        if seen[id] == nil { seen[id] = at }
    }

    func wait(for ids: Set<String>, timeout: Duration) async throws -> [String: ContinuousClock.Instant] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let missing = ids.filter { seen[$0] == nil }
            if missing.isEmpty { return seen.filter { ids.contains($0.key) } }
            guard ContinuousClock.now < deadline else {
                throw ValidationError("\(missing.count) of \(ids.count) jobs did not deliver within \(timeout); is the fleet (workers, coordinator) running?")
            }
            try await Task.sleep(for: .milliseconds(ids.count == 1 ? 1 : 20))
        }
    }

    func stop() { task?.cancel() }
}

/// POSTs detached no-op requests.
struct Submitter: Sendable {
    let admission: String
    let origin: String
    let recipe: String
    let token: String?

    func submitOne() async throws -> (String, ContinuousClock.Instant) {
        var request = URLRequest(url: URL(string: admission + "/v1/requests")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.httpBody = try JSONSerialization.data(withJSONObject: [
            "origin": origin, "text": "bench", "force": "detach", "recipe": ["name": recipe, "params": [String: String]()],
        ])
        let sent = ContinuousClock.now
        let (data, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 202,
            let id = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["job_id"] as? String
        else {
            throw ValidationError("admission refused the bench job: \(String(decoding: data, as: UTF8.self))")
        }
        return (id, sent)
    }

    func submitMany(_ count: Int, concurrency: Int) async throws -> [String: ContinuousClock.Instant] {
        try await withThrowingTaskGroup(of: (String, ContinuousClock.Instant).self) { group in
            var result: [String: ContinuousClock.Instant] = [:]
            var started = 0
            for _ in 0..<min(concurrency, count) {
                group.addTask { try await submitOne() }
                started += 1
            }
            while let (id, sent) = try await group.next() {
                result[id] = sent
                if started < count {
                    group.addTask { try await submitOne() }
                    started += 1
                }
            }
            return result
        }
    }
}
