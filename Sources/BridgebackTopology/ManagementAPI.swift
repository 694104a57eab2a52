public import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The RabbitMQ management HTTP API with basic auth. The one client of it: `topology check`, the
/// dashboard and `bridgeback status` all fetch through `fetch`, so the authentication, the
/// timeout and the words of a failure live in one place. The credentials never appear in a
/// failure, a page or a log line.
public struct ManagementAPI: Sendable {
    /// e.g. `http://127.0.0.1:15672` (a trailing slash is ignored).
    public let base: String
    /// What `{vhost}` in a path stands for.
    public let vhost: String
    let user: String
    let password: String

    public init(base: String, vhost: String = "bridgeback", user: String, password: String) {
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        self.vhost = vhost
        self.user = user
        self.password = password
    }

    /// `GET path` (`{vhost}` filled in, percent-encoded): the body of a 200, or why there is none.
    public func fetch(_ path: String, timeout: TimeInterval = 10) async -> Result<Data, ManagementFailure> {
        guard let url = URL(string: base + path.replacingOccurrences(of: "{vhost}", with: Self.escape(vhost))) else {
            return .failure(ManagementFailure(reason: "'\(base)' is not a URL"))
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.setValue("Basic " + Data("\(user):\(password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            let code = (response as? HTTPURLResponse)?.statusCode ?? 0
            guard code == 200 else {
                let hint = code == 401 ? " (check the user and password; the user needs the monitoring or administrator tag)" : ""
                return .failure(ManagementFailure(reason: "the management API answered \(code) for \(path)\(hint)", status: code))
            }
            return .success(data)
        } catch {
            return .failure(
                ManagementFailure(
                    reason: "the management API at \(base) does not answer: \(error.localizedDescription); "
                        + "is the rabbitmq_management plugin enabled?"))
        }
    }

    /// A vhost or name as one path segment.
    public static func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? segment
    }
}

/// Why the management API gave nothing usable, in words a person can act on.
public struct ManagementFailure: Error, Sendable, Hashable {
    public var reason: String
    /// The HTTP status when the API answered something other than 200; nil when it did not answer.
    public var status: Int?

    public init(reason: String, status: Int? = nil) {
        self.reason = reason
        self.status = status
    }
}
