import Foundation

/// What `POST /v1/jobs/{id}/dry-run` answers: exactly what delivery would send for a job,
/// where, in how many parts, and what each part's adapter dry-run says. Nothing is sent and
/// the ledger is not written.
///
/// Written by the coordinator (`DryRunPlanner`) and decoded by `bridgeback deliver --dry-run` and
/// the tests: one type on both sides of the HTTP boundary, so the two cannot drift apart.
public struct DeliveryDryRun: Sendable, Hashable, Codable {
    public var jobID: String
    /// Always true: a marker for anyone reading the JSON later.
    public var dryRun: Bool
    /// The job's `JobLifecycle` state in the ledger.
    public var state: String
    /// `would_send` (every part passes its dry-run), `would_fail` (a part does not),
    /// `suppressed` (nothing is sent), `undeliverable` (no notice can be planned).
    public var outcome: String
    /// `result`, `failure`, `cancelled`, `lost`.
    public var noticeKind: String
    /// Where the text comes from: `ledger` (the stored parts: the exact bytes delivery sends),
    /// `decision` (the job's decided notice, planned now), `request` (the `text` given),
    /// `placeholder` (no result yet, a marked stand-in).
    public var textSource: String
    /// The final surface, or nil when the registry no longer has it.
    public var surface: SurfacePlan?
    public var deliveryMode: String
    /// "parent-mediated", "direct", "suppressed".
    public var deliveryModeName: String
    /// The adapter that would send (type name), nil if none serves the surface.
    public var adapter: String?
    /// "Would send to Alice's terminal (inbox alice), parent-mediated, in 3 parts; all 3 pass the dry-run".
    public var human: String
    public var parts: [DryRunPart]
    public var notes: [String]

    public init(
        jobID: String, dryRun: Bool, state: String, outcome: String, noticeKind: String, textSource: String, surface: SurfacePlan?,
        deliveryMode: String, deliveryModeName: String, adapter: String?, human: String, parts: [DryRunPart], notes: [String]
    ) {
        self.jobID = jobID
        self.dryRun = dryRun
        self.state = state
        self.outcome = outcome
        self.noticeKind = noticeKind
        self.textSource = textSource
        self.surface = surface
        self.deliveryMode = deliveryMode
        self.deliveryModeName = deliveryModeName
        self.adapter = adapter
        self.human = human
        self.parts = parts
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", dryRun = "dry_run", state, outcome, noticeKind = "notice_kind", textSource = "text_source"
        case surface, deliveryMode = "delivery_mode", deliveryModeName = "delivery_mode_name", adapter, human, parts, notes
    }
}

/// One part as delivery would send it, with its adapter's dry-run verdict.
public struct DryRunPart: Sendable, Hashable, Codable {
    public var deliveryID: String
    public var part: Int
    public var totalParts: Int
    /// The length of `rendered` (what a person sees) in the surface's unit; the planner keeps
    /// it at most `maxLength`.
    public var length: Int
    public var maxLength: Int
    /// The unit in words ("characters", "bytes", "UTF-16 units").
    public var unitWords: String
    /// Bytes of `body`, the `bridgeback.final.v1` JSON that inbox, webhook and file receive.
    public var bodyBytes: Int
    /// True when the text is a head of the result plus a reference (policy `summarize`).
    public var summarized: Bool
    /// The part's text; `rendered` is the context lines, a blank line, then this.
    public var text: String
    public var rendered: String
    /// The exact body, as text.
    public var body: String
    /// True when the adapter's dry-run passed.
    public var ok: Bool
    /// The dry-run's failure in the taxonomy, in words, with the adapter's detail.
    public var failure: FailureStatus?
    /// What delivery would do about that failure ("retried", "the part fails").
    public var consequence: String?

    public init(
        deliveryID: String, part: Int, totalParts: Int, length: Int, maxLength: Int, unitWords: String, bodyBytes: Int,
        summarized: Bool, text: String, rendered: String, body: String, ok: Bool, failure: FailureStatus?, consequence: String?
    ) {
        self.deliveryID = deliveryID
        self.part = part
        self.totalParts = totalParts
        self.length = length
        self.maxLength = maxLength
        self.unitWords = unitWords
        self.bodyBytes = bodyBytes
        self.summarized = summarized
        self.text = text
        self.rendered = rendered
        self.body = body
        self.ok = ok
        self.failure = failure
        self.consequence = consequence
    }

    enum CodingKeys: String, CodingKey {
        case deliveryID = "delivery_id", part, totalParts = "total_parts", length, maxLength = "max_length"
        case unitWords = "unit_words", bodyBytes = "body_bytes", summarized, text, rendered, body, ok, failure, consequence
    }
}
