import Foundation
import Testing
import BridgebackCore

@Suite struct JobLifecycleTests {
    let now = Fixtures.now

    func deliveries(_ actions: [JobLifecycle.Action]) -> Int {
        actions.filter { if case .deliverFinal = $0 { true } else { false } }.count
    }

    @Test func contractThenCompletion() throws {
        let contract = try Fixtures.contract()
        var job = JobLifecycle(jobID: Fixtures.jobID)
        #expect(try job.contractReceived(contract) == .none)
        #expect(job.state.name == "awaiting_completion")
        let action = try job.completionReceived(Fixtures.completion(), now: now)
        guard case .deliverFinal(let to, let decision) = action else {
            Issue.record("expected deliverFinal")
            return
        }
        #expect(to.finalSurface == "cli:alice")
        #expect(decision.kind == .result && decision.text == "all green")
        #expect(try job.deliveryFinished() == .none)
        #expect(job.state.name == "finished")
    }

    @Test func cancelWhileRunningDecidesOneCancelledNoticeAndLaterCompletionsAreDuplicates() throws {
        let contract = try Fixtures.contract()
        var job = JobLifecycle(jobID: Fixtures.jobID)
        _ = try job.contractReceived(contract)
        let notice = CancelNotice(jobID: Fixtures.jobID, requestedBy: "alice", requestedAt: now, reason: "not needed")
        guard case .deliverFinal(let to, let decision) = job.cancelRequested(notice) else {
            Issue.record("expected deliverFinal")
            return
        }
        #expect(to == contract)
        #expect(decision.kind == .cancelled && decision.completion == nil)
        #expect(decision.text == "The job was cancelled by alice at \(WireDate.format(now)) (not needed).")
        #expect(job.state.name == "delivering")
        // The stopped run reports cancelled; a run that raced the cancel reports a result: neither is delivered.
        #expect(try job.completionReceived(Fixtures.completion(.cancelled), now: now) == .acknowledgeDuplicate(count: 1))
        #expect(try job.completionReceived(Fixtures.completion(), now: now) == .acknowledgeDuplicate(count: 2))
        #expect(job.cancelRequested(notice) == .refuseCancel(.alreadyEnded(.cancelled)))
        _ = try job.deliveryFinished()
        #expect(job.cancelRequested(notice) == .refuseCancel(.alreadyEnded(.cancelled)))
        #expect(job.sweep(now: now.addingTimeInterval(1e7), grace: 0) == .none, "a cancelled job is never also lost")
    }

