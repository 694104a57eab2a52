import ArgumentParser
import BridgebackCoordinator
import BridgebackCore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `bridgeback receiver`: a Standard Webhooks receiver for the demo and the fleet tests.
///
/// It is the receiving side a real integration would run: it verifies the signature and the
/// timestamp, deduplicates by `webhook-id` (also across its own restarts, from its log file),
/// and records every accepted delivery as one JSON line. A duplicate is answered 200 (so the
/// sender stops retrying) and recorded with `"duplicate": true`, never shown twice.
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
        let key: [UInt8]
        do {
            key = try resolveKey()
        } catch let error as BridgebackError {
            throw ValidationError(error.message)
        }
        let journal = try ReceiverJournal(path: out, printLines: !quiet)
        let signer = WebhookSigner(secret: key)
        let tolerance = self.tolerance
        let delay = delayMilliseconds
        let router = Router(context: BasicRequestContext.self)
        router.post("**") { request, _ -> Response in
            if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
            let body = Array(try await request.body.collect(upTo: 16 << 20).readableBytesView)
            let verdict = WebhookVerification.check(
                id: request.headers.first { $0.name.canonicalName == "webhook-id" }?.value,
                timestamp: request.headers.first { $0.name.canonicalName == "webhook-timestamp" }?.value,
                signatures: request.headers.first { $0.name.canonicalName == "webhook-signature" }?.value,
                body: body, signer: signer, tolerance: tolerance, now: Date())
            switch verdict {
            case .rejected(let reason):
                logger.warning("rejected delivery", metadata: ["reason": "\(reason)"])
                return Response(status: .unauthorized, body: ResponseBody(byteBuffer: ByteBuffer(string: reason + "\n")))
            case .accepted(let id):
                let duplicate = try await journal.record(id: id, body: body)
                if duplicate { logger.info("duplicate ignored", metadata: ["webhook_id": "\(id)"]) }
                return Response(status: .noContent)
            }
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "bridgeback-receiver"),
            onServerRunning: { channel in
                logger.info("receiver listening", metadata: ["http.port": "\(channel.localAddress?.port ?? 0)"])
            },
            logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: app, serviceName: "Receiver")], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    private func resolveKey() throws -> [UInt8] {
        let environment = ProcessInfo.processInfo.environment
        if let secret { return try SigningSecret.decode(secret, source: "--secret") }
        if let surfaces, let surface {
            let registry = try SurfaceRegistry.load(contentsOf: URL(fileURLWithPath: surfaces))
            let secrets = try registry.resolveSecrets(environment: environment)
            guard let id = try? SurfaceID(validating: surface), let key = secrets[id] else {
                throw ValidationError("surface '\(surface)' in \(surfaces) is not a webhook surface with a signing_secret")
            }
            return key
        }
        if let text = environment["BRIDGEBACK_RECEIVER_SECRET"], !text.isEmpty {
            return try SigningSecret.decode(text, source: "BRIDGEBACK_RECEIVER_SECRET")
        }
        throw ValidationError(
            "no signing secret: pass --secret whsec_…, or --surfaces FILE --surface ID, or set BRIDGEBACK_RECEIVER_SECRET")
    }
}

/// Standard Webhooks verification, receiver side.
enum WebhookVerification {
    enum Verdict: Equatable {
        case accepted(id: String)
        case rejected(String)
    }

    static func check(
        id: String?, timestamp: String?, signatures: String?, body: [UInt8], signer: WebhookSigner, tolerance: Double, now: Date
    ) -> Verdict {
        guard let id, !id.isEmpty, let timestamp, let seconds = Int64(timestamp), let signatures else {
            return .rejected("missing webhook-id, webhook-timestamp or webhook-signature")
        }
        guard abs(now.timeIntervalSince1970 - Double(seconds)) <= tolerance else {
            return .rejected("webhook-timestamp \(timestamp) is outside the \(Int(tolerance)) s tolerance")
        }
        let expected = signer.signature(id: id, timestamp: seconds, body: body)
        // The header may carry several space-separated signatures (key rotation); one must match.
        guard signatures.split(separator: " ").contains(where: { constantTimeEqual(Array($0.utf8), Array(expected.utf8)) }) else {
            return .rejected("no webhook-signature matches")
        }
        return .accepted(id: id)
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// The receiver's memory: ids seen (seeded from the log file, so a restart still deduplicates)
/// and the append-only JSON-lines log.
actor ReceiverJournal {
    private var seen: Set<String> = []
    private let handle: FileHandle?
    private let printLines: Bool

    init(path: String?, printLines: Bool) throws {
        self.printLines = printLines
        guard let path else {
            handle = nil
            return
        }
        if let existing = FileManager.default.contents(atPath: path) {
            for line in existing.split(separator: UInt8(ascii: "\n")) {
                if let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                    let id = object["webhook_id"] as? String
                {
                    seen.insert(id)
                }
            }
        } else if !FileManager.default.createFile(atPath: path, contents: nil) {
            throw ValidationError("cannot create --out file \(path)")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ValidationError("cannot open --out file \(path)") }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    /// Records one verified delivery; returns whether its id was seen before.
    func record(id: String, body: [UInt8]) throws -> Bool {
        let duplicate = !seen.insert(id).inserted
        let parsed = (try? JSONSerialization.jsonObject(with: Data(body))) ?? String(decoding: body, as: UTF8.self)
        let line: [String: Any] = [
            "webhook_id": id, "received_at": ISO8601DateFormatter().string(from: Date()), "duplicate": duplicate, "body": parsed,
        ]
        var data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
        data.append(UInt8(ascii: "\n"))
        try handle?.write(contentsOf: data)
        if printLines && !duplicate, let notice = parsed as? [String: Any] {
            FileHandle.standardOutput.write(Data((Self.humanLine(notice) + "\n").utf8))
        }
        return duplicate
    }

    static func humanLine(_ notice: [String: Any]) -> String {
        let part = "\(notice["part"] ?? 1)/\(notice["total_parts"] ?? 1)"
        let kind = notice["kind"] as? String ?? "notice"
        let asked = (notice["context"] as? [String: Any])?["asked"] as? String ?? ""
        let text = (notice["text"] as? String ?? "").replacingOccurrences(of: "\n", with: " ⏎ ")
        let excerpt = text.count > 100 ? String(text.prefix(100)) + "…" : text
        return "webhook ← \(kind) part \(part) for \"\(asked)\": \(excerpt)"
    }
}
