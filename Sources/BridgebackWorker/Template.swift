import BridgebackCore
import Foundation

/// `{param}` placeholders in argv elements and URL templates.
enum Template {
    /// The parameter name if `element` is exactly `{name}`.
    static func wholePlaceholder(_ element: String) -> String? {
        guard element.hasPrefix("{"), element.hasSuffix("}"), element.count > 2 else { return nil }
        let name = String(element.dropFirst().dropLast())
        return isIdentifier(name) ? name : nil
    }

    /// Every `{name}` inside `text`, in order.
    static func placeholders(in text: String) -> [String] {
        var names: [String] = []
        var rest = text[...]
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { break }
            let name = String(after[..<close])
            if isIdentifier(name) { names.append(name) }
            rest = after[after.index(after: close)...]
        }
        return names
    }

    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// Substitutes whole-argument placeholders; an optional parameter with no value drops its argument.
    static func argv(_ template: [String], values: [String: ParameterValue]) -> [String] {
        template.compactMap { element in
            guard let name = wholePlaceholder(element) else { return element }
            return values[name]?.description
        }
    }

    /// Characters a parameter may contribute to a URL unescaped: RFC 3986 unreserved plus `/`.
    static let urlSafe: CharacterSet = {
        var set = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        set.insert(charactersIn: "-._~/")
        return set
    }()

    /// Substitutes placeholders with percent-encoded values (a value cannot add `?`, `#`, `@`, `:`).
    static func url(_ template: String, values: [String: ParameterValue]) -> String {
        var result = template
        for name in Set(placeholders(in: template)) {
            let value = values[name]?.description ?? ""
            result = result.replacingOccurrences(of: "{\(name)}", with: value.addingPercentEncoding(withAllowedCharacters: urlSafe) ?? "")
        }
        return result
    }

    /// The `host[:port]` part of an `http(s)://` template, if it has that shape.
    static func authorityRange(of url: String) -> Range<String.Index>? {
        let lower = url.lowercased()
        let schemeLength = lower.hasPrefix("https://") ? 8 : lower.hasPrefix("http://") ? 7 : 0
        guard schemeLength > 0 else { return nil }
        let start = url.index(url.startIndex, offsetBy: schemeLength)
        let end = url[start...].firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? url.endIndex
        return start..<end
    }

    /// Checks scheme, absence of user info, and that the host is allowed; returns the parsed URL.
    static func checkHost(_ text: String, allowed: Set<String>) -> Result<URL, WorkerError> {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https",
            let host = components.host?.lowercased(), !host.isEmpty, let url = components.url
        else {
            return .failure(WorkerError(.hostNotAllowed, "'\(text)' is not an http(s) URL with a host"))
        }
        guard components.user == nil, components.password == nil else {
            return .failure(WorkerError(.hostNotAllowed, "'\(text)' must not carry user info"))
        }
        guard allowed.contains(host) else {
            let list =
                allowed.isEmpty ? "none are allowed; add it to allowed_hosts" : "allowed hosts: \(allowed.sorted().joined(separator: ", "))"
            return .failure(WorkerError(.hostNotAllowed, "host '\(host)' is not in the catalog's allowed_hosts (\(list))"))
        }
        return .success(url)
    }
}
