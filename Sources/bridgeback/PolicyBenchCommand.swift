import ArgumentParser
import BridgebackBench
import Foundation

/// `bridgeback bench policy`: flags for ``PolicyBench`` (BridgebackBench), which does the work.
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
        do throws(BenchError) {
            try PolicyBench(corpus: corpus, count: count, policy: policy, environment: ProcessInfo.processInfo.environment).run()
        } catch {
            throw Self.fail(error.message)
        }
    }

    /// Reports a runtime failure on stderr; exit status 2 (no usage text: the syntax was fine).
    private static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("bridgeback bench policy: \(message)\n".utf8))
        return ExitCode(2)
    }
}
