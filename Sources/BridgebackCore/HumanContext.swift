/// The context that makes a final message readable on its own: no bare ids as the only reference.
public struct HumanContext: Sendable, Hashable, Codable {
    public var jobID: JobID
    /// A short excerpt of what was asked.
    public var asked: String
    /// Where it was asked (origin human name).
    public var askedIn: String
    /// What ran (recipe name).
    public var recipe: String
    /// Where it ran (worker), if known; lost jobs have none.
    public var ranOn: String?
    /// How long it took, if known.
    public var durationSeconds: Double?
    public var kind: FinalNoticeKind
    /// The failure reason or a short outcome note.
    public var detail: String?
    public var part: Int
    public var totalParts: Int

    public init(
        jobID: JobID, asked: String, askedIn: String, recipe: String, ranOn: String? = nil, durationSeconds: Double? = nil,
        kind: FinalNoticeKind, detail: String? = nil, part: Int = 1, totalParts: Int = 1
    ) {
        self.jobID = jobID
        self.asked = asked
        self.askedIn = askedIn
        self.recipe = recipe
        self.ranOn = ranOn
        self.durationSeconds = durationSeconds
        self.kind = kind
        self.detail = detail
        self.part = part
        self.totalParts = totalParts
    }

    /// Builds the context from the contract, the completion (if any) and the registry.
    public init(
        contract: OwnershipContract, completion: Completion?, kind: FinalNoticeKind, detail: String? = nil, originName: String,
        part: Int = 1, totalParts: Int = 1
    ) {
        self.init(
            jobID: contract.jobID,
            asked: HumanText.excerpt(contract.requestExcerpt.isEmpty ? contract.summary : contract.requestExcerpt, maxCharacters: 100),
            askedIn: originName,
            recipe: contract.recipe.name,
            ranOn: completion?.worker,
            durationSeconds: completion.map { $0.finishedAt.timeIntervalSince($0.startedAt) },
            kind: kind,
            detail: detail,
            part: part,
            totalParts: totalParts)
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", asked, askedIn = "asked_in", recipe, ranOn = "ran_on"
        case durationSeconds = "duration_seconds", kind, detail, part, totalParts = "total_parts"
    }

    /// The outcome in words ("succeeded", "failed: disk full", "lost: no answer by its deadline").
    public var outcomeText: String {
        let base: String
        switch kind {
        case .result: base = "succeeded"
        case .failure: base = "failed"
        case .cancelled: base = "cancelled"
        case .lost: base = "lost (no answer by its deadline)"
        }
        guard let detail, !detail.isEmpty else { return base }
        return "\(base): \(HumanText.excerpt(detail, maxCharacters: 120))"
    }

    /// Three or four short lines, e.g.:
    ///
    ///     Part 1/3 · You asked in Alice's terminal: "run the release gate for api 2.3"
    ///     Ran release-gate on worker-2, took 4 min 12 s: succeeded
    ///     More: bridgeback jobs show job_01J… · GET /v1/jobs/job_01J…
    ///
    /// Written into one string (several times per job: the planner measures it for each part
    /// count it tries, then each part keeps it); built from interpolations and a join it was ~13
    /// string allocations each time (#12, fourteenth session).
    public func render() -> String {
        let id = jobID.description
        var out = ""
        out.reserveCapacity(
            120 + askedIn.utf8.count + asked.utf8.count + recipe.utf8.count + (ranOn?.utf8.count ?? 0) + (detail?.utf8.count ?? 0)
                + 2 * id.utf8.count)
        if totalParts > 1 {
            out += "Part "
            out += String(part)
            out += "/"
            out += String(totalParts)
            out += " · "
        }
        out += "You asked in "
        out += askedIn
        out += ": \""
        out += asked
        out += "\"\nRan "
        out += recipe
        // A lost job that never reached a worker has neither a worker nor a duration to name.
        if kind != .lost || ranOn != nil {
            if let ranOn {
                out += " on "
                out += ranOn
            }
            if let durationSeconds {
                out += ", took "
                out += HumanText.duration(seconds: durationSeconds)
            }
        }
        out += ": "
        out += outcomeText
        out += "\nMore: bridgeback jobs show "
        out += id
        out += " · GET /v1/jobs/"
        out += id
        return out
    }
}
