import ArgumentParser
import BridgebackPolicy
import Foundation

/// `bridgeback classify`: the admission policy over JSON lines, and its scorer.
struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Decide inline or detach for JSON-lines requests, or score a policy on a labelled file.",
        discussion: """
            Input, one JSON object per line on standard input:
              {"id":"r1","text":"Verify the backups on all 30 servers"}
              {"id":"r2","text":"What is a canary?","hints":{"expected_wait_s":5}}
            Hints (all optional): expected_wait_s, sources, steps, tools,
            force ("inline" or "detach"; honoured and reported as "forced").

            Output, one JSON object per line on standard output, with the keys
            id, decision, triggers, cues, confidence, reason, policy_version,
            forced and score.

            A malformed input line is reported on standard error with its line
            number and skipped; the exit status is then 1. A policy file that
            does not validate exits 2 with file:line:column and the reason.

            Examples:
              echo '{"id":"1","text":"What does a canary release mean?"}' \\
                | bridgeback classify
              bridgeback classify --policy candidate.json \\
                --eval ../shared/data/admission-corpus.jsonl --min-accuracy 0.95
            """
    )

    @Option(name: .long, help: ArgumentHelp("Use this policy file instead of the shipped default.", valueName: "file"))
    var policy: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Score a labelled JSON-lines file (each line has \"expected\": \"inline\"|\"detach\") and print accuracy, detach recall, inline precision and the misclassified rows.",
            valueName: "file"))
    var eval: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "With --eval: exit 1 if accuracy is below this or any \"trap\" row detaches.",
            valueName: "fraction"))
    var minAccuracy: Double?

    func run() throws {
        let engine: PolicyEngine
        do {
            if let policy {
                engine = try PolicyEngine(
                    policy: PolicyDocument.load(from: URL(fileURLWithPath: policy)))
            } else {
                engine = try PolicyEngine.bundledDefault()
            }
        } catch {
            Self.stderr("bridgeback classify: policy rejected: \(error)")
            throw ExitCode(2)
        }

        if let eval {
            try runEval(engine: engine, path: eval)
        } else {
            try runStream(engine: engine)
        }
    }

    private func runStream(engine: PolicyEngine) throws {
        var number = 0
        var bad = 0
        while let line = readLine(strippingNewline: true) {
            number += 1
            switch ClassifyLines.parse(line, number: number) {
            case nil:
                continue
            case .failure(let error):
                bad += 1
                Self.stderr("bridgeback classify: \(error); skipped")
            case .success(let input):
                print(ClassifyLines.render(id: input.id, engine.decide(input.request)))
            }
        }
        if bad > 0 {
            Self.stderr("bridgeback classify: \(bad) of \(number) lines skipped")
            throw ExitCode(1)
        }
    }

    private func runEval(engine: PolicyEngine, path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            Self.stderr("bridgeback classify: cannot read eval file \(path)")
            throw ExitCode(2)
        }
        let (requests, errors) = ClassifyLines.labelled(from: text)
        for error in errors { Self.stderr("bridgeback classify: \(path): \(error); skipped") }
        guard !requests.isEmpty else {
            Self.stderr("bridgeback classify: \(path) has no labelled rows")
            throw ExitCode(2)
        }
        let evaluation = PolicyEvaluation(engine: engine, requests: requests)
        print(evaluation.report())
        var failed = !errors.isEmpty
        if let minAccuracy {
            if evaluation.accuracy < minAccuracy {
                Self.stderr("bridgeback classify: accuracy \(evaluation.accuracy) is below \(minAccuracy)")
                failed = true
            }
            if evaluation.trapsInline < evaluation.traps.count {
                Self.stderr("bridgeback classify: \(evaluation.traps.count - evaluation.trapsInline) trap rows detached")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }

    static func stderr(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
