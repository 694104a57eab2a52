import Foundation

/// The JSON-lines protocol of `bridgeback classify`, kept here so it is unit-testable and
/// the CLI stays a thin loop over stdin.
///
/// Input: `{"id","text","hints"?}` (plus `expected`, `shape` in labelled files).
/// Output: `{"id","decision","triggers","cues","confidence","reason","policy_version",…}`.
public enum ClassifyLines {
    /// A line that could not be used, with its 1-based number and why.
    public struct LineError: Error, Sendable, Hashable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public init(line: Int, reason: String) {
            self.line = line
            self.reason = reason
        }
        public var description: String { "line \(line): \(reason)" }
    }

    /// One parsed input line.
    public struct Input: Sendable, Hashable {
        public var id: String
        public var request: AdmissionRequest
        public var expected: Decision?
        public var shape: String?
    }

    /// Parses one line. Returns nil for a blank line.
    public static func parse(_ line: String, number: Int) -> Result<Input, LineError>? {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return nil }
        guard let data = trimmed.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data),
            let dict = object as? [String: Any]
        else {
            return .failure(LineError(line: number, reason: "not a JSON object"))
        }
        let id: String
        switch dict["id"] {
        case let s as String: id = s
        case let n as NSNumber where n.doubleValue == n.doubleValue.rounded() && abs(n.doubleValue) < 1e15:
            id = String(Int64(n.doubleValue))
        case nil: return .failure(LineError(line: number, reason: "missing \"id\""))
        default: return .failure(LineError(line: number, reason: "\"id\" must be a string or an integer"))
        }
        guard let text = dict["text"] as? String else {
            return .failure(LineError(line: number, reason: "missing or non-string \"text\" (id \(id))"))
        }
        var hints: AdmissionHints?
        if let raw = dict["hints"], !(raw is NSNull) {
            guard let h = raw as? [String: Any] else {
                return .failure(LineError(line: number, reason: "\"hints\" must be an object (id \(id))"))
            }
            switch parseHints(h) {
            case .success(let parsed): hints = parsed
            case .failure(let reason): return .failure(LineError(line: number, reason: "\(reason) (id \(id))"))
            }
        }
        var expected: Decision?
        if let raw = dict["expected"] {
            guard let s = raw as? String, let d = Decision(rawValue: s) else {
                return .failure(LineError(line: number, reason: "\"expected\" must be \"inline\" or \"detach\" (id \(id))"))
            }
            expected = d
        }
        return .success(
            Input(
                id: id, request: AdmissionRequest(text: text, hints: hints), expected: expected,
                shape: dict["shape"] as? String))
    }

    static func parseHints(_ h: [String: Any]) -> Result<AdmissionHints, LineErrorReason> {
        var hints = AdmissionHints()
        let known = AdmissionHints.CodingKeys.allCases.map(\.rawValue)
        for key in h.keys.sorted() where !known.contains(key) {
            return .failure(LineErrorReason("unknown hint \"\(key)\"; known hints: \(known.joined(separator: ", "))"))
        }
        func number(_ key: String) -> Result<Double?, LineErrorReason> {
            guard let raw = h[key], !(raw is NSNull) else { return .success(nil) }
            guard let n = raw as? NSNumber, !(raw is Bool), n.doubleValue.isFinite, n.doubleValue >= 0 else {
                return .failure(LineErrorReason("hint \"\(key)\" must be a non-negative number"))
            }
            return .success(n.doubleValue)
        }
        switch number("expected_wait_s") {
        case .success(let v): hints.expectedWaitSeconds = v
        case .failure(let e): return .failure(e)
        }
        for key in ["sources", "steps", "tools"] {
            switch number(key) {
            case .success(let v):
                let i = v.map { Int($0.rounded()) }
                if key == "sources" { hints.sources = i } else if key == "steps" { hints.steps = i } else { hints.tools = i }
            case .failure(let e): return .failure(e)
            }
        }
        if let raw = h["force"], !(raw is NSNull) {
            guard let s = raw as? String, let d = Decision(rawValue: s) else {
                return .failure(LineErrorReason("hint \"force\" must be \"inline\" or \"detach\""))
            }
            hints.force = d
        }
        return .success(hints)
    }

    struct LineErrorReason: Error, Sendable, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The output line for a decision, keys in a fixed, readable order.
    public static func render(id: String, _ d: AdmissionDecision) -> String {
        var w = OrderedJSON()
        w.field("id", .string(id))
        w.field("decision", .string(d.decision.rawValue))
        w.field("triggers", .raw("[" + d.triggers.map { OrderedJSON.quote($0.rawValue) }.joined(separator: ",") + "]"))
        let cues = d.cues.map { c -> String in
            var o = OrderedJSON()
            o.field("family", .string(c.family))
            o.field("cue", .string(c.cue))
            if let t = c.trigger { o.field("trigger", .string(t.rawValue)) }
            o.field("pull", .string(c.pull.rawValue))
            o.field("weight", .number(c.weight))
            o.field("text", .string(c.text))
            return o.finish()
        }
        w.field("cues", .raw("[" + cues.joined(separator: ",") + "]"))
        w.field("confidence", .number(d.confidence))
        w.field("reason", .string(d.reason))
        w.field("policy_version", .string(d.policyVersion))
        w.field("forced", .raw(d.forced ? "true" : "false"))
        w.field("score", .number(d.score))
        return w.finish()
    }

    /// Reads a labelled JSON-lines file; rows without `expected` are errors.
    public static func labelled(from text: String) -> (requests: [LabelledRequest], errors: [LineError]) {
        var requests: [LabelledRequest] = []
        var errors: [LineError] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            switch parse(String(line), number: i + 1) {
            case nil: continue
            case .failure(let e): errors.append(e)
            case .success(let input):
                guard let expected = input.expected else {
                    errors.append(LineError(line: i + 1, reason: "missing \"expected\" (id \(input.id)); an eval file needs labels"))
                    continue
                }
                requests.append(
                    LabelledRequest(id: input.id, request: input.request, expected: expected, shape: input.shape))
            }
        }
        return (requests, errors)
    }
}

/// A tiny JSON object writer that keeps key order (JSONEncoder on Linux does not).
struct OrderedJSON {
    enum Value {
        case string(String)
        case number(Double)
        case raw(String)
    }
    private var parts: [String] = []

    mutating func field(_ key: String, _ value: Value) {
        let rendered: String
        switch value {
        case .string(let s): rendered = Self.quote(s)
        case .number(let x):
            rendered = x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(PolicyEngine.round(x, 3))
        case .raw(let r): rendered = r
        }
        parts.append(Self.quote(key) + ":" + rendered)
    }

    func finish() -> String { "{" + parts.joined(separator: ",") + "}" }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
