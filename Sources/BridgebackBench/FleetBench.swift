public import BridgebackAMQP
import Foundation
import Synchronization

/// End to end through a running fleet (`bridgeback bench fleet`): submit → admission → broker →
/// worker → broker → coordinator → parent inbox, timed from the HTTP submit to the final
/// notice's arrival. The baseline, measured in the same run on the same broker, is the bare
/// broker hop (persistent publish with confirms → consume on a quorum queue): the floor any
/// fleet built on it pays once per hop. Writes its report to standard output.
public struct FleetBench: Sendable {
    /// Admission service base URL.
    public var admission: String
    /// A broker user that may declare a queue and bind it to bb.inbox.
    public var configuration: AMQPConfiguration
    /// The bearer token for admission, if it wants one.
    public var token: String?
    /// Jobs in the throughput run.
    public var jobs: Int
    /// Single jobs, one at a time, for idle latency.
    public var samples: Int
    /// HTTP submits in flight.
    public var concurrency: Int
    /// Origin surface (an inbox surface; the answer returns there).
    public var origin: String
    /// That surface's inbox routing key.
    public var parent: String
    /// Recipe to run (a no-op measures the fleet, not the work).
    public var recipe: String
    /// Offered jobs/s for latency under a fixed load; nil: half the measured throughput; 0: skip.
    public var rate: Double?
    /// Seconds the fixed-rate run lasts.
    public var rateSeconds: Double
    /// Fleet processes to report CPU time per job and peak RSS for.
    public var processes: [WatchedProcess]
    /// Print every process's RSS every so many seconds during the throughput run (0: off).
    public var sampleEvery: Double
    /// Also write the figures as one JSON object to this file.
    public var jsonOut: String?
    /// A label for this run in the JSON.
    public var label: String
    /// The HTTP client the submits go through (it shares the machine with the fleet).
    public var httpClient: BenchHTTPClient

    public init(
        admission: String, configuration: AMQPConfiguration, token: String?, jobs: Int, samples: Int, concurrency: Int, origin: String,
        parent: String, recipe: String, rate: Double?, rateSeconds: Double, processes: [WatchedProcess], sampleEvery: Double,
        jsonOut: String?,
        label: String, httpClient: BenchHTTPClient = .asyncHTTPClient
    ) {
        self.admission = admission
        self.configuration = configuration
        self.token = token
        self.jobs = jobs
        self.samples = samples
        self.concurrency = concurrency
        self.origin = origin
        self.parent = parent
        self.recipe = recipe
        self.rate = rate
        self.rateSeconds = rateSeconds
        self.processes = processes
        self.sampleEvery = sampleEvery
        self.jsonOut = jsonOut
        self.label = label
        self.httpClient = httpClient
    }

