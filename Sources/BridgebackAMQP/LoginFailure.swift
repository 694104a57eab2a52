import CRabbitMQ

/// Why a login failed, told by the broker's reply code or rabbitmq-c's status, never by the
/// broker's wording (which changes between versions and locales of its messages).
enum LoginFailure {
    /// AMQP `ACCESS_REFUSED`: RabbitMQ refused the SASL login (wrong user name or password).
    static let accessRefusedCode: UInt16 = 403
    /// AMQP `NOT_ALLOWED`: `connection.open` refused (no such virtual host, no permission on it, or
    /// its connection limit reached).
    static let notAllowedCode: UInt16 = 530

    /// The broker answered the login with `connection.close`.
    static func refused(replyCode: UInt16, replyText: String, user: String, virtualHost: String) -> AMQPError {
        switch replyCode {
        case accessRefusedCode:
            AMQPError(
                .authenticationFailed, "the broker refused user '\(user)': check the user name and password in the AMQP URL",
                replyCode: replyCode, replyText: replyText)
        case notAllowedCode:
            AMQPError(
                .accessRefused,
                "user '\(user)' may not open virtual host '\(virtualHost)' (it may not exist, the user may have no permissions "
                    + "there, or its connection limit is reached)",
                replyCode: replyCode, replyText: replyText)
        default:
            AMQPError(
                .connectionClosed, "the broker closed the connection while user '\(user)' logged in (reply code \(replyCode))",
                replyCode: replyCode, replyText: replyText)
        }
    }

    /// rabbitmq-c failed the login without a broker reply. A broker that does not send
    /// `connection.close` for a bad password drops the socket instead; so does a TLS port spoken
    /// to in plain AMQP.
    static func libraryFailure(status: Int32, user: String) -> AMQPError {
        if status == AMQP_STATUS_CONNECTION_CLOSED.rawValue || status == AMQP_STATUS_SOCKET_ERROR.rawValue {
            return AMQPError(
                .authenticationFailed,
                "the broker closed the connection during login as '\(user)': usually a wrong user name or password "
                    + "(or an amqp:// URL for a port that serves TLS: use amqps://)",
                libraryStatus: status)
        }
        let code: AMQPError.Code = status == AMQP_STATUS_TIMEOUT.rawValue ? .timeout : .connectionClosed
        return AMQPError(code, "login as '\(user)' failed: \(CBridge.statusText(status))", libraryStatus: status)
    }
}
