/// Small text helpers for lines people read.
public enum HumanText {
    /// `text` with whitespace runs collapsed, cut to `maxCharacters` graphemes with "…".
    public static func excerpt(_ text: String, maxCharacters: Int) -> String {
        if isCollapsedASCII(text, maxCharacters: maxCharacters) { return text }
        let collapsed = text.split(whereSeparator: { $0.isWhitespace || $0.isNewline }).joined(separator: " ")
        guard collapsed.count > maxCharacters else { return collapsed }
        let cut = collapsed.prefix(max(0, maxCharacters - 1))
        // Prefer ending at a word boundary if one is reasonably close.
        if let space = cut.lastIndex(of: " "), cut.distance(from: cut.startIndex, to: space) > maxCharacters * 2 / 3 {
            return String(cut[..<space]) + "…"
        }
        return String(cut) + "…"
    }

    /// True when `excerpt` would return `text` unchanged, decided without copying it: ASCII (one
    /// byte per character), no more than `maxCharacters`, no whitespace but single spaces between
    /// words. A job's request excerpt usually is, and splitting and joining it was a measurable
    /// share of the coordinator's string allocations per job (#12).
    static func isCollapsedASCII(_ text: String, maxCharacters: Int) -> Bool {
        let bytes = text.utf8
        guard bytes.count <= maxCharacters, bytes.first != 0x20, bytes.last != 0x20 else { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            // ASCII only, and none of the ASCII characters Unicode calls white space (tab, line
            // feed, vertical tab, form feed, carriage return), nor two spaces in a row.
            guard byte < 0x80, !(0x09...0x0D).contains(byte), !(byte == 0x20 && previous == 0x20) else { return false }
            previous = byte
        }
        return true
    }

    /// "850 ms", "42 s", "4 min 12 s", "2 h 5 min", "3 d 4 h".
    public static func duration(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "unknown" }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        // Clamped before the conversion, which traps past `Int.max`: a number read from a message
        // (a notice's context, a forged completion's dates) must not end the process that renders it.
        let total = Int(min(seconds, 9e15).rounded())
        if total < 60 { return "\(total) s" }
        let (minutes, secs) = total.quotientAndRemainder(dividingBy: 60)
        if minutes < 60 { return secs == 0 ? "\(minutes) min" : "\(minutes) min \(secs) s" }
        let (hours, mins) = minutes.quotientAndRemainder(dividingBy: 60)
        if hours < 24 { return mins == 0 ? "\(hours) h" : "\(hours) h \(mins) min" }
        let (days, hrs) = hours.quotientAndRemainder(dividingBy: 24)
        return hrs == 0 ? "\(days) d" : "\(days) d \(hrs) h"
    }
}