    @Test func aFinishedOrUnknownJobCannotBeCancelled() throws {
        let notice = CancelNotice(jobID: Fixtures.jobID, requestedBy: "alice", requestedAt: now)
        var unknown = JobLifecycle(jobID: Fixtures.jobID)
        #expect(unknown.cancelRequested(notice) == .refuseCancel(.contractUnknown))
        #expect(unknown.state == .awaitingContract)
        var parked = JobLifecycle(jobID: Fixtures.jobID)
        _ = try parked.completionReceived(Fixtures.completion(), now: now)
        let before = parked.state
        #expect(parked.cancelRequested(notice) == .refuseCancel(.contractUnknown))
        #expect(parked.state == before)
        var done = JobLifecycle(jobID: Fixtures.jobID)
        _ = try done.contractReceived(try Fixtures.contract())
        _ = try done.completionReceived(Fixtures.completion(.failed(reason: "exit 1")), now: now)
        #expect(done.cancelRequested(notice) == .refuseCancel(.alreadyEnded(.failure)))
        _ = try done.deliveryFinished()
        #expect(done.cancelRequested(notice) == .refuseCancel(.alreadyEnded(.failure)))
        if case .finished(_, let decision, _) = done.state { #expect(decision.kind == .failure) } else { Issue.record("state changed") }
        var lost = JobLifecycle(jobID: Fixtures.jobID)
        let contract = try Fixtures.contract()
        _ = try lost.contractReceived(contract)
        _ = lost.sweep(now: contract.deadline.addingTimeInterval(10), grace: 1)
        #expect(lost.cancelRequested(notice) == .refuseCancel(.alreadyEnded(.lost)))
    }

    @Test func cancelRequestsSurviveTheLedgerRoundTrip() throws {
        let notice = CancelNotice(jobID: Fixtures.jobID, requestedBy: "alice", requestedAt: now, reason: "x")
        let data = try WireCodec.encode(notice)
        #expect(try WireCodec.decode(CancelNotice.self, from: data) == notice)
        guard case .cancel(let decoded) = try WireCodec.decodeAny(from: data) else {
            Issue.record("decodeAny did not see a cancel")
            return
        }
        #expect(decoded == notice)
        #expect(String(decoding: data, as: UTF8.self).contains("\"schema\":\"bridgeback.cancel.v1\""))
    }

    @Test func completionParkedUntilContract() throws {
        var job = JobLifecycle(jobID: Fixtures.jobID)
        #expect(try job.completionReceived(Fixtures.completion(.failed(reason: "exit 2")), now: now) == .parked)
        #expect(job.state.name == "completion_parked")
        #expect(
            try job.completionReceived(Fixtures.completion(.failed(reason: "exit 2"), worker: "w2"), now: now)
                == .acknowledgeDuplicate(count: 1))
        guard case .deliverFinal(_, let decision) = try job.contractReceived(try Fixtures.contract()) else {
            Issue.record("expected deliverFinal")
            return
        }
        #expect(decision.kind == .failure && decision.text == "exit 2")
        #expect(job.duplicates == 1)
    }

    @Test func duplicatesAreCountedNeverRedelivered() throws {
        var job = JobLifecycle(jobID: Fixtures.jobID)
        var actions = [try job.contractReceived(try Fixtures.contract())]
        for _ in 0..<5 { actions.append(try job.completionReceived(Fixtures.completion(), now: now)) }
        actions.append(job.deadLettered(reason: "x-delivery-limit", now: now))
        _ = try job.deliveryFinished()
        actions.append(try job.completionReceived(Fixtures.completion(), now: now))
        #expect(deliveries(actions) == 1)
        #expect(job.duplicates == 6)
        #expect(actions.last == .acknowledgeDuplicate(count: 6))
    }

    @Test func deadlinePlusGraceIsLostAndALateCompletionIsNotDelivered() throws {
        let contract = try Fixtures.contract()
        var job = JobLifecycle(jobID: Fixtures.jobID)
        _ = try job.contractReceived(contract)
        #expect(job.sweep(now: contract.deadline.addingTimeInterval(59), grace: 60) == .none)
        guard case .deliverFinal(_, let decision) = job.sweep(now: contract.deadline.addingTimeInterval(60), grace: 60) else {
            Issue.record("expected lost")
            return
        }
        #expect(decision.kind == .lost)
        #expect(job.sweep(now: contract.deadline.addingTimeInterval(600), grace: 60) == .none)
        #expect(try job.completionReceived(Fixtures.completion(), now: now) == .acknowledgeDuplicate(count: 1))
    }

    @Test func deadLetterBecomesOneFailure() throws {
        var job = JobLifecycle(jobID: Fixtures.jobID)
        _ = try job.contractReceived(try Fixtures.contract())
        guard case .deliverFinal(_, let decision) = job.deadLettered(reason: "delivery limit 5 reached", now: now) else {
            Issue.record("expected failure")
            return
        }
        #expect(decision.kind == .failure && decision.text.contains("delivery limit 5"))
        var early = JobLifecycle(jobID: Fixtures.jobID)
        #expect(early.deadLettered(reason: "limit", now: now) == .parked)
        guard case .deliverFinal(_, let parked) = try early.contractReceived(try Fixtures.contract()) else {
            Issue.record("expected failure")
            return
        }
        #expect(parked.kind == .failure)
    }

