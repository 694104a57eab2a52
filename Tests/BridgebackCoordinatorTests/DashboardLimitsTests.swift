import BridgebackAuth
@testable import BridgebackCoordinator
import BridgebackCore
import BridgebackTopology
import Foundation
import Logging
import Synchronization
import ServiceLifecycle
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The dashboard's limits and session rules over real HTTP against the real status server
/// (docs/operations.md, "The live dashboard"): the stream ceiling and its 503, the stream's end
/// and keep-alive, a session that ends when its token is revoked in the principals file, and
/// the `Secure` cookie behind a TLS proxy.
@Suite("Dashboard limits")
struct DashboardLimitsTests {
    static var quiet: Logger {
        var logger = Logger(label: "test.dashboard")
        logger.logLevel = .critical
        return logger
    }

    /// Serves `dashboard` (and the status API) on a free loopback port around `body`.
    static func serving(_ dashboard: Dashboard, api: CoordinatorStatusAPI, auth: HTTPAuth, _ body: (Int) async throws -> Void)
        async throws
    {
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = CoordinatorHTTP.application(
            api: api, auth: auth, host: "127.0.0.1", port: 0, logger: quiet, dashboard: dashboard
        ) { portSink.yield($0) }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: quiet)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            do { try await body(port) } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static let streamHeaders = ["Authorization": "Bearer \(TestAuth.aliceToken)", "Accept": "text/event-stream"]

