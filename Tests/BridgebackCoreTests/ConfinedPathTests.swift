import BridgebackCore
import Foundation
import Testing

@Suite("Confined paths")
struct ConfinedPathTests {
    /// A scratch tree: root/inside.txt, root/sub/, outside/secret, and symlinks from root to both.
    struct Tree {
        let base: String
        var root: String { base + "/root" }
        var outside: String { base + "/outside" }

        init() throws {
            base = FileManager.default.temporaryDirectory.appendingPathComponent("bb-confined-\(UUID().uuidString.prefix(8))").path
            let manager = FileManager.default
            try manager.createDirectory(atPath: base + "/root/sub", withIntermediateDirectories: true)
            try manager.createDirectory(atPath: base + "/outside", withIntermediateDirectories: true)
            #expect(manager.createFile(atPath: base + "/root/inside.txt", contents: Data("in".utf8)))
            #expect(manager.createFile(atPath: base + "/outside/secret", contents: Data("no".utf8)))
            try manager.createSymbolicLink(atPath: base + "/root/escape", withDestinationPath: base + "/outside")
            try manager.createSymbolicLink(atPath: base + "/root/alias", withDestinationPath: base + "/root/sub")
            try manager.createSymbolicLink(atPath: base + "/root/dangling", withDestinationPath: base + "/outside/not-yet")
        }

        func remove() { try? FileManager.default.removeItem(atPath: base) }
    }

    func refusal(_ path: String, roots: [String]) -> String? {
        do {
            _ = try ConfinedPath.resolve(path, roots: roots)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func pathsInsideTheRootResolve() throws {
        let tree = try Tree()
        defer { tree.remove() }
        let real = try ConfinedPath.resolve(tree.root, roots: [tree.root])
        #expect(try ConfinedPath.resolve(tree.root + "/inside.txt", roots: [tree.root]) == real + "/inside.txt")
        #expect(try ConfinedPath.resolve(tree.root + "//./sub/", roots: [tree.root]) == real + "/sub")
        // Not there yet (a file a wait is waiting for): still confined, still allowed.
        #expect(try ConfinedPath.resolve(tree.root + "/sub/later.log", roots: [tree.root]) == real + "/sub/later.log")
        // A symlink that stays inside resolves to its target.
        #expect(try ConfinedPath.resolve(tree.root + "/alias/x", roots: [tree.root]) == real + "/sub/x")
    }

    @Test func dotDotIsRefusedEvenWhenItWouldStayInside() throws {
        let tree = try Tree()
        defer { tree.remove() }
        #expect(refusal(tree.root + "/sub/../inside.txt", roots: [tree.root])?.contains("must not contain '..'") == true)
        #expect(refusal(tree.root + "/../outside/secret", roots: [tree.root])?.contains("must not contain '..'") == true)
        #expect(throws: ConfinedPath.Refusal.self) { try ConfinedPath.lexical("/tmp/../etc/shadow", roots: ["/tmp"]) }
    }

    @Test func symlinksOutOfTheRootAreRefused() throws {
        let tree = try Tree()
        defer { tree.remove() }
        let message = try #require(refusal(tree.root + "/escape/secret", roots: [tree.root]))
        #expect(message.contains("must be under \(tree.root)"))
        #expect(message.contains("resolves to"))
        #expect(refusal(tree.root + "/dangling", roots: [tree.root])?.contains("symlink whose target does not exist") == true)
        // The same text passes the lexical check admission makes: only the worker can see the link.
        #expect(try ConfinedPath.lexical(tree.root + "/escape/secret", roots: [tree.root]) == tree.root + "/escape/secret")
    }

    @Test func otherPathsAreRefused() {
        #expect(refusal("/etc/shadow", roots: ["/tmp"])?.contains("must be under /tmp") == true)
        #expect(refusal("relative/file", roots: ["/tmp"])?.contains("absolute") == true)
        #expect(refusal("/tmpfoo/x", roots: ["/tmp"]) != nil, "a root matches whole components only")
        #expect(refusal("/tmp/a\0b", roots: ["/tmp"])?.contains("NUL") == true)
        #expect(refusal("/var/x", roots: ["/tmp", "/srv"])?.contains("one of /tmp, /srv") == true)
    }
}
