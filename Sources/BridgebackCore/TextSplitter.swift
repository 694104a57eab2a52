/// One piece of a split result.
public struct SplitPart: Sendable, Hashable {
    /// What to send: `addedPrefix + body + addedSuffix`. Always within the limit.
    public var text: String
    /// The exact slice of the original text this part carries.
    public var body: String
    /// A fence-reopening line (the original opening line) when the part starts inside an oversized fence.
    public var addedPrefix: String
    /// A fence-closing line when the part ends inside an oversized fence.
    public var addedSuffix: String
}

/// Splits a result into parts that each fit a surface, the way a careful person would.
///
/// Rules, in order: never split a grapheme (so never a Unicode scalar or a UTF-8 sequence);
/// never split inside a fenced code block that would fit in one part on its own; otherwise
/// break at the furthest paragraph break that leaves the part at least half full, else a line
/// break, else after a space, else between graphemes. A fence longer than the limit is split
/// at its line breaks and each piece is closed and reopened (`addedSuffix`/`addedPrefix`) so
/// every part still renders. **Rejoin rule:** strip each part's `addedPrefix` and
/// `addedSuffix` and concatenate the parts in order; the result is the original, exactly.
public enum TextSplitter {
    /// Splits `text` into parts of at most `limit` in `unit`. An empty text gives one empty part.
    ///
    /// Throws `limitTooSmall` only when a single grapheme, or a fence's opening and closing
    /// lines, cannot fit in `limit`.
    public static func split(_ text: String, limit: Int, unit: LengthUnit) throws(BridgebackError) -> [SplitPart] {
        guard limit > 0 else { throw BridgebackError(.limitTooSmall, "length limit must be positive, got \(limit)") }
        if unit.measure(text) <= limit {
            return [SplitPart(text: text, body: text, addedPrefix: "", addedSuffix: "")]
        }
        let chars = Array(text)
        let n = chars.count
        var cumulative = [Int](repeating: 0, count: n + 1)
        for (index, char) in chars.enumerated() { cumulative[index + 1] = cumulative[index] + unit.measure(char) }
        let fences = CodeFence.scan(chars)
        let oversized = fences.map { cumulative[$0.end] - cumulative[$0.start] > limit }
        let priority = breakPriorities(chars, fences: fences, oversized: oversized)
        // For each index, the oversized fence whose content it lies strictly inside, if any.
        var insideFence = [Int?](repeating: nil, count: n + 1)
        for (number, fence) in fences.enumerated() where oversized[number] && fence.contentStart < fence.closeStart {
            for index in (fence.contentStart + 1)..<fence.closeStart { insideFence[index] = number }
        }

        var parts: [SplitPart] = []
        var start = 0
        while start < n {
            let prefix = insideFence[start].map { fences[$0].openingLine } ?? ""
            let prefixCost = unit.measure(prefix)
            var candidates: [(end: Int, priority: Int, fill: Int, suffix: String)] = []
            var end = start + 1
            while end <= n {
                let bodyCost = cumulative[end] - cumulative[start]
                if bodyCost + prefixCost > limit { break }
                if end == n || priority[end] >= 0 {
                    var suffix = ""
                    if end < n, let number = insideFence[end] {
                        suffix = (chars[end - 1].isNewline ? "" : "\n") + fences[number].marker
                    }
                    if bodyCost + prefixCost + unit.measure(suffix) <= limit {
                        candidates.append((end, end == n ? 4 : priority[end], bodyCost, suffix))
                    }
                }
                end += 1
            }
            guard let chosen = choose(candidates, limit: limit) else {
                let what =
                    insideFence[start] != nil || fences.contains(where: { $0.start == start })
                    ? "a code fence's opening and closing lines plus one grapheme"
                    : "the grapheme at position \(start + 1)"
                throw BridgebackError(.limitTooSmall, "limit \(limit) \(unit.rawValue) cannot hold \(what); raise the surface's max_length")
            }
            let body = String(chars[start..<chosen.end])
            parts.append(SplitPart(text: prefix + body + chosen.suffix, body: body, addedPrefix: prefix, addedSuffix: chosen.suffix))
            start = chosen.end
        }
        return parts
    }

    /// The rejoin rule: strip what was added, concatenate in order.
    public static func rejoin(_ parts: [SplitPart]) -> String {
        parts.map { strip($0.text, prefix: $0.addedPrefix, suffix: $0.addedSuffix) }.joined()
    }

    /// Removes `prefix` and `suffix` from `text`, comparing Unicode scalars (never graphemes).
    public static func strip(_ text: String, prefix: String, suffix: String) -> String {
        var scalars = Substring(text).unicodeScalars[...]
        let prefixScalars = Array(prefix.unicodeScalars)
        let suffixScalars = Array(suffix.unicodeScalars)
        if !prefixScalars.isEmpty, scalars.starts(with: prefixScalars) { scalars = scalars.dropFirst(prefixScalars.count) }
        if !suffixScalars.isEmpty, scalars.reversed().starts(with: suffixScalars.reversed()) {
            scalars = scalars.dropLast(suffixScalars.count)
        }
        return String(String.UnicodeScalarView(scalars))
    }

    /// Paragraph 3, line 2, word 1, grapheme 0, forbidden -1 (index = break before `chars[index]`).
    static func breakPriorities(_ chars: [Character], fences: [CodeFence], oversized: [Bool]) -> [Int] {
        let n = chars.count
        var priority = [Int](repeating: 0, count: n + 1)
        for index in 1..<max(n, 1) {
            let previous = chars[index - 1]
            if previous.isNewline {
                priority[index] = index >= 2 && chars[index - 2].isNewline ? 3 : 2
            } else if previous == " " || previous == "\t" {
                priority[index] = chars[index].isWhitespace ? 0 : 1
            }
            // A mid-line break must not make the rest of a line start like a fence line.
            if !previous.isNewline && CodeFence.looksLikeFenceLine(chars, from: index) { priority[index] = -1 }
        }
        for (number, fence) in fences.enumerated() {
            if fence.end > fence.start + 1 {
                for index in (fence.start + 1)..<fence.end {
                    let inContent = index > fence.contentStart && index < fence.closeStart
                    if !(oversized[number] && inContent) { priority[index] = -1 }
                }
            }
            if fence.start > 0 { priority[fence.start] = 3 }
            if fence.end < n { priority[fence.end] = 3 }
        }
        return priority
    }

    /// The furthest break of the best kind that leaves the part at least half full; failing
    /// that (a fence that must start a part of its own is near), the furthest best break.
    static func choose(_ candidates: [(end: Int, priority: Int, fill: Int, suffix: String)], limit: Int) -> (end: Int, suffix: String)? {
        guard !candidates.isEmpty else { return nil }
        if let last = candidates.last, last.priority == 4 { return (last.end, last.suffix) }
        for level in stride(from: 3, through: 0, by: -1) {
            if let hit = candidates.last(where: { $0.priority == level && $0.fill * 2 >= limit }) {
                return (hit.end, hit.suffix)
            }
        }
        let best = candidates.map(\.priority).max()!
        let hit = candidates.last(where: { $0.priority == best })!
        return (hit.end, hit.suffix)
    }
}
