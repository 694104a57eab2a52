import ArgumentParser
import BridgebackPolicy
import Foundation

/// `bridgeback bench policy`: admission decisions per second, against a keyword baseline.
struct PolicyBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Benchmark the admission policy engine on the labelled corpus.",
        discussion: """
            Repeats the corpus to --count requests, times the policy engine
            (the byte engine admission uses, and the ICU engine it replaced,
            after checking both decide every row the same) and a naive
            keyword baseline in the same run, and prints
            requests/s, mean µs per request and each classifier's accuracy
            on the corpus. Build with -c release for meaningful figures.

            Example:
              bridgeback bench policy --count 100000 \\
                --corpus ../shared/data/admission-corpus.jsonl
            """
    )

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Labelled JSON-lines corpus. Default: $BRIDGEBACK_SHARED_DATA/admission-corpus.jsonl, then ../shared/data/admission-corpus.jsonl relative to the working directory.",
            valueName: "file"))
    var corpus: String?

    @Option(name: .long, help: "How many requests to classify.")
    var count: Int = 100_000

    @Option(name: .long, help: ArgumentHelp("Policy file to benchmark instead of the default.", valueName: "file"))
    var policy: String?

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive") }
    }

    func run() throws {
        let path = try corpusPath()
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Self.fail("cannot read corpus \(path)")
        }
        let (labelled, errors) = ClassifyLines.labelled(from: text)
        guard errors.isEmpty, !labelled.isEmpty else {
            throw Self.fail(
                "corpus \(path) is not a clean labelled file: \(errors.first.map(String.init(describing:)) ?? "no rows")")
        }
        let engine: PolicyEngine
        do {
            engine =
                try policy.map { try PolicyEngine(policy: PolicyDocument.load(from: URL(fileURLWithPath: $0))) }
                ?? PolicyEngine.bundledDefault()
        } catch {
            throw Self.fail("policy rejected: \(error)")
        }
        let requests = labelled.map(\.request)
        let baseline = KeywordBaseline()

        // Same decisions and reasons from both engines, or the figures compare different work.
        let differing = requests.filter { engine.decide($0) != engine.decideWithICU($0) }
        guard differing.isEmpty else {
            throw Self.fail("the byte engine and the ICU engine disagree on \(differing.count) request(s), e.g. \(differing[0].text)")
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

    private func corpusPath() throws -> String {
        if let corpus { return corpus }
        var candidates: [String] = []
        if let shared = ProcessInfo.processInfo.environment["BRIDGEBACK_SHARED_DATA"] {
            candidates.append(shared.hasSuffix(".jsonl") ? shared : shared + "/admission-corpus.jsonl")
        }
        candidates.append("../shared/data/admission-corpus.jsonl")
        for c in candidates where FileManager.default.fileExists(atPath: c) { return c }
        throw Self.fail(
            "no corpus found (looked at \(candidates.joined(separator: ", ")) from \(FileManager.default.currentDirectoryPath)); pass --corpus FILE"
        )
    }

    /// Reports a runtime failure on stderr; exit status 2 (no usage text: the syntax was fine).
    private static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("bridgeback bench policy: \(message)\n".utf8))
        return ExitCode(2)
    }
}

extension String {
    fileprivate func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
