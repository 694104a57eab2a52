import BridgebackCore
public import Foundation
import GRDB

/// A request that would have detached but was refused its contract (422 with a contract code).
///
/// An audit record, not a job: it is written on its own, never with a request log line, a job
/// or an outbox row, so `bridgeback audit` can report detach failures that never got a job.
public struct ContractRefusalRecord: Sendable, Hashable {
    public var id: String
    public var at: Date
    /// The origin as sent (it may be the surface that was unknown).
    public var origin: String
    /// The request text, shortened to `excerptLimit` characters on one line.
    public var excerpt: String
    /// The decision the policy gave (always `detach` today: only detaching requests are recorded).
    public var decision: String
    public var forced: Bool
    public var triggers: [String]
    public var policyVersion: String
    /// The refusal's code, e.g. `direct_not_allowed`.
    public var code: String
    public var field: String?
    public var message: String

    /// Longest request excerpt kept (the full text is not stored for a refusal).
    public static let excerptLimit = 280

    public init(
        id: String, at: Date, origin: String, excerpt: String, decision: String = "detach", forced: Bool = false, triggers: [String] = [],
        policyVersion: String = "", code: String, field: String? = nil, message: String
    ) {
        self.id = id
        self.at = at
        self.origin = origin
        self.excerpt = excerpt
        self.decision = decision
        self.forced = forced
        self.triggers = triggers
        self.policyVersion = policyVersion
        self.code = code
        self.field = field
        self.message = message
    }
}

extension AdmissionStore {
    /// Migration `v3: contract refusals` — a new table, so shipped databases keep `v1` and `v2` untouched.
    static func registerRefusalMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v3: contract refusals") { db in
            try db.execute(
                sql: """
                    CREATE TABLE contract_refusals (
                        id TEXT PRIMARY KEY NOT NULL,
                        at TEXT NOT NULL,
                        origin TEXT NOT NULL,
                        excerpt TEXT NOT NULL,
                        decision TEXT NOT NULL,
                        forced INTEGER NOT NULL DEFAULT 0,
                        triggers TEXT NOT NULL,        -- JSON array of trigger classes
                        policy_version TEXT NOT NULL,
                        code TEXT NOT NULL,
                        field TEXT,
                        message TEXT NOT NULL
                    );
                    CREATE INDEX contract_refusals_at ON contract_refusals(at);
                    """)
        }
    }

    /// Writes one contract refusal (alone: no request log line, job or outbox row).
    public func recordRefusal(_ refusal: ContractRefusalRecord) async throws {
        let triggers = String(decoding: try JSONEncoder().encode(refusal.triggers), as: UTF8.self)
        try await writer.write { db in
            try db.execute(
                sql: AdmissionSchema.ContractRefusals.insertSQL,
                arguments: [
                    refusal.id, WireDate.format(refusal.at), refusal.origin, refusal.excerpt, refusal.decision, refusal.forced, triggers,
                    refusal.policyVersion, refusal.code, refusal.field, refusal.message,
                ])
        }
    }

    /// Every recorded contract refusal, oldest first (tests and diagnostics; the audit reads them through `AdmissionRecordsReader`).
    public func contractRefusals() async throws -> [ContractRefusalRecord] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM contract_refusals ORDER BY at, id").map(Self.refusal(from:))
        }
    }

    /// One `contract_refusals` row as a record (shared with `AdmissionRecordsReader`).
    static func refusal(from row: Row) -> ContractRefusalRecord {
        typealias Refusals = AdmissionSchema.ContractRefusals
        let triggersText: String = row[Refusals.triggers]
        return ContractRefusalRecord(
            id: row[Refusals.id], at: WireDate.parse(row[Refusals.at]) ?? Date(timeIntervalSince1970: 0), origin: row[Refusals.origin],
            excerpt: row[Refusals.excerpt], decision: row[Refusals.decision], forced: row[Refusals.forced],
            triggers: (try? JSONDecoder().decode([String].self, from: Data(triggersText.utf8))) ?? [],
            policyVersion: row[Refusals.policyVersion], code: row[Refusals.code], field: row[Refusals.field],
            message: row[Refusals.message])
    }
}
