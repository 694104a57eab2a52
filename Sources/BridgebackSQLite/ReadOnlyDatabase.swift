import Foundation
public import GRDB

/// A SQLite file another process writes, opened for reading only: the one way the stores'
/// read-only query APIs (`AdmissionRecordsReader`, `LedgerReader`) open their file, so both get the
/// same rules. It never creates the file, never migrates and never writes; with the writer in WAL
/// mode it reads while the writer runs, waiting up to five seconds for a lock.
///
/// Failures come back as the caller's own error type, built by the closures it passes, so each
/// store keeps its own codes and words (`no ledger at …`, `cannot open the admission database …`).
public struct ReadOnlyDatabase: Sendable {
    public let path: String
    private let queue: DatabaseQueue

    /// Opens `path` read-only; `missing` when no file is there, `unopenable` (with the reason)
    /// when it cannot be opened as SQLite.
    public init<Failure: Error>(path: String, missing: () -> Failure, unopenable: (String) -> Failure) throws(Failure) {
        guard FileManager.default.fileExists(atPath: path) else { throw missing() }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw unopenable("\(error)")
        }
        self.path = path
    }

    /// Runs `body` on one consistent snapshot (one read transaction). A `Failure` that `body`
    /// throws (a row that does not decode, in the store's own words) passes through as it is; any
    /// other error becomes `unreadable` with its reason.
    public func read<T, Failure: Error>(_ body: (Database) throws -> T, unreadable: (String) -> Failure) throws(Failure) -> T {
        do {
            return try queue.read(body)
        } catch let error as Failure {
            throw error
        } catch {
            throw unreadable("\(error)")
        }
    }
}
