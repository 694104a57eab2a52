import Foundation
import Testing

@testable import BridgebackAuth

@Suite("Scope patterns")
struct ScopePatternTests {
    func pattern(_ text: String) throws -> ScopePattern { try ScopePattern(validating: text) }

    @Test("'*' matches any run of characters, everything else only itself")
    func matching() throws {
        #expect(try pattern("cli:alice").matches("cli:alice"))
        #expect(try !pattern("cli:alice").matches("cli:alice2"))
        #expect(try !pattern("cli:alice").matches("cli:alic"))
        #expect(try pattern("hooks:*").matches("hooks:"))
        #expect(try pattern("hooks:*").matches("hooks:ops"))
        #expect(try !pattern("hooks:*").matches("hook:ops"))
        #expect(try pattern("*").matches(""))
        #expect(try pattern("*").matches("anything at all"))
        #expect(try pattern("a*b*c").matches("aXXbYYc"))
        #expect(try pattern("a*b*c").matches("abc"))
        #expect(try !pattern("a*b*c").matches("aXXbYY"))
        #expect(try pattern("*.work").matches("alice.work"))
        #expect(try !pattern("*.work").matches("alice.workshop"))
        // '?' and '[' are plain characters, not wildcards.
        #expect(try !pattern("a?c").matches("abc"))
        #expect(try pattern("a?c").matches("a?c"))
    }

    @Test("a long value against many stars finishes (no exponential backtracking)")
    func pathological() throws {
        let p = try pattern(String(repeating: "*a", count: 100) + "b")
        let value = String(repeating: "a", count: 250)
        let start = ContinuousClock.now
        #expect(!p.matches(value))
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test("invalid patterns are refused with a message")
    func invalid() {
        for bad in ["", "with space", String(repeating: "x", count: 256), "tab\there", "é"] {
            #expect(throws: AuthError.self) { try ScopePattern(validating: bad) }
        }
    }

    @Test("the SQLite GLOB form escapes '?' and '['")
    func glob() throws {
        #expect(try pattern("cli:*").sqliteGlob == "cli:*")
        #expect(try pattern("a?[b").sqliteGlob == "a[?][[]b")
    }
}

@Suite("Authorization decisions")
struct AuthorizationTests {
    static func principal(operator isOperator: Bool = false) -> Principal {
        func p(_ values: [String]) -> [ScopePattern] { values.map { try! ScopePattern(validating: $0) } }
        return Principal(
            name: "alice", origins: p(["cli:alice", "chat:alice-*"]), surfaces: p(["cli:alice", "work:alice", "hooks:team-*"]),
            parents: p(["alice", "alice.*"]), isOperator: isOperator)
    }

    @Test("a request inside the scope is allowed")
    func allowed() {
        #expect(
            Self.principal().authorize(
                origin: "cli:alice", workSurface: "work:alice", finalSurface: "hooks:team-ops", parentID: "alice.sub") == nil)
        #expect(
            Self.principal().authorize(origin: "chat:alice-1", workSurface: "work:alice", finalSurface: "cli:alice", parentID: "alice")
                == nil)
    }

    @Test("each field outside the scope is refused with a 403 naming it, origin first")
    func refusedFields() throws {
        let alice = Self.principal()
        let origin = try #require(alice.authorize(origin: "cli:bob", workSurface: "work:bob", finalSurface: "cli:bob", parentID: "bob"))
        #expect(origin.code == .forbidden)
        #expect(origin.field == "origin")
        #expect(origin.message.contains("cli:bob") && origin.message.contains("cli:alice, chat:alice-*"))
        let work = try #require(alice.authorize(origin: "cli:alice", workSurface: "work:bob", finalSurface: "cli:alice", parentID: "alice"))
        #expect(work.field == "contract.work_surface")
        let final = try #require(
            alice.authorize(origin: "cli:alice", workSurface: "work:alice", finalSurface: "hooks:ops", parentID: "alice"))
        #expect(final.field == "contract.final_surface")
        let parent = try #require(alice.authorize(origin: "cli:alice", workSurface: "work:alice", finalSurface: "cli:alice", parentID: "#"))
        #expect(parent.field == "contract.parent_id")
        let defaulted = try #require(
            alice.authorize(
                origin: "cli:alice", workSurface: "work:alice", finalSurface: "cli:alice", parentID: "bob", defaulted: ["parent_id"]))
        #expect(defaulted.message.contains("the default for origin 'cli:alice'"))
    }

    @Test("fields not known yet are skipped; the operator role does not widen submission scope")
    func skippingAndOperator() {
        let alice = Self.principal()
        #expect(
            alice.authorize(
                origin: "cli:alice", workSurface: "", finalSurface: "", parentID: "",
                skipping: ["work_surface", "final_surface", "parent_id"]) == nil)
        let op = Self.principal(operator: true)
        #expect(op.authorize(origin: "cli:bob", workSurface: "work:alice", finalSurface: "cli:alice", parentID: "alice")?.field == "origin")
    }

    @Test("jobs are visible by origin, or to operators")
    func visibility() {
        #expect(Self.principal().maySee(jobOrigin: "cli:alice"))
        #expect(Self.principal().maySee(jobOrigin: "chat:alice-7"))
        #expect(!Self.principal().maySee(jobOrigin: "cli:bob"))
        #expect(Self.principal(operator: true).maySee(jobOrigin: "cli:bob"))
        #expect(Principal.unrestricted(name: "dev").maySee(jobOrigin: "x"))
    }
}
