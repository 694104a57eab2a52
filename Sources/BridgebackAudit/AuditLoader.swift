import BridgebackCore
public import Foundation
import GRDB

/// Reads admission's and the coordinator's SQLite files, read-only, into plain records.
///
/// Both services keep running while the audit reads (WAL mode): the loader never writes and
/// never migrates. A table that is not there yet (an admission from before outcomes existed)
/// is a note in the report, not an error.
public enum AuditLoader {
    /// Loads the requests received in `window` with their outcomes, jobs and contract refusals, and, when
    /// `ledgerPath` is given and exists, the ledger rows of those jobs.
    public static func load(admissionPath: String, ledgerPath: String?, window: ClosedRange<Date>) throws(AuditError) -> AuditRecords {
        guard FileManager.default.fileExists(atPath: admissionPath) else {
            throw AuditError(.unreadableStore, "no admission database at \(admissionPath); pass --admission-db or set BRIDGEBACK_DATA_DIR")
        }
        var records = AuditRecords(requests: [])
        do {
            let queue = try open(admissionPath)
            try queue.read { db in
                for row in try Row.fetchAll(db, sql: "SELECT * FROM request_log ORDER BY received_at, id") {
                    guard let at = WireDate.parse(row["received_at"]), window.contains(at) else { continue }
                    let triggersText: String = row["triggers"]
                    records.requests.append(
                        AuditRequest(
                            id: row["id"], origin: row["origin"], text: row["text"], hintsJSON: row["hints"], decision: row["decision"],
                            forced: row["forced"],
                            triggers: (try? JSONDecoder().decode([String].self, from: Data(triggersText.utf8))) ?? [],
                            reason: row["reason"], policyVersion: row["policy_version"], receivedAt: at, jobID: row["job_id"],
                            replay: row["replay"]))
                }
                let ids = Set(records.requests.map(\.id))
                let jobIDs = Set(records.requests.compactMap(\.jobID))
                if try db.tableExists("inline_outcomes") {
                    for row in try Row.fetchAll(db, sql: "SELECT * FROM inline_outcomes") {
                        let id: String = row["request_id"]
                        guard ids.contains(id) else { continue }
                        let names: String? = row["source_names"]
                        records.outcomes[id] = InlineOutcome(
                            requestID: id, durationSeconds: row["duration_s"], toolCalls: row["tool_calls"], waitSeconds: row["wait_s"],
                            sources: row["sources"],
                            sourceNames: names.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? [],
                            verificationLoops: row["verification_loops"], followUps: row["follow_ups"], succeeded: row["succeeded"],
                            note: row["note"], reportedAt: WireDate.parse(row["reported_at"]) ?? Date(timeIntervalSince1970: 0))
                    }
                } else {
                    records.notes.append(
                        "the admission database has no inline_outcomes table (an admission from before outcomes were recorded): no inline turn can be judged"
                    )
                }
                if try db.tableExists("contract_refusals") {
                    for row in try Row.fetchAll(db, sql: "SELECT * FROM contract_refusals ORDER BY at, id") {
                        guard let at = WireDate.parse(row["at"]), window.contains(at) else { continue }
                        let triggersText: String = row["triggers"]
                        records.refusals.append(
                            ContractRefusal(
                                id: row["id"], at: at, origin: row["origin"], excerpt: row["excerpt"], decision: row["decision"],
                                forced: row["forced"],
                                triggers: (try? JSONDecoder().decode([String].self, from: Data(triggersText.utf8))) ?? [],
                                policyVersion: row["policy_version"], code: row["code"], field: row["field"], message: row["message"]))
                    }
                } else {
                    records.notes.append(
                        "the admission database has no contract_refusals table (an admission from before refusals were recorded): requests refused a contract cannot be seen"
                    )
                }
                for row in try Row.fetchAll(db, sql: "SELECT * FROM jobs") {
                    let id: String = row["job_id"]
                    guard jobIDs.contains(id) else { continue }
                    let lastError = try String.fetchOne(
                        db, sql: "SELECT last_error FROM outbox WHERE job_id = ? AND last_error IS NOT NULL ORDER BY seq DESC LIMIT 1",
                        arguments: [id])
                    records.jobs[id] = AdmissionJob(
                        jobID: id, requestID: row["request_id"], state: row["state"], finalSurface: row["final_surface"],
                        createdAt: WireDate.parse(row["created_at"]) ?? Date(timeIntervalSince1970: 0),
                        publishedAt: WireDate.parse(row["published_at"]), lastOutboxError: lastError)
                }
            }
        } catch {
            throw AuditError(.unreadableStore, "cannot read the admission database \(admissionPath): \(error)")
        }
        guard let ledgerPath else {
            records.ledger = nil
            records.notes.append("no ledger given (--ledger): how detached jobs ended is not judged")
            return records
        }
        guard FileManager.default.fileExists(atPath: ledgerPath) else {
            records.ledger = nil
            records.notes.append("no ledger at \(ledgerPath): how detached jobs ended is not judged")
            return records
        }
        do {
            let wanted = Set(records.jobs.keys).union(records.requests.compactMap(\.jobID))
            records.ledger = try open(ledgerPath).read { db in
                var ledger: [String: LedgerJob] = [:]
                for row in try Row.fetchAll(
                    db, sql: "SELECT job_id, state, decision_json, final_outcome, final_detail, duplicates FROM jobs")
                {
                    let id: String = row["job_id"]
                    guard wanted.contains(id) else { continue }
                    var job = LedgerJob(
                        jobID: id, state: row["state"], finalOutcome: row["final_outcome"], finalDetail: row["final_detail"],
                        duplicates: row["duplicates"])
                    if let text: String = row["decision_json"],
                        let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
                    {
                        job.endingKind = object["kind"] as? String
                        job.endingText = (object["text"] as? String).map { String($0.prefix(200)) }
                        // The completion behind the decision carries the worker's times (ms since 1970).
                        if let completion = object["completion"] as? [String: Any],
                            let started = (completion["started_at"] as? NSNumber)?.doubleValue,
                            let finished = (completion["finished_at"] as? NSNumber)?.doubleValue, finished >= started
                        {
                            job.runSeconds = (finished - started) / 1000
                        }
                    }
                    job.fallbackParts =
                        try Int.fetchOne(
                            db, sql: "SELECT COUNT(*) FROM delivery_parts WHERE job_id = ? AND purpose = 'fallback'", arguments: [id]) ?? 0
                    job.partFailures = try String.fetchAll(
                        db,
                        sql:
                            "SELECT DISTINCT failure_kind FROM delivery_parts WHERE job_id = ? AND failure_kind IS NOT NULL ORDER BY failure_kind",
                        arguments: [id])
                    job.partFailureDetails = try Row.fetchAll(
                        db,
                        sql:
                            "SELECT DISTINCT failure_kind, failure_detail FROM delivery_parts WHERE job_id = ? AND failure_kind IS NOT NULL ORDER BY failure_kind",
                        arguments: [id]
                    ).map { row in
                        let kind: String = row["failure_kind"]
                        let detail: String? = row["failure_detail"]
                        return detail.map { "\($0) (\(kind))" } ?? kind
                    }
                    ledger[id] = job
                }
                return ledger
            }
        } catch {
            throw AuditError(.unreadableStore, "cannot read the ledger \(ledgerPath): \(error)")
        }
        return records
    }

    private static func open(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        return try DatabaseQueue(path: path, configuration: configuration)
    }
}
