import BridgebackAuth
@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Logging
import ServiceLifecycle
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The dashboard's HTML (hostile job text stays text), its event-stream framing, its sessions,
/// and its authentication over real HTTP.
@Suite("Dashboard")
struct DashboardTests {
    static let hostile = #"<script>alert("x")</script><img src=x onerror='alert(1)'> & "quoted" </pre></td></tr>"#

    /// A delivered job whose request, result, worker and progress all carry hostile text.
    static func hostileJob() async throws -> (Harness, OwnershipContract) {
        let h = try Harness()
        let contract = OwnershipContract(
            jobID: JobID.make(), origin: "cli:alice", workSurface: "work:alice", finalSurface: "cli:alice", deliveryMode: .parent,
            deadline: Date().addingTimeInterval(600), policyVersion: "test", summary: "summary " + hostile,
            requestExcerpt: "asked " + hostile, parentID: "alice", recipe: RecipeInvocation(name: "release-gate"),
            createdAt: Date().addingTimeInterval(-60))
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            let completion = Completion(
                jobID: contract.jobID, worker: "worker " + hostile, startedAt: Date().addingTimeInterval(-30), finishedAt: Date(),
                outcome: .succeeded(result: "result " + hostile))
            _ = try await h.coordinator.handleCompletion(body(completion))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        return (h, contract)
    }

