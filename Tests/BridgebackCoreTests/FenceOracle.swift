/// An independent, line-based fence reader for the tests (not the splitter's own scanner).
struct FenceOracle {
    struct Span { var start: Int; var end: Int; var closed: Bool }

    /// Fence spans in grapheme offsets, and whether the text ends inside an open fence.
    static func spans(_ text: String) -> (spans: [Span], endsOpen: Bool) {
        var spans: [Span] = []
        var open: (start: Int, char: Character, count: Int)?
        var offset = 0
        for line in lines(text) {
            let body = line.filter { !$0.isNewline }
            let trimmed = body.drop(while: { $0 == " " })
            let indent = body.count - trimmed.count
            if let current = open {
                let run = trimmed.prefix(while: { $0 == current.char }).count
                if indent <= 3, run >= current.count, trimmed.dropFirst(run).allSatisfy({ $0 == " " || $0 == "\t" }) {
                    spans.append(Span(start: current.start, end: offset + line.count, closed: true))
                    open = nil
                }
            } else if indent <= 3, let first = trimmed.first, first == "`" || first == "~" {
                let run = trimmed.prefix(while: { $0 == first }).count
                if run >= 3 && !(first == "`" && trimmed.dropFirst(run).contains("`")) {
                    open = (offset, first, run)
                }
            }
            offset += line.count
        }
        if let current = open { spans.append(Span(start: current.start, end: offset, closed: false)) }
        return (spans, open != nil)
    }

    static func lines(_ text: String) -> [[Character]] {
        var result: [[Character]] = []
        var current: [Character] = []
        for char in text {
            current.append(char)
            if char.isNewline {
                result.append(current)
                current = []
            }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }
}
