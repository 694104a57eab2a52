import BridgebackPolicy
import Foundation
import Testing

/// The shipped engine, built once for all tests.
let defaultEngine: PolicyEngine = {
    do {
        return try PolicyEngine.bundledDefault()
    } catch {
        fatalError("the shipped default policy does not load: \(error)")
    }
}()

func decide(_ text: String, _ hints: AdmissionHints? = nil) -> AdmissionDecision {
    defaultEngine.decide(AdmissionRequest(text: text, hints: hints))
}

/// Finds `admission-corpus.jsonl`: `$BRIDGEBACK_SHARED_DATA` first (a directory or the file),
/// then `shared/data/` beside this file's ancestors (the repo at /work/main, shared at
/// /work/shared; CI clones elsewhere with shared/ beside the clone), then the snapshot
/// checked in at `Tests/Fixtures/` for machines that have no shared/ directory at all.
func locateCorpus(filePath: String = #filePath) -> URL? {
    let fm = FileManager.default
    if let env = ProcessInfo.processInfo.environment["BRIDGEBACK_SHARED_DATA"], !env.isEmpty {
        let url = URL(fileURLWithPath: env)
        let file = url.pathExtension == "jsonl" ? url : url.appendingPathComponent("admission-corpus.jsonl")
        if fm.fileExists(atPath: file.path) { return file }
    }
    var dir = URL(fileURLWithPath: filePath).deletingLastPathComponent()
    while dir.path != "/" {
        let candidate = dir.appendingPathComponent("shared/data/admission-corpus.jsonl")
        if fm.fileExists(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    let snapshot = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/admission-corpus.jsonl")
    if fm.fileExists(atPath: snapshot.path) { return snapshot }
    return nil
}

/// Loads the labelled corpus, or records a failure saying where it looked.
func loadCorpus() -> [LabelledRequest]? {
    guard let url = locateCorpus() else {
        Issue.record(
            "admission-corpus.jsonl not found: set BRIDGEBACK_SHARED_DATA to the shared/data directory, or place shared/ beside the repository (searched upward from \(#filePath))"
        )
        return nil
    }
    guard let text = try? String(contentsOf: url, encoding: .utf8) else {
        Issue.record("cannot read \(url.path)")
        return nil
    }
    let (requests, errors) = ClassifyLines.labelled(from: text)
    #expect(errors.isEmpty, "corpus has malformed lines: \(errors)")
    return requests
}

/// A small, valid policy for loader tests; tests break one thing at a time.
let minimalPolicyJSON = """
    {
      "version": "test-1",
      "decision": { "threshold": 2.0, "wording_cap": 6.0, "confidence_scale": 1.5 },
      "macros": { "clause": "(?:^|[.!?;:,]\\\\s+)" },
      "triggers": [ { "class": "verification" }, { "class": "wait" } ],
      "families": [
        {
          "name": "verify_request",
          "label": "check-and-prove request",
          "pull": "detach",
          "trigger": "verification",
          "cues": [
            { "id": "verify-verb", "pattern": "{{clause}}verify\\\\b", "weight": 2.0 }
          ]
        },
        {
          "name": "question",
          "label": "question form",
          "pull": "inline",
          "cues": [
            { "id": "wh-start", "pattern": "^(?:what|how)\\\\b", "weight": 3.0 }
          ]
        }
      ],
      "hints": {
        "expected_wait_s": { "detach_at": 120, "inline_at": 20, "weight": 8.0, "trigger": "wait" }
      }
    }
    """

func parsePolicy(_ json: String) throws(PolicyError) -> PolicyDocument {
    try PolicyDocument.parse(Data(json.utf8))
}

/// Replaces exactly one occurrence, so a test fails loudly if the fixture drifts.
func replacingOnce(_ s: String, _ target: String, _ replacement: String) -> String {
    let parts = s.components(separatedBy: target)
    precondition(parts.count == 2, "fixture must contain '\(target)' exactly once")
    return parts.joined(separator: replacement)
}
