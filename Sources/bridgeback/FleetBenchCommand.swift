import ArgumentParser
import BridgebackAMQP
import BridgebackBench
import Foundation
import Logging

/// `bridgeback bench fleet`: flags for ``FleetBench`` (BridgebackBench), which does the work.
struct FleetBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Jobs/s and submit-to-delivered latency through a running fleet, against the bare broker hop.",
        discussion: """
            Needs a running fleet (admission, workers, coordinator) and the admin broker URL to
            watch the parent inbox: scripts/bench-fleet starts all of it. In one run: --jobs
            no-op jobs (parent-mediated back to --origin) offered at once, --concurrency submits
            in flight, each timed from submit to its final notice on bb.inbox (jobs/s); then
            jobs at a fixed offered rate (--rate, default half that throughput) for
            --rate-seconds (the latency distribution without queueing); then --samples single
            jobs one at a time (idle p50/p99); the CPU time per job and peak RSS of every
            --process name=pid; and the same counts through one quorum queue as the baseline.
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
    @Option(help: "Offered rate, jobs/s, for latency under a fixed load (default: half the throughput measured in this run; 0: skip).")
    var rate: Double?
    @Option(help: "Seconds the fixed-rate run lasts.")
    var rateSeconds: Double = 10
    @Option(
        name: .customLong("process"),
        help: ArgumentHelp("A fleet process to report CPU time per job and peak RSS for, from /proc (repeatable).", valueName: "name=pid"))
    var processes: [String] = []
    @Option(help: "During the throughput run, print every --process's RSS every N seconds (0: off): the memory curve of a long run.")
    var sampleEvery: Double = 0
    @Option(help: "Also write the figures as one JSON object to this file (scripts/bench-fleet and scripts/bench-celery read it).")
    var jsonOut: String?
    @Option(help: "A label for this run in the JSON (e.g. metrics=on).")
    var label: String = ""
    @Option(
        help: ArgumentHelp(
            "HTTP client for the submits: async-http-client (one event-loop thread, keep-alive pool) or urlsession "
                + "(libcurl; the client of issue #12's first five passes).", valueName: "client"))
    var httpClient: String = BenchHTTPClient.asyncHTTPClient.rawValue

    @OptionGroup var logging: LoggingOptions

    @OptionGroup var auth: ClientAuthOptions

    func run() async throws {
        logging.bootstrap()
        var watched: [WatchedProcess] = []
        for text in processes {
            do throws(BenchError) { watched.append(try WatchedProcess(parsing: text)) } catch { throw ValidationError(error.message) }
        }
        guard let client = BenchHTTPClient(rawValue: httpClient) else {
            throw ValidationError(
                "--http-client takes \(BenchHTTPClient.allCases.map(\.rawValue).joined(separator: " or ")), not '\(httpClient)'")
        }
        let configuration = try AMQPConfiguration(url: try resolveAMQPURL(amqpURL), connectionName: "bridgeback-bench-fleet")
        let bench = FleetBench(
            admission: admission, configuration: configuration, token: try auth.token(), jobs: jobs, samples: samples,
            concurrency: concurrency, origin: origin, parent: parent, recipe: recipe, rate: rate, rateSeconds: rateSeconds,
            processes: watched, sampleEvery: sampleEvery, jsonOut: jsonOut, label: label, httpClient: client)
        do {
            try await bench.run()
        } catch let error as BenchError {
            throw ValidationError(error.message)
        }
    }
}
