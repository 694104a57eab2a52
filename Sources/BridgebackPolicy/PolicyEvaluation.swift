/// A request with the decision a person says it should get (a row of a labelled corpus).
public struct LabelledRequest: Sendable, Hashable {
    public var id: String
    public var request: AdmissionRequest
    public var expected: Decision
    /// The corpus `shape` (`verification`, …, `small_direct`, `trap`), if given.
    public var shape: String?

    public init(id: String, request: AdmissionRequest, expected: Decision, shape: String? = nil) {
        self.id = id
        self.request = request
        self.expected = expected
        self.shape = shape
    }
}

/// Scores a policy on labelled requests, so a candidate policy can be compared before it
/// is installed.
public struct PolicyEvaluation: Sendable {
    public struct Row: Sendable {
        public var labelled: LabelledRequest
        public var result: AdmissionDecision
        public var isCorrect: Bool { result.decision == labelled.expected }
    }

    public let policyVersion: String
    public let rows: [Row]

    public init(engine: PolicyEngine, requests: [LabelledRequest]) {
        self.policyVersion = engine.policy.version
        self.rows = requests.map { Row(labelled: $0, result: engine.decide($0.request)) }
    }

    /// Share of rows decided as labelled.
    public var accuracy: Double {
        rows.isEmpty ? 0 : Double(rows.filter(\.isCorrect).count) / Double(rows.count)
    }

    /// Of the rows that should detach, the share that did (misses are work kept inline).
    /// Nil when no row expects detach.
    public var detachRecall: Double? {
        let expected = rows.filter { $0.labelled.expected == .detach }
        guard !expected.isEmpty else { return nil }
        return Double(expected.filter(\.isCorrect).count) / Double(expected.count)
    }

    /// Of the rows decided inline, the share that should be (misses are work kept inline).
    /// Nil when nothing was decided inline.
    public var inlinePrecision: Double? {
        let decided = rows.filter { $0.result.decision == .inline }
        guard !decided.isEmpty else { return nil }
        return Double(decided.filter(\.isCorrect).count) / Double(decided.count)
    }

    public var misclassified: [Row] { rows.filter { !$0.isCorrect } }

    /// Rows whose shape is `trap`: questions about long work that must stay inline.
    public var traps: [Row] { rows.filter { $0.labelled.shape == "trap" } }
    public var trapsInline: Int { traps.filter { $0.result.decision == .inline }.count }

    /// Correct/total per shape, in first-seen order.
    public var byShape: [(shape: String, correct: Int, total: Int)] {
        var order: [String] = []
        var counts: [String: (Int, Int)] = [:]
        for row in rows {
            let shape = row.labelled.shape ?? "-"
            if counts[shape] == nil { order.append(shape) }
            let (c, t) = counts[shape] ?? (0, 0)
            counts[shape] = (c + (row.isCorrect ? 1 : 0), t + 1)
        }
        return order.map { ($0, counts[$0]!.0, counts[$0]!.1) }
    }

    /// The plain-text report `bridgeback classify --eval` prints.
    public func report() -> String {
        func pct(_ x: Double?) -> String {
            guard let x else { return "n/a" }
            return String(Double(Int((x * 1000).rounded())) / 1000)
        }
        var lines: [String] = []
        let correct = rows.filter(\.isCorrect).count
        lines.append("policy \(policyVersion): \(rows.count) labelled requests")
        lines.append("accuracy          \(pct(accuracy))  (\(correct)/\(rows.count))")
        lines.append("detach recall     \(pct(detachRecall))")
        lines.append("inline precision  \(pct(inlinePrecision))")
        if !traps.isEmpty {
            lines.append("traps inline      \(trapsInline)/\(traps.count)")
        }
        if byShape.count > 1 {
            lines.append("by shape:")
            for s in byShape {
                lines.append("  \(s.shape.padding(toLength: 14, withPad: " ", startingAt: 0)) \(s.correct)/\(s.total)")
            }
        }
        let missed = misclassified
        lines.append("misclassified: \(missed.count)")
        for row in missed {
            lines.append(
                "  \(row.labelled.id) [\(row.labelled.shape ?? "-")] expected \(row.labelled.expected.rawValue), got \(row.result.decision.rawValue): \(row.labelled.request.text)"
            )
            lines.append("    \(row.result.reason)")
        }
        return lines.joined(separator: "\n")
    }
}
