import BridgebackCore
import Testing

@Suite("SlicedSleep: a long wait in short slices, ended by cancellation")
struct SlicedSleepTests {
    @Test("sleeps the whole duration across several slices")
    func sleepsTheDuration() async throws {
        let start = ContinuousClock.now
        try await SlicedSleep.sleep(for: .milliseconds(120), slice: .milliseconds(25))
        #expect(ContinuousClock.now - start >= .milliseconds(120))
    }

    @Test("cancellation ends a long sleep at once with CancellationError")
    func cancellationEndsIt() async throws {
        let start = ContinuousClock.now
        let sleeper = Task { try await SlicedSleep.sleep(for: .seconds(3600)) }
        try await Task.sleep(for: .milliseconds(20))
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test("a deadline already past returns without sleeping")
    func pastDeadline() async throws {
        try await SlicedSleep.sleep(until: ContinuousClock.now - .seconds(1))
    }
}
