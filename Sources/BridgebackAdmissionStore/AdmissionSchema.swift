import GRDB

/// The columns of `admission.sqlite` that the audit reads, named once. The store's writers
/// (`AdmissionStore`, `InlineOutcomeStore`, `ContractRefusalStore`), its row decoders and
/// `AdmissionRecordsReader` all name them through these, so renaming one changes every statement,
/// and a column taken away stops the reader (and the audit's loader behind it) from compiling.
/// The migrations stay as shipped; `AdmissionSchemaTests` checks each of these is a column of the
/// migrated table.
enum AdmissionSchema {
    /// `request_log`: every decided request.
    enum RequestLog {
        static let table = "request_log"
        static let id = Column("id")
        static let origin = Column("origin")
        static let text = Column("text")
        static let hints = Column("hints")
        static let decision = Column("decision")
        static let forced = Column("forced")
        /// JSON array of trigger classes.
        static let triggers = Column("triggers")
        static let reason = Column("reason")
        static let policyVersion = Column("policy_version")
        static let receivedAt = Column("received_at")
        static let idempotencyKey = Column("idempotency_key")
        static let jobID = Column("job_id")
        static let replay = Column("replay")

        /// Every column, in the order a line is inserted.
        static let all: [Column] = [
            id, origin, text, hints, decision, forced, triggers, reason, policyVersion, receivedAt, idempotencyKey, jobID, replay,
        ]
        /// Built once: the statement cache is keyed by the text, and every submit inserts a row.
        static let insertSQL = AdmissionSchema.insert(into: table, all)
    }

    /// `jobs`: the admission side of each detached job.
    enum Jobs {
        static let table = "jobs"
        static let jobID = Column("job_id")
        static let requestID = Column("request_id")
        static let origin = Column("origin")
        static let workSurface = Column("work_surface")
        static let finalSurface = Column("final_surface")
        static let idempotencyKey = Column("idempotency_key")
        /// The contract's wire JSON.
        static let contract = Column("contract")
        static let state = Column("state")
        static let createdAt = Column("created_at")
        static let publishedAt = Column("published_at")
        static let cancelRequestedAt = Column("cancel_requested_at")
        static let cancelReason = Column("cancel_reason")
        /// JSON array the first answer gave (migration `v4`; NULL before).
        static let defaultsApplied = Column("defaults_applied")

        /// The columns a new job is inserted with (the publish and cancel ones come later).
        static let inserted: [Column] = [
            jobID, requestID, origin, workSurface, finalSurface, idempotencyKey, contract, state, createdAt, defaultsApplied,
        ]
        /// Every column.
        static let all: [Column] = inserted + [publishedAt, cancelRequestedAt, cancelReason]
        /// Built once: the statement cache is keyed by the text, and every detach inserts a row.
        static let insertSQL = AdmissionSchema.insert(into: table, inserted)
    }

    /// `outbox`: the column the audit reads besides the job id (why a job never left).
    enum Outbox {
        static let table = "outbox"
        static let seq = Column("seq")
        static let jobID = Column("job_id")
        static let lastError = Column("last_error")
    }

    /// `inline_outcomes` (migration `v2`): what an inline turn cost, reported by the runtime.
    enum InlineOutcomes {
        static let table = "inline_outcomes"
        static let requestID = Column("request_id")
        static let durationS = Column("duration_s")
        static let toolCalls = Column("tool_calls")
        static let waitS = Column("wait_s")
        static let sources = Column("sources")
        static let sourceNames = Column("source_names")
        static let verificationLoops = Column("verification_loops")
        static let followUps = Column("follow_ups")
        static let succeeded = Column("succeeded")
        static let note = Column("note")
        static let reportedAt = Column("reported_at")

        static let all: [Column] = [
            requestID, durationS, toolCalls, waitS, sources, sourceNames, verificationLoops, followUps, succeeded, note, reportedAt,
        ]
        /// A request's outcome replaces an earlier one.
        static let insertSQL = AdmissionSchema.insert(into: table, all, orReplace: true)
    }

    /// `contract_refusals` (migration `v3`): contracts refused for a request that would detach.
    enum ContractRefusals {
        static let table = "contract_refusals"
        static let id = Column("id")
        static let at = Column("at")
        static let origin = Column("origin")
        static let excerpt = Column("excerpt")
        static let decision = Column("decision")
        static let forced = Column("forced")
        static let triggers = Column("triggers")
        static let policyVersion = Column("policy_version")
        static let code = Column("code")
        static let field = Column("field")
        static let message = Column("message")

        static let all: [Column] = [id, at, origin, excerpt, decision, forced, triggers, policyVersion, code, field, message]
        static let insertSQL = AdmissionSchema.insert(into: table, all)
    }

    /// `INSERT INTO table (a, b) VALUES (?, ?)` for these columns.
    static func insert(into table: String, _ columns: [Column], orReplace: Bool = false) -> String {
        let names = columns.map(\.name).joined(separator: ", ")
        let marks = columns.map { _ in "?" }.joined(separator: ", ")
        return "INSERT \(orReplace ? "OR REPLACE " : "")INTO \(table) (\(names)) VALUES (\(marks))"
    }
}
