@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A raw HTTP/1.1 receiver on 127.0.0.1 that misbehaves on purpose, one thread per
/// connection, keeping connections alive when told to. It records every request it read in
/// full (head and body) and every connection that sent bytes but not a whole request, so
/// the tests can say, from the receiver's side, what was on the wire.
final class MisbehavingReceiver: Sendable {
    /// What to do with one complete request.
    enum Action: Sendable {
        /// Answer; `keepAlive` leaves the connection open for the next request.
        case answer(status: Int, headers: [String: String] = [:], body: String = "", keepAlive: Bool = false)
        /// Close the connection without a byte of answer.
        case closeWithoutAnswer
        /// Send the head and part of the body, then reset the connection (RST).
        case resetMidBody
        /// Send the answer one byte every `interval`, until the client goes away.
        case trickle(interval: Duration)
    }

    /// One request as the receiver read it.
    struct Received: Sendable {
        var connection: Int
        var requestLine: String
        var headers: [String: String]
        var body: [UInt8]
    }

    let port: UInt16
    private let listener: Int32
    private let state = Mutex<(requests: [Received], partial: [String], connections: Int)>(([], [], 0))
    private let script: @Sendable (Int, Received) -> Action

    /// `script` gets the 0-based index of the request among all received, and the request.
    init(script: @escaping @Sendable (Int, Received) -> Action) throws {
        self.script = script
        let (fd, port) = try openLoopbackListener(backlog: 16)
        self.port = port
        listener = fd
        Thread.detachNewThread { [self] in
            while true {
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else {
                    close(fd)  // the listener was shut down (stop()); the fd is ours to close
                    return
                }
                let number = state.withLock {
                    $0.connections += 1; return $0.connections
                }
                Thread.detachNewThread { self.serve(connection, number: number) }
            }
        }
    }

    /// Requests read in full, in arrival order.
    var requests: [Received] { state.withLock { $0.requests } }
    /// Connections that sent part of a request and then ended (a head without its body).
    var partial: [String] { state.withLock { $0.partial } }

