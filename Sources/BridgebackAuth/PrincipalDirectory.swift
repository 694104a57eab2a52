public import Foundation
public import Logging
import Synchronization

/// The principals a server accepts, looked up by bearer token.
///
/// Loaded from the principals file at start (a bad file stops the process). While running,
/// the file is checked for changes at most once a second and reloaded, so adding, rotating or
/// revoking a token needs no restart; a reload that fails validation keeps the previous
/// principals and logs why.
public final class PrincipalDirectory: Sendable {
    struct Key: Sendable {
        var digest: [UInt8]
        var tokenID: String
        var principal: Principal
    }

    struct State: Sendable {
        var keys: [Key]
        var stamp: FileStamp?
        var lastCheck: ContinuousClock.Instant
        var principalCount: Int
    }

    struct FileStamp: Sendable, Equatable {
        var modified: Date
        var size: Int
    }

    /// The file it reloads from (nil: fixed principals, tests).
    public let file: URL?
    private let state: Mutex<State>
    private let logger: Logger

    /// Loads `file`; throws with the file's problems.
    public init(file: URL, logger: Logger) throws(AuthError) {
        self.file = file
        self.logger = logger
        let stamp = Self.stamp(file)
        let parsed = try PrincipalsFile.load(contentsOf: file)
        state = Mutex(State(keys: Self.keys(parsed), stamp: stamp, lastCheck: .now, principalCount: parsed.principals.count))
    }

    /// Fixed principals that never reload.
    public init(_ principals: PrincipalsFile, logger: Logger = Logger(label: "bridgeback.auth")) {
        file = nil
        self.logger = logger
        state = Mutex(State(keys: Self.keys(principals), stamp: nil, lastCheck: .now, principalCount: principals.principals.count))
    }

    /// How many principals are loaded (for the start-up log line).
    public var principalCount: Int { state.withLock { $0.principalCount } }

    /// The principal holding `token`, and which of its tokens it is; nil when none does.
    ///
    /// The token's SHA-256 is compared against every stored hash in constant time, without
    /// stopping at a match, so timing says nothing about which hashes exist.
    public func authenticate(token: String) -> (principal: Principal, tokenID: String)? {
        authenticate(digest: BearerToken.digest(token))
    }

    /// The principal holding the token whose SHA-256 is `digest`: how a dashboard session, which
    /// keeps only the digest, finds its principal again on every request (a revoked or rotated
    /// token ends the session at once).
    public func authenticate(digest: [UInt8]) -> (principal: Principal, tokenID: String)? {
        reloadIfChanged()
        let keys = state.withLock { $0.keys }
        var found: Key?
        for key in keys where BearerToken.constantTimeEqual(key.digest, digest) { found = key }
        return found.map { ($0.principal, $0.tokenID) }
    }

    /// Re-reads the file if its modification time or size changed (checked at most once a second).
    public func reloadIfChanged(force: Bool = false) {
        guard let file else { return }
        let now = ContinuousClock.now
        let due = state.withLock { state -> Bool in
            guard force || now - state.lastCheck >= .seconds(1) else { return false }
            state.lastCheck = now
            return true
        }
        guard due else { return }
        let stamp = Self.stamp(file)
        guard force || stamp != state.withLock({ $0.stamp }) else { return }
        do {
            let parsed = try PrincipalsFile.load(contentsOf: file)
            state.withLock {
                $0.keys = Self.keys(parsed)
                $0.stamp = stamp
                $0.principalCount = parsed.principals.count
            }
            logger.notice(
                "principals reloaded", metadata: ["principals.file": "\(file.path)", "principals.count": "\(parsed.principals.count)"])
        } catch {
            state.withLock { $0.stamp = stamp }
            logger.error(
                "principals file changed but is not valid; still using the previous principals",
                metadata: ["principals.file": "\(file.path)", "error": "\(error.message)"])
        }
    }

    private static func keys(_ file: PrincipalsFile) -> [Key] {
        file.principals.flatMap { entry in
            entry.tokens.compactMap { token in
                BearerToken.unhex(token.sha256).map { Key(digest: $0, tokenID: token.id, principal: entry.principal) }
            }
        }
    }

    private static func stamp(_ file: URL) -> FileStamp? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file.path) else { return nil }
        return FileStamp(
            modified: attributes[.modificationDate] as? Date ?? .distantPast, size: (attributes[.size] as? NSNumber)?.intValue ?? -1)
    }
}

extension PrincipalDirectory: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The file and the number of principals; never a token hash.
    public var description: String {
        let count = state.withLock { $0.principalCount }
        return "PrincipalDirectory(file: \(file?.path ?? "none"), principals: \(count))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["description": description], displayStyle: .class) }
}