    /// Runs the throughput, fixed-rate, idle and baseline legs in that order and prints their figures.
    public func run() async throws {
        let request = try BenchRequest(admission: admission, origin: origin, recipe: recipe, token: token)
        let client: any Submitter =
            switch httpClient {
            case .asyncHTTPClient: try AsyncHTTPSubmitter(request, connections: concurrency)
            case .urlSession: URLSessionSubmitter(request: request)
            }
        do {
            try await run(client)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    private func run(_ client: any Submitter) async throws {
        // This process's own CPU (submits, the inbox consumer) is taken from the same cores as the fleet's.
        let me = WatchedProcess(name: "bench-client", pid: getpid())
        let watched = processes + [me]
        let connection = try await AMQPConnection.connect(configuration)
        let inbox = "bb.bench.inbox.\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await connection.declare(QueueDeclaration(name: inbox, durable: false, exclusive: true, autoDelete: true))
        try await connection.bind(BindingDeclaration(queue: inbox, exchange: "bb.inbox", routingKey: parent))
        let arrivals = try await Arrivals.start(connection: connection, queue: inbox)
        print(
            "bench fleet: \(jobs) \(recipe) jobs, \(concurrency) submits in flight (\(httpClient.rawValue)), then a fixed offered rate, "
                + "then \(samples) one at a time; admission \(admission)")

        // Warm-up: connections, caches and statements, so the first figures are not start-up costs.
        for _ in 0..<min(20, samples) {
            let (id, _) = try await client.submitOne()
            _ = try await arrivals.wait(for: [id], timeout: .seconds(60))
        }

        // Throughput: everything offered at once (measures capacity; its latency is queueing).
        let cpuBefore = watched.map { $0.cpuSeconds() }
        let sampler = sampleEvery > 0 ? Task { await Self.sample(processes, every: sampleEvery, arrivals: arrivals) } : nil
        let start = ContinuousClock.now
        let submitted = try await client.submitMany(jobs, concurrency: concurrency)
        let submitEnd = ContinuousClock.now
        let landed = try await arrivals.wait(for: Set(submitted.keys), timeout: .seconds(max(120, jobs / 10)))
        let end = landed.values.max() ?? ContinuousClock.now
        sampler?.cancel()
        let cpuAfter = watched.map { $0.cpuSeconds() }
        let throughput = Double(jobs) / (end - start).seconds
        let loaded = submitted.compactMap { id, sent in landed[id].map { ($0 - sent).seconds } }.sorted()

        // Latency under a fixed offered rate (open loop: each job is timed from when it was due,
        // so a stalled submit counts against the fleet).
        let offered = rate ?? (throughput / 2).rounded()
        var paced: [Double] = []
        if offered > 0 {
            let count = max(1, Int(offered * rateSeconds))
            paced = try await Self.offer(count, rate: offered, client: client, arrivals: arrivals)
        }

        // Idle latency.
        var idle: [Double] = []
        // Where an idle job's time goes: submit → 202 (HTTP, admission, its synced commit) and
        // 202 → delivered (relay, broker hops, worker, coordinator, notice).
        var answered: [Double] = []
        var afterAnswer: [Double] = []
        for _ in 0..<samples {
            let (id, sent) = try await client.submitOne()
            let accepted = ContinuousClock.now
            let arrived = try await arrivals.wait(for: [id], timeout: .seconds(60))
            idle.append((arrived[id]! - sent).seconds)
            answered.append((accepted - sent).seconds)
            afterAnswer.append((arrived[id]! - accepted).seconds)
        }
        idle.sort()
        answered.sort()
        afterAnswer.sort()
        await arrivals.stop()

        // Baseline: the bare broker hop, same counts, same run.
        let baseline = try await Self.brokerBaseline(connection, count: jobs, samples: samples)
        await connection.close()

        func ms(_ value: Double) -> String { String(format: "%.1f", value * 1000) }
        func row(_ label: String, _ rate: Double?, _ latencies: [Double]) -> String {
            let cells =
                [rate.map { String(format: "%.0f", $0) } ?? "-"]
                + [0.5, 0.9, 0.99].map { ms(Self.percentile(latencies, $0)) } + [ms(latencies.last ?? .nan)]
            return label.padding(toLength: 40, withPad: " ", startingAt: 0)
                + cells.map { String(repeating: " ", count: max(0, 10 - $0.count)) + $0 }.joined(separator: " ")
        }
        print("".padding(toLength: 40, withPad: " ", startingAt: 0) + "     per s     p50 ms     p90 ms     p99 ms     max ms")
        print(row("fleet: submit → delivered, all at once", throughput, loaded))
        if offered > 0 { print(row(String(format: "fleet: offered %.0f jobs/s for %.0f s", offered, rateSeconds), nil, paced)) }
        print(row("fleet: submit → delivered, idle", nil, idle))
        print(row("  of which submit → 202 accepted", nil, answered))
        print(row("  of which 202 → delivered", nil, afterAnswer))
        print(row("baseline: one broker hop", baseline.rate, baseline.latencies))
        print(
            String(
                format: "submits accepted at %.0f/s; fleet throughput is %.1f%% of one bare broker hop; idle p50 is %.1f× a hop",
                Double(jobs) / (submitEnd - start).seconds, 100 * throughput / baseline.rate,
                Self.percentile(idle, 0.5) / max(Self.percentile(baseline.latencies, 0.5), 1e-9)))
        var perProcess: [[String: Any]] = []
        // The bench client itself is the last row: it runs on the same cores as the fleet.
        print("process            CPU ms/job   peak RSS MiB   RSS now MiB   (CPU over the \(jobs)-job throughput run)")
        for (index, process) in watched.enumerated() {
            let cpu = (cpuAfter[index] - cpuBefore[index]) / Double(jobs) * 1000
            let memory = process.memory()
            print(
                process.name.padding(toLength: 18, withPad: " ", startingAt: 0)
                    + String(format: " %11.3f   %12.1f   %11.1f", cpu, memory.peakMiB, memory.currentMiB))
            perProcess.append([
                "name": process.name, "cpu_ms_per_job": cpu, "peak_rss_mib": memory.peakMiB, "rss_mib": memory.currentMiB,
            ])
        }
        if let jsonOut {
            let object: [String: Any] = [
                "label": label, "http_client": httpClient.rawValue, "recipe": recipe, "jobs": jobs, "jobs_per_s": throughput,
                "jobs_total": min(20, samples) + jobs + paced.count + samples,
                "loaded_p50_ms": Self.percentile(loaded, 0.5) * 1000, "loaded_p99_ms": Self.percentile(loaded, 0.99) * 1000,
                "offered_per_s": offered, "offered_p50_ms": Self.percentile(paced, 0.5) * 1000,
                "offered_p90_ms": Self.percentile(paced, 0.9) * 1000, "offered_p99_ms": Self.percentile(paced, 0.99) * 1000,
                "idle_p50_ms": Self.percentile(idle, 0.5) * 1000, "idle_p99_ms": Self.percentile(idle, 0.99) * 1000,
                "idle_accept_p50_ms": Self.percentile(answered, 0.5) * 1000,
                "idle_after_accept_p50_ms": Self.percentile(afterAnswer, 0.5) * 1000,
                "hop_per_s": baseline.rate, "hop_p50_ms": Self.percentile(baseline.latencies, 0.5) * 1000,
                "hop_p99_ms": Self.percentile(baseline.latencies, 0.99) * 1000, "processes": perProcess,
            ]
            let cleaned = object.mapValues { ($0 as? Double)?.isNaN == true ? NSNull() : $0 }  // JSON has no NaN
            let data = try JSONSerialization.data(withJSONObject: cleaned, options: [.sortedKeys])
            try data.write(to: URL(fileURLWithPath: jsonOut))
        }
    }

    /// Submits `count` jobs at `rate` per second on a fixed schedule and returns each job's
    /// latency from when it was due to its final notice, sorted.
    ///
    /// A discarding group: each submit's task is freed when it ends. A plain task group keeps every
    /// finished child until its result is read, and this loop reads none before the last is added:
    /// ~15 KB per job, 737 MiB of RSS for 50,000 jobs at 500/s (`scripts/bench-memory`).
    static func offer(_ count: Int, rate: Double, client: any Submitter, arrivals: Arrivals) async throws -> [Double] {
        let start = ContinuousClock.now + .milliseconds(50)
        let submitted = DueTimes()
        try await withThrowingDiscardingTaskGroup { group in
            for index in 0..<count {
                let instant = start + .nanoseconds(Int64(Double(index) / rate * 1e9))
                try await Task.sleep(until: instant, clock: .continuous)
                group.addTask {
                    let (id, _) = try await client.submitOne()
                    submitted.record(id, instant)
                }
            }
        }
        let due = submitted.all
        let landed = try await arrivals.wait(for: Set(due.keys), timeout: .seconds(max(120, count / 10)))
        return due.compactMap { id, instant in landed[id].map { ($0 - instant).seconds } }.sorted()
    }

    /// Prints every watched process's RSS every `interval` seconds with the jobs delivered so far.
    static func sample(_ processes: [WatchedProcess], every interval: Double, arrivals: Arrivals) async {
        let start = ContinuousClock.now
        while !Task.isCancelled {
            let delivered = await arrivals.count
            let cells = processes.map { "\($0.name)=" + String(format: "%.1f", $0.memory().currentMiB) }.joined(separator: " ")
            print("rss t=" + String(format: "%.0f", (ContinuousClock.now - start).seconds) + "s delivered=\(delivered) MiB: " + cells)
            try? await Task.sleep(for: .seconds(interval))
        }
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
        async let published = publisher.publish(
            contentsOf: (0..<count).map { _ in OutboundMessage(exchange: "", routingKey: queue, body: body) })
        for _ in 0..<count {
            guard let delivery = try await iterator.next() else { throw BenchError(.run, "baseline consumer ended early") }
            delivery.ack()
        }
        _ = await published
        let rate = Double(count) / (ContinuousClock.now - start).seconds
        var latencies: [Double] = []
        for _ in 0..<samples {
            let sent = ContinuousClock.now
            try await publisher.publish(OutboundMessage(exchange: "", routingKey: queue, body: body))
            guard let delivery = try await iterator.next() else { throw BenchError(.run, "baseline consumer ended early") }
            delivery.ack()
            latencies.append((ContinuousClock.now - sent).seconds)
        }
        return (rate, latencies.sorted())
    }
}

/// When each job of `offer` was due, by the id its 202 gave; filled from the submits' tasks.
private final class DueTimes: Sendable {
    private let byID = Mutex<[String: ContinuousClock.Instant]>([:])

    func record(_ id: String, _ due: ContinuousClock.Instant) { byID.withLock { $0[id] = due } }

    var all: [String: ContinuousClock.Instant] { byID.withLock { $0 } }
}

/// When each job's final notice reached the inbox.
actor Arrivals {
    private var seen: [String: ContinuousClock.Instant] = [:]
    /// The ids of `seen` in the order they arrived, for `wait`'s polls.
    private var order: [String] = []
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
                // A chunk at a time, acked together: one `multiple` ack instead of one per notice
                // (this client's broker work counts against the fleet it measures).
                for try await chunk in consumer.chunks {
                    for delivery in chunk {
                        let now = ContinuousClock.now
                        if let id = JobIDOnly.read(Data(delivery.body)) { self.record(id, now) }
                    }
                    chunk.ackAll()
                }
            } catch {}
        }
    }

    /// Jobs whose notice has arrived so far.
    var count: Int { seen.count }

    private func record(_ id: String, _ at: ContinuousClock.Instant) {
        if seen[id] == nil {
            seen[id] = at
            order.append(id)
        }
    }

    func wait(for ids: Set<String>, timeout: Duration) async throws -> [String: ContinuousClock.Instant] {
        let deadline = ContinuousClock.now + timeout
        // Each poll looks only at the notices that arrived since the last one (not at every id
        // still missing: 5,000 lookups every 20 ms were ~10 % of this client's CPU, taken from
        // the fleet it measures).
        var missing = ids.filter { seen[$0] == nil }
        var next = order.count
        while true {
            while next < order.count {
                missing.remove(order[next])
                next += 1
            }
            if missing.isEmpty { return seen.filter { ids.contains($0.key) } }
            guard ContinuousClock.now < deadline else {
                throw BenchError(
                    .run,
                    "\(missing.count) of \(ids.count) jobs did not deliver within \(timeout); is the fleet (workers, coordinator) running?")
            }
            try await Task.sleep(for: .milliseconds(ids.count == 1 ? 1 : 20))
        }
    }

    func stop() { task?.cancel() }
}

