import BridgebackAuth
import BridgebackCore
import Foundation
import MCP
import Testing

@testable import BridgebackMCP

private func pattern(_ text: String) -> ScopePattern { try! ScopePattern(validating: text) }

private func principal(_ name: String, parents: [String], origins: [String] = []) -> Principal {
    Principal(name: name, origins: origins.map(pattern), surfaces: [], parents: parents.map(pattern))
}

/// The HTTP transport's session binding and the inbox scope, without a socket: which token owns
/// which session, and whose inbox a session may open.
@Suite struct SessionAccessTests {
    let alice = BearerToken.digest("bbt_alice")
    let bob = BearerToken.digest("bbt_bob")
    let t0 = Date(timeIntervalSince1970: 1_000_000)

    @Test func aSessionServesOnlyTheTokenThatOpenedIt() {
        var table = SessionTable<String>(maxSessions: 4)
        guard case .open = table.route(sessionID: nil, owner: alice, isInitialize: true, now: t0) else {
            Issue.record("an initialize without a session id opens one")
            return
        }
        table.opened(id: "s1", session: "alice's", owner: alice, now: t0)
        guard case .serve(let served) = table.route(sessionID: "s1", owner: alice, isInitialize: false, now: t0) else {
            Issue.record("the owner's request is served")
            return
        }
        #expect(served == "alice's")
        guard case .otherOwner = table.route(sessionID: "s1", owner: bob, isInitialize: false, now: t0) else {
            Issue.record("another token is refused for alice's session")
            return
        }
        // Also when the other token sends an initialize with alice's session id.
        guard case .otherOwner = table.route(sessionID: "s1", owner: bob, isInitialize: true, now: t0) else {
            Issue.record("another token's initialize does not take alice's session over")
            return
        }
        guard case .unknownSession = table.route(sessionID: "s2", owner: alice, isInitialize: false, now: t0) else {
            Issue.record("an unknown session id is 404")
            return
        }
        #expect(table.close(id: "s1") == "alice's")
        guard case .unknownSession = table.route(sessionID: "s1", owner: alice, isInitialize: false, now: t0) else {
            Issue.record("an ended session is unknown, to its owner too")
            return
        }
    }

    @Test func withoutASessionIDOnlyInitializeOpensOneAndTheCeilingCountsStartingSessions() {
        var table = SessionTable<Int>(maxSessions: 2)
        guard case .needsInitialize = table.route(sessionID: nil, owner: alice, isInitialize: false, now: t0) else {
            Issue.record("a request without a session id that is not initialize is 400")
            return
        }
        guard case .open = table.route(sessionID: nil, owner: alice, isInitialize: true, now: t0),
            case .open = table.route(sessionID: nil, owner: bob, isInitialize: true, now: t0)
        else {
            Issue.record("two sessions may open")
            return
        }
        // Two reserved, none started yet: a third is refused even before they finish starting.
        guard case .full = table.route(sessionID: nil, owner: alice, isInitialize: true, now: t0) else {
            Issue.record("the ceiling counts sessions still starting")
            return
        }
        table.abandoned()
        table.opened(id: "b", session: 2, owner: bob, now: t0)
        #expect(table.count == 1 && table.reserved == 0)
        guard case .open = table.route(sessionID: nil, owner: alice, isInitialize: true, now: t0) else {
            Issue.record("an abandoned start frees its slot")
            return
        }
    }

    @Test func idleSessionsExpireAndUseKeepsOneAlive() {
        var table = SessionTable<Int>(maxSessions: 4)
        for (id, owner) in [("a", alice), ("b", bob)] {
            _ = table.route(sessionID: nil, owner: owner, isInitialize: true, now: t0)
            table.opened(id: id, session: 1, owner: owner, now: t0)
        }
        _ = table.route(sessionID: "a", owner: alice, isInitialize: false, now: t0.addingTimeInterval(50))
        // Bob's token used on alice's session does not keep it alive.
        _ = table.route(sessionID: "b", owner: alice, isInitialize: false, now: t0.addingTimeInterval(50))
        let expired = table.expire(idle: 60, now: t0.addingTimeInterval(70))
        #expect(expired.map(\.id) == ["b"])
        #expect(table.entries.keys.sorted() == ["a"])
    }

