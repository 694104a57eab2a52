@testable import BridgebackAMQP
import Testing

/// Several broker nodes: the address-selection rules, without a broker.
struct EndpointFailoverTests {
    @Test func aRoundWalksEveryNodeOnceThenReportsTheRoundFailed() {
        var rotation = EndpointRotation(count: 3)
        #expect(rotation.current == 0)
        let r1 = rotation.connectFailed()
        #expect(r1 == .tryNext(index: 1))
        let r2 = rotation.connectFailed()
        #expect(r2 == .tryNext(index: 2))
        let r3 = rotation.connectFailed()
        #expect(r3 == .roundFailed(nextIndex: 0))
        // The next round starts over with a full set of tries.
        let r4 = rotation.connectFailed()
        #expect(r4 == .tryNext(index: 1))
    }

    @Test func oneNodeIsTheSingleURLBehaviour() {
        var rotation = EndpointRotation(count: 1)
        let r5 = rotation.connectFailed()
        #expect(r5 == .roundFailed(nextIndex: 0))
        rotation.connectionLost()
        #expect(rotation.current == 0)
    }

    @Test func aLostConnectionMovesToTheNextNodeFirst() {
        var rotation = EndpointRotation(count: 3)
        _ = rotation.connectFailed()  // node 0 down at start
        rotation.connectSucceeded()  // connected to node 1
        #expect(rotation.current == 1)
        rotation.connectionLost()
        #expect(rotation.current == 2)
        // A success mid-round resets the count: a later loss gets a whole round again.
        let r6 = rotation.connectFailed()
        #expect(r6 == .tryNext(index: 0))
        rotation.connectSucceeded()
        rotation.connectionLost()
        let r7 = rotation.connectFailed()
        #expect(r7 == .tryNext(index: 2))
        let r8 = rotation.connectFailed()
        #expect(r8 == .tryNext(index: 0))
        let r9 = rotation.connectFailed()
        #expect(r9 == .roundFailed(nextIndex: 1))
    }

    @Test func theFirstConnectFailsOnlyAfterEveryNodeFailed() {
        var m = ConnectionStateMachine(baseDelay: .milliseconds(100), maxDelay: .seconds(2), endpointCount: 3)
        m.start()
        #expect(m.endpointIndex == 0)
        let r10 = m.connectFailed()
        #expect(r10 == .tryNextEndpoint(index: 1))
        #expect(m.state == .connecting(attempt: 1, everConnected: false))
        #expect(m.endpointIndex == 1)
        let r11 = m.connectFailed()
        #expect(r11 == .tryNextEndpoint(index: 2))
        let r12 = m.connectFailed()
        #expect(r12 == .failConnect)
        #expect(m.state == .closed)
    }

    @Test func theFirstConnectSucceedsOnALaterNode() {
        var m = ConnectionStateMachine(baseDelay: .milliseconds(100), maxDelay: .seconds(2), endpointCount: 3)
        m.start()
        _ = m.connectFailed()
        let r13 = m.connectSucceeded()
        #expect(r13 == .reportConnected(generation: 1))
        #expect(m.endpointIndex == 1)
    }

    @Test func afterALossADeadNodeCostsOneConnectNotABackoff() {
        var m = ConnectionStateMachine(baseDelay: .milliseconds(100), maxDelay: .seconds(2), endpointCount: 3)
        m.start()
        _ = m.connectSucceeded()  // node 0
        let r14 = m.connectionLost()
        #expect(r14 == .failInFlightAndRetry(after: .milliseconds(100)))
        let r15 = m.retryDue()
        #expect(r15)
        #expect(m.endpointIndex == 1)
        // Node 1 is down too: node 2 is tried at once, in the same attempt.
        let r16 = m.connectFailed()
        #expect(r16 == .tryNextEndpoint(index: 2))
        #expect(m.state == .connecting(attempt: 1, everConnected: true))
        let r17 = m.connectSucceeded()
        #expect(r17 == .restoreAndResume(generation: 2))
        #expect(m.endpointIndex == 2)
    }

    @Test func whenEveryNodeIsDownTheBackoffGrowsPerRound() {
        var m = ConnectionStateMachine(baseDelay: .milliseconds(100), maxDelay: .seconds(2), endpointCount: 2)
        m.start()
        _ = m.connectSucceeded()
        _ = m.connectionLost()
        _ = m.retryDue()
        let r18 = m.connectFailed()
        #expect(r18 == .tryNextEndpoint(index: 0))
        let r19 = m.connectFailed()
        #expect(r19 == .retry(after: .milliseconds(100), attempt: 2))
        _ = m.retryDue()
        let r20 = m.connectFailed()
        #expect(r20 == .tryNextEndpoint(index: 0))
        let r21 = m.connectFailed()
        #expect(r21 == .retry(after: .milliseconds(200), attempt: 3))
    }

    @Test func aListOfURLsIsOneClusterConfiguration() throws {
        let c = try AMQPConfiguration(
            url:
                "amqp://bb-worker:s%40cret@n1:5672/bridgeback, amqp://bb-worker:s%40cret@n2:5673/bridgeback,amqp://bb-worker:s%40cret@n3/bridgeback"
        )
        #expect(c.endpoints.map(\.description) == ["n1:5672", "n2:5673", "n3:5672"])
        #expect(c.user == "bb-worker")
        #expect(c.password == "s@cret")
        #expect(c.virtualHost == "bridgeback")
        #expect(!c.redactedURL.contains("s@cret") && !c.redactedURL.contains("s%40cret"))
        #expect(
            c.redactedURL
                == "amqp://bb-worker:***@n1:5672/bridgeback,amqp://bb-worker:***@n2:5673/bridgeback,amqp://bb-worker:***@n3:5672/bridgeback"
        )
    }

    @Test(arguments: [
        ("amqp://u:p@n1/v,amqp://u:OTHER@n2/v", "differs from the first"),
        ("amqp://u:p@n1/v,amqps://u:p@n2/v", "differs from the first"),
        ("amqp://u:p@n1/v,amqp://u:p@n2/w", "differs from the first"),
        ("amqp://u:p@n1/v,amqp://u:p@n1:5672/v", "listed twice"),
        ("amqp://u:p@n1/v,,amqp://u:p@n2/v", "is empty"),
        ("amqp://u:p@n1/v,ftp://n2", "unsupported scheme"),
    ])
    func aListThatDoesNotDescribeOneClusterIsRefused(url: String, expected: String) {
        do {
            _ = try AMQPConfiguration(url: url)
            Issue.record("accepted \(url)")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!error.message.contains("OTHER"), "a password reached the message: \(error.message)")
        }
    }
}