/// A fleet process named on the command line, read from /proc (Linux): CPU time and memory.
public struct WatchedProcess: Sendable {
    public let name: String
    public let pid: Int32

    /// `name=pid`, with the pid of a process that exists now.
    public init(parsing text: String) throws(BenchError) {
        let parts = text.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let pid = Int32(parts[1]), pid > 0 else {
            throw BenchError(.invalidOption, "--process takes name=pid (e.g. coordinator=1234), not '\(text)'")
        }
        guard FileManager.default.fileExists(atPath: "/proc/\(pid)/stat") else {
            throw BenchError(.invalidOption, "--process \(text): no process \(pid) in /proc (is it running on this host?)")
        }
        name = String(parts[0])
        self.pid = pid
    }

    init(name: String, pid: Int32) {
        self.name = name
        self.pid = pid
    }

    /// User plus system CPU seconds so far (fields 14 and 15 of /proc/PID/stat, in clock ticks).
    func cpuSeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return .nan }
        // Fields after the command name (which may hold spaces) start at field 3.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident set now and its peak (VmRSS, VmHWM in /proc/PID/status), MiB.
    func memory() -> (currentMiB: Double, peakMiB: Double) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (.nan, .nan) }
        func field(_ key: String) -> Double {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }),
                let kib = Double(line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
            else { return .nan }
            return kib / 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }
}
