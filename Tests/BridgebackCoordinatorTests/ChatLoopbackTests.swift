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

/// A one-thread HTTP/1.1 server on 127.0.0.1 for the real `WireHTTPClient`: each
/// connection gets the raw response `respond` returns for the request, or none (nil: the
/// request is read and never answered, as a receiver that hangs after taking it).
final class LoopbackServer: Sendable {
    let port: UInt16
    private let listener: Int32
    private let requests = Mutex<[String]>([])

    init(respond: @escaping @Sendable (String) -> String?) throws {
        let (fd, port) = try openLoopbackListener(backlog: 8)
        self.port = port
        listener = fd
        Thread.detachNewThread { [self] in
            while true {
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else {
                    close(fd)  // the listener was shut down (stop()); the fd is ours to close
                    return
                }
                let request = Self.readRequest(connection)
                self.requests.withLock { $0.append(request) }
                if let response = respond(request) {
                    _ = response.utf8CString.withUnsafeBufferPointer { send(connection, $0.baseAddress, $0.count - 1, 0) }
                } else {
                    var byte: UInt8 = 0
                    while recv(connection, &byte, 1, 0) > 0 {}  // hang until the client gives up
                }
                close(connection)
            }
        }
    }

    /// Requests seen so far (head and body, as text).
    var received: [String] { requests.withLock { $0 } }

    /// How many requests were seen, once at least `count` were or 10 s have passed.
    func receivedCount(atLeast count: Int) async -> Int {
        let giveUp = ContinuousClock.now + .seconds(10)
        while received.count < count, ContinuousClock.now < giveUp { try? await Task.sleep(for: .milliseconds(20)) }
        return received.count
    }

    /// Shuts the listener down; its accept thread closes it. Closing here would free the fd
    /// number while that thread may still be about to call accept on it, and a listener opened
    /// meanwhile by another test would get that number and have its connections stolen.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
    }

    static func response(_ status: Int, _ reason: String, headers: [String: String] = [:], body: String) -> String {
        let extra = headers.map { "\($0.key): \($0.value)\r\n" }.joined()
        return
            "HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\(extra)Connection: close\r\n\r\n\(body)"
    }

    /// Reads the head, answers `Expect: 100-continue` (curl sends it for larger bodies), then
    /// reads `Content-Length` bytes of body.
    private static func readRequest(_ connection: Int32) -> String {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        func head() -> String? {
            guard let end = data.indices.dropLast(3).first(where: { data[$0...($0 + 3)].elementsEqual([13, 10, 13, 10]) }) else {
                return nil
            }
            return String(decoding: data[..<end], as: UTF8.self)
        }
        var continued = false
        while true {
            if let head = head() {
                let lines = head.lowercased().components(separatedBy: "\r\n")
                if !continued, lines.contains(where: { $0.hasPrefix("expect:") && $0.contains("100-continue") }) {
                    continued = true
                    let reply = "HTTP/1.1 100 Continue\r\n\r\n"
                    _ = reply.utf8CString.withUnsafeBufferPointer { send(connection, $0.baseAddress, $0.count - 1, 0) }
                }
                let length =
                    lines.first { $0.hasPrefix("content-length:") }.flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) }
                    ?? 0
                if data.count >= head.utf8.count + 4 + length { break }
            }
            let count = recv(connection, &buffer, buffer.count, 0)
            if count <= 0 { break }
            data += buffer[..<count]
        }
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite("Chat adapters over a real loopback HTTP server and WireHTTPClient (AsyncHTTPClient)")
struct ChatLoopbackTests {
    /// One pooled client for the suite, as the coordinator has one.
    static let client = WireHTTPClient()

    func slack(port: UInt16) -> Surface {
        var surface = Chat.surface(.slack)
        surface.apiBase = "http://127.0.0.1:\(port)/api"
        return surface
    }

    func adapter(timeout: Double = 5) -> SlackAdapter {
        SlackAdapter(client: Self.client, tokens: ["slack:ops": Array("xoxb-1-secret".utf8)], timeout: timeout)
    }

    @Test("Slack's HTTP 200 {ok:false} body reaches the mapping: not_in_channel is permission; the request is the real one")
    func bodyIsRead() async throws {
        let server = try LoopbackServer { _ in LoopbackServer.response(200, "OK", body: #"{"ok":false,"error":"not_in_channel"}"#) }
        defer { server.stop() }
        let failure = await adapter().send(try Chat.delivery(slack(port: server.port)))
        #expect(failure == DeliveryFailure(.permission, detail: "not_in_channel"))
        let request = try #require(server.received.first)
        #expect(request.hasPrefix("POST /api/chat.postMessage HTTP/1.1"))
        #expect(request.lowercased().contains("authorization: bearer xoxb-1-secret"))
        #expect(request.contains(#""channel":"C0123ABCD""#))
    }

    @Test("429 with a Retry-After header is rate_limited with that wait; ok:true is delivered")
    func retryAfterHeaderAndSuccess() async throws {
        let calls = Mutex(0)
        let server = try LoopbackServer { _ in
            let call = calls.withLock {
                $0 += 1; return $0
            }
            return call == 1
                ? LoopbackServer.response(
                    429, "Too Many Requests", headers: ["Retry-After": "7"], body: #"{"ok":false,"error":"ratelimited"}"#)
                : LoopbackServer.response(200, "OK", body: #"{"ok":true,"channel":"C0123ABCD","ts":"1.2"}"#)
        }
        defer { server.stop() }
        let delivery = try Chat.delivery(slack(port: server.port))
        #expect(await adapter().send(delivery)?.kind == .rateLimited(retryAfter: 7))
        #expect(await adapter().send(delivery) == nil)
    }

    @Test("a receiver that takes the request and never answers: unknown_outcome after the timeout")
    func timeoutIsUnknownOutcome() async throws {
        let server = try LoopbackServer { _ in nil }
        defer { server.stop() }
        let delivery = try Chat.delivery(slack(port: server.port))
        let started = ContinuousClock.now
        let failure = await adapter(timeout: 1).send(delivery)
        #expect(failure?.kind == .unknownOutcome)
        #expect(failure?.detail == "timeout after 1 s")
        // The server thread records the request once it has read all of it, which on a loaded
        // machine can be after the client has given up: wait for it, then count.
        #expect(await server.receivedCount(atLeast: 1) == 1)
        // Not a timing assertion, a hang guard: FoundationNetworking alone waited its 60 s default.
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test("nothing listening: transport (certainly not sent)")
    func refusedIsTransport() async throws {
        let server = try LoopbackServer { _ in nil }
        let port = server.port
        server.stop()
        let failure = await adapter().send(try Chat.delivery(slack(port: port)))
        #expect(failure?.kind == .transport, "detail: \(failure?.detail ?? "")")
    }
}
