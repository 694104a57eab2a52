import Foundation

/// Where and how to connect, usually parsed from `BRIDGEBACK_AMQP_URL`.
///
/// URL form: `amqp[s]://user:password@host[:port][/vhost][?heartbeat=30&connection_timeout=5&cacertfile=…&certfile=…&keyfile=…&verify=true&name=…]`.
/// The vhost is percent-decoded (`%2f` is `/`); an empty path means the default vhost `/`.
public struct AMQPConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var virtualHost: String
    public var user: String
    public var password: String
    /// Heartbeat interval in seconds (0 disables; the connection thread services them).
    public var heartbeatSeconds: Int
    /// How long to wait for TCP connect + handshake + login.
    public var connectionTimeout: Duration
    public var tls: TLS?
    /// Shown in the management UI's connection list, so operators can tell processes apart.
    public var connectionName: String
    /// Reconnect backoff: first delay, cap. Jitter is added.
    public var reconnectBaseDelay: Duration
    public var reconnectMaxDelay: Duration

    /// TLS settings for `amqps://`.
    public struct TLS: Sendable, Hashable {
        public var caCertificateFile: String?
        public var certificateFile: String?
        public var keyFile: String?
        public var verifyPeer: Bool

        public init(caCertificateFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, verifyPeer: Bool = true) {
            self.caCertificateFile = caCertificateFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.verifyPeer = verifyPeer
        }
    }

    public init(
        host: String = "127.0.0.1", port: Int = 5672, virtualHost: String = "/", user: String = "guest",
        password: String = "guest", heartbeatSeconds: Int = 30, connectionTimeout: Duration = .seconds(5),
        tls: TLS? = nil, connectionName: String = "bridgeback",
        reconnectBaseDelay: Duration = .milliseconds(100), reconnectMaxDelay: Duration = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.virtualHost = virtualHost
        self.user = user
        self.password = password
        self.heartbeatSeconds = heartbeatSeconds
        self.connectionTimeout = connectionTimeout
        self.tls = tls
        self.connectionName = connectionName
        self.reconnectBaseDelay = reconnectBaseDelay
        self.reconnectMaxDelay = reconnectMaxDelay
    }

    /// Parses an AMQP URI. Errors say which part is wrong.
    public init(url string: String, connectionName: String = "bridgeback") throws(AMQPError) {
        guard let components = URLComponents(string: string), let scheme = components.scheme?.lowercased() else {
            throw AMQPError(.invalidConfiguration, "'\(Self.redact(string))' is not a URL; expected amqp://user:password@host:5672/vhost")
        }
        let isTLS: Bool
        switch scheme {
        case "amqp": isTLS = false
        case "amqps": isTLS = true
        default:
            throw AMQPError(.invalidConfiguration, "unsupported scheme '\(scheme)'; use amqp:// or amqps://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw AMQPError(.invalidConfiguration, "the URL '\(Self.redact(string))' has no host")
        }
        let port = components.port ?? (isTLS ? 5671 : 5672)
        guard (1...65535).contains(port) else {
            throw AMQPError(.invalidConfiguration, "port \(port) is out of range")
        }
        var vhost = components.percentEncodedPath
        if vhost.hasPrefix("/") { vhost.removeFirst() }
        vhost = vhost.removingPercentEncoding ?? vhost
        if vhost.isEmpty { vhost = "/" }
        let user = components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? "guest"
        let password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding } ?? "guest"
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        var heartbeat = 30
        if let value = query["heartbeat"] {
            guard let parsed = Int(value), parsed >= 0, parsed <= 600 else {
                throw AMQPError(.invalidConfiguration, "heartbeat must be 0…600 seconds, got '\(value)'")
            }
            heartbeat = parsed
        }
        var timeout = Duration.seconds(5)
        if let value = query["connection_timeout"] {
            guard let parsed = Double(value), parsed > 0 else {
                throw AMQPError(.invalidConfiguration, "connection_timeout must be a positive number of seconds, got '\(value)'")
            }
            timeout = .milliseconds(Int64(parsed * 1000))
        }
        var tls: TLS?
        if isTLS {
            tls = TLS(
                caCertificateFile: query["cacertfile"], certificateFile: query["certfile"], keyFile: query["keyfile"],
                verifyPeer: (query["verify"] ?? "true") != "false")
        }
        self.init(
            host: host, port: port, virtualHost: vhost, user: user, password: password, heartbeatSeconds: heartbeat,
            connectionTimeout: timeout, tls: tls, connectionName: query["name"] ?? connectionName)
    }

    /// The URL with its password replaced, for logs.
    public var redactedURL: String {
        "\(tls == nil ? "amqp" : "amqps")://\(user):***@\(host):\(port)/\(virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? virtualHost)"
    }

    static func redact(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }
}
