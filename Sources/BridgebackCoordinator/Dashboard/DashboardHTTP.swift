import BridgebackHTTP
public import BridgebackTopology
public import BridgebackAuth
import BridgebackCore
import Foundation
public import Hummingbird
public import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The live dashboard: read-only HTML pages over the ledger and the broker, served by the
/// coordinator's status server, updating through server-sent events.
///
/// Routes: `GET /dashboard` (queues, workers, recent jobs), `GET /dashboard/jobs/{id}` (one
/// job's timeline), `GET /dashboard/events` and `GET /dashboard/jobs/{id}/events` (their live
/// fragments as `text/event-stream`), `GET|POST /dashboard/login`, `POST /dashboard/logout`.
///
/// Authentication is the status API's: `Authorization: Bearer` works on every route, and since a
/// browser cannot be told to send a header, the sign-in form trades a token for an HttpOnly,
/// SameSite=Strict session cookie scoped to `/dashboard` (see `DashboardSessions`). The JSON API
/// never accepts the cookie. Sign-in and sign-out are POSTs from this origin only; the pages
/// change nothing. A principal sees the jobs it may see in the API, no others.
public struct Dashboard: Sendable {
    let api: CoordinatorStatusAPI
    let auth: HTTPAuth
    let sessions: DashboardSessions
    let broker: BrokerOverviewCache?
    let progress: ProgressLog?
    let secureCookies: Bool
    let logger: Logger
    let streams: CountingGate
    /// How long one event stream stays open; the browser then reconnects (and is authenticated again).
    let streamLifetime: Duration
    /// How often a stream checks for changes (and that its caller is still signed in).
    let tick: Duration
    /// How long a stream may stay silent before a comment keeps proxies from closing it.
    let keepAlive: Duration
    /// Jobs on the overview.
    let recentJobs = 25

    /// - Parameters:
    ///   - management: where the queue and worker figures come from (nil: the page says none is configured).
    ///   - progress: progress events seen on `bb.progress` (nil: timelines show no progress steps).
    ///   - secureCookies: always mark the session cookie `Secure` (serve the dashboard over TLS, e.g.
    ///     behind a TLS proxy). It is also set when a request says `X-Forwarded-Proto: https`.
    ///   - maxStreams: open event streams at most; more are answered 503.
    ///   - streamLifetime, tick, keepAlive: an event stream's length, how often it looks for changes,
    ///     and the silence after which it sends a keep-alive comment (shorter in tests).
    public init(
        api: CoordinatorStatusAPI, auth: HTTPAuth, sessions: DashboardSessions = DashboardSessions(), management: ManagementAPI?,
        progress: ProgressLog? = nil, secureCookies: Bool = false, maxStreams: Int = 64, streamLifetime: Duration = .seconds(600),
        tick: Duration = .seconds(1), keepAlive: Duration = .seconds(15), logger: Logger
    ) {
        self.api = api
        self.auth = auth
        self.sessions = sessions
        self.broker = management.map { BrokerOverviewCache(api: $0) }
        self.progress = progress
        self.secureCookies = secureCookies
        self.logger = logger
        self.streams = CountingGate(limit: maxStreams)
        self.streamLifetime = streamLifetime
        self.tick = tick
        self.keepAlive = keepAlive
    }

    // MARK: Routes

