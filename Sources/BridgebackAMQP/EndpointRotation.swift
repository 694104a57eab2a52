/// Which broker node of a cluster to try next, without I/O.
///
/// Connect attempts walk the node list in order. A dead node costs one failed connect, not a
/// backoff: the backoff delay applies only after a whole round (every node once) failed. A lost
/// connection starts the next round at the node after the one that was lost, since that is the
/// node most likely down. With one node this reduces to "always node 0", the single-URL behaviour.
struct EndpointRotation: Sendable, Equatable {
    /// What to do after a failed connect.
    enum AfterFailure: Sendable, Equatable {
        /// Other nodes in this round have not been tried yet: try `index` now.
        case tryNext(index: Int)
        /// Every node failed once in this round; the next round starts at `index`.
        case roundFailed(nextIndex: Int)
    }

    let count: Int
    /// The node the next (or current) connect uses.
    private(set) var current = 0
    /// Failed connects since the round began.
    private(set) var failedInRound = 0

    init(count: Int) {
        precondition(count >= 1, "a connection needs at least one broker node")
        self.count = count
    }

    mutating func connectFailed() -> AfterFailure {
        failedInRound += 1
        current = (current + 1) % count
        if failedInRound >= count {
            failedInRound = 0
            return .roundFailed(nextIndex: current)
        }
        return .tryNext(index: current)
    }

    mutating func connectSucceeded() {
        failedInRound = 0
    }

    /// The connection to `current` was lost: begin a round at the next node.
    mutating func connectionLost() {
        failedInRound = 0
        current = (current + 1) % count
    }
}
