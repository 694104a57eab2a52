/// One server-sent event (the `text/event-stream` format of the HTML standard), framed for the wire.
///
/// The data may hold any text: it is cut into one `data:` line per line (CR, LF and CRLF all end
/// a line, as the standard's parser reads them), and the browser joins them back with LF. Event
/// names and ids are single lines by construction: line breaks in them are dropped, and an id
/// with NUL is left out (the standard ignores such an id).
public struct ServerSentEvent: Sendable, Hashable {
    public var event: String?
    public var data: String
    public var id: String?
    /// How long the browser waits before reconnecting, in milliseconds.
    public var retryMilliseconds: Int?

    public init(event: String? = nil, data: String, id: String? = nil, retryMilliseconds: Int? = nil) {
        self.event = event
        self.data = data
        self.id = id
        self.retryMilliseconds = retryMilliseconds
    }

    /// The event's bytes, ending with the blank line that dispatches it.
    public var encoded: String {
        var out = ""
        if let id, !id.unicodeScalars.contains("\u{0}") { out += "id: \(Self.oneLine(id))\n" }
        if let event { out += "event: \(Self.oneLine(event))\n" }
        if let retryMilliseconds, retryMilliseconds >= 0 { out += "retry: \(retryMilliseconds)\n" }
        for line in Self.lines(data) { out += "data: \(line)\n" }
        return out + "\n"
    }

    /// A comment line (`: text`): ignored by the browser, keeps proxies and the connection awake.
    public static func comment(_ text: String) -> String { ": \(oneLine(text))\n\n" }

    /// `text` cut at CRLF, CR and LF; an empty text is one empty line (an event with empty data).
    static func lines(_ text: String) -> [String] {
        var lines: [String] = []
        let scalars = Substring(text).unicodeScalars
        var start = scalars.startIndex
        var index = start
        while index < scalars.endIndex {
            let scalar = scalars[index]
            if scalar == "\n" || scalar == "\r" {
                lines.append(String(Substring(scalars[start..<index])))
                var next = scalars.index(after: index)
                if scalar == "\r", next < scalars.endIndex, scalars[next] == "\n" { next = scalars.index(after: next) }
                start = next
                index = next
            } else {
                index = scalars.index(after: index)
            }
        }
        lines.append(String(Substring(scalars[start..<scalars.endIndex])))
        return lines
    }

    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { $0 != "\n" && $0 != "\r" }))
    }
}
