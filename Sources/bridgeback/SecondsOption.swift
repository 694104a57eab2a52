import ArgumentParser

/// Checks an option given in seconds before it becomes a `Duration` or a timer: `Duration.seconds`
/// and `Int(_:)` trap on a value like `1e300` or `nan`, and an operator's typo must get a usage
/// error, not a crashed service.
///
/// `atMost` defaults to a year: longer than any wait the fleet has, far below where conversions trap.
func checkSeconds(_ value: Double, _ flag: String, allowZero: Bool = false, atMost limit: Double = 31_536_000) throws {
    let low = allowZero ? "0 or more" : "more than 0"
    guard value.isFinite, allowZero ? value >= 0 : value > 0, value <= limit else {
        throw ValidationError("\(flag) must be \(low) and at most \(Int(limit)) seconds, got \(value)")
    }
}
