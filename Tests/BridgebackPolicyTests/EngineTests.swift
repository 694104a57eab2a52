import BridgebackPolicy
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// CPU time consumed by the calling thread.
func threadCPUTime() -> Duration {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return .seconds(Int64(ts.tv_sec)) + .nanoseconds(Int64(ts.tv_nsec))
}

@Suite("Engine behaviour")
struct EngineTests {
    @Test("structured hints outweigh wording, both ways")
    func hintsOutweighWording() {
        let question = "What does a canary release mean?"
        let long = decide(question, AdmissionHints(expectedWaitSeconds: 1800))
        #expect(long.decision == .detach, "\(long.reason)")
        #expect(long.triggers.contains(.wait))
        #expect(long.reason.contains("expected_wait_s=1800"))

        let work = "Verify the backups on all 30 servers, then watch replication for the next hour."
        #expect(decide(work).decision == .detach)
        let quick = decide(work, AdmissionHints(expectedWaitSeconds: 5))
        #expect(quick.decision == .inline, "\(quick.reason)")

        #expect(decide("Summarize these.", AdmissionHints(sources: 6)).decision == .detach)
        #expect(decide("Do it.", AdmissionHints(steps: 7)).decision == .detach)
        #expect(decide("Do it.", AdmissionHints(tools: 5)).decision == .detach)
        // Hints in the neutral band say nothing; wording decides.
        #expect(decide("What is DNS?", AdmissionHints(expectedWaitSeconds: 60)).decision == .inline)
    }

    @Test("force is honoured and reported, with what the policy alone said")
    func forceHonoured() {
        let text = "Audit all the cron jobs on the build hosts."
        let natural = decide(text)
        #expect(natural.decision == .detach && !natural.forced)

        let forced = decide(text, AdmissionHints(force: .inline))
        #expect(forced.decision == .inline)
        #expect(forced.policyDecision == .detach)
        #expect(forced.forced)
        #expect(forced.confidence == 1)
        #expect(forced.reason.hasPrefix("Forced inline"))
        #expect(forced.reason.contains("overriding"))

        let up = decide("What time is it?", AdmissionHints(expectedWaitSeconds: 5, force: .detach))
        #expect(up.decision == .detach && up.policyDecision == .inline && up.forced)
    }

    @Test("every decision has a one-sentence reason naming its cues")
    func reasonsNameCues() throws {
        let texts = [
            "Validate that last night's schema migration ran correctly on every shard.",
            "What does a canary release mean?", "Open the settings page for me.", "",
            "Tail the deploy logs until the rollout completes.", "hi",
        ]
        for text in texts {
            let d = decide(text)
            #expect(!d.reason.isEmpty)
            #expect(d.reason.hasSuffix("."))
            #expect(d.reason.contains("threshold"))
            #expect(d.policyVersion == defaultEngine.policy.version)
            for cue in d.cues.prefix(2) where cue.family != "hints" {
                #expect(d.reason.contains("\"\(cue.text)\""), "reason '\(d.reason)' should name \(cue.text)")
            }
            if d.cues.isEmpty { #expect(d.reason.contains("no cue")) }
        }
        let d = decide("Validate that last night's schema migration ran correctly on every shard.")
        #expect(d.reason.hasPrefix("Detach:"))
        #expect(d.reason.contains("\"every shard\""))
        #expect(d.triggers == [.verification])
    }

    @Test("decisions are deterministic and confidence stays in 0.5...1")
    func deterministic() {
        let text = "Collect disk usage from all 30 servers and tell me which ones are above 80 percent."
        let a = decide(text)
        let b = decide(text)
        #expect(a == b)
        for t in [text, "What is 2+2?", "Wait for the build to finish.", "Verify it."] {
            let c = decide(t).confidence
            #expect(c >= 0.5 && c <= 1)
        }
    }

    @Test("inline cues that win still report the trigger classes that matched")
    func trapsKeepTriggersForTheAudit() {
        let d = decide("Explain what a security sweep usually covers.")
        #expect(d.decision == .inline)
        #expect(d.triggers.contains(.maintenance))
        #expect(d.reason.contains("outweigh"))
    }

    @Test("typographic quotes and whitespace are normalised")
    func normalisation() {
        let curly = decide("What\u{2019}s a canary\n   release?")
        let plain = decide("What's a canary release?")
        #expect(curly.decision == plain.decision)
        #expect(curly.score == plain.score)
    }

    @Test("engine is Sendable and usable from concurrent tasks")
    func concurrentUse() async {
        let engine = defaultEngine
        let results = await withTaskGroup(of: Decision.self) { group in
            for i in 0..<32 {
                group.addTask {
                    engine.decide(AdmissionRequest(text: i.isMultiple(of: 2) ? "Audit all hosts." : "What is DNS?")).decision
                }
            }
            var out: [Decision] = []
            for await d in group { out.append(d) }
            return out
        }
        #expect(results.filter { $0 == .detach }.count == 16)
    }

    @Test("one decision takes well under a millisecond (a guard; bench policy measures)")
    func speed() {
        let requests = (0..<40).map {
            AdmissionRequest(text: "Go through last month's incident reports, the on-call logs and the postmortems and draft report \($0).")
        }
        // Thread CPU time, best of 5: other tests and builds share the cores, and wall
        // time on a loaded machine says more about the machine than about the engine.
        var best = Duration.seconds(60)
        for _ in 0..<5 {
            let start = threadCPUTime()
            for r in requests { _ = defaultEngine.decide(r) }
            best = min(best, threadCPUTime() - start)
        }
        let perRequest = best / requests.count
        #if DEBUG
            // Unoptimised builds run the engine's Swift code several times slower.
            let limit = Duration.milliseconds(5)
        #else
            let limit = Duration.milliseconds(1)
        #endif
        #expect(perRequest < limit, "mean \(perRequest) per request")
    }

    @Test("anchored cues match at clause starts only, and never across two clause heads")
    func anchoredCues() throws {
        var policy = try parsePolicy(minimalPolicyJSON)
        // Matches "x, a b a" only: in the joined clause heads ("x, a b\na b") a naive scan
        // would run from the first head into the second; the engine must not.
        policy.families[0].cues.append(.init(id: "cross", pattern: "{{clause}}x,\\s+a\\s+b\\s+a", weight: 5))
        let engine = try PolicyEngine(policy: policy)
        #expect(engine.decide(AdmissionRequest(text: "x, a b")).cues.allSatisfy { $0.cue != "cross" })
        #expect(engine.decide(AdmissionRequest(text: "x, a b a")).cues.contains { $0.cue == "cross" })
        // "verify" counts at a clause start, not mid-clause.
        #expect(engine.decide(AdmissionRequest(text: "Please note: verify it.")).decision == .detach)
        #expect(engine.decide(AdmissionRequest(text: "I did not verify it")).decision == .inline)
    }

    @Test("keyword baseline is the naive yardstick the issue describes")
    func baseline() {
        let b = KeywordBaseline()
        #expect(b.decide("What does a canary release mean?") == .detach)  // the failure it illustrates
        #expect(b.decide("Make sure nothing broke after the deploy.") == .detach)
        #expect(b.decide("Thanks!") == .inline)
    }
}
