import ArgumentParser
import BridgebackHTTP

/// Timeouts and the connection ceiling of an HTTP server (admission, the coordinator's status API).
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

    func validate() throws {
        for (name, value) in [("--http-head-timeout", headTimeout), ("--http-body-timeout", bodyTimeout), ("--http-idle-timeout", idleTimeout)] {
            guard value.isFinite, value > 0, value <= 3600 else { throw ValidationError("\(name) must be more than 0 and at most 3600 seconds") }
        }
        guard (1...1_000_000).contains(maxConnections) else { throw ValidationError("--http-max-connections must be 1-1000000") }
    }

    var limits: HTTPServerLimits {
        func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }
        return HTTPServerLimits(
            headTimeout: duration(headTimeout), bodyTimeout: duration(bodyTimeout), idleTimeout: duration(idleTimeout),
            maxConnections: maxConnections)
    }
}
