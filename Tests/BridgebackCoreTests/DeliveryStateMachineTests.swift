import Foundation
import Testing
import BridgebackCore

@Suite struct DeliveryStateMachineTests {
    let id = DeliveryID(job: Fixtures.jobID, part: 1)
    let now = Fixtures.now
    let policy = RetryPolicy(maxAttempts: 3, baseDelay: 10, maxDelay: 100, jitter: 0.5)

    func machine(dedup: Bool = true) -> DeliveryStateMachine {
        DeliveryStateMachine(deliveryID: id, receiverDeduplicates: dedup, retryPolicy: policy)
    }

    @Test func happyPath() throws {
        var m = machine()
        var rng = SeededGenerator(seed: 1)
        #expect(m.state == .pending(attempts: 0))
        #expect(m.resume(now: now, using: &rng) == .runDryRun)
        #expect(try m.dryRunPassed() == .beginSend)
        #expect(m.state == .dryRunOK(attempts: 0))
        #expect(try m.sendStarting() == .send(id, attempt: 1))
        #expect(m.state.name == "sending")
        #expect(try m.sendSucceeded(at: now) == .finished(.delivered, nil))
        #expect(m.state == .delivered(attempts: 1, at: now))
        #expect(m.state.outcome == .delivered)
    }

    @Test(arguments: [DeliveryFailureKind.permission, .missingTarget, .tooLarge, .invalidPayload])
    func terminalKindsFailAtOnce(_ kind: DeliveryFailureKind) throws {
        var rng = SeededGenerator(seed: 2)
        var m = machine()
        _ = try m.dryRunPassed()
        _ = try m.sendStarting()
        let failure = DeliveryFailure(kind, detail: "x")
        #expect(try m.sendFailed(failure, now: now, using: &rng) == .finished(.failed, failure))
        #expect(m.state == .failed(attempts: 1, failure: failure, exhausted: false))
        var dry = machine()
        #expect(try dry.dryRunFailed(failure, now: now, using: &rng) == .finished(.failed, failure))
    }

    @Test func transportRetriesWithBackoffThenGivesUp() throws {
        var rng = SeededGenerator(seed: 3)
        var m = machine()
        let failure = DeliveryFailure(.transport, detail: "connection refused")
        var clock = now
        for attempt in 1...3 {
            _ = try m.dryRunPassed()
            #expect(try m.sendStarting() == .send(id, attempt: attempt))
            let action = try m.sendFailed(failure, now: clock, using: &rng)
            if attempt < 3 {
                guard case .wait(let until) = action else {
                    Issue.record("expected wait, got \(action)")
                    return
                }
                let delay = until.timeIntervalSince(clock)
                let full = min(100, 10 * pow(2, Double(attempt - 1)))
                #expect(delay >= full * 0.5 && delay <= full)
                #expect(m.state.name == "retry_wait" && m.state.attempts == attempt)
                #expect(try m.retryDue(now: until.addingTimeInterval(-1)) == .wait(until: until))
                #expect(try m.retryDue(now: until) == .runDryRun)
                #expect(m.state == .pending(attempts: attempt))
                clock = until
            } else {
                #expect(action == .finished(.failed, failure))
                #expect(m.state == .failed(attempts: 3, failure: failure, exhausted: true))
            }
        }
    }

    @Test func retryAfterIsHonoured() throws {
        var rng = SeededGenerator(seed: 4)
        var m = machine()
        _ = try m.dryRunPassed()
        _ = try m.sendStarting()
        let action = try m.sendFailed(DeliveryFailure(.rateLimited(retryAfter: 500), detail: "429"), now: now, using: &rng)
        #expect(action == .wait(until: now.addingTimeInterval(500)))
        #expect(m.state.lastFailure?.kind == .rateLimited(retryAfter: 500))
    }

