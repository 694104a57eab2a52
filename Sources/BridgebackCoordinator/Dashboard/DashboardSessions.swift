import Crypto
public import Foundation
import Synchronization

/// The dashboard's browser sessions: a person signs in once with their bearer token (a form,
/// since a browser cannot be told to send a header) and gets an opaque session cookie.
///
/// The cookie holds 256 random bits and nothing else; the server keeps, per session, the
/// SHA-256 of the token it was opened with (never the token) and an absolute expiry. Every
/// request looks the principal up again by that digest, so revoking a token in the principals
/// file (the last step of rotating it) ends its sessions, and their open event streams, within a
/// second (the file is reloaded at most once a second). Sessions live in memory: a coordinator restart
/// signs everyone out. The table is bounded; when full, the oldest session goes first.
public final class DashboardSessions: Sendable {
    /// How long a session lasts from sign-in, whatever the activity.
    public let lifetime: TimeInterval
    let capacity: Int

    struct Session: Sendable {
        var tokenDigest: [UInt8]
        var created: Date
        var expires: Date
    }

    /// Keyed by the SHA-256 (hex) of the session id: the table never holds a usable cookie value.
    private let sessions = Mutex<[String: Session]>([:])

    public init(lifetime: TimeInterval = 8 * 3600, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
    }

    /// Opens a session for the token whose SHA-256 is `tokenDigest`; returns the cookie value.
    public func create(tokenDigest: [UInt8], now: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        let id = "bbs_" + Self.hex((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let session = Session(tokenDigest: tokenDigest, created: now, expires: now.addingTimeInterval(lifetime))
        sessions.withLock { table in
            if table.count >= capacity {
                table = table.filter { $0.value.expires > now }
                while table.count >= capacity, let oldest = table.min(by: { $0.value.created < $1.value.created }) {
                    table[oldest.key] = nil
                }
            }
            table[Self.key(id)] = session
        }
        return id
    }

    /// The token digest of a live session, or nil (unknown, malformed or expired; an expired
    /// one is removed).
    public func tokenDigest(session id: String, now: Date = Date()) -> [UInt8]? {
        guard Self.wellFormed(id) else { return nil }
        let key = Self.key(id)
        return sessions.withLock { table -> [UInt8]? in
            guard let session = table[key] else { return nil }
            guard session.expires > now else {
                table[key] = nil
                return nil
            }
            return session.tokenDigest
        }
    }

    /// Ends a session (sign-out). Unknown ids are ignored.
    public func end(session id: String) {
        guard Self.wellFormed(id) else { return }
        let key = Self.key(id)
        _ = sessions.withLock { $0.removeValue(forKey: key) }
    }

    /// Open sessions, expired ones included until they are next looked at.
    public var count: Int { sessions.withLock { $0.count } }

    static func wellFormed(_ id: String) -> Bool {
        id.utf8.count == 68 && id.hasPrefix("bbs_")
            && id.utf8.dropFirst(4).allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    static func key(_ id: String) -> String { hex(Array(SHA256.hash(data: Array(id.utf8)))) }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The session cookie on the wire: `Set-Cookie` values and reading it back from `Cookie`.
enum DashboardCookie {
    static let name = "bb_dashboard"
    /// Only the dashboard's own paths ever carry it (the JSON API takes bearer tokens only).
    static let path = "/dashboard"

    /// `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page makes the
    /// browser send it), `Secure` when the page is served over TLS.
    static func set(_ id: String, maxAge: TimeInterval, secure: Bool) -> String {
        "\(name)=\(id); Path=\(path); Max-Age=\(Int(maxAge)); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    static func clear(secure: Bool) -> String {
        "\(name)=; Path=\(path); Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The value of our cookie in `Cookie` header values (`a=1; b=2`), or nil.
    static func value(in headers: [String]) -> String? {
        for header in headers {
            for pair in header.split(separator: ";") {
                let trimmed = pair.trimmingCharacters(in: .whitespaces)
                guard let eq = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<eq] == name { return String(trimmed[trimmed.index(after: eq)...]) }
            }
        }
        return nil
    }
}