    /// Adds the dashboard to `router`. Call before `HTTPAuth.protect`: the dashboard authenticates
    /// its own routes (bearer or session cookie) and sends browsers without either to sign in.
    public func addRoutes(to router: Router<BridgebackRequestContext>) {
        // Browsers ask for it on every page; an empty answer instead of a logged 401.
        router.get("/favicon.ico") { _, _ -> Response in Response(status: .noContent) }
        router.get("/dashboard/login") { _, _ -> Response in
            html(DashboardViews.loginPage(message: nil, authenticationOff: isAuthOff))
        }
        router.post("/dashboard/login") { request, context -> Response in
            try await login(request, context: context)
        }
        router.post("/dashboard/logout") { request, _ -> Response in
            if let refusal = crossSiteRefusal(request) { return refusal }
            if let id = DashboardCookie.value(in: request.headers[values: .cookie]) { sessions.end(session: id) }
            return redirect("/dashboard/login", cookie: DashboardCookie.clear(secure: secure(request)))
        }
        let group = router.group("/dashboard").add(middleware: DashboardAuthMiddleware(dashboard: self))
        group.get { _, context -> Response in
            let principal = try context.principal
            return html(DashboardViews.overviewPage(await overview(for: principal), principal: principal.name))
        }
        group.get("events") { request, context -> Response in
            let principal = try context.principal
            return eventStream(request, principal: principal) {
                let overview = await overview(for: principal)
                return [("fleet", DashboardViews.fleetFragment(overview).markup), ("jobs", DashboardViews.jobsFragment(overview).markup)]
            }
        }
        group.get("jobs/:id") { _, context -> Response in
            let principal = try context.principal
            let id = context.parameters.get("id") ?? ""
            switch await timeline(id: id, for: principal) {
            case .success(let timeline): return html(DashboardViews.jobPage(timeline, principal: principal.name))
            case .failure(let failure):
                return html(DashboardViews.notFoundPage(failure.reason, principal: principal.name), status: failure.status)
            }
        }
        group.get("jobs/:id/events") { request, context -> Response in
            let principal = try context.principal
            let id = context.parameters.get("id") ?? ""
            if case .failure(let failure) = await timeline(id: id, for: principal) {
                return HTTPAuthResponse.json(status: failure.status, code: "not_found", message: failure.reason)
            }
            return eventStream(request, principal: principal) {
                switch await timeline(id: id, for: principal) {
                case .success(let timeline): return [("timeline", DashboardViews.timelineFragment(timeline).markup)]
                case .failure: return []
                }
            }
        }
    }

    var isAuthOff: Bool {
        if case .insecureNoAuth = auth { return true }
        return false
    }

    // MARK: Authentication

    enum Caller {
        case principal(Principal)
        /// An `Authorization` header that is not a valid bearer token: 401, as the API answers.
        case rejectedHeader
        case anonymous
    }

    /// Who is calling: a bearer token first (as the API), else the session cookie.
    func caller(_ request: Request) -> Caller {
        let directory: PrincipalDirectory
        switch auth {
        case .insecureNoAuth: return .principal(.unrestricted(name: "insecure-no-auth"))
        case .principals(let d): directory = d
        }
        if request.headers[.authorization] != nil {
            guard let bearer = request.headers.bearer, !bearer.token.isEmpty,
                let (principal, _) = directory.authenticate(token: bearer.token)
            else { return .rejectedHeader }
            return .principal(principal)
        }
        if let id = DashboardCookie.value(in: request.headers[values: .cookie]), let digest = sessions.tokenDigest(session: id),
            let (principal, _) = directory.authenticate(digest: digest)
        {
            return .principal(principal)
        }
        return .anonymous
    }

