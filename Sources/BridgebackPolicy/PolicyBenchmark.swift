import Foundation

/// Timing for `bridgeback bench policy`: the engine against a naive keyword baseline,
/// measured in the same run on the same requests.
public enum PolicyBenchmark {
    public struct Measurement: Sendable {
        public var name: String
        public var requests: Int
        public var seconds: Double
        public var requestsPerSecond: Double { seconds > 0 ? Double(requests) / seconds : 0 }
        public var meanMicroseconds: Double { requests > 0 ? seconds * 1e6 / Double(requests) : 0 }
        /// How many came out detach (also keeps the optimiser from dropping the work).
        public var detached: Int
    }

    /// Classifies `count` requests, cycling through `corpus`, and times the whole loop.
    public static func measure(
        name: String, corpus: [AdmissionRequest], count: Int,
        _ classify: (AdmissionRequest) -> Decision
    ) -> Measurement {
        precondition(!corpus.isEmpty, "benchmark corpus is empty")
        // Warm up caches and lazy initialisation outside the timed loop.
        for r in corpus { _ = classify(r) }
        var detached = 0
        let start = threadCPUSeconds()
        var i = 0
        for _ in 0..<count {
            if classify(corpus[i]) == .detach { detached += 1 }
            i += 1
            if i == corpus.count { i = 0 }
        }
        return Measurement(name: name, requests: count, seconds: threadCPUSeconds() - start, detached: detached)
    }

    /// CPU time of the calling thread: on a machine shared with other work, wall-clock time
    /// counts the time other processes held the core; this does not.
    public static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// The slowest single decision over one pass of the corpus, in microseconds.
    public static func slowestMicroseconds(engine: PolicyEngine, corpus: [AdmissionRequest]) -> Double {
        let clock = ContinuousClock()
        var worst = Duration.zero
        for r in corpus {
            let t = clock.measure { _ = engine.decide(r) }
            worst = max(worst, t)
        }
        return Double(worst.components.seconds) * 1e6 + Double(worst.components.attoseconds) / 1e12
    }
}

/// The naive rule the issue warns about: detach when any long-work keyword appears.
///
/// Kept only as a yardstick for benchmarks and evaluations; never used to admit requests.
public struct KeywordBaseline: Sendable {
    public let keywords: [String]

    public init(
        keywords: [String] = [
            "verify", "validate", "confirm", "prove", "check", "audit", "sweep", "scan", "backup",
            "back up", "health", "cron", "rotate", "review", "release", "canary", "rollout",
            "roll back", "rollback", "deploy", "preflight", "checklist", "migration", "wait",
            "until", "watch", "monitor", "poll", "report", "compile", "collect", "security",
        ]
    ) {
        self.keywords = keywords
    }

    public func decide(_ text: String) -> Decision {
        let lower = text.lowercased()
        return keywords.contains { lower.contains($0) } ? .detach : .inline
    }
}
