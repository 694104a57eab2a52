import BridgebackCore
import Testing

@Suite("Watch queue names")
struct WatchQueuesTests {
    @Test func aScopedWatcherUserGetsItsOwnPrefixEveryOtherUserTheUnscopedOne() {
        #expect(WatchQueues.prefix(brokerUser: "bb-watch-alice") == "bb.watch.alice.")
        #expect(WatchQueues.prefix(brokerUser: "bb-watch-team-ops-2") == "bb.watch.team-ops-2.")
        #expect(WatchQueues.prefix(brokerUser: "bb-watch") == "bb.watch.")
        #expect(WatchQueues.prefix(brokerUser: "bb-admin") == "bb.watch.")
    }

    @Test func namesThatCouldCoverAnotherPrefixAreNotScoped() {
        // A dot would let one prefix cover another's; inbox/mcp would cover the unscoped queues.
        for user in [
            "bb-watch-alice.x", "bb-watch-inbox", "bb-watch-mcp", "bb-watch-", "bb-watch--x", "bb-watch-Alice",
            "bb-watch-" + String(repeating: "a", count: 33), "bb-watch-a*", "bb-watch-a#",
        ] {
            #expect(WatchQueues.watcherName(brokerUser: user) == nil, "\(user)")
            #expect(WatchQueues.prefix(brokerUser: user) == "bb.watch.", "\(user)")
        }
        #expect(WatchQueues.watcherName(brokerUser: "bb-watch-" + String(repeating: "a", count: 32)) != nil)
    }
}
