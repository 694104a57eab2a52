import ArgumentParser
import BridgebackCore

/// `--retention-days` and `--prune-interval`, shared by `admission` and `coordinator`: how long
/// each keeps, in its SQLite file, the records of work it is done with (`Retention`).
struct RetentionOptions: ParsableArguments {
    @Option(
        name: .customLong("retention-days"),
        help: ArgumentHelp(
            "Days this process keeps the records of work it is done with, counted from when the job was made; 0 keeps everything. What is pruned, and what never is: docs/admission-service.md and docs/delivery.md, \"Retention\".",
            valueName: "days"))
    var retentionDays: Double = 30

    @Option(name: .customLong("prune-interval"), help: "Seconds between pruning passes.")
    var pruneInterval: Double = 60

    func validate() throws {
        try checkSeconds(pruneInterval, "--prune-interval", atMost: 86_400)
        guard retentionDays.isFinite, (0...36_500).contains(retentionDays) else {
            throw ValidationError("--retention-days must be 0 (keep everything) to 36500 days, got \(retentionDays)")
        }
    }

    var retention: Retention { Retention(days: retentionDays, intervalSeconds: pruneInterval) }
}