    @Test func theInboxOpensOnlyForAPrincipalWhoseParentsCoverTheKey() {
        let alice = MCPCaller.principal(principal("alice", parents: ["alice", "alice.*"]), token: "bbt_a")
        let bob = MCPCaller.principal(principal("bob", parents: ["bob"]), token: "bbt_b")
        let nobody = MCPCaller.principal(principal("nobody", parents: []), token: "bbt_n")
        let stdio = MCPCaller.serverToken("bbt_server")
        #expect(alice.inboxRefusal(parent: "alice") == nil)
        #expect(alice.inboxRefusal(parent: "alice.work") == nil)
        #expect(stdio.inboxRefusal(parent: "alice") == nil, "stdio: the broker credential guards the inbox")
        let refusal = try! #require(bob.inboxRefusal(parent: "alice"))
        #expect(refusal.contains("principal 'bob'") && refusal.contains("parent 'alice'") && refusal.contains("allows parents: bob"))
        #expect(refusal.contains("bridgeback_job"), "the refusal says what to do instead")
        #expect(nobody.inboxRefusal(parent: "alice")?.contains("allows parents: none") == true)
        // A reloaded principals file that adds the key opens it for the live session.
        bob.update(principal: principal("bob", parents: ["bob", "alice"]))
        #expect(bob.inboxRefusal(parent: "alice") == nil)
        #expect("\(bob.token)" == "<redacted>", "the token never prints")
    }

    @Test func aSessionFollowsTheJobsItDetachedOrLookedUpAndForgetsTheOldest() {
        let caller = MCPCaller.serverToken(nil)
        #expect(!caller.follows(job: "job_1"))
        caller.follow(job: "job_1")
        #expect(caller.follows(job: "job_1"))
        for n in 2...(MCPCaller.followedJobsLimit + 1) { caller.follow(job: "job_\(n)") }
        #expect(!caller.follows(job: "job_1"), "the oldest is forgotten past the limit")
        #expect(caller.follows(job: "job_2") && caller.follows(job: "job_\(MCPCaller.followedJobsLimit + 1)"))
    }

    @Test func theInboxToolRefusesAnotherPrincipalsParentWithAnMCPErrorBeforeTouchingIt() async throws {
        let inbox = Inbox(parent: "alice")
        let acks = AckLog()
        await inbox.arrived(item("d1"), ack: acks.ack("d1"))
        let base = BridgebackTools(
            client: FleetClient(admissionURL: "http://127.0.0.1:9", coordinatorURL: nil, token: nil),
            identity: AssistantIdentity(origin: "cli:alice", parent: "alice"), inbox: inbox, consumer: nil)
        let bob = base.serving(.principal(principal("bob", parents: ["bob"]), token: "bbt_b"))
        for peek in [true, false] {
            do {
                _ = try await bob.call("bridgeback_inbox", ["peek": .bool(peek)])
                Issue.record("bob took or peeked at alice's inbox")
            } catch {
                #expect(error.code == -32600)
                #expect(error.localizedDescription.contains("bridgeback_inbox: principal 'bob' may not open the inbox of parent 'alice'"))
            }
        }
        let waiting = await inbox.waitingCount
        #expect(acks.count("d1") == 0 && waiting == 1, "nothing was taken")
        let alice = base.serving(.principal(principal("alice", parents: ["alice"]), token: "bbt_a"))
        let taken = try await alice.call("bridgeback_inbox", [:])
        #expect(taken.isError != true)
        #expect(acks.count("d1") == 1, "alice takes her notice")
    }
}
