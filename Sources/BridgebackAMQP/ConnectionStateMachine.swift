/// The life of one logical connection across reconnects, without I/O.
///
/// The connection thread feeds it events and performs the actions it returns. The first connect
/// is attempted once and its failure goes to the caller; after a connection has been up, losing it
/// leads to reconnect attempts with capped exponential backoff until it is back or closed.
struct ConnectionStateMachine: Sendable {
    enum State: Sendable, Equatable {
        case idle
        case connecting(attempt: Int, everConnected: Bool)
        case connected(generation: Int)
        case waitingToReconnect(attempt: Int, delay: Duration)
        case closed
    }

    enum ConnectedAction: Sendable, Equatable {
        /// First connection: report success to whoever called `connect`.
        case reportConnected(generation: Int)
        /// A reconnect: re-declare the recorded topology and resume consumers.
        case restoreAndResume(generation: Int)
    }

    enum FailedAction: Sendable, Equatable {
        /// This node failed but another cluster node has not been tried in this round: try it now.
        case tryNextEndpoint(index: Int)
        /// The initial connect failed on every node: hand the error to the caller and stop.
        case failConnect
        /// Try again after this delay.
        case retry(after: Duration, attempt: Int)
        /// Already closed; nothing to do.
        case none
    }

    enum LostAction: Sendable, Equatable {
        /// Fail in-flight work (unconfirmed publishes become `outcomeUnknown`) and retry after the delay.
        case failInFlightAndRetry(after: Duration)
        case none
    }

    private(set) var state: State = .idle
    private var generation = 0
    private var rotation: EndpointRotation
    let baseDelay: Duration
    let maxDelay: Duration

    init(baseDelay: Duration, maxDelay: Duration, endpointCount: Int = 1) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.rotation = EndpointRotation(count: endpointCount)
    }

    /// The broker node (index into the configuration's endpoints) the next connect goes to.
    var endpointIndex: Int { rotation.current }

    /// The delay before attempt `attempt` (1-based), before jitter: base · 2^(attempt-1), capped.
    func backoff(attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 20)
        let delay = baseDelay * (1 << exponent)
        return delay > maxDelay ? maxDelay : delay
    }

    mutating func start() {
        precondition(state == .idle, "start() twice")
        state = .connecting(attempt: 1, everConnected: false)
    }

    mutating func connectSucceeded() -> ConnectedAction {
        guard case .connecting(_, let everConnected) = state else {
            preconditionFailure("connectSucceeded in \(state)")
        }
        generation += 1
        rotation.connectSucceeded()
        state = .connected(generation: generation)
        return everConnected ? .restoreAndResume(generation: generation) : .reportConnected(generation: generation)
    }

    mutating func connectFailed() -> FailedAction {
        switch state {
        case .connecting(let attempt, let everConnected):
            if case .tryNext(let index) = rotation.connectFailed() {
                return .tryNextEndpoint(index: index)
            }
            guard everConnected else {
                state = .closed
                return .failConnect
            }
            let delay = backoff(attempt: attempt)
            state = .waitingToReconnect(attempt: attempt + 1, delay: delay)
            return .retry(after: delay, attempt: attempt + 1)
        case .closed:
            return .none
        default:
            preconditionFailure("connectFailed in \(state)")
        }
    }

    mutating func connectionLost() -> LostAction {
        switch state {
        case .connected:
            rotation.connectionLost()
            let delay = backoff(attempt: 1)
            state = .waitingToReconnect(attempt: 1, delay: delay)
            return .failInFlightAndRetry(after: delay)
        case .closed, .waitingToReconnect, .idle, .connecting:
            return .none
        }
    }

    /// The backoff delay elapsed: attempt again.
    mutating func retryDue() -> Bool {
        guard case .waitingToReconnect(let attempt, _) = state else { return false }
        state = .connecting(attempt: attempt, everConnected: true)
        return true
    }

    /// Returns whether there was a live connection to close.
    mutating func close() -> Bool {
        let wasConnected: Bool
        if case .connected = state { wasConnected = true } else { wasConnected = false }
        state = .closed
        return wasConnected
    }

    var isConnected: Bool {
        if case .connected = state { return true }
        return false
    }

    var currentGeneration: Int { generation }
}
