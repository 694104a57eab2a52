@testable import BridgebackAMQP
import Testing

struct ConnectionStateMachineTests {
    func machine() -> ConnectionStateMachine {
        ConnectionStateMachine(baseDelay: .milliseconds(100), maxDelay: .seconds(2))
    }

    @Test func firstConnectSuccessIsReportedToTheCaller() {
        var m = machine()
        m.start()
        #expect(m.state == .connecting(attempt: 1, everConnected: false))
        let r1 = m.connectSucceeded()
        #expect(r1 == .reportConnected(generation: 1))
        #expect(m.isConnected)
    }

    @Test func firstConnectFailureGoesToTheCallerWithoutRetrying() {
        var m = machine()
        m.start()
        let r2 = m.connectFailed()
        #expect(r2 == .failConnect)
        #expect(m.state == .closed)
    }

    @Test func lossAfterConnectingRetriesWithGrowingCappedBackoff() {
        var m = machine()
        m.start()
        _ = m.connectSucceeded()
        let r3 = m.connectionLost()
        #expect(r3 == .failInFlightAndRetry(after: .milliseconds(100)))
        let r4 = m.retryDue()
        #expect(r4)
        #expect(m.state == .connecting(attempt: 1, everConnected: true))
        let r5 = m.connectFailed()
        #expect(r5 == .retry(after: .milliseconds(100), attempt: 2))
        let r6 = m.retryDue()
        #expect(r6)
        let r7 = m.connectFailed()
        #expect(r7 == .retry(after: .milliseconds(200), attempt: 3))
        let r8 = m.retryDue()
        #expect(r8)
        let r9 = m.connectFailed()
        #expect(r9 == .retry(after: .milliseconds(400), attempt: 4))
        for _ in 0..<10 {
            let r10 = m.retryDue()
            #expect(r10)
            _ = m.connectFailed()
        }
        if case .waitingToReconnect(_, let delay) = m.state {
            #expect(delay == .seconds(2))
        } else {
            Issue.record("expected waitingToReconnect, got \(m.state)")
        }
    }

    @Test func reconnectRestoresTopologyAndBumpsTheGeneration() {
        var m = machine()
        m.start()
        _ = m.connectSucceeded()
        _ = m.connectionLost()
        _ = m.retryDue()
        let r11 = m.connectSucceeded()
        #expect(r11 == .restoreAndResume(generation: 2))
        #expect(m.currentGeneration == 2)
    }

    @Test func closeStopsEverythingAndLaterEventsAreIgnored() {
        var m = machine()
        m.start()
        _ = m.connectSucceeded()
        let r12 = m.close()
        #expect(r12)
        #expect(m.state == .closed)
        let r13 = m.connectionLost()
        #expect(r13 == .none)
        let r14 = m.retryDue()
        #expect(!r14)
        let r15 = m.close()
        #expect(!r15)
    }

    @Test func closeWhileWaitingToReconnectCancelsTheRetry() {
        var m = machine()
        m.start()
        _ = m.connectSucceeded()
        _ = m.connectionLost()
        let r16 = m.close()
        #expect(!r16)
        let r17 = m.retryDue()
        #expect(!r17)
        let r18 = m.connectFailed()
        #expect(r18 == .none)
    }

    @Test func lossWhileAlreadyReconnectingIsIgnored() {
        var m = machine()
        m.start()
        _ = m.connectSucceeded()
        _ = m.connectionLost()
        let r19 = m.connectionLost()
        #expect(r19 == .none)
    }
}
