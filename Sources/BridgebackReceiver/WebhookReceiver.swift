public import BridgebackCoordinator
import BridgebackCore
public import Foundation
import Hummingbird
public import Logging
import ServiceLifecycle

/// A Standard Webhooks receiver for the demo and the fleet tests (`bridgeback receiver`).
///
/// It is the receiving side a real integration would run: it verifies the signature and the
/// timestamp, deduplicates by `webhook-id` (also across its own restarts, from its log file),
/// and records every accepted delivery as one JSON line. A duplicate is answered 200 (so the
/// sender stops retrying) and recorded with `"duplicate": true`, never shown twice.
public struct WebhookReceiver: Sendable {
    /// What the receiver needs; the executable fills it from its flags.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// The signing key, already decoded (see ``WebhookReceiver/resolveKey(secret:surfaces:surface:environment:)``).
        public var key: [UInt8]
        /// The JSON-lines file of received deliveries; nil: standard output only.
        public var out: String?
        /// Largest timestamp skew accepted, in seconds.
        public var tolerance: Double
        /// Milliseconds to wait before answering each request (simulates a slow receiver).
        public var delayMilliseconds: Int
        /// Whether to print one human line per accepted, non-duplicate delivery.
        public var printLines: Bool

        public init(
            host: String, port: Int, key: [UInt8], out: String?, tolerance: Double, delayMilliseconds: Int, printLines: Bool
        ) {
            self.host = host
            self.port = port
            self.key = key
            self.out = out
            self.tolerance = tolerance
            self.delayMilliseconds = delayMilliseconds
            self.printLines = printLines
        }
    }

    public let configuration: Configuration

    public init(_ configuration: Configuration) { self.configuration = configuration }

    /// Serves until SIGTERM or SIGINT. Throws ``ReceiverError`` when the `out` file cannot be used.
    public func run(logger: Logger) async throws {
        let journal = try ReceiverJournal(path: configuration.out, printLines: configuration.printLines)
        let signer = WebhookSigner(secret: configuration.key)
        let tolerance = configuration.tolerance
        let delay = configuration.delayMilliseconds
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
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "bridgeback-receiver"),
            onServerRunning: { channel in
                logger.info("receiver listening", metadata: ["http.port": "\(channel.localAddress?.port ?? 0)"])
            },
            logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: app, serviceName: "Receiver")], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The signing key: `secret` (whsec_…), else the webhook surface `surface` in the registry
    /// `surfaces`, else `BRIDGEBACK_RECEIVER_SECRET`.
    public static func resolveKey(
        secret: String?, surfaces: String?, surface: String?, environment: [String: String]
    ) throws -> [UInt8] {
        do {
            if let secret { return try SigningSecret.decode(secret, source: "--secret") }
            if let surfaces, let surface {
                let registry = try SurfaceRegistry.load(contentsOf: URL(fileURLWithPath: surfaces))
                let secrets = try registry.resolveSecrets(environment: environment)
                guard let id = try? SurfaceID(validating: surface), let key = secrets[id] else {
                    throw ReceiverError(.noSecret, "surface '\(surface)' in \(surfaces) is not a webhook surface with a signing_secret")
                }
                return key
            }
            if let text = environment["BRIDGEBACK_RECEIVER_SECRET"], !text.isEmpty {
                return try SigningSecret.decode(text, source: "BRIDGEBACK_RECEIVER_SECRET")
            }
        } catch let error as BridgebackError {
            throw ReceiverError(.badSecret, error.message)
        }
        throw ReceiverError(
            .noSecret, "no signing secret: pass --secret whsec_…, or --surfaces FILE --surface ID, or set BRIDGEBACK_RECEIVER_SECRET")
    }
}

/// Why the receiver cannot start; the message names the flag or file to fix.
public struct ReceiverError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No secret was given, or the named surface has none.
        case noSecret
        /// The secret or the surface registry did not parse.
        case badSecret
        /// The `out` file cannot be created or opened.
        case outFile
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Standard Webhooks verification, receiver side.
public enum WebhookVerification {
    public enum Verdict: Equatable, Sendable {
        case accepted(id: String)
        case rejected(String)
    }

    public static func check(
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

    init(path: String?, printLines: Bool) throws(ReceiverError) {
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
            throw ReceiverError(.outFile, "cannot create --out file \(path)")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ReceiverError(.outFile, "cannot open --out file \(path)") }
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
