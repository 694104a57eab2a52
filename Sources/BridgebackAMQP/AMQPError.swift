/// An error from the AMQP layer: a ``Code`` a caller can switch on, the broker's reply when there
/// was one, and a message a person can act on.
public struct AMQPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a value to switch on. New codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Hashable, Sendable {
            case invalidConfiguration
            case connectionRefused
            case authenticationFailed
            case accessRefused
            case connectionClosed
            case channelClosed
            case notConnected
            case publishNacked
            case unroutable
            case outcomeUnknown
            case consumerCancelled
            case timeout
            case protocolError
            case closedByUser
            case tlsFailed
            case outOfResources
        }
        let base: Base
        private init(_ base: Base) { self.base = base }

        /// The URL or settings cannot be used (bad scheme, port, TLS files).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// Nothing accepted the TCP connection (broker down, wrong host or port).
        public static let connectionRefused = Code(.connectionRefused)
        /// The broker refused the user name or password.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The user may not use the virtual host, or the virtual host does not exist.
        public static let accessRefused = Code(.accessRefused)
        /// The broker or the network closed the connection.
        public static let connectionClosed = Code(.connectionClosed)
        /// The broker closed the channel (for example a declare with different arguments, 406).
        public static let channelClosed = Code(.channelClosed)
        /// The connection is down and is being re-established; nothing was sent. Safe to retry.
        public static let notConnected = Code(.notConnected)
        /// The broker answered `basic.nack` for a publish: it did not take responsibility for it.
        public static let publishNacked = Code(.publishNacked)
        /// A `mandatory` publish matched no queue and came back with `basic.return`.
        public static let unroutable = Code(.unroutable)
        /// The message was sent but the connection was lost before its confirm: the broker may or
        /// may not have it. Retrying may create a duplicate; receivers must deduplicate.
        public static let outcomeUnknown = Code(.outcomeUnknown)
        /// The broker cancelled the consumer (for example its queue was deleted).
        public static let consumerCancelled = Code(.consumerCancelled)
        /// An operation did not finish in time.
        public static let timeout = Code(.timeout)
        /// The peer sent something this client does not understand.
        public static let protocolError = Code(.protocolError)
        /// The connection was closed by this process.
        public static let closedByUser = Code(.closedByUser)
        /// The TLS handshake failed: the node's certificate did not verify against the CA, its name
        /// did not match the host in the URL, or the node does not speak TLS on that port.
        public static let tlsFailed = Code(.tlsFailed)
        /// The process could not get an operating-system resource it needs for a connection (a file
        /// descriptor for the wake-up eventfd, a thread). Usually a `LimitNOFILE` or `TasksMax` limit.
        public static let outOfResources = Code(.outOfResources)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The AMQP reply code when the broker closed something (e.g. 403, 404, 406, 530).
    public var replyCode: UInt16?
    /// The broker's reply text, verbatim.
    public var replyText: String?
    /// The rabbitmq-c status code when the library reported the failure.
    public var libraryStatus: Int32?

    public init(
        _ code: Code, _ message: String, replyCode: UInt16? = nil, replyText: String? = nil,
        libraryStatus: Int32? = nil
    ) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
        self.replyText = replyText
        self.libraryStatus = libraryStatus
    }

    public var description: String {
        var text = "AMQP \(code): \(message)"
        if let replyCode { text += " [broker reply \(replyCode)\(replyText.map { " \($0)" } ?? "")]" }
        if let libraryStatus { text += " [rabbitmq-c status \(libraryStatus)]" }
        return text
    }

    /// Whether retrying the same operation later can succeed without changing anything.
    public var isTransient: Bool {
        switch code {
        case .connectionRefused, .connectionClosed, .notConnected, .timeout, .channelClosed: true
        default: false
        }
    }
}
