/// Length policy `summarize`: the head of a result plus a line saying where the rest is.
public enum Summarizer {
    /// The summarized text and whether anything was cut.
    public struct Summary: Sendable, Hashable {
        public var text: String
        public var summarized: Bool

        public init(text: String, summarized: Bool) {
            self.text = text
            self.summarized = summarized
        }
    }

    /// Returns `text` unchanged if it fits; otherwise its head (cut by the splitter's rules,
    /// so never inside a grapheme and with any open code fence closed) and a reference line,
    /// all within `limit`.
    ///
    /// `reference` is how to get the full result, e.g. "GET /v1/jobs/job_…/result".
    public static func summarize(_ text: String, limit: Int, unit: LengthUnit, reference: String) throws(BridgebackError) -> Summary {
        if unit.measure(text) <= limit { return Summary(text: text, summarized: false) }
        let trailer = "\n\n… (cut to fit; full result: \(reference))"
        let room = limit - unit.measure(trailer)
        guard room > 0 else {
            throw BridgebackError(
                .limitTooSmall,
                "limit \(limit) \(unit.rawValue) cannot hold the reference line (\(unit.measure(trailer))); raise the surface's max_length or use length_policy split"
            )
        }
        let head = try TextSplitter.split(text, limit: room, unit: unit)[0]
        return Summary(text: head.addedPrefix + head.body + head.addedSuffix + trailer, summarized: true)
    }
}
