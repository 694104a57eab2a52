public import Foundation

/// Which of the four endings a final notice reports. Every admitted job gets exactly one.
public enum FinalNoticeKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// The job succeeded; the text is its result.
    case result
    /// The job failed (its recipe failed, or it dead-lettered after crashing workers).
    case failure
    /// The job was cancelled.
    case cancelled
    /// No completion arrived by deadline + grace.
    case lost
}

/// What lands at a surface (`bridgeback.final.v1`): one part of a job's final notice.
///
/// Rejoin rule for split results: take the parts in `part` order, remove `added_prefix`
/// from the start and `added_suffix` from the end of each `text`, and concatenate. The two
/// are empty unless a code fence longer than the surface limit had to be closed and reopened.
public struct FinalNotice: WireMessage, Hashable {
    public static let schema = MessageSchema(.final, version: 1)

    public var jobID: JobID
    public var deliveryID: DeliveryID
    public var kind: FinalNoticeKind
    /// 1-based part number and part count.
    public var part: Int
    public var totalParts: Int
    /// This part's text (the result, the failure reason, or a short line for cancelled/lost).
    public var text: String
    /// Fence-reopening line added at the start of `text` (strip to rejoin).
    public var addedPrefix: String
    /// Fence-closing line added at the end of `text` (strip to rejoin).
    public var addedSuffix: String
    /// True when `text` is a head of the result plus a reference (length policy `summarize`).
    public var summarized: Bool
    /// Where the full stored result can be read, e.g. `GET /v1/jobs/<id>/result`.
    public var fullResult: String
    /// Who asked, where, what ran, how long, and how to see more.
    public var context: HumanContext
    /// `context` rendered as the lines people read.
    public var contextText: String
    public var origin: SurfaceID
    public var finalSurface: SurfaceID
    public var deliveryMode: DeliveryMode
    public var createdAt: Date

    public init(
        deliveryID: DeliveryID, kind: FinalNoticeKind, totalParts: Int, text: String,
        addedPrefix: String = "", addedSuffix: String = "", summarized: Bool = false,
        context: HumanContext, origin: SurfaceID, finalSurface: SurfaceID,
        deliveryMode: DeliveryMode, createdAt: Date
    ) {
        self.init(
            deliveryID: deliveryID, kind: kind, totalParts: totalParts, text: text, addedPrefix: addedPrefix,
            addedSuffix: addedSuffix, summarized: summarized, context: context, contextText: context.render(), origin: origin,
            finalSurface: finalSurface, deliveryMode: deliveryMode, createdAt: createdAt)
    }

    /// With `context` already rendered (`contextText` must be `context.render()`): the planner
    /// renders a one-part notice's context to measure it and hands the same text over.
    init(
        deliveryID: DeliveryID, kind: FinalNoticeKind, totalParts: Int, text: String,
        addedPrefix: String, addedSuffix: String, summarized: Bool,
        context: HumanContext, contextText: String, origin: SurfaceID, finalSurface: SurfaceID,
        deliveryMode: DeliveryMode, createdAt: Date
    ) {
        self.jobID = deliveryID.job
        self.deliveryID = deliveryID
        self.kind = kind
        self.part = deliveryID.part
        self.totalParts = totalParts
        self.text = text
        self.addedPrefix = addedPrefix
        self.addedSuffix = addedSuffix
        self.summarized = summarized
        self.fullResult = "GET /v1/jobs/\(deliveryID.job)/result"
        self.context = context
        self.contextText = contextText
        self.origin = origin
        self.finalSurface = finalSurface
        self.deliveryMode = deliveryMode
        self.createdAt = createdAt
    }

    /// This part's share of the original text (the rejoin rule applied to one part).
    ///
    /// Works on Unicode scalars, not graphemes, so an added line never merges with the body.
    public var originalSlice: String {
        TextSplitter.strip(text, prefix: addedPrefix, suffix: addedSuffix)
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", deliveryID = "delivery_id", kind, part, totalParts = "total_parts", text
        case addedPrefix = "added_prefix", addedSuffix = "added_suffix", summarized, fullResult = "full_result"
        case context, contextText = "context_text", origin, finalSurface = "final_surface"
        case deliveryMode = "delivery_mode", createdAt = "created_at"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        jobID = try c.decode(JobID.self, forKey: .jobID)
        deliveryID = try c.decode(DeliveryID.self, forKey: .deliveryID)
        kind = try c.decode(FinalNoticeKind.self, forKey: .kind)
        part = try c.decode(Int.self, forKey: .part)
        totalParts = try c.decode(Int.self, forKey: .totalParts)
        text = try c.decode(String.self, forKey: .text)
        addedPrefix = try c.decodeIfPresent(String.self, forKey: .addedPrefix) ?? ""
        addedSuffix = try c.decodeIfPresent(String.self, forKey: .addedSuffix) ?? ""
        summarized = try c.decodeIfPresent(Bool.self, forKey: .summarized) ?? false
        fullResult = try c.decode(String.self, forKey: .fullResult)
        context = try c.decode(HumanContext.self, forKey: .context)
        contextText = try c.decode(String.self, forKey: .contextText)
        origin = try c.decode(SurfaceID.self, forKey: .origin)
        finalSurface = try c.decode(SurfaceID.self, forKey: .finalSurface)
        deliveryMode = try c.decode(DeliveryMode.self, forKey: .deliveryMode)
        createdAt = try c.decode(Date.self, forKey: .createdAt)
    }
}

extension FinalNotice {
    /// Rejoins a split result: the rule documented on `FinalNotice`, applied to parts in order.
    public static func rejoin(_ parts: [FinalNotice]) -> String {
        parts.sorted { $0.part < $1.part }.map(\.originalSlice).joined()
    }
}