    @Test("the coordinator's defaults: 64 streams, 10-minute streams, a keep-alive after 15 s, 8-hour sessions, 10,000 kept")
    func defaults() throws {
        let h = try Harness()
        let dashboard = Dashboard(
            api: CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry), auth: TestAuth.http, management: nil, logger: Self.quiet)
        #expect(dashboard.streams.limit == 64)
        #expect(dashboard.streamLifetime == .seconds(600))
        #expect(dashboard.keepAlive == .seconds(15))
        #expect(dashboard.tick == .seconds(1))
        #expect(dashboard.sessions.lifetime == 8 * 3600)
        #expect(dashboard.sessions.capacity == 10_000)
        #expect(DashboardCookie.set("bbs_x", maxAge: dashboard.sessions.lifetime, secure: false).contains("Max-Age=28800"))
    }

    @Test("at most 64 event streams at once: the 65th gets 503 too_many_streams, and a closed stream frees its place")
    func streamCeiling() async throws {
        let h = try Harness()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        // The default ceiling (the coordinator's); a short keep-alive so a closed stream is noticed fast.
        let dashboard = Dashboard(
            api: api, auth: TestAuth.http, management: nil, tick: .milliseconds(100), keepAlive: .milliseconds(200), logger: Self.quiet)
        try await Self.serving(dashboard, api: api, auth: TestAuth.http) { port in
            var open: [Int32] = []
            defer { open.forEach { _ = close($0) } }
            for n in 0..<64 {
                let (fd, text) = try await RawHTTPClient.openStream(
                    port: port, path: "/dashboard/events", headers: Self.streamHeaders, marker: "retry: 2000")
                open.append(fd)
                #expect(text.hasPrefix("HTTP/1.1 200"), "stream \(n + 1): \(text.prefix(200))")
            }
            let refused = try await RawHTTPClient.request(
                port: port, method: "GET", path: "/dashboard/events", headers: Self.streamHeaders, body: "")
            #expect(refused.status == 503, "\(refused.text)")
            #expect(refused.text.contains("too_many_streams"), "\(refused.text)")
            // The pages themselves are not streams: still served.
            #expect(
                try await RawHTTPClient.request(
                    port: port, method: "GET", path: "/dashboard", headers: ["Authorization": "Bearer \(TestAuth.aliceToken)"], body: ""
                ).status == 200)

            // One client goes away; its stream notices at its next write and frees the place.
            close(open.removeLast())
            var reopened = false
            for _ in 0..<50 where !reopened {
                let (fd, text) = try await RawHTTPClient.openStream(
                    port: port, path: "/dashboard/events", headers: Self.streamHeaders, marker: "retry: 2000")
                if text.hasPrefix("HTTP/1.1 200") {
                    open.append(fd)
                    reopened = true
                } else {
                    close(fd)
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(reopened, "a place freed by a closed stream is given to the next")
        }
    }

    @Test("a stream sends keep-alive comments while nothing changes and ends after its lifetime")
    func streamLifetimeAndKeepAlive() async throws {
        let h = try Harness()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        // The coordinator's 10 minutes and 15 s, scaled down: 3 s and 0.3 s. (At 1.5 s, a parallel
        // run on a loaded two-core machine once starved the tick loop to a single keep-alive.)
        let dashboard = Dashboard(
            api: api, auth: TestAuth.http, management: nil, streamLifetime: .milliseconds(3000), tick: .milliseconds(50),
            keepAlive: .milliseconds(300), logger: Self.quiet)
        try await Self.serving(dashboard, api: api, auth: TestAuth.http) { port in
            let clock = ContinuousClock()
            let start = clock.now
            let (fd, head) = try await RawHTTPClient.openStream(
                port: port, path: "/dashboard/events", headers: Self.streamHeaders, marker: "retry: 2000")
            let text = head + (try await RawHTTPClient.readToEnd(fd))
            let elapsed = clock.now - start
            #expect(elapsed >= .milliseconds(2900), "the stream ended after \(elapsed), before its lifetime")
            #expect(elapsed < .seconds(10), "the stream did not end after its lifetime (\(elapsed))")
            let events = DashboardTests.parse(text)
            #expect(events.map(\.event) == ["fleet", "jobs"], "each fragment once, then silence: \(events.map(\.event))")
            let keepAlives = text.components(separatedBy: ": keep-alive\n\n").count - 1
            #expect(keepAlives >= 2 && keepAlives <= 11, "keep-alive comments in 3 s at 0.3 s: \(keepAlives)")
            #expect(text.contains("0\r\n\r\n"), "the chunked answer is finished, not cut")
        }
    }

    /// A principals file on disk, as the coordinator reads it (reloaded within a second of a change).
    static func principalsOnDisk() throws -> (file: URL, directory: PrincipalDirectory) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bb-principals-\(UUID().uuidString).json")
        try TestAuth.file.write(to: file)
        return (file, try PrincipalDirectory(file: file, logger: Self.quiet))
    }

    static func signIn(port: Int, token: String, headers: [String: String] = [:]) async throws -> RawHTTPClient.Response {
        try await RawHTTPClient.request(
            port: port, method: "POST", path: "/dashboard/login",
            headers: ["Content-Type": "application/x-www-form-urlencoded"].merging(headers) { $1 }, body: "token=\(token)")
    }

    @Test("revoking a token in the principals file ends its sessions and their open streams; a rotated-in token keeps working")
    func revokedTokenEndsSessions() async throws {
        let h = try Harness()
        let (file, directory) = try Self.principalsOnDisk()
        defer { try? FileManager.default.removeItem(at: file) }
        let auth = HTTPAuth.principals(directory)
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        let dashboard = Dashboard(api: api, auth: auth, management: nil, tick: .milliseconds(100), logger: Self.quiet)
        try await Self.serving(dashboard, api: api, auth: auth) { port in
            let signIn = try await Self.signIn(port: port, token: TestAuth.aliceToken)
            let session = try #require(DashboardCookie.value(in: [signIn.headers["set-cookie"] ?? ""]))
            let cookie = ["Cookie": "bb_dashboard=\(session)"]
            #expect(try await RawHTTPClient.request(port: port, method: "GET", path: "/dashboard", headers: cookie, body: "").status == 200)

            // Rotate: Alice gets a second token and signs in with it too.
            let newToken = BearerToken.generate()
            var rotated = TestAuth.file
            rotated.principals[1].tokens.append(.init(id: "tok_alice2", sha256: BearerToken.sha256Hex(newToken)))
            try rotated.write(to: file)
            try await Task.sleep(for: .milliseconds(1100))  // the reload looks at most once a second
            let second = try await Self.signIn(port: port, token: newToken)
            let newSession = try #require(DashboardCookie.value(in: [second.headers["set-cookie"] ?? ""]), "\(second.status)")
            let newCookie = ["Cookie": "bb_dashboard=\(newSession)"]

            // A stream open on the old token's session.
            let (fd, opened) = try await RawHTTPClient.openStream(
                port: port, path: "/dashboard/events", headers: cookie.merging(["Accept": "text/event-stream"]) { $1 },
                marker: "event: jobs")
            #expect(opened.hasPrefix("HTTP/1.1 200"))

            // Revoke the old token (the last step of a rotation).
            var revoked = rotated
            revoked.principals[1].tokens.removeAll { $0.id == "tok_alice" }
            try revoked.write(to: file)
            let clock = ContinuousClock()
            let start = clock.now
            _ = try await RawHTTPClient.readToEnd(fd)
            let ended = clock.now - start
            #expect(ended < .seconds(5), "the open stream ended \(ended) after the revocation")

            let html = cookie.merging(["Accept": "text/html"]) { $1 }
            let page = try await RawHTTPClient.request(port: port, method: "GET", path: "/dashboard", headers: html, body: "")
            #expect(page.status == 303 && page.headers["location"] == "/dashboard/login", "the old session is over")
            let bearer = try await RawHTTPClient.request(
                port: port, method: "GET", path: "/dashboard", headers: ["Authorization": "Bearer \(TestAuth.aliceToken)"], body: "")
            #expect(bearer.status == 401, "the revoked token itself")
            let kept = try await RawHTTPClient.request(port: port, method: "GET", path: "/dashboard", headers: newCookie, body: "")
            #expect(kept.status == 200 && kept.text.contains("signed in as <b>alice</b>"), "the rotated-in token's session stays")
            let refused = try await Self.signIn(port: port, token: TestAuth.aliceToken)
            #expect(refused.status == 401 && refused.headers["set-cookie"] == nil)
        }
    }

    @Test("signing out ends the session's open streams too")
    func signOutEndsStreams() async throws {
        let h = try Harness()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        let dashboard = Dashboard(api: api, auth: TestAuth.http, management: nil, tick: .milliseconds(50), logger: Self.quiet)
        try await Self.serving(dashboard, api: api, auth: TestAuth.http) { port in
            let signIn = try await Self.signIn(port: port, token: TestAuth.bobToken)
            let session = try #require(DashboardCookie.value(in: [signIn.headers["set-cookie"] ?? ""]))
            let cookie = ["Cookie": "bb_dashboard=\(session)"]
            let (fd, opened) = try await RawHTTPClient.openStream(
                port: port, path: "/dashboard/events", headers: cookie.merging(["Accept": "text/event-stream"]) { $1 },
                marker: "event: jobs")
            #expect(opened.hasPrefix("HTTP/1.1 200"))
            let signOut = try await RawHTTPClient.request(port: port, method: "POST", path: "/dashboard/logout", headers: cookie, body: "")
            #expect(signOut.status == 303)
            let clock = ContinuousClock()
            let start = clock.now
            _ = try await RawHTTPClient.readToEnd(fd)
            #expect(clock.now - start < .seconds(5), "the stream ended with the session")
        }
    }

    @Test("the cookie is Secure behind a TLS proxy (X-Forwarded-Proto: https) or when configured, and not otherwise")
    func secureCookie() async throws {
        let h = try Harness()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        for configured in [false, true] {
            let dashboard = Dashboard(api: api, auth: TestAuth.http, management: nil, secureCookies: configured, logger: Self.quiet)
            try await Self.serving(dashboard, api: api, auth: TestAuth.http) { port in
                let plain = try #require(try await Self.signIn(port: port, token: TestAuth.aliceToken).headers["set-cookie"])
                let proxied = try #require(
                    try await Self.signIn(port: port, token: TestAuth.aliceToken, headers: ["X-Forwarded-Proto": "https"])
                        .headers["set-cookie"])
                let proxiedHTTP = try #require(
                    try await Self.signIn(port: port, token: TestAuth.aliceToken, headers: ["X-Forwarded-Proto": "http"])
                        .headers["set-cookie"])
                #expect(plain.hasSuffix("; Secure") == configured, "\(plain)")
                #expect(proxied.hasSuffix("; Secure"), "\(proxied)")
                #expect(proxiedHTTP.hasSuffix("; Secure") == configured, "\(proxiedHTTP)")
                let session = try #require(DashboardCookie.value(in: [proxied]))
                let signOut = try await RawHTTPClient.request(
                    port: port, method: "POST", path: "/dashboard/logout",
                    headers: ["Cookie": "bb_dashboard=\(session)", "X-Forwarded-Proto": "https"], body: "")
                #expect(signOut.headers["set-cookie"]?.hasSuffix("; Secure") == true, "the clearing cookie too")
            }
        }
    }

    // MARK: Sources and knobs

    @Test("without a management API the page says so; a failing one says why")
    func managementMissingOrFailing() {
        func page(_ broker: Result<BrokerOverview, ManagementFailure>?) -> String {
            DashboardViews.overviewPage(
                DashboardOverview(
                    generatedAt: Date(), ledger: .success(.init(delivering: 0, awaitingCompletion: 0, retryWait: 0)), brokerConnected: true,
                    broker: broker, jobs: [], latestProgress: [:]),
                principal: "ops")
        }
        #expect(page(nil).contains("no management API configured (BRIDGEBACK_MANAGEMENT_URL)"))
        let failing = page(.failure(ManagementFailure(reason: "the management API answered 401 for /api/queues/{vhost}")))
        #expect(failing.contains("the management API answered 401"))
        #expect(!failing.contains("<h3>Queues</h3>"))
    }

    @Test("the broker's figures are fetched at most every 3 s however many pages ask")
    func brokerFiguresCached() async throws {
        let server = try LoopbackServer { _ in LoopbackServer.response(200, "OK", body: "[]") }
        defer { server.stop() }
        let api = ManagementAPI(base: "http://127.0.0.1:\(server.port)", user: "bb-monitor", password: "x")
        let cache = BrokerOverviewCache(api: api)
        #expect(await cache.maxAge == .seconds(3))
        async let first = cache.current()
        async let second = cache.current()
        _ = await (first, second)
        for _ in 0..<5 { _ = try await cache.current().get() }
        // One overview is four management calls: queues, consumers, channels, connections.
        #expect(server.received.count == 4, "\(server.received.map { $0.prefix(40) })")
        let short = BrokerOverviewCache(api: api, maxAge: .milliseconds(100))
        _ = await short.current()
        try await Task.sleep(for: .milliseconds(150))
        _ = await short.current()
        #expect(server.received.count == 12, "a stale figure is fetched again")
    }

    @Test("the one management API client: basic auth, {vhost} escaped, a refusal by its status, no answer with the plugin hint")
    func managementClientFailures() async throws {
        let server = try LoopbackServer { request in
            request.contains("GET /api/queues/a%2Fb ")
                ? LoopbackServer.response(401, "Unauthorized", body: "{}") : LoopbackServer.response(404, "Not Found", body: "{}")
        }
        defer { server.stop() }
        let api = ManagementAPI(base: "http://127.0.0.1:\(server.port)/", vhost: "a/b", user: "bb-monitor", password: "s3cret-pw")
        guard case .failure(let refused) = await api.fetch("/api/queues/{vhost}") else {
            Issue.record("a 401 is a failure")
            return
        }
        #expect(refused.status == 401)
        #expect(refused.reason.contains("answered 401 for /api/queues/{vhost}") && refused.reason.contains("monitoring"))
        #expect(!refused.reason.contains("s3cret-pw"))
        let basic = "Basic " + Data("bb-monitor:s3cret-pw".utf8).base64EncodedString()
        #expect(server.received.first?.lowercased().contains("authorization: \(basic)".lowercased()) == true)
        guard case .failure(let missing) = await api.fetch("/api/queues/{vhost}/nope") else {
            Issue.record("a 404 is a failure")
            return
        }
        #expect(missing.status == 404)
        let closed = ManagementAPI(base: "http://127.0.0.1:1", user: "bb-monitor", password: "s3cret-pw")
        guard case .failure(let silent) = await closed.fetch("/api/overview", timeout: 2) else {
            Issue.record("a closed port is a failure")
            return
        }
        #expect(silent.status == nil)
        #expect(silent.reason.contains("does not answer") && silent.reason.contains("rabbitmq_management plugin"))
        #expect(!silent.reason.contains("s3cret-pw"))
    }

    @Test("timelines keep the last 50 progress events of the newest 1,000 jobs (the first event stays)")
    func progressLogBounds() {
        let defaults = ProgressLog()
        #expect(defaults.maxJobs == 1000 && defaults.maxEventsPerJob == 50)
        func event(_ job: JobID, _ sequence: Int) -> ProgressEvent {
            ProgressEvent(
                jobID: job, workSurface: "work:alice", sequence: sequence, phase: .running, message: "step \(sequence)", at: Date())
        }
        let log = ProgressLog(maxJobs: 3, maxEventsPerJob: 4)
        let job = JobID.make()
        for n in 1...10 { log.record(event(job, n)) }
        #expect(log.events(for: job).map(\.sequence) == [1, 8, 9, 10])
        let newer = (0..<3).map { _ in JobID.make() }
        for id in newer { log.record(event(id, 1)) }
        #expect(log.events(for: job).isEmpty, "the oldest job goes when a fourth arrives")
        #expect(newer.allSatisfy { log.events(for: $0).count == 1 })
    }

    @Test("pages carry the headers that keep other sites out; a failed sign-in is a warning with the peer, never the token")
    func headersAndFailedSignIn() async throws {
        let h = try Harness()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        let captured = CapturedLines()
        let dashboard = Dashboard(api: api, auth: TestAuth.http, management: nil, logger: captured.logger)
        try await Self.serving(dashboard, api: api, auth: TestAuth.http) { port in
            let page = try await RawHTTPClient.request(
                port: port, method: "GET", path: "/dashboard", headers: ["Authorization": "Bearer \(TestAuth.aliceToken)"], body: "")
            #expect(page.status == 200)
            #expect(page.headers["x-frame-options"] == "DENY")
            #expect(page.headers["referrer-policy"] == "same-origin")
            #expect(page.headers["cache-control"] == "no-store")
            #expect(page.headers["x-content-type-options"] == "nosniff")
            let policy = page.headers["content-security-policy"] ?? ""
            #expect(policy.hasPrefix("default-src 'none'") && policy.contains("frame-ancestors 'none'"), "\(policy)")
            #expect(!policy.contains("unsafe-inline"), "\(policy)")

            let wrongToken = "bbt_" + String(repeating: "Q", count: 43)
            let refused = try await Self.signIn(port: port, token: wrongToken)
            #expect(refused.status == 401)
        }
        let lines = captured.lines.withLock { $0 }
        let warning = lines.first { $0.message.contains("sign-in refused") }
        #expect(warning?.level == .warning)
        #expect(warning?.metadata.contains("127.0.0.1") == true, "\(String(describing: warning))")
        #expect(!lines.contains { $0.message.contains("bbt_QQQQ") || $0.metadata.contains("bbt_QQQQ") })
    }
}
