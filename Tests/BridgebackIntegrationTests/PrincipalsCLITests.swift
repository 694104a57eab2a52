import Foundation
import Testing

/// `bridgeback principals add|rotate|revoke|list` as an operator runs them (docs/security.md,
/// "Token rotation"): the token is printed once, the file holds only its SHA-256, a rotation
/// adds a second token, a revocation removes exactly the one named, and `list` shows token ids,
/// never a token or a hash.
@Suite("Principals CLI: add, rotate, revoke, list")
struct PrincipalsCLITests {
    static func run(_ arguments: [String], in directory: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Fleet.binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["BRIDGEBACK_PRINCIPALS"] = nil
        process.environment = environment
        process.currentDirectoryURL = directory
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    static func tokens(_ file: URL, of name: String) throws -> [[String: Any]] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
        let principals = object?["principals"] as? [[String: Any]] ?? []
        return principals.first { $0["name"] as? String == name }?["tokens"] as? [[String: Any]] ?? []
    }

    @Test("add prints the token once and stores its hash; rotate adds one; revoke removes the old one; list shows ids only")
    func rotation() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bb-principals-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("principals.json")

        let added = try Self.run(
            [
                "principals", "add", "--file", file.path, "--name", "alice", "--origins", "cli:alice", "--surfaces", "cli:alice,work:alice",
                "--parents", "alice",
            ], in: directory)
        #expect(added.status == 0, "\(added.stderr)")
        let first = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(first.hasPrefix("bbt_") && first.count > 40, "the token is printed: \(added.stdout)")
        let stored = try String(contentsOf: file, encoding: .utf8)
        #expect(!stored.contains(first), "the file never holds the token")
        #expect(stored.contains(try Fleet.sha256Hex(first)), "it holds the token's SHA-256")
        let firstID = try #require(try Self.tokens(file, of: "alice").first?["id"] as? String)

        let rotated = try Self.run(["principals", "rotate", "--file", file.path, "--name", "alice"], in: directory)
        #expect(rotated.status == 0, "\(rotated.stderr)")
        let second = rotated.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(second.hasPrefix("bbt_") && second != first)
        #expect(try Self.tokens(file, of: "alice").count == 2, "both tokens work until the old one is revoked")

        let listed = try Self.run(["principals", "list", "--file", file.path], in: directory)
        #expect(listed.status == 0 && listed.stdout.contains(firstID))
        for secret in [first, second, try Fleet.sha256Hex(first), try Fleet.sha256Hex(second)] {
            #expect(!listed.stdout.contains(secret) && !listed.stderr.contains(secret), "list shows ids, never a token or a hash")
            #expect(!rotated.stderr.contains(secret) && !added.stderr.contains(secret))
        }

        let revoked = try Self.run(["principals", "revoke", "--file", file.path, "--name", "alice", "--token-id", firstID], in: directory)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        let left = try Self.tokens(file, of: "alice")
        #expect(left.count == 1 && left.first?["id"] as? String != firstID)
        #expect(left.first?["sha256"] as? String == (try Fleet.sha256Hex(second)), "the new token is the one left")
    }
}