    @Test func unknownOutcomeToNonDeduplicatingReceiverIsUncertainNeverResent() throws {
        var rng = SeededGenerator(seed: 5)
        var m = machine(dedup: false)
        _ = try m.dryRunPassed()
        _ = try m.sendStarting()
        let failure = DeliveryFailure(.unknownOutcome, detail: "timeout after 10 s")
        #expect(try m.sendFailed(failure, now: now, using: &rng) == .finished(.uncertain, failure))
        #expect(m.state == .uncertain(attempts: 1, failure: failure))
        #expect(m.state.humanDescription.contains("not resent"))
        #expect(throws: BridgebackError.self) { try m.sendStarting() }
        #expect(throws: BridgebackError.self) { try m.retryDue(now: now.addingTimeInterval(1e6)) }
    }

    @Test func unknownOutcomeToDeduplicatingReceiverRetriesWithTheSameID() throws {
        var rng = SeededGenerator(seed: 6)
        var m = machine(dedup: true)
        _ = try m.dryRunPassed()
        _ = try m.sendStarting()
        guard case .wait(let until) = try m.sendFailed(DeliveryFailure(.unknownOutcome), now: now, using: &rng) else {
            Issue.record("expected a retry")
            return
        }
        _ = try m.retryDue(now: until)
        _ = try m.dryRunPassed()
        #expect(try m.sendStarting() == .send(id, attempt: 2))
    }

