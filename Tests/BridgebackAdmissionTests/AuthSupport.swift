import BridgebackAuth
import Foundation

/// Fixed principals for the HTTP tests: an operator, Alice (cli:alice, her work log, her inbox)
/// and Bob (cli:bob only). Tokens are fresh per test run.
enum TestAuth {
    static let operatorToken = BearerToken.generate()
    static let aliceToken = BearerToken.generate()
    static let bobToken = BearerToken.generate()
    /// An operator whose scope is `*` everywhere: for tests of limits below authorization.
    static let wideToken = BearerToken.generate()

    static func patterns(_ values: [String]) -> [ScopePattern] { values.map { try! ScopePattern(validating: $0) } }

    static let file = PrincipalsFile(principals: [
        .init(
            name: "ops", origins: [], surfaces: [], parents: [], isOperator: true,
            tokens: [.init(id: "tok_ops", sha256: BearerToken.sha256Hex(operatorToken))]),
        .init(
            name: "alice", origins: patterns(["cli:alice"]), surfaces: patterns(["cli:alice", "work:alice"]), parents: patterns(["alice"]),
            tokens: [.init(id: "tok_alice", sha256: BearerToken.sha256Hex(aliceToken))]),
        .init(
            name: "bob", origins: patterns(["cli:bob"]), surfaces: patterns(["cli:bob", "work:bob"]), parents: patterns(["bob"]),
            tokens: [.init(id: "tok_bob", sha256: BearerToken.sha256Hex(bobToken))]),
        .init(
            name: "wide", origins: patterns(["*"]), surfaces: patterns(["*"]), parents: patterns(["*"]), isOperator: true,
            tokens: [.init(id: "tok_wide", sha256: BearerToken.sha256Hex(wideToken))]),
    ])

    static let directory = PrincipalDirectory(file)
    static var http: HTTPAuth { .principals(directory) }

    static var alice: Principal { file.principals[1].principal }
    static var bob: Principal { file.principals[2].principal }
}

extension Principal {
    /// Sees and may address everything: for tests of behaviour below authorization.
    static let testOperator = Principal.unrestricted(name: "test-operator")
}
