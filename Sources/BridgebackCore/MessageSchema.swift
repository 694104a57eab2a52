/// The `schema` tag every wire message carries: `bridgeback.<kind>.v<version>`.
///
/// Decoders look at it before anything else, so a message from a newer (or foreign)
/// producer is rejected with a reason instead of being half-read.
public struct MessageSchema: Sendable, Hashable, CustomStringConvertible {
    /// The message families; each has its own version line.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case contract, job, progress, completion, receipt, final, cancel

        /// Versions this build reads. Bump when a field is removed, renamed or changes meaning.
        public var supportedVersions: ClosedRange<Int> { 1...1 }
    }

    public let kind: Kind
    public let version: Int

    public init(_ kind: Kind, version: Int) {
        self.kind = kind
        self.version = version
    }

    /// The tag. Version 1's are literals: every message written carries one, and building it from
    /// its parts was two or three allocations per message in every process (#12).
    public var description: String {
        guard version == 1 else { return "bridgeback.\(kind.rawValue).v\(version)" }
        switch kind {
        case .contract: return "bridgeback.contract.v1"
        case .job: return "bridgeback.job.v1"
        case .progress: return "bridgeback.progress.v1"
        case .completion: return "bridgeback.completion.v1"
        case .receipt: return "bridgeback.receipt.v1"
        case .final: return "bridgeback.final.v1"
        case .cancel: return "bridgeback.cancel.v1"
        }
    }

    /// Parses and checks a tag; throws `unknownSchema` or `unsupportedSchemaVersion`.
    public init(parsing text: String) throws(BridgebackError) {
        let pieces = text.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count == 3, pieces[0] == "bridgeback", let kind = Kind(rawValue: String(pieces[1])) else {
            let known = Kind.allCases.map { "bridgeback.\($0.rawValue).v1" }.joined(separator: ", ")
            throw BridgebackError(.unknownSchema, "schema '\(text)' is not a Bridgeback message; expected one of \(known)", schema: text)
        }
        guard pieces[2].first == "v", let version = Int(pieces[2].dropFirst()), version >= 1 else {
            throw BridgebackError(
                .unknownSchema, "schema '\(text)' has no version; expected bridgeback.\(kind.rawValue).v<N>", schema: text)
        }
        guard kind.supportedVersions.contains(version) else {
            throw BridgebackError(
                .unsupportedSchemaVersion,
                "schema '\(text)' is version \(version); this build reads \(kind.rawValue) versions \(kind.supportedVersions.lowerBound)-\(kind.supportedVersions.upperBound); upgrade this process or downgrade the producer",
                schema: text
            )
        }
        self.init(kind, version: version)
    }
}

/// A Codable message that travels with a `schema` field.
public protocol WireMessage: Codable, Sendable {
    /// The schema this type encodes (the newest version it knows).
    static var schema: MessageSchema { get }
}
