import BridgebackPolicy
import Foundation

/// Admission decisions per second against a keyword baseline (`bridgeback bench policy`): the
/// corpus repeated to `count` requests, the byte engine admission uses and the ICU engine it
/// replaced (checked to decide every row the same first), and a naive keyword baseline, in the
/// same run. Writes its report to standard output.
public struct PolicyBench: Sendable {
    /// The labelled JSON-lines corpus; nil: `$BRIDGEBACK_SHARED_DATA/admission-corpus.jsonl`,
    /// then ../shared/data/admission-corpus.jsonl relative to the working directory.
    public var corpus: String?
    /// How many requests to classify.
    public var count: Int
    /// A policy file to benchmark instead of the bundled default.
    public var policy: String?
    /// Where `BRIDGEBACK_SHARED_DATA` is read from.
    public var environment: [String: String]

    public init(corpus: String?, count: Int, policy: String?, environment: [String: String]) {
        self.corpus = corpus
        self.count = count
        self.policy = policy
        self.environment = environment
    }

    /// Checks that both engines agree, times them and the baseline, prints the figures.
    public func run() throws(BenchError) {
        let path = try corpusPath()
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw BenchError(.input, "cannot read corpus \(path)")
        }
        let (labelled, errors) = ClassifyLines.labelled(from: text)
        guard errors.isEmpty, !labelled.isEmpty else {
            throw BenchError(
                .input,
                "corpus \(path) is not a clean labelled file: \(errors.first.map(String.init(describing:)) ?? "no rows")")
        }
        let engine: PolicyEngine
        do {
            engine =
                try policy.map { try PolicyEngine(policy: PolicyDocument.load(from: URL(fileURLWithPath: $0))) }
                ?? PolicyEngine.bundledDefault()
        } catch {
            throw BenchError(.input, "policy rejected: \(error)")
        }
        let requests = labelled.map(\.request)
        let baseline = KeywordBaseline()

        // Same decisions and reasons from both engines, or the figures compare different work.
        let differing = requests.filter { engine.decide($0) != engine.decideWithICU($0) }
        guard differing.isEmpty else {
            throw BenchError(
                .run, "the byte engine and the ICU engine disagree on \(differing.count) request(s), e.g. \(differing[0].text)")
        }
        let engineRun = PolicyBenchmark.measure(name: "byte engine", corpus: requests, count: count) {
            engine.decide($0).decision
        }
        let icuRun = PolicyBenchmark.measure(name: "ICU engine", corpus: requests, count: count) {
            engine.decideWithICU($0).decision
        }
        let onBytes = requests.filter(engine.takesByteEngine).count
        let baselineRun = PolicyBenchmark.measure(name: "keyword baseline", corpus: requests, count: count) {
            baseline.decide($0.text)
        }
        let slowest = PolicyBenchmark.slowestMicroseconds(engine: engine, corpus: requests)
        let engineAccuracy = PolicyEvaluation(engine: engine, requests: labelled).accuracy
        let baselineAccuracy =
            Double(labelled.filter { baseline.decide($0.request.text) == $0.expected }.count) / Double(labelled.count)

        func f(_ x: Double, _ places: Int) -> String { String(format: "%.\(places)f", x) }
        print("admission policy \(engine.policy.version): \(count) requests (corpus of \(labelled.count) from \(path), repeated)")
        print("classifier          requests/s   mean µs/request   corpus accuracy   (CPU time of one thread)")
        for (run, accuracy) in [(engineRun, engineAccuracy), (icuRun, engineAccuracy), (baselineRun, baselineAccuracy)] {
            print(
                run.name.padding(toLength: 18, withPad: " ", startingAt: 0)
                    + f(run.requestsPerSecond, 0).leftPad(12)
                    + f(run.meanMicroseconds, 2).leftPad(18)
                    + f(accuracy, 3).leftPad(18))
        }
        print(
            "byte engine vs ICU engine: \(f(icuRun.meanMicroseconds / max(engineRun.meanMicroseconds, 1e-9), 2))x faster, identical decisions and reasons on all \(requests.count) corpus rows; \(onBytes) of \(requests.count) rows are ASCII and take the byte engine (the rest run on ICU)"
        )
        print(
            "slowest single policy decision: \(f(slowest, 1)) µs; the byte engine costs \(f(engineRun.meanMicroseconds / max(baselineRun.meanMicroseconds, 1e-9), 1))x the keyword baseline per request"
        )
    }

    private func corpusPath() throws(BenchError) -> String {
        if let corpus { return corpus }
        var candidates: [String] = []
        if let shared = environment["BRIDGEBACK_SHARED_DATA"] {
            candidates.append(shared.hasSuffix(".jsonl") ? shared : shared + "/admission-corpus.jsonl")
        }
        candidates.append("../shared/data/admission-corpus.jsonl")
        for c in candidates where FileManager.default.fileExists(atPath: c) { return c }
        throw BenchError(
            .input,
            "no corpus found (looked at \(candidates.joined(separator: ", ")) from \(FileManager.default.currentDirectoryPath)); pass --corpus FILE"
        )
    }
}

extension String {
    fileprivate func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
