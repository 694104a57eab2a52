import ArgumentParser
import BridgebackClient
import BridgebackCore
import Foundation

/// `bridgeback status`: the fleet on one screen, each piece with a verdict and why.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The fleet on one screen: queues, workers, coordinator, admission's outbox, deliveries that need a person.",
        discussion: """
            Reads the RabbitMQ management API (queues: ready, unacked, consumers, rates; consumers:
            which workers are connected with how many slots and jobs in flight; which coordinator
            is the single active consumer and whether a standby waits), admission's /health
            (outbox backlog), and the coordinator's /health and /v1/deliveries (jobs by state over
            the last hour; deliveries uncertain, failed or parked). Every piece gets a verdict
            (ok, degraded, stalled) and the reason; a piece that does not answer says so.
            Exit status: 0 when nothing is stalled or unreachable, 1 otherwise.

            Environment:
              BRIDGEBACK_MANAGEMENT_URL       management API (default http://127.0.0.1:15672)
              BRIDGEBACK_MANAGEMENT_USER      a user with the monitoring tag (broker.sh: bb-monitor)
              BRIDGEBACK_MANAGEMENT_PASSWORD  its password
              BRIDGEBACK_ADMISSION_URL, BRIDGEBACK_COORDINATOR_URL, BRIDGEBACK_TOKEN(_FILE) as for `jobs`
            """)

    @OptionGroup var endpoints: JobsCommand.Endpoints

    @Option(help: ArgumentHelp("RabbitMQ management API base URL. Env: BRIDGEBACK_MANAGEMENT_URL.", valueName: "url"))
    var management: String =
        ProcessInfo.processInfo.environment["BRIDGEBACK_MANAGEMENT_URL"].flatMap { $0.isEmpty ? nil : $0 }
        ?? "http://127.0.0.1:15672"

    @Option(help: "Virtual host of the fleet.")
    var vhost: String = "bridgeback"

    @Option(help: ArgumentHelp("Refresh every N seconds in place until interrupted.", valueName: "seconds"))
    var watch: Double?

    func validate() throws {
        if let watch {
            try checkSeconds(watch, "--watch", atMost: 86_400)
            guard watch >= 0.5 else { throw ValidationError("--watch must be at least 0.5 seconds") }
        }
    }

    func run() async throws {
        let client = try endpoints.client()
        let environment = ProcessInfo.processInfo.environment
        let broker = ManagementClient(
            base: management, vhost: vhost, user: environment["BRIDGEBACK_MANAGEMENT_USER"] ?? "bb-monitor",
            password: environment["BRIDGEBACK_MANAGEMENT_PASSWORD"] ?? "")
        repeat {
            let report = await FleetReport.collect(
                broker: broker, client: client, admission: endpoints.admission, coordinator: endpoints.coordinator)
            if endpoints.json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                let data = try encoder.encode(report.json())
                print(String(decoding: data, as: UTF8.self))
            } else {
                if watch != nil { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print(report.text())
            }
            guard let watch else {
                if report.worst >= .stalled { throw ExitCode(1) }
                return
            }
            try await Task.sleep(for: .milliseconds(Int64(watch * 1000)))
        } while true
    }
}
