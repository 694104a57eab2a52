import ArgumentParser
import BridgebackReceiver
import Foundation
import Logging

/// `bridgeback receiver`: flags for ``WebhookReceiver`` (BridgebackReceiver), which does the work.
struct ReceiverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receiver",
        abstract: "Run a local webhook receiver that verifies, deduplicates and records final notices.",
        discussion: """
            Accepts POST on any path. Checks webhook-signature (HMAC-SHA256 over
            "<webhook-id>.<webhook-timestamp>.<body>") and that the timestamp is within
            --tolerance seconds; a bad signature gets 401 and is not recorded. Each accepted
            delivery is appended to --out as one JSON line
            {"webhook_id", "received_at", "duplicate", "body"} and printed as one human line.
            A webhook-id seen before (in this run or in --out) is answered 200 and recorded as
            a duplicate. Stops on SIGTERM/SIGINT.

            The secret comes from --secret, or from the surface registry (--surfaces with
            --surface), or from BRIDGEBACK_RECEIVER_SECRET.
            """
    )

    @OptionGroup var logging: LoggingOptions

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port: Int = 8099

    @Option(help: ArgumentHelp("Signing secret (whsec_…).", valueName: "whsec"))
    var secret: String?

    @Option(help: ArgumentHelp("Surface registry to take the secret from (with --surface).", valueName: "file"))
    var surfaces: String?

    @Option(help: ArgumentHelp("Webhook surface whose signing_secret to use.", valueName: "id"))
    var surface: String?

    @Option(help: ArgumentHelp("JSON-lines file of received deliveries (default: stdout only).", valueName: "file"))
    var out: String?

    @Option(help: "Largest timestamp skew accepted, in seconds.")
    var tolerance: Double = 300

    @Option(name: .customLong("delay-ms"), help: "Milliseconds to wait before answering each request (simulates a slow receiver).")
    var delayMilliseconds: Int = 0

    @Flag(help: "Do not print a line per delivery.")
    var quiet = false

    func run() async throws {
        logging.bootstrap()
        let logger = Logger(label: "bridgeback.receiver")
        do {
            let key = try WebhookReceiver.resolveKey(
                secret: secret, surfaces: surfaces, surface: surface, environment: ProcessInfo.processInfo.environment)
            let receiver = WebhookReceiver(
                .init(
                    host: host, port: port, key: key, out: out, tolerance: tolerance, delayMilliseconds: delayMilliseconds,
                    printLines: !quiet))
            try await receiver.run(logger: logger)
        } catch let error as ReceiverError {
            throw ValidationError(error.message)
        }
    }
}
