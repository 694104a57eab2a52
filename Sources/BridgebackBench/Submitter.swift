import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The HTTP client `bench fleet` submits with. It runs on the machine it measures, so its CPU is
/// taken from the fleet in the throughput run and its own latency is inside the submit → 202 it
/// reports.
public enum BenchHTTPClient: String, Sendable, CaseIterable {
    /// AsyncHTTPClient on one event-loop thread: a keep-alive HTTP/1.1 pool sized to the submits
    /// in flight (the default).
    case asyncHTTPClient = "async-http-client"
    /// `URLSession.shared` (on Linux FoundationNetworking: libcurl and its own threads), the
    /// client of the first five passes of issue #12; kept to compare with their figures.
    case urlSession = "urlsession"
}

/// POSTs detached jobs to admission and returns each job's id with the moment its request left.
protocol Submitter: Sendable {
    func submitOne() async throws -> (String, ContinuousClock.Instant)
    /// Closes connections and stops the client's threads; call once, after the last submit.
    func shutdown() async
}

extension Submitter {
    func submitMany(_ count: Int, concurrency: Int) async throws -> [String: ContinuousClock.Instant] {
        try await withThrowingTaskGroup(of: (String, ContinuousClock.Instant).self) { group in
            var result: [String: ContinuousClock.Instant] = [:]
            var started = 0
            for _ in 0..<min(concurrency, count) {
                group.addTask { try await submitOne() }
                started += 1
            }
            while let (id, sent) = try await group.next() {
                result[id] = sent
                if started < count {
                    group.addTask { try await submitOne() }
                    started += 1
                }
            }
            return result
        }
    }
}

/// What every bench job asks for, and how an answer is checked: 202 with a `job_id`.
struct BenchRequest: Sendable {
    let url: String
    let origin: String
    let recipe: String
    let token: String?

    init(admission: String, origin: String, recipe: String, token: String?) throws(BenchError) {
        url = admission + "/v1/requests"
        guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else {
            throw BenchError(.invalidOption, "--admission must be an http(s) URL such as http://127.0.0.1:8080, not '\(admission)'")
        }
        self.origin = origin
        self.recipe = recipe
        self.token = token
    }

    func body() throws -> Data {
        try JSONSerialization.data(withJSONObject: [
            "origin": origin, "text": "bench", "force": "detach", "recipe": ["name": recipe, "params": [String: String]()],
        ])
    }

    /// The job id of an accepted answer; a BenchError with the answer's body otherwise.
    func jobID(status: Int, body: Data) throws -> String {
        guard status == 202, let id = JobIDOnly.read(body) else {
            throw BenchError(.run, "admission refused the bench job (HTTP \(status)): \(String(decoding: body, as: UTF8.self))")
        }
        return id
    }
}

/// The one member the bench reads of a 202 answer or a final notice. Decoded as a type with only
/// that key, not as a whole `[String: Any]` tree (`JSONSerialization` was ~17 % of the bench
/// client's CPU, which it takes from the fleet it measures on the same cores).
struct JobIDOnly: Decodable {
    let jobID: String

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
    }

    static func read(_ body: Data) -> String? {
        try? JSONDecoder().decode(Self.self, from: body).jobID
    }
}

/// AsyncHTTPClient with its own single event-loop thread and a keep-alive HTTP/1.1 pool of up to
/// `connections` connections; the request body is encoded once.
final class AsyncHTTPSubmitter: Submitter {
    private let request: BenchRequest
    private let group: MultiThreadedEventLoopGroup
    private let client: HTTPClient
    private let headers: HTTPHeaders
    private let body: ByteBuffer

    init(_ request: BenchRequest, connections: Int) throws {
        self.request = request
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(60)), decompression: .disabled)
        configuration.httpVersion = .http1Only
        configuration.connectionPool = .init(idleTimeout: .seconds(120), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, connections))
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        client = HTTPClient(eventLoopGroup: group, configuration: configuration)
        var headers = HTTPHeaders([("Content-Type", "application/json")])
        if let token = request.token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        self.headers = headers
        body = ByteBuffer(bytes: try request.body())
    }

    func submitOne() async throws -> (String, ContinuousClock.Instant) {
        var outbound = HTTPClientRequest(url: request.url)
        outbound.method = .POST
        outbound.headers = headers
        outbound.body = .bytes(body)
        let sent = ContinuousClock.now
        let status: Int
        let answer: ByteBuffer
        do {
            let response = try await client.execute(outbound, timeout: .seconds(60))
            status = Int(response.status.code)
            answer = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw BenchError(.run, "could not submit to admission at \(request.url): \(error)")
        }
        return (try request.jobID(status: status, body: Data(answer.readableBytesView)), sent)
    }

    func shutdown() async {
        try? await client.shutdown()
        try? await group.shutdownGracefully()
    }
}

/// `URLSession.shared`, as the first five passes of issue #12 measured with (body encoded per request).
struct URLSessionSubmitter: Submitter {
    let request: BenchRequest

    func submitOne() async throws -> (String, ContinuousClock.Instant) {
        var outbound = URLRequest(url: URL(string: request.url)!)  // checked in BenchRequest.init
        outbound.httpMethod = "POST"
        outbound.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token = request.token { outbound.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        outbound.httpBody = try request.body()
        let sent = ContinuousClock.now
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: outbound)
        } catch {
            throw BenchError(.run, "could not submit to admission at \(request.url): \(error)")
        }
        return (try request.jobID(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data), sent)
    }

    func shutdown() async {}
}