    /// Fails if `html` holds markup from `hostile` rather than its escaped text.
    static func expectInert(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!html.contains("<script>alert"), sourceLocation: sourceLocation)
        #expect(!html.contains("<img"), sourceLocation: sourceLocation)
        #expect(!html.contains("onerror='"), sourceLocation: sourceLocation)
        #expect(!html.contains("</pre></td>"), sourceLocation: sourceLocation)
        #expect(
            html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=&#39;alert(1)&#39;&gt; &amp;"),
            sourceLocation: sourceLocation)
        // The page's own script is the only one.
        #expect(html.components(separatedBy: "<script").count <= 2, sourceLocation: sourceLocation)
    }

    @Test("HTML.escape turns the five markup characters into entities and NUL into U+FFFD")
    func escape() {
        #expect(HTML.escape(#"<a href="x">'&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        #expect(HTML.escape("a\u{0}b") == "a\u{FFFD}b")
        #expect(HTML.escape("plain é 日本") == "plain é 日本")
        let name = "<b>"
        let built: HTML = "<td>\(name)</td>"
        #expect(built.markup == "<td>&lt;b&gt;</td>")
    }

    @Test("hostile job text, worker name, progress message and principal name render as text on every page and fragment")
    func hostileTextIsEscaped() async throws {
        let (h, contract) = try await Self.hostileJob()
        let job = try #require(try await h.ledger.job(contract.jobID))
        let parts = try await h.ledger.parts(of: contract.jobID)
        let progress = [
            ProgressEvent(
                jobID: contract.jobID, workSurface: "work:alice", sequence: 1, phase: .running, message: "step " + Self.hostile,
                fraction: 0.5, at: Date())
        ]
        let timeline = JobTimeline.build(job: job, parts: parts, registry: h.registry, progress: progress)
        let page = DashboardViews.jobPage(timeline, principal: "ops " + Self.hostile)
        Self.expectInert(page)
        #expect(page.contains("step &lt;script&gt;"))
        #expect(page.contains("worker &lt;script&gt;"))
        #expect(page.contains("result &lt;script&gt;"))
        #expect(page.contains("<progress max=\"100\" value=\"50\">"))
        let status = try #require(try await h.ledger.deliveryStatus(of: contract.jobID, registry: h.registry))
        let overview = DashboardOverview(
            generatedAt: Date(), ledger: .success(.init(delivering: 0, awaitingCompletion: 0, retryWait: 0)), brokerConnected: true,
            broker: .success(
                BrokerOverview(
                    queues: [
                        .init(
                            name: "bb.jobs.<x>", ready: 1, unacked: 0, consumers: 0, publishRate: 0, deliverRate: 0, ackRate: 0,
                            verdict: .stalled, why: Self.hostile)
                    ],
                    workers: [.init(connection: Self.hostile, host: "h", pool: "p", slots: 4, inFlight: 1)], activeCoordinators: 1,
                    standbyCoordinators: 0)),
            jobs: [status], latestProgress: [:])
        let overviewPage = DashboardViews.overviewPage(overview, principal: "ops")
        Self.expectInert(overviewPage)
        #expect(overviewPage.contains("bb.jobs.&lt;x&gt;"))
        #expect(overviewPage.contains("href=\"/dashboard/jobs/\(contract.jobID)\""))
        Self.expectInert(DashboardViews.jobsFragment(overview).markup)
        Self.expectInert(DashboardViews.timelineFragment(timeline).markup)
        let login = DashboardViews.loginPage(message: Self.hostile, authenticationOff: false)
        Self.expectInert(login)
    }

    @Test("a timeline tells admitted, started, progress, completed, each part and the outcome, in that order")
    func timelineOrder() async throws {
        let (h, contract) = try await Self.hostileJob()
        let job = try #require(try await h.ledger.job(contract.jobID))
        let parts = try await h.ledger.parts(of: contract.jobID)
        let progress = [2, 1].map {
            ProgressEvent(
                jobID: contract.jobID, workSurface: "work:alice", sequence: $0, phase: .running, message: "step \($0)", at: Date())
        }
        let timeline = JobTimeline.build(job: job, parts: parts, registry: h.registry, progress: progress)
        #expect(timeline.entries.map(\.kind) == ["admitted", "started", "progress", "progress", "completed", "part", "outcome"])
        #expect(timeline.entries.filter { $0.kind == "progress" }.map(\.detail) == ["step 1", "step 2"])
        #expect(timeline.entries[0].title == "Admitted from Alice's terminal")
        #expect(timeline.entries.last?.title == "Delivered to Alice's terminal (parent-mediated), 1 part")
        #expect(timeline.entries.last?.tone == .ok)
        #expect(timeline.contextText?.isEmpty == false)
    }

    // MARK: Server-sent events

    /// The event-stream parser of the HTML standard, reduced to `event` and `data`.
    static func parse(_ stream: String) -> [(event: String, data: String)] {
        var events: [(String, String)] = []
        var event = ""
        var data = ""
        var hasData = false
        for line in ServerSentEvent.lines(stream) {
            if line.isEmpty {
                if hasData { events.append((event.isEmpty ? "message" : event, String(data.dropLast()))) }
                (event, data, hasData) = ("", "", false)
                continue
            }
            if line.hasPrefix(":") { continue }
            let field: Substring
            var value: Substring
            if let colon = line.firstIndex(of: ":") {
                field = line[..<colon]
                value = line[line.index(after: colon)...]
                if value.hasPrefix(" ") { value = value.dropFirst() }
            } else {
                (field, value) = (Substring(line), "")
            }
            switch field {
            case "event": event = String(value)
            case "data":
                data += value + "\n"
                hasData = true
            default: break
            }
        }
        return events
    }

    @Test("SSE framing: one data line per line (LF, CR, CRLF), names and ids on one line, comments")
    func sseFraming() {
        #expect(ServerSentEvent(event: "jobs", data: "a\nb\r\nc\rd").encoded == "event: jobs\ndata: a\ndata: b\ndata: c\ndata: d\n\n")
        #expect(ServerSentEvent(data: "").encoded == "data: \n\n")
        #expect(ServerSentEvent(event: "x\ndata: injected\r", data: "y").encoded == "event: xdata: injected\ndata: y\n\n")
        #expect(ServerSentEvent(data: "z", id: "1\u{0}2").encoded == "data: z\n\n")
        #expect(ServerSentEvent(data: "z", id: "7", retryMilliseconds: 2000).encoded == "id: 7\nretry: 2000\ndata: z\n\n")
        #expect(ServerSentEvent.comment("keep\nalive") == ": keepalive\n\n")
    }

    @Test("SSE round trip: any text comes back as the browser reads it (line breaks as LF), event by event")
    func sseRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = ["a", "<p>", "\n", "\r", "\r\n", " ", ":", "data: x", "é", "\n\n", "日"]
        for _ in 0..<500 {
            let texts = (0..<Int.random(in: 1...3, using: &generator)).map { _ in
                (0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            }
            let stream =
                texts.enumerated().map { ServerSentEvent(event: "e\($0.offset)", data: $0.element).encoded }.joined()
                + ServerSentEvent.comment("keep-alive")
            let parsed = Self.parse(stream)
            let expected = texts.map { $0.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n") }
            #expect(parsed.map(\.data) == expected, "\(texts)")
            #expect(parsed.map(\.event) == texts.indices.map { "e\($0)" })
        }
    }

    // MARK: Sessions

    @Test("sessions: opaque ids, found until they expire or end, bounded; the cookie is HttpOnly, SameSite=Strict, /dashboard")
    func sessions() {
        let sessions = DashboardSessions(lifetime: 100, capacity: 2)
        let now = Date()
        let digest = BearerToken.digest("bbt_x")
        let a = sessions.create(tokenDigest: digest, now: now)
        #expect(a.hasPrefix("bbs_") && a.count == 68 && DashboardSessions.wellFormed(a))
        #expect(sessions.tokenDigest(session: a, now: now.addingTimeInterval(99)) == digest)
        #expect(sessions.tokenDigest(session: a, now: now.addingTimeInterval(101)) == nil, "expired")
        #expect(sessions.tokenDigest(session: a, now: now) == nil, "an expired session is removed")
        let b = sessions.create(tokenDigest: digest, now: now)
        let c = sessions.create(tokenDigest: digest, now: now.addingTimeInterval(1))
        let d = sessions.create(tokenDigest: digest, now: now.addingTimeInterval(2))
        #expect(sessions.count == 2)
        #expect(sessions.tokenDigest(session: b, now: now) == nil, "the oldest goes first when full")
        #expect(sessions.tokenDigest(session: c, now: now) == digest)
        sessions.end(session: c)
        #expect(sessions.tokenDigest(session: c, now: now) == nil)
        #expect(sessions.tokenDigest(session: d, now: now) == digest)
        #expect(sessions.tokenDigest(session: "bbs_" + String(repeating: "g", count: 64), now: now) == nil)
        #expect(sessions.tokenDigest(session: "", now: now) == nil)

        #expect(
            DashboardCookie.set(d, maxAge: 100, secure: false)
                == "bb_dashboard=\(d); Path=/dashboard; Max-Age=100; HttpOnly; SameSite=Strict")
        #expect(DashboardCookie.set(d, maxAge: 100, secure: true).hasSuffix("; Secure"))
        #expect(DashboardCookie.clear(secure: false).contains("Max-Age=0"))
        #expect(DashboardCookie.value(in: ["theme=dark; bb_dashboard=\(d); x=1"]) == d)
        #expect(DashboardCookie.value(in: ["theme=dark", "bb_dashboard=\(d)"]) == d)
        #expect(DashboardCookie.value(in: ["xbb_dashboard=1"]) == nil)
        #expect(Dashboard.formField("token", in: "a=1&token=bbt_a%2Bb%3D+c") == "bbt_a+b= c")
    }

    // MARK: Over HTTP

    @Test(
        "over HTTP: sign-in sets the cookie, the cookie and the bearer header both open the pages, the JSON API ignores the cookie, sign-out ends it"
    )
    func overHTTP() async throws {
        let (h, contract) = try await Self.hostileJob()
        var logger = Logger(label: "test.dashboard")
        logger.logLevel = .critical
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        let dashboard = Dashboard(
            api: api, auth: TestAuth.http, management: nil, streamLifetime: .seconds(30), tick: .milliseconds(100), logger: logger)
        let app = CoordinatorHTTP.application(
            api: api, auth: TestAuth.http, host: "127.0.0.1", port: 0, logger: logger, dashboard: dashboard
        ) { portSink.yield($0) }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            func call(_ method: String, _ path: String, headers: [String: String] = [:], body: String = "") async throws
                -> RawHTTPClient.Response
            {
                try await RawHTTPClient.request(port: port, method: method, path: path, headers: headers, body: body)
            }
            let jobPath = "/dashboard/jobs/\(contract.jobID)"

            // Nobody: a browser is sent to sign in; other clients get the API's 401.
            let anonymous = try await call("GET", "/dashboard", headers: ["Accept": "text/html"])
            #expect(anonymous.status == 303 && anonymous.headers["location"] == "/dashboard/login")
            #expect(try await call("GET", "/dashboard/events", headers: ["Accept": "text/event-stream"]).status == 401)
            #expect(try await call("GET", jobPath, headers: ["Authorization": "Bearer bbt_wrong", "Accept": "text/html"]).status == 401)
            let form = try await call("GET", "/dashboard/login")
            #expect(form.status == 200 && form.text.contains("name=\"token\"") && form.text.contains("method=\"post\""))
            #expect(form.headers["content-security-policy"]?.contains("default-src 'none'") == true)

            // A wrong token, and a cross-site post: no cookie.
            let wrong = try await call(
                "POST", "/dashboard/login", headers: ["Content-Type": "application/x-www-form-urlencoded"], body: "token=bbt_nope")
            #expect(wrong.status == 401 && wrong.headers["set-cookie"] == nil)
            let crossSite = try await call(
                "POST", "/dashboard/login",
                headers: [
                    "Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site",
                ],
                body: "token=\(TestAuth.aliceToken)")
            #expect(crossSite.status == 403 && crossSite.headers["set-cookie"] == nil)

            // Alice signs in from the page's own origin.
            let signIn = try await call(
                "POST", "/dashboard/login",
                headers: [
                    "Content-Type": "application/x-www-form-urlencoded", "Origin": "http://127.0.0.1:\(port)",
                    "Sec-Fetch-Site": "same-origin",
                ],
                body: "token=\(TestAuth.aliceToken)")
            #expect(signIn.status == 303 && signIn.headers["location"] == "/dashboard")
            let setCookie = try #require(signIn.headers["set-cookie"])
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/dashboard"))
            #expect(!setCookie.contains(TestAuth.aliceToken))
            let session = try #require(DashboardCookie.value(in: [setCookie]))
            let cookie = ["Cookie": "bb_dashboard=\(session)"]

            let overview = try await call("GET", "/dashboard", headers: cookie)
            #expect(overview.status == 200)
            #expect(overview.text.contains("signed in as <b>alice</b>"))
            #expect(overview.text.contains("href=\"\(jobPath)\""))
            Self.expectInert(overview.text)
            let page = try await call("GET", jobPath, headers: cookie)
            #expect(page.status == 200 && page.text.contains("Timeline"))
            #expect(try await call("GET", jobPath, headers: ["Authorization": "Bearer \(TestAuth.aliceToken)"]).status == 200)
            // Bob sees neither the job nor it in the list.
            #expect(try await call("GET", jobPath, headers: ["Authorization": "Bearer \(TestAuth.bobToken)"]).status == 404)
            let bobList = try await call("GET", "/dashboard", headers: ["Authorization": "Bearer \(TestAuth.bobToken)"])
            #expect(bobList.status == 200 && !bobList.text.contains(contract.jobID.description))
            // The JSON API takes bearer tokens only.
            #expect(try await call("GET", "/v1/jobs/\(contract.jobID)/delivery", headers: cookie).status == 401)

            // The event stream: the fragments at once, as server-sent events.
            let stream = try await RawHTTPClient.readUntil(
                port: port, path: "/dashboard/events", headers: cookie.merging(["Accept": "text/event-stream"]) { a, _ in a },
                marker: "event: jobs")
            #expect(stream.contains("content-type: text/event-stream"), "\(stream.prefix(400))")
            #expect(stream.contains("event: fleet") && stream.contains("event: jobs"))
            #expect(stream.contains(contract.jobID.description))

            // Sign out (POST, same origin): the session is gone.
            let signOut = try await call("POST", "/dashboard/logout", headers: cookie)
            #expect(signOut.status == 303 && signOut.headers["set-cookie"]?.contains("Max-Age=0") == true)
            #expect(try await call("GET", "/dashboard", headers: cookie.merging(["Accept": "text/html"]) { a, _ in a }).status == 303)

            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}

