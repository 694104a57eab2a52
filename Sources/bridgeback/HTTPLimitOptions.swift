import ArgumentParser
import BridgebackHTTP
import Foundation

/// Timeouts, the connection ceiling and HTTPS of an HTTP server (admission, the coordinator's status API).
struct HTTPLimitOptions: ParsableArguments {
    @Option(name: .customLong("http-head-timeout"), help: "Seconds a new connection has to send a complete request head.")
    var headTimeout: Double = 10

    @Option(name: .customLong("http-body-timeout"), help: "Seconds from a request's head to the end of its body.")
    var bodyTimeout: Double = 30

    @Option(name: .customLong("http-idle-timeout"), help: "Seconds a kept-alive connection may wait for its next request.")
    var idleTimeout: Double = 60

    @Option(
        name: .customLong("http-max-connections"),
        help: "Open connections above this are answered 503 and closed (keep it below the process's file limit, LimitNOFILE).")
    var maxConnections: Int = 2048

    @Option(
        name: .customLong("tls-certificate"),
        help: ArgumentHelp(
            "Serve HTTPS only, with this PEM certificate chain (with --tls-key). Env: BRIDGEBACK_TLS_CERTIFICATE.", valueName: "file"))
    var tlsCertificateFlag: String?

    /// `--tls-certificate`, else BRIDGEBACK_TLS_CERTIFICATE (an optional option may not carry a default).
    var tlsCertificate: String? {
        tlsCertificateFlag ?? ProcessInfo.processInfo.environment["BRIDGEBACK_TLS_CERTIFICATE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    @Option(
        name: .customLong("tls-key"),
        help: ArgumentHelp("The certificate's PEM private key. Env: BRIDGEBACK_TLS_KEY.", valueName: "file"))
    var tlsKeyFlag: String?

    /// `--tls-key`, else BRIDGEBACK_TLS_KEY (an optional option may not carry a default).
    var tlsKey: String? { tlsKeyFlag ?? ProcessInfo.processInfo.environment["BRIDGEBACK_TLS_KEY"].flatMap { $0.isEmpty ? nil : $0 } }

    /// HTTPS settings, when both files are given.
    var tls: HTTPServerTLS? {
        guard let tlsCertificate, let tlsKey else { return nil }
        return HTTPServerTLS(certificateFile: tlsCertificate, keyFile: tlsKey)
    }

    func validate() throws {
        switch (tlsCertificate, tlsKey) {
        case (nil, nil): break
        case (nil, _): throw ValidationError("--tls-key needs --tls-certificate (or BRIDGEBACK_TLS_CERTIFICATE)")
        case (_, nil): throw ValidationError("--tls-certificate needs --tls-key (or BRIDGEBACK_TLS_KEY)")
        default:
            // Read both files now: a wrong path or a key that does not fit fails here, not at the first connection.
            do { _ = try tls?.configuration() } catch { throw ValidationError(error.description) }
        }
        for (name, value) in [
            ("--http-head-timeout", headTimeout), ("--http-body-timeout", bodyTimeout), ("--http-idle-timeout", idleTimeout),
        ] {
            guard value.isFinite, value > 0, value <= 3600 else {
                throw ValidationError("\(name) must be more than 0 and at most 3600 seconds")
            }
        }
        guard (1...1_000_000).contains(maxConnections) else { throw ValidationError("--http-max-connections must be 1-1000000") }
    }

    var limits: HTTPServerLimits {
        func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }
        return HTTPServerLimits(
            headTimeout: duration(headTimeout), bodyTimeout: duration(bodyTimeout), idleTimeout: duration(idleTimeout),
            maxConnections: maxConnections, tls: tls)
    }
}
