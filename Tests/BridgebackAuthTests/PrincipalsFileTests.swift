import Foundation
import Logging
import Testing

@testable import BridgebackAuth

@Suite("Principals file and tokens")
struct PrincipalsFileTests {
    static func file(_ principals: String) -> Data {
        Data(#"{"schema": "bridgeback.principals.v1", "principals": [\#(principals)]}"#.utf8)
    }

    static let hash = String(repeating: "ab", count: 32)

    @Test("a valid file parses, with defaults for omitted scope lists")
    func parses() throws {
        let parsed = try PrincipalsFile.parse(
            Self.file(
                #"{"name": "alice", "origins": ["cli:alice"], "tokens": [{"id": "tok_1", "sha256": "\#(Self.hash)"}]}, {"name": "ops", "operator": true}"#
            ))
        #expect(parsed.principals.count == 2)
        #expect(parsed.principals[0].surfaces.isEmpty && parsed.principals[0].parents.isEmpty && !parsed.principals[0].isOperator)
        #expect(parsed.principals[1].isOperator && parsed.principals[1].tokens.isEmpty)
    }

    @Test(
        "problems are refused with a message naming them",
        arguments: [
            (#"{"name": "alice", "operators": true}"#, #""principals[0].operators" is not a known field; did you mean "operator"?"#),
            (#"{"name": "Alice!"}"#, "principal name"),
            (#"{"name": "a"}, {"name": "a"}"#, "appears twice"),
            (#"{"name": "a", "tokens": [{"id": "t", "sha256": "xyz"}]}"#, "64 lowercase hex"),
            (
                #"{"name": "a", "tokens": [{"id": "t", "sha256": "\#(hash)"}]}, {"name": "b", "tokens": [{"id": "u", "sha256": "\#(hash)"}]}"#,
                "same token"
            ),
            (#"{"name": "a", "origins": ["has space"]}"#, "printable ASCII"),
            (
                #"{"name": "a", "tokens": [{"id": "t", "sha256": "\#(hash)", "secret": "x"}]}"#,
                #""principals[0].tokens[0].secret" is not a known field"#
            ),
        ])
    func refused(entry: String, expected: String) {
        do {
            _ = try PrincipalsFile.parse(Self.file(entry))
            Issue.record("accepted: \(entry)")
        } catch {
            #expect(error.code == .invalidPrincipals)
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test("a wrong schema and non-JSON are refused")
    func wrongSchema() {
        #expect(throws: AuthError.self) { try PrincipalsFile.parse(Data(#"{"schema": "x", "principals": []}"#.utf8)) }
        #expect(throws: AuthError.self) { try PrincipalsFile.parse(Data("not json".utf8)) }
    }

    @Test("tokens are random, prefixed, and only their SHA-256 is compared")
    func tokens() throws {
        let a = BearerToken.generate()
        let b = BearerToken.generate()
        #expect(a != b)
        #expect(a.hasPrefix("bbt_") && a.count == 4 + 43)
        #expect(BearerToken.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(BearerToken.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!BearerToken.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!BearerToken.constantTimeEqual([1, 2, 3], [1, 2]))

        let entry = PrincipalsFile.TokenEntry(id: "tok_a", sha256: BearerToken.sha256Hex(a))
        let directory = PrincipalDirectory(
            PrincipalsFile(principals: [
                .init(name: "alice", origins: [try ScopePattern(validating: "cli:alice")], surfaces: [], parents: [], tokens: [entry])
            ]))
        #expect(directory.authenticate(token: a)?.principal.name == "alice")
        #expect(directory.authenticate(token: a)?.tokenID == "tok_a")
        #expect(directory.authenticate(token: b) == nil)
        #expect(directory.authenticate(token: "") == nil)
        #expect(directory.authenticate(token: BearerToken.sha256Hex(a)) == nil, "the stored hash is not a token")
    }

    @Test("the directory reloads a changed file; an invalid change keeps the previous principals")
    func reload() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bb-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("principals.json")
        let first = BearerToken.generate()
        let second = BearerToken.generate()
        func write(_ tokens: [String]) throws {
            let entries = tokens.enumerated().map {
                PrincipalsFile.TokenEntry(id: "tok_\($0.offset)", sha256: BearerToken.sha256Hex($0.element))
            }
            try PrincipalsFile(principals: [.init(name: "alice", origins: [], surfaces: [], parents: [], tokens: entries)]).write(to: url)
        }
        try write([first])
        let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let directory = try PrincipalDirectory(file: url, logger: logger)
        #expect(directory.authenticate(token: first) != nil)
        #expect(directory.authenticate(token: second) == nil)

        try write([second])  // rotation done: first revoked, second added
        directory.reloadIfChanged(force: true)
        #expect(directory.authenticate(token: first) == nil)
        #expect(directory.authenticate(token: second) != nil)

        try Data("{ broken".utf8).write(to: url)
        directory.reloadIfChanged(force: true)
        #expect(directory.authenticate(token: second) != nil, "a broken edit must not lock everyone out")
    }

    @Test("--insecure-no-auth only on loopback; a server without principals refuses to start")
    func configuration() throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        for host in ["127.0.0.1", "127.1.2.3", "::1", "localhost", "[::1]"] {
            #expect(HTTPAuth.isLoopback(host), "\(host)")
            let mode = try HTTPAuth.configure(principalsFile: nil, insecureNoAuth: true, host: host, server: "test", logger: logger)
            guard case .insecureNoAuth = mode else { Issue.record("not insecure for \(host)"); continue }
        }
        for host in ["0.0.0.0", "10.0.0.5", "::", "example.com", "128.0.0.1", "127.0.0.1.evil"] {
            #expect(!HTTPAuth.isLoopback(host), "\(host)")
            #expect(throws: AuthError.self) {
                try HTTPAuth.configure(principalsFile: nil, insecureNoAuth: true, host: host, server: "t", logger: logger)
            }
        }
        #expect(throws: AuthError.self) {
            try HTTPAuth.configure(principalsFile: nil, insecureNoAuth: false, host: "127.0.0.1", server: "t", logger: logger)
        }
        #expect(throws: AuthError.self) {
            try HTTPAuth.configure(
                principalsFile: "/nonexistent/principals.json", insecureNoAuth: false, host: "127.0.0.1", server: "t", logger: logger)
        }
    }
}
