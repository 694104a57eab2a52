import BridgebackCore
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
        // Read through the schema layer (strict JSON: duplicate keys refused; unknown keys refused
        // naming their full path); the rules between fields follow.
        let bytes = Array(data)
        let root: JSONValue
        do { root = try StrictJSON.parse(bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes) } catch {
            throw fail("not valid JSON (\(error.message)); see docs/security.md for the format")
        }
        let file: PrincipalsFile
        do { file = try read(root) } catch { throw fail(error.message) }
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

    /// The file's shape, fail-fast: the first problem names its full path (`principals[1].tokens[0].sha256`).
    static func read(_ root: JSONValue) throws(SchemaProblem) -> PrincipalsFile {
        let reader = SchemaReader(mode: .failFast, rootName: "the principals file")
        // Fail-fast: a required value that reads as nil has already thrown.
        guard
            let top = try reader.object(
                root, at: "", known: ["schema", "principals"], expected: "a JSON object with \"schema\" and \"principals\"")
        else { throw reader.lastProblem(at: "") }
        guard let schema = try top.string("schema", required: true, expected: "\"\(Self.schema)\"") else {
            throw reader.lastProblem(at: "schema")
        }
        var file = PrincipalsFile()
        file.schema = schema
        for (path, item) in try top.array("principals", required: true, expected: "an array of principals") ?? [] {
            guard let entry = try reader.object(item, at: path, known: Entry.keys.sorted()) else { throw reader.lastProblem(at: path) }
            guard let name = try entry.string("name", required: true, expected: "a principal name") else {
                throw reader.lastProblem(at: entry.path("name"))
            }
            func patterns(_ key: String) throws(SchemaProblem) -> [ScopePattern] {
                var out: [ScopePattern] = []
                for (at, value) in try entry.array(key, expected: "an array of scope patterns such as \"cli:alice\"") ?? [] {
                    guard let text = try reader.string(value, at: at, required: true, expected: "a scope pattern") else { continue }
                    do { out.append(try ScopePattern(validating: text)) } catch {
                        try reader.refuse(at, "is not a scope pattern: \(error.message)")
                    }
                }
                return out
            }
            var tokens: [TokenEntry] = []
            for (at, value) in try entry.array("tokens", expected: "an array of token objects") ?? [] {
                guard let token = try reader.object(value, at: at, known: TokenEntry.keys.sorted()),
                    let id = try token.string("id", required: true, expected: "a token id"),
                    let sha256 = try token.string("sha256", required: true, expected: "64 lowercase hex digits")
                else { throw reader.lastProblem(at: at) }
                tokens.append(
                    TokenEntry(id: id, sha256: sha256, createdAt: try token.string("created_at"), note: try token.string("note")))
            }
            file.principals.append(
                Entry(
                    name: name, origins: try patterns("origins"), surfaces: try patterns("surfaces"), parents: try patterns("parents"),
                    isOperator: try entry.bool("operator") ?? false, tokens: tokens, note: try entry.string("note")))
        }
        return file
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