    @Test func unknownOutcomeExhaustedIsUncertainNotFailed() throws {
        var rng = SeededGenerator(seed: 7)
        var m = DeliveryStateMachine(
            deliveryID: id, receiverDeduplicates: true, retryPolicy: RetryPolicy(maxAttempts: 1, baseDelay: 1, maxDelay: 1, jitter: 0))
        _ = try m.dryRunPassed()
        _ = try m.sendStarting()
        #expect(
            try m.sendFailed(DeliveryFailure(.unknownOutcome), now: now, using: &rng)
                == .finished(.uncertain, DeliveryFailure(.unknownOutcome)))
    }

    @Test func dryRunRetryableFailureWaitsAndUnknownCountsAsTransport() throws {
        var rng = SeededGenerator(seed: 8)
        var m = machine(dedup: false)
        let action = try m.dryRunFailed(DeliveryFailure(.unknownOutcome, detail: "dns"), now: now, using: &rng)
        guard case .wait = action else {
            Issue.record("expected wait, got \(action)")
            return
        }
        #expect(m.state.lastFailure?.kind == .transport)
        #expect(m.state.attempts == 1)
    }

    @Test func restartInTheMiddleOfASend() throws {
        var rng = SeededGenerator(seed: 9)
        var noDedup = DeliveryStateMachine(
            restoring: .sending(attempt: 1), deliveryID: id, receiverDeduplicates: false, retryPolicy: policy)
        guard case .finished(.uncertain, _) = noDedup.resume(now: now, using: &rng) else {
            Issue.record("expected uncertain")
            return
        }
        var dedup = DeliveryStateMachine(restoring: .sending(attempt: 1), deliveryID: id, receiverDeduplicates: true, retryPolicy: policy)
        guard case .wait = dedup.resume(now: now, using: &rng) else {
            Issue.record("expected retry")
            return
        }
        var ok = DeliveryStateMachine(restoring: .dryRunOK(attempts: 0), deliveryID: id, receiverDeduplicates: true)
        #expect(ok.resume(now: now, using: &rng) == .beginSend)
        let due = now.addingTimeInterval(5)
        var waiting = DeliveryStateMachine(
            restoring: .retryWait(attempts: 1, nextAttemptAt: due, lastFailure: DeliveryFailure(.transport)), deliveryID: id,
            receiverDeduplicates: true)
        #expect(waiting.resume(now: now, using: &rng) == .wait(until: due))
        #expect(waiting.resume(now: due, using: &rng) == .runDryRun)
        var done = DeliveryStateMachine(restoring: .delivered(attempts: 1, at: now), deliveryID: id, receiverDeduplicates: true)
        #expect(done.resume(now: now, using: &rng) == .finished(.delivered, nil))
    }

    /// Every event in every state it does not accept throws and leaves the state unchanged.
    @Test func invalidTransitionsThrowAndChangeNothing() throws {
        let failure = DeliveryFailure(.transport)
        let states: [DeliveryState] = [
            .pending(attempts: 0), .dryRunOK(attempts: 0), .sending(attempt: 1),
            .retryWait(attempts: 1, nextAttemptAt: now, lastFailure: failure), .delivered(attempts: 1, at: now),
            .failed(attempts: 1, failure: failure, exhausted: false), .uncertain(attempts: 1, failure: DeliveryFailure(.unknownOutcome)),
        ]
        let allowed: [String: Set<String>] = [
            "pending": ["dryRunPassed", "dryRunFailed"], "dry_run_ok": ["sendStarting"],
            "sending": ["sendSucceeded", "sendFailed"], "retry_wait": ["retryDue"],
        ]
        for state in states {
            for event in ["dryRunPassed", "dryRunFailed", "sendStarting", "sendSucceeded", "sendFailed", "retryDue"] {
                var m = DeliveryStateMachine(restoring: state, deliveryID: id, receiverDeduplicates: true, retryPolicy: policy)
                var rng = SeededGenerator(seed: 10)
                let result: Result<DeliveryStateMachine.Action, BridgebackError>
                switch event {
                case "dryRunPassed": result = Result { () throws(BridgebackError) in try m.dryRunPassed() }
                case "dryRunFailed": result = Result { () throws(BridgebackError) in try m.dryRunFailed(failure, now: now, using: &rng) }
                case "sendStarting": result = Result { () throws(BridgebackError) in try m.sendStarting() }
                case "sendSucceeded": result = Result { () throws(BridgebackError) in try m.sendSucceeded(at: now) }
                case "sendFailed": result = Result { () throws(BridgebackError) in try m.sendFailed(failure, now: now, using: &rng) }
                default: result = Result { () throws(BridgebackError) in try m.retryDue(now: now) }
                }
                let shouldWork = allowed[state.name]?.contains(event) ?? false
                switch result {
                case .success: #expect(shouldWork, "\(event) in \(state.name) should throw")
                case .failure(let error):
                    #expect(!shouldWork, "\(event) in \(state.name) should work")
                    #expect(error.code == .invalidTransition)
                    #expect(error.message.contains(state.name))
                    #expect(m.state == state)
                }
            }
        }
    }

    @Test func statesRoundTripThroughJSON() throws {
        let states: [DeliveryState] = [
            .pending(attempts: 2), .dryRunOK(attempts: 1), .sending(attempt: 3),
            .retryWait(attempts: 1, nextAttemptAt: now, lastFailure: DeliveryFailure(.rateLimited(retryAfter: 3), detail: "429")),
            .delivered(attempts: 1, at: now), .failed(attempts: 4, failure: DeliveryFailure(.transport), exhausted: true),
            .uncertain(attempts: 1, failure: DeliveryFailure(.unknownOutcome)),
        ]
        for state in states {
            let data = try JSONEncoder().encode(state)
            #expect(try JSONDecoder().decode(DeliveryState.self, from: data) == state)
            #expect(!state.humanDescription.isEmpty)
        }
    }

    @Test func retryPolicyDefaultsSpreadOverHours() {
        let policy = RetryPolicy.standard
        let total = (1..<policy.maxAttempts).map { policy.delay(afterAttempt: $0, retryAfter: nil, random: 0) }.reduce(0, +)
        #expect(total > 2 * 3600)
        #expect(policy.delay(afterAttempt: 30, retryAfter: nil, random: 0) == 3600)
        #expect(policy.delay(afterAttempt: 1, retryAfter: 7200, random: 0.9) == 7200)
        #expect(policy.delay(afterAttempt: 1, retryAfter: nil, random: 0.999) >= 2.5)
    }
}
