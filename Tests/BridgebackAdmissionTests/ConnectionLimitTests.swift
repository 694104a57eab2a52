import BridgebackCore
import BridgebackHTTP
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@testable import BridgebackAdmission

/// Timeouts and the connection ceiling of the real admission HTTP server, measured from the
/// client side over loopback. Bounds are generous (a loaded 2-core CI machine): the lower
/// bounds prove a timer closed the connection, not something else; the upper bounds prove it
/// was closed at all.
@Suite("HTTP timeouts and connection limits", .serialized)
struct ConnectionLimitTests {
    static let inline = #"{"origin": "cli:alice", "text": "What is a canary release?"}"#

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    @Test(
        "1,000 stalled connections (partial request heads): a real client is still served; each stalled one is closed by the head timeout")
    func thousandStalledConnections() async throws {
        let fileLimit = RawHTTP.raiseFileLimit()
        try #require(fileLimit >= 2_200, "needs at least 2,200 open files (both ends of 1,000 sockets); the hard limit is \(fileLimit)")
        let limits = HTTPServerLimits(headTimeout: .seconds(3), bodyTimeout: .seconds(30), idleTimeout: .seconds(60), maxConnections: 2048)
        try await ServedAdmission.with(limits: limits) { port, _ in
            let outcome = try await RawHTTP.onThread { () throws -> (served: Int, closedAfter: [Double], open: Int) in
                var stalled: [RawConnection] = []
                for index in 0..<1_000 {
                    let connection = try RawConnection(port: port)
                    // Half a request head: never finished.
                    connection.send("POST /v1/requests HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Stall: \(index)\r\nContent-Le")
                    stalled.append(connection)
                }
                // A real client, while all of them are held open.
                let client = try RawConnection(port: port, timeout: 20)
                client.send(RawHTTP.post("/v1/requests", Self.inline))
                let served = client.readResponse()?.status ?? -1

                // Watch every stalled socket until the server closes it.
                var closedAfter = [Double?](repeating: nil, count: stalled.count)
                var fds = stalled.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
                let giveUp = ContinuousClock.now + .seconds(40)
                var open = stalled.count
                while open > 0, ContinuousClock.now < giveUp {
                    guard poll(&fds, nfds_t(fds.count), 200) > 0 else { continue }
                    for index in fds.indices where fds[index].revents != 0 && closedAfter[index] == nil {
                        var byte: UInt8 = 0
                        let count = recv(fds[index].fd, &byte, 1, Int32(MSG_DONTWAIT))
                        if count == 0 || (count < 0 && errno != EAGAIN) {
                            closedAfter[index] = Self.seconds(ContinuousClock.now - stalled[index].openedAt)
                            fds[index].events = 0
                            fds[index].fd = -1
                            open -= 1
                        }
                    }
                }
                return (served, closedAfter.compactMap { $0 }, open)
            }
            #expect(outcome.served == 200, "the real client got \(outcome.served) while 1,000 connections stalled")
            #expect(outcome.open == 0, "\(outcome.open) stalled connections were still open after 40 s")
            let earliest = outcome.closedAfter.min() ?? 0
            let latest = outcome.closedAfter.max() ?? 0
            // Closed by the 3 s head timeout: not before it, and well within a generous bound.
            #expect(earliest >= 2.9, "a stalled connection was closed after \(earliest) s, before the 3 s head timeout")
            #expect(latest <= 30, "the last stalled connection was closed after \(latest) s")
        }
    }

    @Test("a connection over the ceiling gets 503 with a JSON error; once the stalled ones time out, clients are served again")
    func ceilingAnswers503() async throws {
        let limits = HTTPServerLimits(headTimeout: .seconds(2), bodyTimeout: .seconds(30), idleTimeout: .seconds(60), maxConnections: 10)
        try await ServedAdmission.with(limits: limits) { port, _ in
            let (over, after) = try await RawHTTP.onThread { () throws -> (RawConnection.Response?, RawConnection.Response?) in
                var stalled: [RawConnection] = []
                for _ in 0..<10 {
                    let connection = try RawConnection(port: port)
                    connection.send("GET /hea")
                    stalled.append(connection)
                }
                Thread.sleep(forTimeInterval: 0.5)  // let the server accept them all
                let extra = try RawConnection(port: port)
                let over = extra.readResponse()
                for connection in stalled { _ = connection.waitForClose(timeout: 30) }
                Thread.sleep(forTimeInterval: 0.2)
                let client = try RawConnection(port: port)
                client.send(RawHTTP.post("/v1/requests", Self.inline))
                return (over, client.readResponse())
            }
            #expect(over?.status == 503)
            #expect(over?.hasJSONError == true)
            #expect(over?.json?["error"]?["code"]?.string == "too_many_connections")
            #expect(after?.status == 200)
        }
    }

