import BridgebackCore
import Foundation

/// JSON forms of the domain values the ledger keeps in TEXT columns.
///
/// Dates as milliseconds since 1970 (lossless enough, cheap to compare); keys sorted so a
/// row reads the same every time it is written.
enum LedgerCoding {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String, jobID: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        do {
            return try decoder.decode(T.self, from: Data(text.utf8))
        } catch {
            throw CoordinatorError(.ledgerCorrupt, "a stored \(T.self) does not decode: \(WireCodec.reason(error))", jobID: jobID)
        }
    }
}

/// A parked ending (completion or dead letter) as stored until its contract arrives.
struct StoredEnding: Codable {
    var type: String
    var completion: Completion?
    /// Other parked completions with a different capability (see `JobLifecycle.Ending`).
    var alternates: [Completion]?
    var reason: String?

    init(_ ending: JobLifecycle.Ending) {
        switch ending {
        case .completion(let completion, let alternates):
            type = "completion"
            self.completion = completion
            self.alternates = alternates.isEmpty ? nil : alternates
        case .deadLettered(let reason):
            type = "dead_lettered"
            self.reason = reason
        }
    }

    func ending(jobID: String) throws -> JobLifecycle.Ending {
        switch (type, completion, reason) {
        case ("completion", let completion?, _): return .completion(completion, alternates: alternates ?? [])
        case ("dead_lettered", _, let reason?): return .deadLettered(reason: reason)
        default: throw CoordinatorError(.ledgerCorrupt, "stored ending of type '\(type)' lacks its data", jobID: jobID)
        }
    }
}

/// The final decision (kind, text, completion behind it) as stored with the job.
struct StoredDecision: Codable {
    var kind: FinalNoticeKind
    var text: String
    var completion: Completion?

    init(_ decision: JobLifecycle.FinalDecision) {
        kind = decision.kind
        text = decision.text
        completion = decision.completion
    }

    var decision: JobLifecycle.FinalDecision {
        JobLifecycle.FinalDecision(kind: kind, text: text, completion: completion)
    }
}

extension Date {
    /// Seconds since 1970, the REAL form of every ledger timestamp.
    var ledgerValue: Double { timeIntervalSince1970 }

    init(ledgerValue: Double) { self.init(timeIntervalSince1970: ledgerValue) }
}
