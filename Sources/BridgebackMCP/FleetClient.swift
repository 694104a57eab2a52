public import BridgebackCore
public import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// What one call to admission or the coordinator status API came back with, read as the shared
/// Codable body of that route (`AdmissionAnswer`, `AdmittedJob`, `CancelAccepted`, …).
public enum FleetAnswer<Body: Sendable>: Sendable {
    /// A 2xx answer: the decoded body, and the bytes as the server sent them (shown to the model
    /// unchanged as the tool's structured content).
    case ok(status: Int, body: Body, bytes: Data)
    /// A 4xx/5xx answer: the API's `error.code`, `error.message` and `error.field` when it sent
    /// them (`APIErrorBody`); also a 2xx whose body is not the route's (`unreadable_answer`).
    case refused(status: Int, code: String, message: String, field: String?)
    /// No answer at all (connection refused, timeout): the reason, and which service.
    case unreachable(String)
}

/// The MCP server's HTTP client of admission and the coordinator status API.
///
/// It sends the caller's token (the HTTP session's, or over stdio the one the server was started
/// with), so whatever an assistant does through MCP is authorised exactly as if its user had
/// called the API: the MCP server holds no rights of its own. Nothing here retries on its own;
/// every call is one request.
public struct FleetClient: Sendable {
    public let admissionURL: String
    public let coordinatorURL: String?
    var token: Redacted<String?>
    let session: URLSession

    /// The same client (and connection pool) sending `token` instead.
    public func with(token: String?) -> FleetClient {
        var copy = self
        copy.token = Redacted(token)
        return copy
    }

    public init(admissionURL: String, coordinatorURL: String?, token: String?, timeout: TimeInterval = 10) {
        self.admissionURL = admissionURL.hasSuffix("/") ? String(admissionURL.dropLast()) : admissionURL
        self.coordinatorURL = coordinatorURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.token = Redacted(token)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.httpShouldSetCookies = false
        session = URLSession(configuration: configuration)
    }

    /// `POST /v1/requests` on admission (not a dry run).
    public func submit(_ body: JSONValue) async -> FleetAnswer<AdmissionAnswer> {
        await call(admissionURL, "POST", "/v1/requests", body: body, service: "admission")
    }

    /// `POST /v1/requests` with `"dry_run": true`: the policy's answer, nothing recorded.
    public func dryRun(_ body: JSONValue) async -> FleetAnswer<DryRunAnswer> {
        await call(admissionURL, "POST", "/v1/requests", body: body, service: "admission")
    }

    public func job(_ id: String) async -> FleetAnswer<AdmittedJob> {
        await call(admissionURL, "GET", "/v1/jobs/\(Self.escape(id))", service: "admission")
    }

    public func jobs(surface: String?, limit: Int) async -> FleetAnswer<AdmittedJobList> {
        var query = [URLQueryItem(name: "limit", value: "\(limit)")]
        if let surface { query.append(URLQueryItem(name: "surface", value: surface)) }
        return await call(admissionURL, "GET", "/v1/jobs", query: query, service: "admission")
    }

    public func cancel(_ id: String, reason: String?) async -> FleetAnswer<CancelAccepted> {
        let body: JSONValue = reason.map { ["reason": .string($0)] } ?? [:]
        return await call(admissionURL, "POST", "/v1/jobs/\(Self.escape(id))/cancel", body: body, service: "admission")
    }

    public func outcome(requestID: String, _ body: JSONValue) async -> FleetAnswer<OutcomeRecorded> {
        await call(admissionURL, "POST", "/v1/requests/\(Self.escape(requestID))/outcome", body: body, service: "admission")
    }

    /// `GET /v1/jobs/{id}/delivery` on the coordinator; `.unreachable` when none is configured.
    public func delivery(_ id: String) async -> FleetAnswer<JobDeliveryStatus> {
        guard let coordinatorURL else { return .unreachable("no coordinator status API is configured (--coordinator)") }
        return await call(coordinatorURL, "GET", "/v1/jobs/\(Self.escape(id))/delivery", service: "the coordinator status API")
    }

    static func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? segment
    }

    private func call<Body: Decodable & Sendable>(
        _ base: String, _ method: String, _ path: String, query: [URLQueryItem] = [], body: JSONValue? = nil, service: String
    ) async -> FleetAnswer<Body> {
        guard var components = URLComponents(string: base + path) else { return .unreachable("\(service) URL '\(base)' is not a URL") }
        if !query.isEmpty { components.queryItems = query }
        guard let url = components.url else { return .unreachable("\(service) URL '\(base)\(path)' is not a URL") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let token = token.value { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try? JSONEncoder().encode(body)
        }
        let data: Data
        let response: URLResponse
        do { (data, response) = try await session.data(for: request) } catch {
            return .unreachable("\(service) at \(base) did not answer (\(error.localizedDescription))")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return Self.read(status: status, data, service: service)
    }

    /// An answer's status and bytes as the route's body, its error body, or why neither.
    static func read<Body: Decodable & Sendable>(status: Int, _ data: Data, service: String) -> FleetAnswer<Body> {
        if (200..<300).contains(status) {
            do { return .ok(status: status, body: try JSONDecoder().decode(Body.self, from: data), bytes: data) } catch {
                return .refused(
                    status: status, code: "unreadable_answer",
                    message:
                        "\(service) answered HTTP \(status) with a body that is not a \(Body.self) (\(Self.describe(error))); is it another version?",
                    field: nil)
            }
        }
        if let error = (try? JSONDecoder().decode(APIErrorBody.self, from: data))?.error {
            return .refused(status: status, code: error.code, message: error.message, field: error.field)
        }
        let text = String(decoding: data.prefix(500), as: UTF8.self)
        return .refused(status: status, code: "http_\(status)", message: "\(service) answered HTTP \(status) \(text)", field: nil)
    }

    /// A decoding error as the path of the field at fault and what was wrong.
    static func describe(_ error: any Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let text = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.isEmpty ? "the body" : String(text.drop { $0 == "." })
        }
        switch decoding {
        case .keyNotFound(let key, let context): return "\(path(context)): '\(key.stringValue)' is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