    @Test("a body that stops arriving is closed by the body timeout, measured from its head")
    func bodyTimeout() async throws {
        let limits = HTTPServerLimits(headTimeout: .seconds(1), bodyTimeout: .seconds(3), idleTimeout: .seconds(60), maxConnections: 64)
        try await ServedAdmission.with(limits: limits) { port, _ in
            let (closed, after) = try await RawHTTP.onThread { () throws -> (Bool, Double) in
                let connection = try RawConnection(port: port)
                let start = ContinuousClock.now
                connection.send("POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"origin\": ")
                let closed = connection.waitForClose(timeout: 30)
                return (closed, Self.seconds(ContinuousClock.now - start))
            }
            #expect(closed)
            // Not the 1 s head timeout: the head was complete.
            #expect(after >= 2.9 && after <= 25, "closed after \(after) s; the body timeout is 3 s")
        }
    }

    @Test("a kept-alive connection with no next request is closed by the idle timeout")
    func idleTimeout() async throws {
        let limits = HTTPServerLimits(headTimeout: .seconds(1), bodyTimeout: .seconds(30), idleTimeout: .seconds(3), maxConnections: 64)
        try await ServedAdmission.with(limits: limits) { port, _ in
            let (status, closed, after) = try await RawHTTP.onThread { () throws -> (Int, Bool, Double) in
                let connection = try RawConnection(port: port)
                connection.send(RawHTTP.post("/v1/requests", Self.inline))
                let status = connection.readResponse()?.status ?? -1
                let start = ContinuousClock.now
                let closed = connection.waitForClose(timeout: 30)
                return (status, closed, Self.seconds(ContinuousClock.now - start))
            }
            #expect(status == 200)
            #expect(closed)
            #expect(after >= 2.8 && after <= 25, "closed after \(after) s; the idle timeout is 3 s")
        }
    }

    @Test("a chunked body declaring 2^64-1 bytes is cut off: by the body limit when bytes keep coming, by the body timeout when they stop")
    func absurdChunkedBody() async throws {
        let limits = HTTPServerLimits(headTimeout: .seconds(2), bodyTimeout: .seconds(3), idleTimeout: .seconds(60), maxConnections: 64)
        try await ServedAdmission.with(limits: limits, api: .init(maxBodyBytes: 4096)) { port, _ in
            let (flood, stalledClosed, stalledAfter) = try await RawHTTP.onThread { () throws -> (RawConnection.Response?, Bool, Double) in
                let head = "POST /v1/requests HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n"
                let flooding = try RawConnection(port: port)
                flooding.send(head)
                flooding.send([UInt8](repeating: UInt8(ascii: "a"), count: 20_000))
                let flood = flooding.readResponse()

                let stalling = try RawConnection(port: port)
                let start = ContinuousClock.now
                stalling.send(head + "abc")
                let closed = stalling.waitForClose(timeout: 30)
                return (flood, closed, Self.seconds(ContinuousClock.now - start))
            }
            // The decoder refuses the chunk size or the limit cuts the body (a 4xx);
            // both answer JSON, neither waits for 2^64-1 bytes.
            let status = try #require(flood?.status)
            #expect((400..<500).contains(status), "got \(status)")
            #expect(flood?.hasJSONError == true)
            #expect(stalledClosed)
            #expect(stalledAfter <= 25, "closed after \(stalledAfter) s; the body timeout is 3 s")
        }
    }

    @Test("bytes that are not HTTP get a JSON 400, and the connection is closed")
    func malformedHTTP() async throws {
        try await ServedAdmission.with(limits: .init(headTimeout: .seconds(5))) { port, _ in
            let (response, closed) = try await RawHTTP.onThread { () throws -> (RawConnection.Response?, Bool) in
                let connection = try RawConnection(port: port)
                connection.send("GARBAGE\u{01}\r\n\r\n")
                let response = connection.readResponse()
                return (response, connection.waitForClose(timeout: 10))
            }
            #expect(response?.status == 400)
            #expect(response?.hasJSONError == true)
            #expect(closed)
        }
    }
}
