import BridgebackCore
import BridgebackLedger
import Foundation

/// JSON forms of the domain values the ledger keeps in TEXT columns (`LedgerJSON`, owned by the
/// `BridgebackLedger` target), with the coordinator's error for a row that does not decode.
enum LedgerCoding {
    static func encode(_ value: some Encodable) throws -> String {
        // A parked ending is written by hand (the same bytes, `LedgerDecisionJSONTests`): under a
        // flood many completions park (3 to 490 of 501 in the fifteenth session's runs), and
        // `JSONEncoder` cost each ~65,000 instructions more.
        if let ending = value as? StoredEnding, let bytes = ending.handWrittenJSON() {
            return String(decoding: bytes, as: UTF8.self)
        }
        return try LedgerJSON.encode(value)
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String, jobID: String) throws -> T {
        // A parked ending is read in one pass when it has the shape `encode` writes (the same
        // value as `JSONDecoder`'s, `LedgerDecisionJSONTests`); anything else goes to `JSONDecoder`.
        if T.self == StoredEnding.self, let ending = StoredEnding.handRead(text) as? T {
            return ending
        }
        do {
            return try LedgerJSON.decode(T.self, from: text)
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

    /// The ending as `encode` wrote it, read without `JSONDecoder`; nil when only it may answer.
    static func handRead(_ text: String) -> StoredEnding? {
        var text = text
        guard let fields = text.withUTF8({ LedgerEndingFields.handRead($0) }) else { return nil }
        return StoredEnding(type: fields.type, completion: fields.completion, alternates: fields.alternates, reason: fields.reason)
    }

    private init(type: String, completion: Completion?, alternates: [Completion]?, reason: String?) {
        self.type = type
        self.completion = completion
        self.alternates = alternates
        self.reason = reason
    }

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

    /// `{"alternates":[…],"completion":…,"reason":…,"type":…}` (keys sorted, nil ones left out,
    /// the completions' dates in milliseconds), as `JSONEncoder` writes it; nil when only
    /// `JSONEncoder` may answer.
    func handWrittenJSON() -> [UInt8]? {
        var w = WireJSONWriter(capacity: 1024)
        w.raw("{")
        var first = true
        func key(_ name: StaticString) {
            if !first { w.raw(",") }
            first = false
            w.raw(name)
        }
        if let alternates {
            key("\"alternates\":[")
            for (index, alternate) in alternates.enumerated() {
                if index > 0 { w.raw(",") }
                alternate.write(to: &w, ledger: true)
            }
            w.raw("]")
        }
        if let completion {
            key("\"completion\":")
            completion.write(to: &w, ledger: true)
        }
        if let reason {
            key("\"reason\":")
            w.string(reason)
        }
        key("\"type\":")
        w.string(type)
        w.raw("}")
        return w.ok ? w.bytes : nil
    }

    func ending(jobID: String) throws -> JobLifecycle.Ending {
        switch (type, completion, reason) {
        case ("completion", let completion?, _): return .completion(completion, alternates: alternates ?? [])
        case ("dead_lettered", _, let reason?): return .deadLettered(reason: reason)
        default: throw CoordinatorError(.ledgerCorrupt, "stored ending of type '\(type)' lacks its data", jobID: jobID)
        }
    }
}

extension Date {
    /// Seconds since 1970, the REAL form of every ledger timestamp.
    var ledgerValue: Double { timeIntervalSince1970 }

    init(ledgerValue: Double) { self.init(timeIntervalSince1970: ledgerValue) }
}
