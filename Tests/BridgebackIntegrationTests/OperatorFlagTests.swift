import Foundation
import Testing

/// An operator's typo in a seconds flag gets a usage error (exit 64) naming the flag, never a
/// trapped process: `Duration.seconds(1e300)` and `Int(nan)` crash, so every such flag is checked
/// before the service starts.
@Suite("Seconds flags: huge, non-finite and negative values are usage errors")
struct OperatorFlagTests {
    static let cases: [(arguments: [String], flag: String)] = [
        (["coordinator", "--sweep-interval", "1e300"], "--sweep-interval"),
        (["coordinator", "--lost-grace", "nan"], "--lost-grace"),
        (["coordinator", "--webhook-timeout", "inf"], "--webhook-timeout"),
        (["coordinator", "--prune-interval", "nan"], "--prune-interval"),
        (["coordinator", "--retention-days", "-1"], "--retention-days"),
        (["coordinator", "--retention-days", "1e300"], "--retention-days"),
        (["worker", "--progress-interval", "1e19"], "--progress-interval"),
        (["worker", "--grace", "-1"], "--grace"),
        (["admission", "--default-deadline", "1e300"], "--default-deadline"),
        (["admission", "--max-deadline", "nan"], "--max-deadline"),
        (["admission", "--retention-days", "nan"], "--retention-days"),
        (["admission", "--prune-interval", "-1"], "--prune-interval"),
        (["mcp", "--origin", "cli:alice", "--idle-timeout", "1e300"], "--idle-timeout"),
        (["status", "--watch", "1e300"], "--watch"),
        (["submit", "--deadline", "1e300", "hello"], "--deadline"),
        (["admission", "--http-idle-timeout", "1e300"], "--http-idle-timeout"),
    ]

    @Test("each bad value", arguments: cases.indices)
    func badSeconds(_ index: Int) throws {
        let (arguments, flag) = Self.cases[index]
        let directory = FileManager.default.temporaryDirectory
        let result = try PrincipalsCLITests.run(arguments, in: directory)
        #expect(result.status == 64, "\(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr.suffix(600))")
        #expect(result.stderr.contains(flag), "the error does not name \(flag): \(result.stderr.suffix(600))")
    }
}