    @Test func cancelledOutcome() throws {
        var job = JobLifecycle(jobID: Fixtures.jobID)
        _ = try job.contractReceived(try Fixtures.contract())
        guard case .deliverFinal(_, let decision) = try job.completionReceived(Fixtures.completion(.cancelled), now: now) else {
            Issue.record("expected cancelled")
            return
        }
        #expect(decision.kind == .cancelled)
    }

    @Test func duplicateContractIgnoredConflictingContractRejected() throws {
        let contract = try Fixtures.contract()
        var job = JobLifecycle(jobID: Fixtures.jobID)
        _ = try job.contractReceived(contract)
        #expect(try job.contractReceived(contract) == .none)
        var other = contract
        other.finalSurface = "hooks:local"
        do {
            _ = try job.contractReceived(other)
            Issue.record("expected conflict")
        } catch {
            #expect(error.code == .conflictingContract)
        }
        #expect(job.state == .awaitingCompletion(contract))
    }

    @Test func orphanedParkedCompletionIsReported() throws {
        var job = JobLifecycle(jobID: Fixtures.jobID)
        _ = try job.completionReceived(Fixtures.completion(), now: now)
        #expect(job.sweep(now: now.addingTimeInterval(10), grace: 60, orphanAfter: 100) == .none)
        #expect(job.sweep(now: now.addingTimeInterval(100), grace: 60, orphanAfter: 100) == .reportOrphan(parkedSince: now))
    }

    @Test func invalidTransitions() throws {
        var fresh = JobLifecycle(jobID: Fixtures.jobID)
        #expect(throws: BridgebackError.self) { try fresh.deliveryFinished() }
        #expect(fresh.sweep(now: now.addingTimeInterval(1e9), grace: 0) == .none)
        var waiting = JobLifecycle(jobID: Fixtures.jobID)
        _ = try waiting.contractReceived(try Fixtures.contract())
        #expect(throws: BridgebackError.self) { try waiting.deliveryFinished() }
        _ = try waiting.completionReceived(Fixtures.completion(), now: now)
        _ = try waiting.deliveryFinished()
        #expect(throws: BridgebackError.self) { try waiting.deliveryFinished() }
        var generator = SeededGenerator(seed: 99)
        let otherJob = JobID.make(at: now, using: &generator)
        var job = JobLifecycle(jobID: otherJob)
        #expect(throws: BridgebackError.self) { try job.completionReceived(Fixtures.completion(), now: now) }
        #expect(throws: BridgebackError.self) { try job.contractReceived(try Fixtures.contract()) }
    }

    /// Random interleavings of at-least-once inputs always give exactly one final notice.
    @Test(arguments: 0..<50)
    func exactlyOneFinalNoticeUnderAnyOrder(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let contract = try Fixtures.contract()
        var events: [Int] = Array(repeating: 0, count: Int.random(in: 1...3, using: &rng))  // contracts
        events += Array(repeating: 1, count: Int.random(in: 0...4, using: &rng))  // completions
        events += Array(repeating: 2, count: Int.random(in: 0...1, using: &rng))  // dead letters
        events += Array(repeating: 3, count: Int.random(in: 0...3, using: &rng))  // sweeps
        events += Array(repeating: 4, count: Int.random(in: 0...2, using: &rng))  // cancel requests
        events.shuffle(using: &rng)
        var job = JobLifecycle(jobID: Fixtures.jobID)
        var actions: [JobLifecycle.Action] = []
        for event in events {
            switch event {
            case 0: actions.append(try job.contractReceived(contract))
            case 1: actions.append(try job.completionReceived(Fixtures.completion(), now: now))
            case 2: actions.append(job.deadLettered(reason: "limit", now: now))
            case 4: actions.append(job.cancelRequested(CancelNotice(jobID: Fixtures.jobID, requestedBy: "alice", requestedAt: now)))
            default: actions.append(job.sweep(now: contract.deadline.addingTimeInterval(3600), grace: 60))
            }
        }
        actions.append(job.sweep(now: contract.deadline.addingTimeInterval(7200), grace: 60))
        #expect(deliveries(actions) == 1)
    }
}
