import CRabbitMQ
import Testing

@testable import BridgebackAMQP

/// Login failures are classified by the broker's reply code or rabbitmq-c's status; the broker's
/// text is kept for the person reading the error but decides nothing.
struct LoginFailureTests {
    @Test func accessRefusedIsAWrongUserOrPasswordWhateverTheText() {
        for text in ["ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN", "something else entirely", ""] {
            let error = LoginFailure.refused(replyCode: 403, replyText: text, user: "alice", virtualHost: "/")
            #expect(error.code == .authenticationFailed)
            #expect(error.message.contains("alice"))
            #expect(error.replyCode == 403)
            #expect(error.replyText == text, "the broker's words are kept for the reader")
        }
    }

    @Test func notAllowedIsTheVirtualHostWhateverTheText() {
        // A text that mentions authentication must not turn this into a password error.
        let error = LoginFailure.refused(
            replyCode: 530, replyText: "NOT_ALLOWED - authentication ok, vhost 'v' not found", user: "bob", virtualHost: "v")
        #expect(error.code == .accessRefused)
        #expect(error.message.contains("'v'"))
        #expect(!error.isTransient)
    }

    @Test func anyOtherReplyCodeIsAClosedConnectionThatMayBeRetried() {
        let error = LoginFailure.refused(
            replyCode: 320, replyText: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'", user: "u",
            virtualHost: "/")
        #expect(error.code == .connectionClosed)
        #expect(error.isTransient)
        #expect(error.message.contains("320"))
    }

    @Test func aDroppedSocketDuringLoginIsReportedAsAuthentication() {
        for status in [AMQP_STATUS_CONNECTION_CLOSED.rawValue, AMQP_STATUS_SOCKET_ERROR.rawValue] {
            let error = LoginFailure.libraryFailure(status: status, user: "carol")
            #expect(error.code == .authenticationFailed)
            #expect(error.libraryStatus == status)
            #expect(error.message.contains("amqps://"), "names the TLS port mistake too")
        }
    }

    @Test func otherLibraryStatusesAreTransient() {
        let timeout = LoginFailure.libraryFailure(status: AMQP_STATUS_TIMEOUT.rawValue, user: "u")
        #expect(timeout.code == .timeout)
        let other = LoginFailure.libraryFailure(status: AMQP_STATUS_BAD_AMQP_DATA.rawValue, user: "u")
        #expect(other.code == .connectionClosed)
        #expect(other.isTransient)
    }
}
