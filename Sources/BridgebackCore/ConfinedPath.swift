import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A recipe's `path` parameter: a file path confined to the roots the recipe declares, so a job
/// cannot make a worker look outside them (`/etc/shadow`, `/tmp/../etc`, or a symlink under a
/// root that points elsewhere).
///
/// Admission checks the text (``lexical(_:roots:)``: absolute, no `..`, under a root); the worker
/// also resolves symlinks on its own host (``resolve(_:roots:)``) and passes the resolved path.
public enum ConfinedPath {
    /// Why a path was refused; the message names the value and the roots.
    public struct Refusal: Error, Sendable, Hashable {
        public var message: String
    }

    /// The path's components after dropping empty and `.` ones; refuses relative paths and `..`.
    public static func components(_ path: String) throws(Refusal) -> [String] {
        guard path.hasPrefix("/") else { throw Refusal(message: "must be an absolute path, got \(quote(path))") }
        guard !path.utf8.contains(0) else { throw Refusal(message: "must not contain NUL characters") }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if parts.contains("..") { throw Refusal(message: "must not contain '..', got \(quote(path))") }
        return parts.filter { $0 != "." }
    }

    /// `/a/b` from components.
    public static func join(_ components: [String]) -> String { "/" + components.joined(separator: "/") }

    /// True when `path` is `root` or inside it (compared by whole components).
    public static func isWithin(_ path: [String], _ root: [String]) -> Bool {
        path.count >= root.count && Array(path.prefix(root.count)) == root
    }

    /// The text check admission can make without the worker's file system: the normalized path.
    public static func lexical(_ path: String, roots: [String]) throws(Refusal) -> String {
        let parts = try components(path)
        let rootParts = roots.compactMap { try? components($0) }
        guard rootParts.contains(where: { isWithin(parts, $0) }) else {
            throw Refusal(message: "must be under \(describe(roots)), got \(quote(path))")
        }
        return join(parts)
    }

    /// The worker's check: symlinks in the longest existing prefix are resolved (`realpath`), the
    /// rest is appended (a file a wait is waiting for need not exist yet), and the result must be
    /// under one of the roots, themselves resolved. Returns the resolved path to use.
    public static func resolve(_ path: String, roots: [String]) throws(Refusal) -> String {
        let parts = try components(path)
        let resolved = try components(resolveExisting(parts))
        let rootParts = roots.compactMap { root in try? components(resolveExisting(components(root))) }
        guard rootParts.contains(where: { isWithin(resolved, $0) }) else {
            let shown = join(resolved) == join(parts) ? "" : " (it resolves to \(quote(join(resolved))))"
            throw Refusal(message: "must be under \(describe(roots)), got \(quote(path))\(shown)")
        }
        return join(resolved)
    }

    /// Resolves the longest prefix that exists, then appends the remaining components. A
    /// remaining component cannot be a symlink (it does not exist), so nothing escapes later
    /// except by a file created after the check (see docs/worker.md on that race).
    static func resolveExisting(_ parts: [String]) throws(Refusal) -> String {
        var split = parts.count
        while split >= 0 {
            let prefix = join(Array(parts.prefix(split)))
            if let real = realPath(prefix) {
                let rest = parts.dropFirst(split)
                if let next = rest.first {
                    // The first missing component must really be missing, not a dangling symlink
                    // whose target could be created later, outside the roots.
                    var info = stat()
                    if lstat(join(Array(parts.prefix(split)) + [next]), &info) == 0 {
                        throw Refusal(message: "must not pass through a symlink whose target does not exist: \(quote(join(parts)))")
                    }
                }
                return rest.isEmpty ? real : (real == "/" ? "" : real) + "/" + rest.joined(separator: "/")
            }
            split -= 1
        }
        return join(parts)
    }

    static func realPath(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    static func describe(_ roots: [String]) -> String {
        roots.count == 1 ? roots[0] : "one of " + roots.joined(separator: ", ")
    }

    static func quote(_ text: String) -> String {
        "\"" + (text.count > 80 ? String(text.prefix(80)) + "…" : text) + "\""
    }
}
