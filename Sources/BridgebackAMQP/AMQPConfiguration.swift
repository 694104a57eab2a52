import Foundation

/// Where and how to connect, usually parsed from `BRIDGEBACK_AMQP_URL`.
///
/// URL form: `amqp[s]://user:password@host[:port][/vhost][?heartbeat=30&connection_timeout=5&cacertfile=…&certfile=…&keyfile=…&verify=true&name=…]`.
/// The vhost is percent-decoded (`%2f` is `/`); an empty path means the default vhost `/`.
///
/// A cluster is given as several such URLs separated by commas (one per node, the same user,
/// vhost, scheme and options in each): the connection tries them in order and, when a node is
/// lost, fails over to the next (see `EndpointRotation`).
public struct AMQPConfiguration: Sendable, Hashable {
    /// The first node to try.
    public var host: String
    public var port: Int
    /// Further cluster nodes, tried in order after `host:port` on a failed connect or a lost connection.
    public var failoverEndpoints: [Endpoint] = []
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

    /// One broker node's address.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// Every node, in the order they are tried: `host:port` first, then `failoverEndpoints`.
    public var endpoints: [Endpoint] { [Endpoint(host: host, port: port)] + failoverEndpoints }

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

    /// Parses an AMQP URI, or several separated by commas (one per cluster node). Errors say which
    /// part is wrong. Every URL in a list must agree on scheme, user, password, vhost and options;
    /// only host and port may differ (a password with a comma must be percent-encoded as `%2C`).
    public init(url string: String, connectionName: String = "bridgeback") throws(AMQPError) {
        let parts = string.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count > 1 else {
            try self.init(singleURL: string, connectionName: connectionName)
            return
        }
        guard parts.count <= 16 else {
            throw AMQPError(.invalidConfiguration, "\(parts.count) broker URLs given; at most 16 nodes are supported")
        }
        var first: AMQPConfiguration?
        var extra: [Endpoint] = []
        for (index, part) in parts.enumerated() {
            guard !part.isEmpty else {
                throw AMQPError(.invalidConfiguration, "broker URL \(index + 1) of \(parts.count) is empty (a stray comma?)")
            }
            let node = try AMQPConfiguration(singleURL: part, connectionName: connectionName)
            guard let reference = first else {
                first = node
                continue
            }
            var comparable = node
            comparable.host = reference.host
            comparable.port = reference.port
            guard comparable == reference else {
                throw AMQPError(
                    .invalidConfiguration,
                    "broker URL \(index + 1) ('\(Self.redact(part))') differs from the first in more than host and port; "
                        + "every node of a cluster takes the same scheme, user, password, vhost and options")
            }
            let endpoint = Endpoint(host: node.host, port: node.port)
            guard !reference.endpoints.contains(endpoint), !extra.contains(endpoint) else {
                throw AMQPError(.invalidConfiguration, "broker node \(endpoint) is listed twice")
            }
            extra.append(endpoint)
        }
        self = first!
        self.failoverEndpoints = extra
    }

    private init(singleURL string: String, connectionName: String) throws(AMQPError) {
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
            guard let parsed = Double(value), parsed > 0, parsed <= 3600 else {
                throw AMQPError(
                    .invalidConfiguration, "connection_timeout must be a number of seconds above 0 and at most 3600, got '\(value)'")
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

    /// The URL with its password replaced, for logs (every node, comma-separated, for a cluster).
    public var redactedURL: String {
        endpoints.map { redactedURL(for: $0) }.joined(separator: ",")
    }

    /// One node's URL with the password replaced, for logs.
    public func redactedURL(for endpoint: Endpoint) -> String {
        let vhost = virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? virtualHost
        return "\(tls == nil ? "amqp" : "amqps")://\(user):***@\(endpoint)/\(vhost)"
    }

    /// `url` with its password replaced by `***`, also when the URL does not parse (a password with
    /// a raw `@`, `/` or `%` is exactly what makes a URL unparseable, and such errors quote it).
    public static func redact(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        // The user info ends at the last '@' (a raw '@' in a password comes before it).
        guard let at = rest.lastIndex(of: "@") else { return url }
        let userInfo = rest[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(rest[at...])
    }
}

extension AMQPConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The redacted URL: a configuration printed anywhere (a service description, an error)
    /// never shows the password.
    public var description: String { "AMQPConfiguration(\(redactedURL), name: \(connectionName))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["url": redactedURL, "name": connectionName], displayStyle: .struct) }
}
