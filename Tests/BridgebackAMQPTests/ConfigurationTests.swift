import BridgebackAMQP
import Testing

struct ConfigurationTests {
    @Test func parsesAFullURL() throws {
        let c = try AMQPConfiguration(url: "amqp://bb-worker:s%40cret@broker.local:5673/bridgeback?heartbeat=10&name=w1")
        #expect(c.user == "bb-worker")
        #expect(c.password == "s@cret")
        #expect(c.host == "broker.local")
        #expect(c.port == 5673)
        #expect(c.virtualHost == "bridgeback")
        #expect(c.heartbeatSeconds == 10)
        #expect(c.connectionName == "w1")
        #expect(c.tls == nil)
        #expect(!c.redactedURL.contains("s@cret"))
    }

    @Test func defaultsAndTheDefaultVhost() throws {
        let c = try AMQPConfiguration(url: "amqp://localhost")
        #expect(c.port == 5672)
        #expect(c.virtualHost == "/")
        #expect(try AMQPConfiguration(url: "amqp://localhost/%2f").virtualHost == "/")
    }

    @Test func amqpsUsesTLSAndItsPort() throws {
        let c = try AMQPConfiguration(url: "amqps://u:p@host/v?cacertfile=/etc/ca.pem&verify=false")
        #expect(c.port == 5671)
        #expect(c.tls?.caCertificateFile == "/etc/ca.pem")
        #expect(c.tls?.verifyPeer == false)
    }

    @Test(arguments: ["http://localhost", "not a url", "amqp://", "amqp://h?heartbeat=-1", "amqp://h:99999"])
    func badURLsAreRejectedWithAReason(_ url: String) {
        #expect(throws: AMQPError.self) { try AMQPConfiguration(url: url) }
        do {
            _ = try AMQPConfiguration(url: url)
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(!error.message.isEmpty)
        }
    }

    @Test func errorDescriptionsCarryTheBrokerReply() {
        let e = AMQPError(.channelClosed, "declare failed", replyCode: 406, replyText: "PRECONDITION_FAILED")
        #expect(e.description.contains("406"))
        #expect(e.description.contains("PRECONDITION_FAILED"))
        #expect(e.isTransient)
        #expect(!AMQPError(.authenticationFailed, "x").isTransient)
    }
}
