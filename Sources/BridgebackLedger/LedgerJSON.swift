package import BridgebackCore
import Foundation

/// The JSON forms of the domain values the ledger keeps in TEXT columns, written by the
/// coordinator and read by `LedgerReader`: one definition, so the two cannot drift apart.
///
/// Dates as milliseconds since 1970 (lossless enough, cheap to compare); keys sorted so a
/// row reads the same every time it is written.
package enum LedgerJSON {
    package static func encode(_ value: some Encodable) throws -> String {
        // A job's decision is written by hand (the same bytes, `HandWrittenWireTests`).
        if let decision = value as? StoredDecision, let bytes = decision.handWrittenJSON() {
            return String(decoding: bytes, as: UTF8.self)
        }
        // So is a part's state on the way to `delivered` (the states that record a failure are rare).
        if let state = value as? DeliveryState, let bytes = state.handWrittenLedgerJSON() {
            return String(decoding: bytes, as: UTF8.self)
        }
        return try foundationEncode(value)
    }

    /// `encode` through `JSONEncoder` only (tests compare it with the hand-written form).
    package static func foundationEncode(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    package static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decoder.decode(T.self, from: Data(text.utf8))
    }

    /// One of each, configured once (like `WireCodec`'s): a coder per call was set up again for
    /// every part state and decision the coordinator writes. Both are `Sendable` and reentrant;
    /// their options never change after this.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }()
}

/// The final decision (kind, text, completion behind it) as stored with the job (`jobs.decision_json`).
package struct StoredDecision: Codable {
    package var kind: FinalNoticeKind
    package var text: String
    package var completion: Completion?

    package init(_ decision: JobLifecycle.FinalDecision) {
        kind = decision.kind
        text = decision.text
        completion = decision.completion
    }

    /// `{"completion":…,"kind":…,"text":…}` with the completion's dates in milliseconds, as
    /// `JSONEncoder` writes it; nil when only `JSONEncoder` may answer.
    package func handWrittenJSON() -> [UInt8]? {
        var w = WireJSONWriter(capacity: 512 + text.utf8.count * 2)
        w.raw("{")
        if let completion {
            w.raw("\"completion\":")
            completion.write(to: &w, ledger: true)
            w.raw(",")
        }
        w.raw("\"kind\":")
        w.plainString(kind.rawValue)
        w.raw(",\"text\":")
        w.string(text)
        w.raw("}")
        return w.ok ? w.bytes : nil
    }

    package var decision: JobLifecycle.FinalDecision {
        JobLifecycle.FinalDecision(kind: kind, text: text, completion: completion)
    }
}

extension DeliveryState {
    /// `{"attempts":…,"state":…}` (and `delivered_at` in milliseconds) as `JSONEncoder` writes it;
    /// nil for the states that carry a failure, which `JSONEncoder` still writes.
    package func handWrittenLedgerJSON() -> [UInt8]? {
        var w = WireJSONWriter(capacity: 96)
        w.raw("{\"attempts\":")
        w.int(attempts)
        switch self {
        case .pending, .dryRunOK, .sending: break
        case .delivered(_, let at):
            w.raw(",\"delivered_at\":")
            w.ledgerDate(at)
        case .retryWait, .failed, .uncertain: return nil
        }
        w.raw(",\"state\":")
        w.plainString(name)
        w.raw("}")
        return w.ok ? w.bytes : nil
    }
}
