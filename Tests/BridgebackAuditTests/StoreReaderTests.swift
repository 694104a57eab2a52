import BridgebackAdmissionStore
import BridgebackLedger
import Foundation
import Testing

/// Both stores' read-only query APIs open their file through one helper (`ReadOnlyDatabase`):
/// the same rules, each store's own error codes and words.
@Suite("Read-only store readers")
struct StoreReaderTests {
    /// An empty directory of its own.
    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bb-readers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("a missing file is refused in each store's words and is not created")
    func missingFile() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let admission = dir.appendingPathComponent("admission.sqlite").path
        let ledger = dir.appendingPathComponent("ledger.sqlite").path
        do {
            _ = try AdmissionRecordsReader(path: admission)
            Issue.record("opened a missing admission database")
        } catch {
            #expect(error.code == .missingDatabase && error.message == "no admission database at \(admission)")
        }
        do {
            _ = try LedgerReader(path: ledger)
            Issue.record("opened a missing ledger")
        } catch {
            #expect(error.code == .missingLedger && error.message == "no ledger at \(ledger)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "a reader created a file")
    }

    @Test("a file that is not SQLite is unreadable, named with the store and the path, and left as it was")
    func notSQLite() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("junk.sqlite").path
        let junk = Data(repeating: 0x41, count: 4096)
        try junk.write(to: URL(fileURLWithPath: path))
        do {
            _ = try AdmissionRecordsReader(path: path).read { try $0.requests(receivedIn: Date.distantPast...Date.distantFuture) }
            Issue.record("read a file that is not SQLite")
        } catch {
            #expect(error.code == .unreadable && error.message.contains("the admission database \(path)"), "\(error)")
        }
        do {
            _ = try LedgerReader(path: path).read { try $0.allJobs() }
            Issue.record("read a file that is not SQLite")
        } catch {
            #expect(error.code == .unreadable && error.message.contains("the ledger \(path)"), "\(error)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == junk)
    }
}
