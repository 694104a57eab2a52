import BridgebackHTTP
import Testing

/// `--task-executor`: the two names it takes, and that `pool` leaves Swift's executor alone. (`event-loops`
/// is process-wide and permanent, so it is never applied inside the test process; the fleet tests run
/// admission with it, the default.)
@Suite("Task executor choice")
struct TaskExecutorChoiceTests {
    @Test("event-loops and pool are the names; anything else is refused")
    func names() {
        #expect(TaskExecutorChoice(rawValue: "event-loops") == .eventLoops)
        #expect(TaskExecutorChoice(rawValue: "pool") == .pool)
        #expect(TaskExecutorChoice(rawValue: "eventloops") == nil)
        #expect(TaskExecutorChoice.allCases.map(\.rawValue) == ["event-loops", "pool"])
    }

    @Test("pool installs nothing")
    func poolIsANoOp() {
        #expect(TaskExecutorChoice.pool.apply() == false)
    }
}