    /// Shuts the listener down; its accept thread closes it. Closing here would free the fd
    /// number while that thread may still be about to call accept on it, and a listener opened
    /// meanwhile by another test would get that number and have its connections stolen.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func serve(_ connection: Int32, number: Int) {
        var pending = [UInt8]()
        defer { close(connection) }
        while true {
            guard let request = Self.readRequest(connection, pending: &pending, number: number) else {
                if !pending.isEmpty { state.withLock { $0.partial.append(String(decoding: pending, as: UTF8.self)) } }
                return
            }
            let index = state.withLock { state in
                state.requests.append(request)
                return state.requests.count - 1
            }
            switch script(index, request) {
            case .answer(let status, let headers, let body, let keepAlive):
                let extra = headers.map { "\($0.key): \($0.value)\r\n" }.joined()
                let connectionHeader = keepAlive ? "keep-alive" : "close"
                Self.write(
                    connection,
                    "HTTP/1.1 \(status) X\r\nContent-Length: \(body.utf8.count)\r\n\(extra)Connection: \(connectionHeader)\r\n\r\n\(body)")
                if !keepAlive { return }
            case .closeWithoutAnswer:
                return
            case .resetMidBody:
                Self.write(connection, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"ok\":")
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(connection, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                return
            case .trickle(let interval):
                let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"ok\":true,\"note\":\"slow answer........\"}".utf8)
                for byte in answer {
                    var one = byte
                    if send(connection, &one, 1, Int32(MSG_NOSIGNAL)) != 1 { return }
                    Thread.sleep(forTimeInterval: Double(interval.components.attoseconds) / 1e18 + Double(interval.components.seconds))
                }
                return
            }
        }
    }

    private static func write(_ connection: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBufferPointer { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// One request (head + Content-Length body) from `pending` and the socket; nil at EOF
    /// before a whole request (what was read stays in `pending`).
    private static func readRequest(_ connection: Int32, pending: inout [UInt8], number: Int) -> Received? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = pending.indices.dropLast(3).first(where: { pending[$0...($0 + 3)].elementsEqual([13, 10, 13, 10]) }) {
                let head = String(decoding: pending[..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let requestLine = lines.removeFirst()
                var headers: [String: String] = [:]
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = headers["content-length"].flatMap { Int($0) } ?? 0
                if pending.count >= end + 4 + length {
                    let body = Array(pending[(end + 4)..<(end + 4 + length)])
                    pending.removeFirst(end + 4 + length)
                    return Received(connection: number, requestLine: requestLine, headers: headers, body: body)
                }
            }
            let count = recv(connection, &buffer, buffer.count, 0)
            if count <= 0 { return nil }
            pending += buffer[..<count]
        }
    }
}

/// Every promise of the outbound HTTP client, on the wire: webhook sends through the real
/// `WireHTTPClient` (AsyncHTTPClient) and the real coordinator and ledger, against a receiver
/// that redirects, drops kept-alive connections, resets mid-answer and trickles.
@Suite("Outbound HTTP on the wire: redirects, dropped connections, resets, trickles")
struct WireTests {
    static let surfaceID: SurfaceID = "hooks:wire"

    /// The harness with a webhook surface at the receiver, delivered by a fresh pooled client.
    static func harness(port: UInt16, client: WireHTTPClient, timeout: Double = 5) throws -> Harness {
        let surface = Surface(
            id: surfaceID, kind: .webhook, address: "http://127.0.0.1:\(port)/hook", humanName: "the wire receiver",
            directAllowed: true, signingSecret: .inline(Harness.secret))
        let secrets = try Harness.makeRegistry(extra: [surface]).resolveSecrets(environment: [:])
        return try Harness(
            override: [.webhook: WebhookAdapter(client: client, secrets: secrets, timeout: timeout)], extraSurfaces: [surface])
    }

    /// Delivers one job to the receiver and waits until the job has a final outcome.
    static func deliver(_ h: Harness, result: String = "All 5 gates passed. Safe to ship.") async throws -> OwnershipContract {
        let contract = makeContract(final: surfaceID, mode: .direct)
        _ = try await h.coordinator.handleContract(body(contract))
        _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID, result: result)))
        #expect(try await eventually(20) { try await h.ledger.outcome(contract.jobID) != nil }, "job \(contract.jobID) never finished")
        return contract
    }

    /// The receiver's side: every request it read has the full body the ledger stored for that
    /// webhook-id and a valid Standard Webhooks signature; none arrived partial; and it read
    /// exactly as many requests per id as the ledger counted attempts.
    static func assertEveryRequestKnown(_ receiver: MisbehavingReceiver, _ h: Harness, jobs: [JobID]) async throws {
        let key = try #require(try h.registry.resolveSecrets(environment: [:])[surfaceID])
        let signer = WebhookSigner(secret: key)
        #expect(receiver.partial.isEmpty, "requests that arrived incomplete: \(receiver.partial)")
        var attemptsByID: [String: (attempts: Int, body: [UInt8])] = [:]
        for job in jobs {
            for part in try await h.ledger.parts(of: job) where part.surfaceID == surfaceID {
                attemptsByID[part.deliveryID.description] = (part.state.attempts, part.body)
            }
        }
        for request in receiver.requests {
            #expect(request.requestLine == "POST /hook HTTP/1.1")
            let id = try #require(request.headers["webhook-id"])
            let known = try #require(attemptsByID[id], "the receiver got webhook-id \(id), which the ledger does not know")
            #expect(request.body == known.body, "the body of \(id) differs from the ledger's")
            #expect(request.headers["content-length"] == String(known.body.count))
            let timestamp = try #require(request.headers["webhook-timestamp"].flatMap { Int64($0) })
            #expect(request.headers["webhook-signature"] == signer.signature(id: id, timestamp: timestamp, body: request.body))
        }
        for (id, known) in attemptsByID {
            let seen = receiver.requests.filter { $0.headers["webhook-id"] == id }.count
            #expect(seen == known.attempts, "\(id): the receiver read \(seen) request(s), the ledger counted \(known.attempts) attempt(s)")
        }
    }

    @Test(
        "301/302/307/308: not followed; the part fails as missing_target naming the Location, after one request",
        arguments: [301, 302, 307, 308])
    func redirectIsTerminal(status: Int) async throws {
        let receiver = try MisbehavingReceiver { _, request in
            request.requestLine.hasPrefix("POST /hook ")
                ? .answer(status: status, headers: ["Location": "http://127.0.0.1:1/moved"]) : .answer(status: 200)
        }
        defer { receiver.stop() }
        let client = WireHTTPClient()
        let h = try Self.harness(port: receiver.port, client: client)
        var contract: OwnershipContract?
        try await h.running { contract = try await Self.deliver(h) }
        try await client.shutdown()
        let job = try #require(contract).jobID
        #expect(try await h.ledger.outcome(job) == "failed")
        let part = try #require(try await h.ledger.parts(of: job).first { $0.surfaceID == Self.surfaceID })
        #expect(part.state.name == "failed")
        #expect(part.state.attempts == 1)
        #expect(part.state.lastFailure?.kind == .missingTarget)
        #expect(part.state.lastFailure?.detail.contains("HTTP \(status) redirect to http://127.0.0.1:1/moved") == true)
        #expect(receiver.requests.count == 1)
        try await Self.assertEveryRequestKnown(receiver, h, jobs: [job])
    }

    @Test("a kept-alive connection closed without an answer: reported, retried by the ledger on a new connection, never by the client")
    func keptAliveConnectionClosed() async throws {
        let receiver = try MisbehavingReceiver { index, _ in
            switch index {
            case 0: .answer(status: 204, keepAlive: true)  // job 1, leaves the connection in the pool
            case 1: .closeWithoutAnswer  // job 2 on the reused connection: read in full, then dropped
            default: .answer(status: 204)
            }
        }
        defer { receiver.stop() }
        let client = WireHTTPClient()
        let h = try Self.harness(port: receiver.port, client: client)
        var jobs: [JobID] = []
        try await h.running {
            jobs.append(try await Self.deliver(h).jobID)
            jobs.append(try await Self.deliver(h).jobID)
        }
        try await client.shutdown()
        let requests = receiver.requests
        try #require(requests.count == 3)
        #expect(requests[1].connection == requests[0].connection, "the second send did not reuse the kept-alive connection")
        #expect(requests[2].connection != requests[1].connection)
        #expect(requests[1].headers["webhook-id"] == requests[2].headers["webhook-id"])
        for job in jobs { #expect(try await h.ledger.outcome(job) == "delivered") }
        let second = try #require(try await h.ledger.parts(of: jobs[1]).first)
        #expect(second.state.attempts == 2)
        try await Self.assertEveryRequestKnown(receiver, h, jobs: jobs)
    }

    @Test("a reset in the middle of the answer: unknown outcome, retried by the ledger with the same id and body")
    func resetMidBody() async throws {
        let receiver = try MisbehavingReceiver { index, _ in index == 0 ? .resetMidBody : .answer(status: 200) }
        defer { receiver.stop() }
        let client = WireHTTPClient()
        let h = try Self.harness(port: receiver.port, client: client)
        var contract: OwnershipContract?
        try await h.running { contract = try await Self.deliver(h) }
        try await client.shutdown()
        let job = try #require(contract).jobID
        #expect(try await h.ledger.outcome(job) == "delivered")
        #expect(try await h.ledger.parts(of: job).first?.state.attempts == 2)
        #expect(receiver.requests.count == 2)
        try await Self.assertEveryRequestKnown(receiver, h, jobs: [job])
    }

    @Test("an answer trickled past the total timeout: cut at the deadline, unknown outcome, retried once by the ledger")
    func trickledAnswer() async throws {
        let receiver = try MisbehavingReceiver { index, _ in index == 0 ? .trickle(interval: .milliseconds(100)) : .answer(status: 200) }
        defer { receiver.stop() }
        // Each byte comes well within the read timeout; only the total (1 s) can stop it.
        let client = WireHTTPClient(timeouts: .init(connect: 1, read: 5))
        let h = try Self.harness(port: receiver.port, client: client, timeout: 1)
        var contract: OwnershipContract?
        try await h.running { contract = try await Self.deliver(h) }
        try await client.shutdown()
        let job = try #require(contract).jobID
        #expect(try await h.ledger.outcome(job) == "delivered")
        let part = try #require(try await h.ledger.parts(of: job).first)
        #expect(part.state.attempts == 2)
        #expect(receiver.requests.count == 2)
        try await Self.assertEveryRequestKnown(receiver, h, jobs: [job])
    }

    @Test("the first failed attempt of the trickle is recorded as unknown_outcome with the timeout")
    func trickleClassification() async throws {
        let receiver = try MisbehavingReceiver { _, _ in .trickle(interval: .milliseconds(100)) }
        defer { receiver.stop() }
        let client = WireHTTPClient(timeouts: .init(connect: 1, read: 5))
        let secrets = try Harness.makeRegistry().resolveSecrets(environment: [:])
        let adapter = WebhookAdapter(client: client, secrets: secrets, timeout: 1)
        var surface = try #require(try Harness.makeRegistry()["hooks:a"])
        surface.address = "http://127.0.0.1:\(receiver.port)/hook"
        let delivery = PreparedDelivery(
            deliveryID: DeliveryID(job: JobID.make(), part: 1), totalParts: 1, surface: surface, body: Array("{}".utf8), attempt: 1)
        let failure = await adapter.send(delivery)
        try await client.shutdown()
        #expect(failure == DeliveryFailure(.unknownOutcome, detail: "timeout after 1 s"))
    }

    @Test("nothing listening: transport (certainly not sent), one connect, no retry by the client")
    func refusedIsNotSent() async throws {
        let receiver = try MisbehavingReceiver { _, _ in .answer(status: 200) }
        let port = receiver.port
        receiver.stop()
        let client = WireHTTPClient(timeouts: .init(connect: 1, read: 1))
        let result = await client.post(HTTPRequest(url: URL(string: "http://127.0.0.1:\(port)/hook")!, headers: [:], body: [1], timeout: 2))
        try await client.shutdown()
        guard case .notSent = result else {
            Issue.record("expected notSent, got \(result)")
            return
        }
    }
}
