import BridgebackAdmissionStore
import BridgebackCore
import BridgebackLedger
public import Foundation

/// Reads admission's and the coordinator's SQLite files into the records the `Auditor` judges.
///
/// Through each store's own read-only query API (`AdmissionRecordsReader`, `LedgerReader`): the
/// audit issues no SQL of its own, so a column it needs cannot change without this file failing
/// to compile. Both services keep running while the audit reads (WAL mode); nothing is written
/// or migrated. A table that is not there yet (an admission from before outcomes existed) is a
/// note in the report, not an error.
public enum AuditLoader {
    /// Loads the requests received in `window` with their outcomes, jobs and contract refusals, and, when
    /// `ledgerPath` is given and exists, the ledger rows of those jobs.
    public static func load(admissionPath: String, ledgerPath: String?, window: ClosedRange<Date>) throws(AuditError) -> AuditRecords {
        var records = AuditRecords(requests: [])
        do {
            let admission = try AdmissionRecordsReader(path: admissionPath)
            try admission.read { snapshot in
                records.requests = try snapshot.requests(receivedIn: window)
                if let outcomes = try snapshot.outcomes(requestIDs: Set(records.requests.map(\.id))) {
                    records.outcomes = outcomes
                } else {
                    records.notes.append(
                        "the admission database has no inline_outcomes table (an admission from before outcomes were recorded): no inline turn can be judged"
                    )
                }
                if let refusals = try snapshot.refusals(in: window) {
                    records.refusals = refusals
                } else {
                    records.notes.append(
                        "the admission database has no contract_refusals table (an admission from before refusals were recorded): requests refused a contract cannot be seen"
                    )
                }
                for (id, job) in try snapshot.jobs(ids: Set(records.requests.compactMap(\.jobID))) {
                    records.jobs[id] = AdmissionJob(
                        jobID: id, requestID: job.requestID, state: job.state.rawValue, finalSurface: job.contract.finalSurface.rawValue,
                        createdAt: job.createdAt, publishedAt: job.publishedAt, lastOutboxError: try snapshot.lastOutboxError(jobID: id))
                }
            }
        } catch let error where error.code == .missingDatabase {
            throw AuditError(
                .unreadableStore, "no admission database at \(admissionPath); pass --admission-db or set BRIDGEBACK_DATA_DIR")
        } catch {
            throw AuditError(.unreadableStore, "\(error)")
        }
        guard let ledgerPath else {
            records.ledger = nil
            records.notes.append("no ledger given (--ledger): how detached jobs ended is not judged")
            return records
        }
        do {
            let wanted = Set(records.jobs.keys).union(records.requests.compactMap(\.jobID))
            records.ledger = try LedgerReader(path: ledgerPath).read { snapshot in
                try snapshot.jobs(ids: wanted).mapValues { row in ledgerJob(row, parts: try snapshot.parts(of: row.jobID)) }
            }
        } catch let error where error.code == .missingLedger {
            records.ledger = nil
            records.notes.append("no ledger at \(ledgerPath): how detached jobs ended is not judged")
        } catch {
            throw AuditError(.unreadableStore, "\(error)")
        }
        return records
    }

    /// What the audit judges of one ledger job: its ending, its delivery and the failures of its parts.
    static func ledgerJob(_ row: LedgerJobRow, parts: [LedgerPartRow]) -> LedgerJob {
        var job = LedgerJob(
            jobID: row.jobID, state: row.state, endingKind: row.decision?.kind.rawValue,
            endingText: row.decision.map { String($0.text.prefix(200)) }, finalOutcome: row.finalOutcome, finalDetail: row.finalDetail,
            duplicates: row.duplicates, fallbackParts: parts.filter { $0.deliveryID.purpose == .fallback }.count)
        // How long the worker ran the job, from the completion behind the decision.
        if let completion = row.decision?.completion, completion.finishedAt >= completion.startedAt {
            job.runSeconds = completion.finishedAt.timeIntervalSince(completion.startedAt)
        }
        let failures = parts.compactMap(\.state.lastFailure)
        job.partFailures = Set(failures.map(\.kind.name)).sorted()
        // The coordinator's sentence for each failed part ("<detail> (<kind>)"), one per distinct failure.
        var seen: Set<String> = []
        job.partFailureDetails = failures.sorted { $0.kind.name < $1.kind.name }.compactMap { failure in
            let line = failure.detail.isEmpty ? failure.kind.name : "\(failure.detail) (\(failure.kind.name))"
            return seen.insert(line).inserted ? line : nil
        }
        return job
    }
}
