import BridgebackCore
public import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Talks to the admission and coordinator APIs with a short timeout; failures become values, not
/// throws, so a command can say which service did not answer and go on with the other.
public struct APIClient: Sendable {
    /// What a request came to.
    public enum Answer<T> {
        case ok(T)
        /// An HTTP error status with the API's `error.message` (or the body).
        case status(Int, String)
        case unreachable(String)
    }

    let session: URLSession
    /// Sent as `Authorization: Bearer …` on every request (never printed).
    let token: String?

    /// Seconds a request may take (also AsyncHTTPClient's, with BRIDGEBACK_CA_FILE).
    let timeout: TimeInterval

    public init(timeout: TimeInterval = 5, token: String?) {
        self.token = token
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        session = URLSession(configuration: configuration)
    }

    /// GETs `base` + `path` and decodes the answer as `T` (wire dates); an answer that does not
    /// decode is a `.status(200, …)` naming the field.
    public func get<T: Decodable>(_ base: String, _ path: String, query: [URLQueryItem] = [], as type: T.Type) async -> Answer<T> {
        switch await raw(base, path, query: query, accept: "application/json") {
        case .ok(let data):
            do { return .ok(try WireCodec.decodeBody(T.self, from: data)) } catch {
                return .status(200, "the answer of GET \(path) does not decode: \(WireCodec.reason(error))")
            }
        case .status(let code, let message): return .status(code, message)
        case .unreachable(let reason): return .unreachable(reason)
        }
    }

    /// GETs a `text/plain` answer (a job's full result).
    public func getText(_ base: String, _ path: String) async -> Answer<String> {
        switch await raw(base, path, query: [], accept: "text/plain") {
        case .ok(let data): .ok(String(decoding: data, as: UTF8.self))
        case .status(let code, let message): .status(code, message)
        case .unreachable(let reason): .unreachable(reason)
        }
    }

    private func raw(_ base: String, _ path: String, query: [URLQueryItem], accept: String) async -> Answer<Data> {
        guard var components = URLComponents(string: base.trimmingTrailingSlash + path) else {
            return .unreachable("'\(base)' is not a URL")
        }
        if !query.isEmpty { components.queryItems = query }
        guard let url = components.url else { return .unreachable("'\(base)\(path)' is not a URL") }
        var request = URLRequest(url: url)
        request.setValue(accept, forHTTPHeaderField: "Accept")
        return await send(request)
    }

    /// POSTs a JSON body (the coordinator's dry-run); the answer is returned undecoded.
    public func post(_ base: String, _ path: String, body: [UInt8]) async -> Answer<Data> {
        guard let url = URL(string: base.trimmingTrailingSlash + path) else { return .unreachable("'\(base)\(path)' is not a URL") }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body)
        return await send(request)
    }

    /// One request: a 2xx body, or the API's `error.message` with the status, or why it failed.
    private func send(_ request: URLRequest) async -> Answer<Data> {
        var request = request
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        do {
            let (data, code) = try await CLIHTTP.send(request, session: session, timeout: timeout)
            guard (200..<300).contains(code) else {
                var message =
                    (try? JSONDecoder().decode(APIErrorBody.self, from: data))?.error.message
                    ?? String(decoding: data.prefix(300), as: UTF8.self)
                if code == 401 && token == nil {
                    message += " (no token given: set BRIDGEBACK_TOKEN, BRIDGEBACK_TOKEN_FILE or --token-file)"
                }
                return .status(code, message)
            }
            return .ok(data)
        } catch {
            return .unreachable(error.localizedDescription)
        }
    }
}

extension APIClient.Answer: Sendable where T: Sendable {}
