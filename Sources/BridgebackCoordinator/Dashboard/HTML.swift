/// HTML that is safe by construction: text goes in through `HTML.text` (escaped), markup only
/// through string literals in this module. Job text, surface names and worker names come from
/// requests and workers, so none of it is ever trusted as markup.
struct HTML: Sendable, Hashable, CustomStringConvertible {
    /// The markup, already escaped where it holds text.
    private(set) var markup: String

    init(trusted markup: String) { self.markup = markup }

    /// Escaped text: `&`, `<`, `>`, `"` and `'` become entities (safe inside elements and
    /// in quoted attribute values); NUL becomes U+FFFD.
    static func text(_ text: String) -> HTML { HTML(trusted: escape(text)) }

    var description: String { markup }

    /// The five characters that can end a text run or an attribute value, as entities.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\u{0}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func + (a: HTML, b: HTML) -> HTML { HTML(trusted: a.markup + b.markup) }
    static func += (a: inout HTML, b: HTML) { a.markup += b.markup }
    static let empty = HTML(trusted: "")
}

/// Builds markup: literals are trusted markup, interpolated `String`s are escaped, interpolated
/// `HTML` values are inserted as they are. `h("<td>\(name)</td>")` cannot inject markup.
struct HTMLInterpolation: StringInterpolationProtocol {
    var markup = ""
    init(literalCapacity: Int, interpolationCount: Int) { markup.reserveCapacity(literalCapacity * 2) }
    mutating func appendLiteral(_ literal: String) { markup += literal }
    mutating func appendInterpolation(_ text: String) { markup += HTML.escape(text) }
    mutating func appendInterpolation(_ html: HTML) { markup += html.markup }
    mutating func appendInterpolation(_ number: Int) { markup += String(number) }
    mutating func appendInterpolation(_ text: String?) { markup += HTML.escape(text ?? "") }
}

extension HTML: ExpressibleByStringInterpolation {
    init(stringLiteral value: String) { markup = value }
    init(stringInterpolation: HTMLInterpolation) { markup = stringInterpolation.markup }
}

extension Sequence where Element == HTML {
    func joined() -> HTML { HTML(trusted: map(\.markup).joined()) }
}
