import Foundation
import GRDB
import Testing

@testable import BridgebackAdmissionStore

/// The column names the store's writers, its decoders and `AdmissionRecordsReader` share are the
/// migrated tables' columns: a migration that renames or drops one fails here, and a name changed
/// in `AdmissionSchema` changes every statement that uses it.
@Suite("Admission schema: named columns")
struct AdmissionSchemaTests {
    @Test("every named column is a column of its migrated table; request_log, jobs, inline_outcomes and contract_refusals are named whole")
    func namedColumnsExist() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        _ = try AdmissionStore(directory: dir.url)
        let queue = try DatabaseQueue(path: dir.url.appendingPathComponent("admission.sqlite").path)
        func columns(_ table: String) throws -> Set<String> { try queue.read { db in Set(try db.columns(in: table).map(\.name)) } }
        #expect(try columns(AdmissionSchema.RequestLog.table) == Set(AdmissionSchema.RequestLog.all.map(\.name)))
        #expect(try columns(AdmissionSchema.Jobs.table) == Set(AdmissionSchema.Jobs.all.map(\.name)))
        #expect(try columns(AdmissionSchema.InlineOutcomes.table) == Set(AdmissionSchema.InlineOutcomes.all.map(\.name)))
        #expect(try columns(AdmissionSchema.ContractRefusals.table) == Set(AdmissionSchema.ContractRefusals.all.map(\.name)))
        let outbox = try columns(AdmissionSchema.Outbox.table)
        #expect(
            [AdmissionSchema.Outbox.seq, AdmissionSchema.Outbox.jobID, AdmissionSchema.Outbox.lastError].allSatisfy {
                outbox.contains($0.name)
            })
    }
}