    func login(_ request: Request, context: BridgebackRequestContext) async throws -> Response {
        if let refusal = crossSiteRefusal(request) { return refusal }
        let directory: PrincipalDirectory
        switch auth {
        case .insecureNoAuth: return redirect("/dashboard", cookie: nil)
        case .principals(let d): directory = d
        }
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: 8192) } catch {
            return html(
                DashboardViews.loginPage(message: "The sign-in form was too large.", authenticationOff: false), status: .contentTooLarge)
        }
        let token = Self.formField("token", in: String(buffer: body)) ?? ""
        guard !token.isEmpty, let (principal, tokenID) = directory.authenticate(token: token) else {
            logger.warning(
                "dashboard sign-in refused: unknown or revoked token",
                metadata: ["peer": "\(context.remoteAddress?.ipAddress ?? "unknown")"])
            return html(
                DashboardViews.loginPage(
                    message: "That token is not valid here (unknown, revoked, or for another deployment).", authenticationOff: false),
                status: .unauthorized)
        }
        let id = sessions.create(tokenDigest: BearerToken.digest(token))
        logger.info(
            "dashboard sign-in", metadata: ["principal": "\(principal.name)", "token.id": "\(tokenID)", "sessions": "\(sessions.count)"])
        return redirect("/dashboard", cookie: DashboardCookie.set(id, maxAge: sessions.lifetime, secure: secure(request)))
    }

    /// Sign-in and sign-out must come from a page of this origin: a browser names the page's
    /// origin in `Origin` (and `Sec-Fetch-Site`) on every POST; clients without them (curl) pass.
    func crossSiteRefusal(_ request: Request) -> Response? {
        if let site = request.headers[.secFetchSite], !["same-origin", "none"].contains(site) {
            return html(
                DashboardViews.loginPage(message: "Refused: the form was posted from another site.", authenticationOff: false),
                status: .forbidden)
        }
        if let origin = request.headers[.origin] {
            let host = request.head.authority ?? ""
            guard origin == "http://\(host)" || origin == "https://\(host)" else {
                return html(
                    DashboardViews.loginPage(message: "Refused: the form was posted from another site.", authenticationOff: false),
                    status: .forbidden)
            }
        }
        return nil
    }

    func secure(_ request: Request) -> Bool {
        secureCookies || request.headers[.xForwardedProto]?.lowercased() == "https"
    }

    /// The value of `name` in an `application/x-www-form-urlencoded` body.
    static func formField(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }

    // MARK: Data

    func overview(for principal: Principal) async -> DashboardOverview {
        async let brokerFigures = broker?.current()
        let ledger: Result<Ledger.HealthCounts, ManagementFailure>
        do { ledger = .success(try await api.ledger.healthCounts()) } catch { ledger = .failure(ManagementFailure(reason: "\(error)")) }
        var jobs: [JobDeliveryStatus] = []
        do {
            let origins = principal.isOperator ? nil : principal.origins.map(\.sqliteGlob)
            jobs = try await api.ledger.recentDeliveryStatuses(
                surface: nil, limit: recentJobs, registry: api.registry, originGlobs: origins)
        } catch {}
        var latest: [String: ProgressEvent] = [:]
        if let progress {
            for job in jobs where job.finalOutcome == nil {
                if let id = JobID(job.jobID), let event = progress.latest(for: id) { latest[job.jobID] = event }
            }
        }
        return DashboardOverview(
            generatedAt: Date(), ledger: ledger, brokerConnected: api.brokerConnected?(), broker: await brokerFigures, jobs: jobs,
            latestProgress: latest)
    }

    struct PageFailure: Error {
        var status: HTTPResponse.Status
        var reason: String
    }

    func timeline(id: String, for principal: Principal) async -> Result<JobTimeline, PageFailure> {
        guard let jobID = JobID(id) else { return .failure(PageFailure(status: .notFound, reason: "'\(id)' is not a job id.")) }
        do {
            guard let job = try await api.ledger.job(jobID),
                CoordinatorStatusAPI.visible(origin: job.contract?.origin.rawValue, to: principal)
            else {
                return .failure(
                    PageFailure(
                        status: .notFound,
                        reason: "The coordinator has no job \(jobID): its contract or completion has not arrived yet, or the id is wrong."))
            }
            let parts = try await api.ledger.parts(of: jobID)
            return .success(JobTimeline.build(job: job, parts: parts, registry: api.registry, progress: progress?.events(for: jobID) ?? []))
        } catch {
            return .failure(PageFailure(status: .serviceUnavailable, reason: "The delivery ledger cannot be read: \(error)"))
        }
    }

    // MARK: Live updates

    /// A `text/event-stream` answer: every fragment once at the start, then each fragment again
    /// whenever its HTML changed, checked every `tick` once the ledger, the progress log or the
    /// clock (every 5 s, for the broker's figures) moved; a comment after `keepAlive` (15 s) of
    /// silence keeps it open. Ends after `streamLifetime`, when the client goes away, on graceful
    /// shutdown, or as soon as the request no longer authenticates as `principal` (its session
    /// signed out or expired, its token revoked in the principals file, or the principal's scope
    /// changed there: the browser reconnects and is shown what the new scope allows).
    func eventStream(_ request: Request, principal: Principal, _ render: @escaping @Sendable () async -> [(String, String)])
        -> Response
    {
        guard streams.enter() else {
            return HTTPAuthResponse.json(
                status: .serviceUnavailable, code: "too_many_streams", message: "too many open dashboard streams; try again later")
        }
        let streams = self.streams
        let ledger = api.ledger
        let progress = self.progress
        let tick = self.tick
        let lifetime = self.streamLifetime
        let keepAlive = self.keepAlive
        let dashboard = self
        let signedIn: @Sendable () -> Bool = {
            if case .principal(let now) = dashboard.caller(request), now == principal { return true }
            return false
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                defer { streams.leave() }
                let clock = ContinuousClock()
                let start = clock.now
                var sent: [String: String] = [:]
                var lastWrite = clock.now
                var lastKey: (UInt64, UInt64, Int)?
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                while !Task.isCancelled && !Task.isShuttingDownGracefully && clock.now - start < lifetime && signedIn() {
                    let now = clock.now
                    let key = (ledger.changeCount, progress?.changeCount ?? 0, Int((now - start).components.seconds / 5))
                    if lastKey.map({ $0 != key }) ?? true {
                        lastKey = key
                        var out = ""
                        for (name, fragment) in await render() where sent[name] != fragment {
                            sent[name] = fragment
                            out += ServerSentEvent(event: name, data: fragment).encoded
                        }
                        if !out.isEmpty {
                            try await writer.write(ByteBuffer(string: out))
                            lastWrite = clock.now
                        }
                    }
                    if clock.now - lastWrite >= keepAlive {
                        try await writer.write(ByteBuffer(string: ServerSentEvent.comment("keep-alive")))
                        lastWrite = clock.now
                    }
                    try? await Task.sleep(for: tick)
                }
                try await writer.finish(nil)
            })
    }
}

