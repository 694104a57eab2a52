import BridgebackCore
public import Foundation
import GRDB

/// How an inline turn went, as the assistant runtime reports it. Stored beside the admission
/// decision so the audit can tell which inline requests were really long work.
///
/// Every shape field is optional: a runtime reports what it knows, and the audit says when
/// what is missing stops it from judging a turn.
public struct InlineOutcomeRecord: Sendable, Hashable {
    public var requestID: String
    public var durationSeconds: Double
    public var toolCalls: Int?
    public var waitSeconds: Double?
    /// How many sources the turn touched (the count of `sourceNames` when names were sent).
    public var sources: Int?
    public var sourceNames: [String]
    public var verificationLoops: Int?
    public var followUps: Int?
    public var succeeded: Bool
    public var note: String?
    public var reportedAt: Date

    public init(
        requestID: String, durationSeconds: Double, toolCalls: Int? = nil, waitSeconds: Double? = nil, sources: Int? = nil,
        sourceNames: [String] = [], verificationLoops: Int? = nil, followUps: Int? = nil, succeeded: Bool, note: String? = nil,
        reportedAt: Date = Date(timeIntervalSince1970: 0)
    ) {
        self.requestID = requestID
        self.durationSeconds = durationSeconds
        self.toolCalls = toolCalls
        self.waitSeconds = waitSeconds
        self.sources = sources
        self.sourceNames = sourceNames
        self.verificationLoops = verificationLoops
        self.followUps = followUps
        self.succeeded = succeeded
        self.note = note
        self.reportedAt = reportedAt
    }
}

extension AdmissionStore {
    /// Migration `v2: inline outcomes` — a new table, so shipped databases keep `v1` untouched.
    static func registerOutcomeMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2: inline outcomes") { db in
            try db.execute(
                sql: """
                    CREATE TABLE inline_outcomes (
                        request_id TEXT PRIMARY KEY NOT NULL REFERENCES request_log(id),
                        duration_s REAL NOT NULL,
                        tool_calls INTEGER,
                        wait_s REAL,
                        sources INTEGER,
                        source_names TEXT,            -- JSON array of names, if sent
                        verification_loops INTEGER,
                        follow_ups INTEGER,
                        succeeded INTEGER NOT NULL,
                        note TEXT,
                        reported_at TEXT NOT NULL
                    );
                    """)
        }
    }

    /// Stores (or replaces) the outcome of an inline request. Returns true if it replaced one.
    public func recordOutcome(_ outcome: InlineOutcomeRecord) async throws -> Bool {
        try await writer.write { db in
            let existed =
                try Bool.fetchOne(db, sql: "SELECT 1 FROM inline_outcomes WHERE request_id = ?", arguments: [outcome.requestID]) ?? false
            let names = outcome.sourceNames.isEmpty ? nil : String(decoding: try JSONEncoder().encode(outcome.sourceNames), as: UTF8.self)
            try db.execute(
                sql: AdmissionSchema.InlineOutcomes.insertSQL,
                arguments: [
                    outcome.requestID, outcome.durationSeconds, outcome.toolCalls, outcome.waitSeconds, outcome.sources, names,
                    outcome.verificationLoops, outcome.followUps, outcome.succeeded, outcome.note, WireDate.format(outcome.reportedAt),
                ])
            return existed
        }
    }

    /// The stored outcome of `requestID`, if any.
    public func outcome(requestID: String) async throws -> InlineOutcomeRecord? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM inline_outcomes WHERE request_id = ?", arguments: [requestID])
                .map(Self.outcome(from:))
        }
    }

    /// One `inline_outcomes` row as a record (shared with `AdmissionRecordsReader`).
    static func outcome(from row: Row) -> InlineOutcomeRecord {
        typealias Outcomes = AdmissionSchema.InlineOutcomes
        let names: String? = row[Outcomes.sourceNames]
        return InlineOutcomeRecord(
            requestID: row[Outcomes.requestID], durationSeconds: row[Outcomes.durationS], toolCalls: row[Outcomes.toolCalls],
            waitSeconds: row[Outcomes.waitS], sources: row[Outcomes.sources],
            sourceNames: names.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? [],
            verificationLoops: row[Outcomes.verificationLoops], followUps: row[Outcomes.followUps], succeeded: row[Outcomes.succeeded],
            note: row[Outcomes.note], reportedAt: WireDate.parse(row[Outcomes.reportedAt]) ?? Date(timeIntervalSince1970: 0))
    }
}
