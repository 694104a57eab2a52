import ArgumentParser
import BridgebackCoordinator
import Foundation

/// `bridgeback ledger backup|verify`: copies of the coordinator's ledger for restore drills.
struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Back up the coordinator's ledger while it runs, and verify a backup before restoring it.",
        discussion: """
            Restore: stop the coordinator (and its standby), verify the backup, copy it to \
            <data-dir>/coordinator.sqlite (remove coordinator.sqlite-wal and -shm), start the coordinator. \
            Jobs that finished after the backup was taken are delivered again with the same delivery ids \
            (receivers that deduplicate by webhook-id see no repeat). See docs/deployment.md.
            """,
        subcommands: [Backup.self, Verify.self])

    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a consistent copy of a live ledger (SQLite online backup).")

        @Option(
            help: ArgumentHelp(
                "The coordinator's data directory (default: $BRIDGEBACK_DATA_DIR/coordinator, else ./bridgeback-data/coordinator).",
                valueName: "dir"))
        var dataDir: String?

        @Option(help: ArgumentHelp("The backup file to write; never overwritten.", valueName: "file"))
        var to: String

        func run() throws {
            let base =
                ProcessInfo.processInfo.environment["BRIDGEBACK_DATA_DIR"].map { $0 + "/coordinator" } ?? "./bridgeback-data/coordinator"
            let source = (dataDir ?? base) + "/coordinator.sqlite"
            do {
                let summary = try LedgerBackup.backup(ledgerAt: source, to: to)
                print("backed up \(source) to \(to): \(summary)")
            } catch {
                throw ValidationError(error.message)
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a backup's integrity and say what it holds.")

        @Argument(help: ArgumentHelp("The backup file.", valueName: "file"))
        var file: String

        func run() throws {
            do {
                print("\(file): ok, \(try LedgerBackup.verify(file))")
            } catch {
                throw ValidationError(error.message)
            }
        }
    }
}