/// Authenticates the dashboard's pages and streams: a principal from the bearer header or the
/// session cookie; browsers with neither are sent to sign in, other clients get the API's 401.
struct DashboardAuthMiddleware: RouterMiddleware {
    typealias Context = BridgebackRequestContext
    let dashboard: Dashboard

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch dashboard.caller(request) {
        case .principal(let principal):
            var context = context
            context.identity = principal
            context.logger[metadataKey: "principal"] = "\(principal.name)"
            return try await next(request, context)
        case .rejectedHeader:
            return HTTPAuthResponse.json(
                status: .unauthorized, code: AuthError.Code.unauthenticated.description,
                message: "the bearer token is not valid here (unknown, revoked, or for another deployment)",
                headers: [.wwwAuthenticate: #"Bearer realm="bridgeback", error="invalid_token""#])
        case .anonymous:
            if request.method == .get, (request.headers[.accept] ?? "").contains("text/html") {
                return redirect("/dashboard/login", cookie: nil)
            }
            return HTTPAuthResponse.json(
                status: .unauthorized, code: AuthError.Code.unauthenticated.description,
                message: "the dashboard needs a bearer token or a session: sign in at /dashboard/login",
                headers: [.wwwAuthenticate: #"Bearer realm="bridgeback""#])
        }
    }
}

/// The broker's figures, fetched at most every few seconds however many pages are open.
actor BrokerOverviewCache {
    let api: ManagementAPI
    let maxAge: Duration
    private var last: (at: ContinuousClock.Instant, value: Result<BrokerOverview, ManagementFailure>)?
    private var inFlight: Task<Result<BrokerOverview, ManagementFailure>, Never>?

    init(api: ManagementAPI, maxAge: Duration = .seconds(3)) {
        self.api = api
        self.maxAge = maxAge
    }

    func current() async -> Result<BrokerOverview, ManagementFailure> {
        if let last, ContinuousClock.now - last.at < maxAge { return last.value }
        if let inFlight { return await inFlight.value }
        let api = self.api
        let task = Task { await api.overview() }
        inFlight = task
        let value = await task.value
        last = (ContinuousClock.now, value)
        inFlight = nil
        return value
    }
}

// MARK: Responses

/// Headers every dashboard page carries: no caching, no framing, no sniffing, no referrer, and a
/// policy that runs only the page's own inline style and script.
func html(_ page: String, status: HTTPResponse.Status = .ok) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "text/html; charset=utf-8"
    headers[.contentSecurityPolicy] = Assets.contentSecurityPolicy
    headers[.xContentTypeOptions] = "nosniff"
    headers[.xFrameOptions] = "DENY"
    // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on the sign-in POST.
    headers[.referrerPolicy] = "same-origin"
    headers[.cacheControl] = "no-store"
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: page)))
}

func redirect(_ location: String, cookie: String?) -> Response {
    var headers = HTTPFields()
    headers[.location] = location
    headers[.cacheControl] = "no-store"
    if let cookie { headers[.setCookie] = cookie }
    return Response(status: .seeOther, headers: headers)
}

extension HTTPFields.Element.Name {
    static let secFetchSite = Self("Sec-Fetch-Site")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
