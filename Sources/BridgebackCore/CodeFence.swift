/// A fenced code block (``` or ~~~, CommonMark rules) located in an array of graphemes.
struct CodeFence: Sendable, Hashable {
    /// Index of the opening line's first grapheme.
    var start: Int
    /// Index just after the opening line (its newline included).
    var contentStart: Int
    /// Index of the closing line's first grapheme, or `end` when unclosed.
    var closeStart: Int
    /// Index just after the closing line (or the text's end when unclosed).
    var end: Int
    /// The opening line exactly as written, newline included: the reopen prefix.
    var openingLine: String
    /// Indentation plus the fence run, e.g. "```" or "  ~~~~": the close marker.
    var marker: String
    var closed: Bool

    /// Finds every fence, scanning line by line like a CommonMark renderer would.
    static func scan(_ chars: [Character]) -> [CodeFence] {
        var fences: [CodeFence] = []
        var open: (start: Int, contentStart: Int, line: String, indent: String, char: Character, count: Int)?
        var lineStart = 0
        while lineStart < chars.count {
            var lineEnd = lineStart
            while lineEnd < chars.count && !chars[lineEnd].isNewline { lineEnd += 1 }
            let next = lineEnd < chars.count ? lineEnd + 1 : lineEnd
            let line = chars[lineStart..<lineEnd]
            if let current = open {
                if isClosing(line, char: current.char, count: current.count) {
                    fences.append(
                        CodeFence(
                            start: current.start, contentStart: current.contentStart, closeStart: lineStart, end: next,
                            openingLine: current.line, marker: current.indent + String(repeating: current.char, count: current.count),
                            closed: true))
                    open = nil
                }
            } else if let opener = opening(line) {
                open = (lineStart, next, String(chars[lineStart..<next]), opener.indent, opener.char, opener.count)
            }
            lineStart = next
        }
        if let current = open {
            fences.append(
                CodeFence(
                    start: current.start, contentStart: current.contentStart, closeStart: chars.count, end: chars.count,
                    openingLine: current.line, marker: current.indent + String(repeating: current.char, count: current.count),
                    closed: false))
        }
        return fences
    }

    /// Up to three spaces, then 3+ backticks or tildes; a backtick fence's info has no backtick.
    static func opening(_ line: ArraySlice<Character>) -> (indent: String, char: Character, count: Int)? {
        var index = line.startIndex
        var indent = ""
        while index < line.endIndex, line[index] == " ", indent.count < 3 {
            indent.append(" ")
            index += 1
        }
        guard index < line.endIndex, line[index] == "`" || line[index] == "~" else { return nil }
        let char = line[index]
        var count = 0
        while index < line.endIndex, line[index] == char {
            count += 1
            index += 1
        }
        guard count >= 3 else { return nil }
        if char == "`" && line[index...].contains("`") { return nil }
        return (indent, char, count)
    }

    /// Up to three spaces, at least `count` of `char`, then only spaces or tabs.
    static func isClosing(_ line: ArraySlice<Character>, char: Character, count: Int) -> Bool {
        var index = line.startIndex
        var spaces = 0
        while index < line.endIndex, line[index] == " ", spaces < 3 {
            spaces += 1
            index += 1
        }
        var run = 0
        while index < line.endIndex, line[index] == char {
            run += 1
            index += 1
        }
        guard run >= count else { return false }
        return line[index...].allSatisfy { $0 == " " || $0 == "\t" }
    }

    /// Whether a line that began at `index` would look like a fence line (up to three spaces,
    /// then three backticks or tildes). Splitting mid-line must never create such a line start.
    static func looksLikeFenceLine(_ chars: [Character], from index: Int) -> Bool {
        var i = index
        var spaces = 0
        while i < chars.count, chars[i] == " ", spaces < 3 {
            spaces += 1
            i += 1
        }
        guard i + 2 < chars.count else { return false }
        let c = chars[i]
        return (c == "`" || c == "~") && chars[i + 1] == c && chars[i + 2] == c
    }
}
