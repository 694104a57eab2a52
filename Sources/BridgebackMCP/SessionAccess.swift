public import BridgebackAuth
public import BridgebackCore
import Foundation
import Synchronization

/// Who one MCP session acts for: the bearer token its calls to admission and the coordinator
/// carry, the principal that token belongs to (HTTP), and the jobs the session has detached or
/// looked up (whose progress it is told of).
///
/// Over HTTP every session is a principal's: the token that initialized it is forwarded on each
/// call, so admission's and the coordinator's scopes apply unchanged, and the parent inbox is
/// opened only when the principal's `parents` scope covers the key. Over stdio the session is the
/// process's own, with the token it was started with; its inbox is guarded by the broker
/// credential (the person's scoped watcher), as before.
public final class MCPCaller: Sendable {
    /// The token sent as `Authorization: Bearer` to admission and the coordinator status API.
    public let token: Redacted<String?>
    /// Whether the caller was authenticated by a principals file (HTTP); false for stdio.
    public let isPrincipal: Bool

    private struct State {
        var principal: Principal?
        var jobs: [String] = []
        var jobSet: Set<String> = []
    }
    private let state: Mutex<State>
    /// How many followed jobs are remembered (oldest forgotten first).
    static let followedJobsLimit = 500

    private init(token: String?, principal: Principal?) {
        self.token = Redacted(token)
        self.isPrincipal = principal != nil
        state = Mutex(State(principal: principal))
    }

    /// The stdio session: the process's own token (BRIDGEBACK_TOKEN, the token file) or none.
    public static func serverToken(_ token: String?) -> MCPCaller { MCPCaller(token: token, principal: nil) }

    /// An HTTP session opened by `principal` with `token` (already authenticated).
    public static func principal(_ principal: Principal, token: String?) -> MCPCaller { MCPCaller(token: token, principal: principal) }

    /// The principal as last authenticated (nil for stdio).
    public var principal: Principal? { state.withLock { $0.principal } }

    /// The principal as the directory knows it now: a reloaded principals file may have changed
    /// its scope, and every request of the session re-authenticates the token.
    public func update(principal: Principal) {
        state.withLock { $0.principal = principal }
    }

    /// Why this caller may not open the inbox of `parent`, as words a model can act on; nil when it may.
    public func inboxRefusal(parent: String) -> String? {
        guard isPrincipal, let principal else { return nil }
        guard !principal.mayAddress(parent: parent) else { return nil }
        let allowed = principal.parents.isEmpty ? "none" : principal.parents.map(\.rawValue).joined(separator: ", ")
        return
            "principal '\(principal.name)' may not open the inbox of parent '\(parent)' (its principals-file entry allows parents: \(allowed)). "
            + "Its notices are not yours to take: use bridgeback_job to see where a job's answer went, connect with a token whose "
            + "principal may address parent '\(parent)', or ask an operator to extend this one's parents"
    }

    /// Remembers that this session detached or looked up `jobID` (it is then told of its progress).
    public func follow(job jobID: String) {
        state.withLock { state in
            guard state.jobSet.insert(jobID).inserted else { return }
            state.jobs.append(jobID)
            if state.jobs.count > Self.followedJobsLimit { state.jobSet.remove(state.jobs.removeFirst()) }
        }
    }

    /// Whether this session detached or looked up `jobID`.
    public func follows(job jobID: String) -> Bool { state.withLock { $0.jobSet.contains(jobID) } }
}

/// The HTTP transport's sessions and who owns each: the sans-I/O half of `MCPHTTPSessions`.
///
/// A session belongs to the token that initialized it (its SHA-256; the token itself is not
/// kept here). A request for a session with any other token is answered exactly as one for a
/// session that does not exist (404), so another principal can neither use a session id it
/// saw nor learn that the session exists. `Session` is the transport and server in production,
/// any value in tests.
struct SessionTable<Session> {
    struct Entry {
        var session: Session
        let owner: [UInt8]
        var lastUsed: Date
    }

    /// What to do with one request.
    enum Route {
        /// The owner's request for its session.
        case serve(Session)
        /// 404: no such session (ended, expired, never existed).
        case unknownSession
        /// 404 as well, logged: a live session's id presented with another principal's token.
        case otherOwner
        /// 400: no session id, and not an `initialize` POST.
        case needsInitialize
        /// 503: `maxSessions` are open (or being opened).
        case full
        /// Open a new session for this owner: a slot is reserved; call `opened` or `abandoned`.
        case open
    }

    let maxSessions: Int
    private(set) var entries: [String: Entry] = [:]
    /// Slots reserved by `.open` answers whose session is still starting.
    private(set) var reserved = 0

    init(maxSessions: Int) { self.maxSessions = maxSessions }

    var count: Int { entries.count }

    mutating func route(sessionID: String?, owner: [UInt8], isInitialize: Bool, now: Date) -> Route {
        if let sessionID {
            guard var entry = entries[sessionID] else { return .unknownSession }
            guard BearerToken.constantTimeEqual(entry.owner, owner) else { return .otherOwner }
            entry.lastUsed = now
            entries[sessionID] = entry
            return .serve(entry.session)
        }
        guard isInitialize else { return .needsInitialize }
        guard entries.count + reserved < maxSessions else { return .full }
        reserved += 1
        return .open
    }

    /// The session reserved by `.open` started: it is `owner`'s from now on.
    mutating func opened(id: String, session: Session, owner: [UInt8], now: Date) {
        reserved = max(0, reserved - 1)
        entries[id] = Entry(session: session, owner: owner, lastUsed: now)
    }

    /// The session reserved by `.open` could not start: its slot is free again.
    mutating func abandoned() { reserved = max(0, reserved - 1) }

    /// Forgets `id` (ended by its client, or failed); returns its session.
    mutating func close(id: String) -> Session? { entries.removeValue(forKey: id)?.session }

    /// Forgets every session idle for longer than `idle`; returns them, to be stopped.
    mutating func expire(idle: TimeInterval, now: Date) -> [(id: String, session: Session)] {
        let stale = entries.filter { now.timeIntervalSince($0.value.lastUsed) > idle }.map { (id: $0.key, session: $0.value.session) }
        for (id, _) in stale { entries[id] = nil }
        return stale
    }

    /// Forgets every session; returns them, to be stopped.
    mutating func removeAll() -> [Session] {
        defer { entries.removeAll() }
        return entries.values.map(\.session)
    }
}
