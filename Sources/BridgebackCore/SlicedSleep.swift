/// A cancellable sleep that does not keep memory after it is cancelled.
///
/// `Task.sleep` arms one timer for its whole duration; cancelling the sleep wakes the task at
/// once, but on Linux the timer (and the task it wakes) stays armed until the original
/// deadline. A per-job deadline or timeout raced against the job therefore kept about half a
/// kilobyte after every job until that job's deadline (issue #12). Sleeping in slices of at
/// most `slice` bounds that to one slice, at the cost of one wake-up per slice while it lasts.
public enum SlicedSleep {
    /// Sleeps for `duration` (or until cancelled: throws `CancellationError`).
    public static func sleep(for duration: Duration, slice: Duration = .seconds(1)) async throws {
        try await sleep(until: ContinuousClock.now + duration, slice: slice)
    }

    /// Sleeps until `deadline` (or until cancelled: throws `CancellationError`).
    public static func sleep(until deadline: ContinuousClock.Instant, slice: Duration = .seconds(1)) async throws {
        while true {
            try Task.checkCancellation()
            let now = ContinuousClock.now
            guard now < deadline else { return }
            try await Task.sleep(until: min(deadline, now + slice), clock: .continuous)
        }
    }
}
