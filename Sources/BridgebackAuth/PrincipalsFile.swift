public import Foundation

/// The principals file (`--principals FILE`, env `BRIDGEBACK_PRINCIPALS`): who may call the
/// admission API and the coordinator's status API, and with what scope.
///
/// ```json
/// {
///   "schema": "bridgeback.principals.v1",
///   "principals": [
///     {"name": "alice", "origins": ["cli:alice"], "surfaces": ["cli:alice", "work:alice"],
///      "parents": ["alice"], "operator": false,
///      "tokens": [{"id": "tok_1a2b3c4d", "sha256": "<64 hex>", "created_at": "2026-12-06T00:00:00Z"}]}
///   ]
/// }
/// ```
///
/// Only SHA-256 hashes of tokens are stored; a principal may hold several tokens (rotation:
/// add the new one, switch clients, remove the old one). Unknown keys are refused, so a typo
/// (`"operators"`) fails at start instead of silently granting or denying.
public struct PrincipalsFile: Sendable, Hashable, Codable {
    public static let schema = "bridgeback.principals.v1"

    public var schema: String
    public var principals: [Entry]

    public init(principals: [Entry] = []) {
        self.schema = Self.schema
        self.principals = principals
    }

    /// One principal as written in the file.
    public struct Entry: Sendable, Hashable, Codable {
        public var name: String
        public var origins: [ScopePattern]
        public var surfaces: [ScopePattern]
        public var parents: [ScopePattern]
        public var isOperator: Bool
        public var tokens: [TokenEntry]
        /// Free text for people ("Alice's laptop assistant").
        public var note: String?

        public init(
            name: String, origins: [ScopePattern], surfaces: [ScopePattern], parents: [ScopePattern], isOperator: Bool = false,
            tokens: [TokenEntry] = [], note: String? = nil
        ) {
            self.name = name
            self.origins = origins
            self.surfaces = surfaces
            self.parents = parents
            self.isOperator = isOperator
            self.tokens = tokens
            self.note = note
        }

        enum CodingKeys: String, CodingKey {
            case name, origins, surfaces, parents, isOperator = "operator", tokens, note
        }

        static let keys: Set<String> = ["name", "origins", "surfaces", "parents", "operator", "tokens", "note"]

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            origins = try c.decodeIfPresent([ScopePattern].self, forKey: .origins) ?? []
            surfaces = try c.decodeIfPresent([ScopePattern].self, forKey: .surfaces) ?? []
            parents = try c.decodeIfPresent([ScopePattern].self, forKey: .parents) ?? []
            isOperator = try c.decodeIfPresent(Bool.self, forKey: .isOperator) ?? false
            tokens = try c.decodeIfPresent([TokenEntry].self, forKey: .tokens) ?? []
            note = try c.decodeIfPresent(String.self, forKey: .note)
        }

        /// The runtime identity of this entry.
        public var principal: Principal {
            Principal(name: name, origins: origins, surfaces: surfaces, parents: parents, isOperator: isOperator)
        }
    }

    /// One token of a principal: its hash, and an id that logs and `principals revoke` use.
    public struct TokenEntry: Sendable, Hashable, Codable {
        public var id: String
        /// Lowercase hex SHA-256 of the token (`BearerToken.sha256Hex`).
        public var sha256: String
        public var createdAt: String?
        public var note: String?

        public init(id: String, sha256: String, createdAt: String? = nil, note: String? = nil) {
            self.id = id
            self.sha256 = sha256
            self.createdAt = createdAt
            self.note = note
        }

        enum CodingKeys: String, CodingKey { case id, sha256, createdAt = "created_at", note }
        static let keys: Set<String> = ["id", "sha256", "created_at", "note"]
    }

    // MARK: Loading

    /// Parses and validates a principals file; every problem is named with the principal concerned.
    public static func parse(_ data: Data, source: String = "the principals file") throws(AuthError) -> PrincipalsFile {
        func fail(_ message: String) -> AuthError { AuthError(.invalidPrincipals, "\(source): \(message)") }
        guard let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw fail("not a JSON object; see docs/security.md for the format")
        }
        for key in top.keys.sorted() where !["schema", "principals"].contains(key) {
            throw fail("unknown key '\(key)' at the top level (known: schema, principals)")
        }
        for (index, item) in ((top["principals"] as? [Any]) ?? []).enumerated() {
            guard let object = item as? [String: Any] else { throw fail("principals[\(index)] is not an object") }
            for key in object.keys.sorted() where !Entry.keys.contains(key) {
                throw fail("unknown key '\(key)' in principals[\(index)] (known: \(Entry.keys.sorted().joined(separator: ", ")))")
            }
            for (t, token) in ((object["tokens"] as? [Any]) ?? []).enumerated() {
                guard let tokenObject = token as? [String: Any] else { throw fail("principals[\(index)].tokens[\(t)] is not an object") }
                for key in tokenObject.keys.sorted() where !TokenEntry.keys.contains(key) {
                    throw fail("unknown key '\(key)' in principals[\(index)].tokens[\(t)] (known: id, sha256, created_at, note)")
                }
            }
        }
        let file: PrincipalsFile
        do { file = try JSONDecoder().decode(PrincipalsFile.self, from: data) } catch {
            throw fail("\(describe(error))")
        }
        guard file.schema == schema else { throw fail("schema is '\(file.schema)'; expected '\(schema)'") }
        var names: Set<String> = []
        var hashes: [String: String] = [:]
        var tokenIDs: Set<String> = []
        for entry in file.principals {
            guard isValidName(entry.name) else {
                throw fail("principal name '\(entry.name.prefix(80))' must be 1-64 characters from a-z, 0-9, . _ @ -")
            }
            guard names.insert(entry.name).inserted else { throw fail("principal '\(entry.name)' appears twice") }
            for token in entry.tokens {
                guard token.sha256.utf8.count == 64, BearerToken.unhex(token.sha256) != nil else {
                    throw fail(
                        "principal '\(entry.name)': token '\(token.id)' sha256 must be 64 lowercase hex digits (bridgeback principals add writes it)"
                    )
                }
                guard !token.id.isEmpty, tokenIDs.insert(token.id).inserted else {
                    throw fail("principal '\(entry.name)': token id '\(token.id)' is empty or used twice")
                }
                if let other = hashes[token.sha256] {
                    throw fail("principals '\(other)' and '\(entry.name)' hold the same token; give each its own")
                }
                hashes[token.sha256] = entry.name
            }
        }
        return file
    }

    /// Reads and validates `url`.
    public static func load(contentsOf url: URL) throws(AuthError) -> PrincipalsFile {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw AuthError(
                .invalidPrincipals,
                "cannot read the principals file \(url.path): \(error.localizedDescription); create one with 'bridgeback principals add'")
        }
        return try parse(data, source: url.path)
    }

    /// Writes the file atomically, readable by its owner only (it names who may do what).
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(self)
        try data.write(to: url, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
    }

    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy {
                switch $0 {
                case "a"..."z", "0"..."9", ".", "_", "@", "-": true
                default: false
                }
            }
    }

    private static func describe(_ error: any Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch decoding {
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        case .keyNotFound(let key, let context): return "\(path(context)): missing '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

extension PrincipalsFile.TokenEntry: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The id and dates; the hash shows as `<redacted>` (a hash of a 256-bit token is not a way
    /// in, but it identifies the token and has no business in a log).
    public var description: String {
        "TokenEntry(id: \(id), sha256: <redacted>, created_at: \(createdAt ?? "nil"))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["description": description], displayStyle: .struct) }
}