/// A blocking HTTP/1.1 client on a plain socket, run on its own thread: it sends exactly the
/// headers given (no cookie jar, no redirects followed) and reads what the server answers.
enum RawHTTPClient {
    struct Response: Sendable {
        var status: Int
        var headers: [String: String]
        var text: String
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    static func connectSocket(port: Int, timeout: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket(): errno \(errno)") }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw Failure(description: "connect(): errno \(errno)")
        }
        return fd
    }

    static func send(_ fd: Int32, method: String, path: String, port: Int, headers: [String: String], body: String) {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.utf8.count)\r\n\r\n"
        let bytes = Array((head + body).utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// One request on a fresh connection; the whole answer (read to EOF).
    static func request(port: Int, method: String, path: String, headers: [String: String], body: String) async throws -> Response {
        try await onThread {
            let fd = try connectSocket(port: port, timeout: 10)
            defer { close(fd) }
            send(fd, method: method, path: path, port: port, headers: headers, body: body)
            var data: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16384)
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                data.append(contentsOf: chunk[0..<count])
            }
            let text = String(decoding: data, as: UTF8.self)
            guard let split = text.range(of: "\r\n\r\n") else { throw Failure(description: "no complete answer: \(text)") }
            var lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
            let status = Int(lines.removeFirst().split(separator: " ")[1]) ?? 0
            var fields: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return Response(status: status, headers: fields, text: String(text[split.upperBound...]))
        }
    }

    /// Opens a stream and reads until `marker` arrived (or 10 s passed); returns what was read,
    /// head included, with header names lowercased.
    static func readUntil(port: Int, path: String, headers: [String: String], marker: String) async throws -> String {
        let (fd, text) = try await openStream(port: port, path: path, headers: headers, marker: marker)
        close(fd)
        guard let split = text.range(of: "\r\n\r\n") else { return text }
        return text[..<split.lowerBound].lowercased() + text[split.lowerBound...]
    }

    /// Sends a GET and reads until `marker` arrived, the server closed, or 10 s passed; returns
    /// the still open socket (the caller closes it) and what was read, as sent.
    static func openStream(port: Int, path: String, headers: [String: String], marker: String) async throws -> (Int32, String) {
        try await onThread {
            let fd = try connectSocket(port: port, timeout: 10)
            send(fd, method: "GET", path: path, port: port, headers: headers, body: "")
            var data: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16384)
            while !String(decoding: data, as: UTF8.self).contains(marker) {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                data.append(contentsOf: chunk[0..<count])
            }
            return (fd, String(decoding: data, as: UTF8.self))
        }
    }

    /// Reads an open socket until the server closes it (or 10 s pass without a byte), then closes it.
    static func readToEnd(_ fd: Int32) async throws -> String {
        try await onThread {
            defer { close(fd) }
            var data: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16384)
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count < 0 { throw Failure(description: "no end of stream within 10 s of silence (errno \(errno))") }
                if count == 0 { break }
                data.append(contentsOf: chunk[0..<count])
            }
            return String(decoding: data, as: UTF8.self)
        }
    }
}

