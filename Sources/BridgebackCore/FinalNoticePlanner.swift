public import Foundation

/// Turns a job's final decision into the `FinalNotice` parts its surface can take.
///
/// The budget covers what a person sees in one message, `rendered` = context lines, a blank
/// line, then the part's text, so chat adapters can send `rendered` as is. Each part gets the
/// stable delivery id `dlv_<job>_<n>`.
public enum FinalNoticePlanner {
    /// Parts for the contract's final surface (or, with `purpose: .fallback`, for the work surface).
    public static func plan(
        contract: OwnershipContract,
        decision: JobLifecycle.FinalDecision,
        surface: Surface,
        originName: String,
        purpose: DeliveryID.Purpose = .final,
        createdAt: Date
    ) throws(BridgebackError) -> [FinalNotice] {
        let detail = decision.kind == .failure ? decision.text : nil
        func context(_ part: Int, _ total: Int) -> HumanContext {
            HumanContext(
                contract: contract, completion: decision.completion, kind: decision.kind, detail: detail, originName: originName,
                part: part, totalParts: total)
        }
        // The last part's context lines, rendered and measured once per part count: the split loop
        // asks for the same count more than once, and a one-part notice (most of them) keeps the text
        // it was measured with. Four renders per job before (#12, fifteenth session).
        var renders: [(total: Int, text: String, units: Int)] = []
        func lastPartContext(_ total: Int) -> (text: String, units: Int) {
            if let known = renders.first(where: { $0.total == total }) { return (known.text, known.units) }
            let text = context(total, total).render()
            let units = surface.lengthUnit.measure(text + "\n\n")
            renders.append((total, text, units))
            return (text, units)
        }
        func overhead(_ total: Int) -> Int { lastPartContext(total).units }
        var texts: [(text: String, prefix: String, suffix: String)]
        var summarized = false
        var total = 1
        switch surface.lengthPolicy {
        case .summarize:
            let reference = "GET /v1/jobs/\(contract.jobID)/result"
            let summary = try Summarizer.summarize(
                decision.text, limit: surface.maxLength - overhead(1), unit: surface.lengthUnit, reference: reference)
            texts = [(summary.text, "", "")]
            summarized = summary.summarized
        case .split:
            // The part label's width depends on the part count; converge in a few rounds.
            // The part label ("Part 3/12 · ") grows with the part count: re-split until the
            // overhead assumed is at least the overhead the resulting count needs.
            var parts: [SplitPart] = []
            while true {
                let room = surface.maxLength - overhead(total)
                guard room > 0 else {
                    throw BridgebackError(
                        .limitTooSmall,
                        "surface '\(surface.id)' max_length \(surface.maxLength) leaves no room after the context lines; raise it",
                        surfaceID: surface.id.rawValue)
                }
                parts = try TextSplitter.split(decision.text, limit: room, unit: surface.lengthUnit)
                if overhead(parts.count) <= overhead(total) { break }
                total = parts.count
            }
            texts = parts.map { ($0.text, $0.addedPrefix, $0.addedSuffix) }
        }
        total = texts.count
        var notices: [FinalNotice] = []
        notices.reserveCapacity(total)
        for (index, piece) in texts.enumerated() {
            let part = index + 1
            let partContext = context(part, total)
            notices.append(
                FinalNotice(
                    deliveryID: DeliveryID(job: contract.jobID, part: part, purpose: purpose),
                    kind: decision.kind, totalParts: total, text: piece.text,
                    addedPrefix: piece.prefix, addedSuffix: piece.suffix, summarized: summarized,
                    context: partContext, contextText: part == total ? lastPartContext(total).text : partContext.render(),
                    origin: contract.origin, finalSurface: surface.id, deliveryMode: contract.deliveryMode, createdAt: createdAt))
        }
        return notices
    }

    /// The decision for a fallback notice after a `direct` send failed terminally: it says
    /// what happened and still carries the result.
    public static func fallbackDecision(for decision: JobLifecycle.FinalDecision, finalSurfaceName: String, failure: DeliveryFailure)
        -> JobLifecycle.FinalDecision
    {
        var fallback = decision
        let why = failure.kind.humanDescription + (failure.detail.isEmpty ? "" : " (\(failure.detail))")
        fallback.text = "Could not deliver to \(finalSurfaceName): \(why). The answer follows.\n\n" + decision.text
        return fallback
    }
}

extension FinalNotice {
    /// What a person sees: the context lines, a blank line, this part's text.
    /// Within the surface's limit when planned by `FinalNoticePlanner`.
    public var rendered: String { contextText + "\n\n" + text }
}
