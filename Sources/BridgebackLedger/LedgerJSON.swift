package import BridgebackCore
import Foundation

/// The JSON forms of the domain values the ledger keeps in TEXT columns, written by the
/// coordinator and read by `LedgerReader`: one definition, so the two cannot drift apart.
///
/// Dates as milliseconds since 1970 (lossless enough, cheap to compare); keys sorted so a
/// row reads the same every time it is written.
package enum LedgerJSON {
    package static func encode(_ value: some Encodable) throws -> String {
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

    package var decision: JobLifecycle.FinalDecision {
        JobLifecycle.FinalDecision(kind: kind, text: text, completion: completion)
    }
}