/// The broker's figures as the management API gives them.
@Suite("Dashboard broker overview")
struct BrokerOverviewTests {
    @Test("queues with verdicts, workers by the name they connected with and their busy slots, active and standby coordinators")
    func parse() throws {
        func json(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
        let queues = try json(
            """
            [{"name":"bb.jobs.default","messages_ready":3,"messages_unacknowledged":0,"consumers":0},
             {"name":"bb.jobs.p","messages_ready":0,"messages_unacknowledged":1,"consumers":1,
              "message_stats":{"publish_details":{"rate":2.5},"deliver_get_details":{"rate":2.0},"ack_details":{"rate":2.0}}},
             {"name":"bb.parked","messages_ready":2,"messages_unacknowledged":0,"consumers":0},
             {"name":"other","messages_ready":9}]
            """)
        let consumers = try json(
            """
            [{"queue":{"name":"bb.jobs.p"},"prefetch_count":4,"channel_details":{"name":"c1 (1)","connection_name":"c1","peer_host":"10.0.0.7"}},
             {"queue":{"name":"bb.coordinator.completions"},"active":true,"channel_details":{"connection_name":"c2"}},
             {"queue":{"name":"bb.coordinator.completions"},"active":false,"channel_details":{"connection_name":"c3"}}]
            """)
        let channels = try json(#"[{"name":"c1 (1)","messages_unacknowledged":1}]"#)
        let connections = try json(#"[{"name":"c1","user_provided_name":"bridgeback-worker worker1"}]"#)
        let overview = BrokerOverview.parse(queues: queues, consumers: consumers, channels: channels, connections: connections)
        #expect(overview.queues.map(\.name) == ["bb.jobs.default", "bb.jobs.p", "bb.parked"])
        #expect(overview.queues[0].verdict == .stalled && overview.queues[0].why == "3 waiting and nobody consumes this queue")
        #expect(overview.queues[1].verdict == .ok && overview.queues[1].publishRate == 2.5)
        #expect(overview.queues[2].verdict == .degraded)
        #expect(overview.workers == [.init(connection: "bridgeback-worker worker1", host: "10.0.0.7", pool: "p", slots: 4, inFlight: 1)])
        #expect(overview.activeCoordinators == 1 && overview.standbyCoordinators == 1)

        // A standby waiting for the ledger lock consumes nothing: the broker shows only its connection.
        let lockStandby = try json(
            """
            [{"name":"a","user_provided_name":"bridgeback-coordinator"},{"name":"b","user_provided_name":"bridgeback-coordinator"},
             {"name":"c","user_provided_name":"bridgeback-coordinator-dashboard"}]
            """)
        let active = try json(#"[{"queue":{"name":"bb.coordinator.completions"},"active":true,"channel_details":{"connection_name":"a"}}]"#)
        let waiting = BrokerOverview.parse(queues: queues, consumers: active, channels: nil, connections: lockStandby)
        #expect(waiting.activeCoordinators == 1 && waiting.standbyCoordinators == 1)
        let alone = BrokerOverview.parse(
            queues: queues, consumers: active, channels: nil,
            connections: try json(#"[{"name":"a","user_provided_name":"bridgeback-coordinator"}]"#))
        #expect(alone.standbyCoordinators == 0)
    }
}
