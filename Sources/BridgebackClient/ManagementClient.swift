public import BridgebackCore
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The RabbitMQ management API with basic auth (a user with the `monitoring` tag), as `bridgeback
/// status` reads it. Its answers are the broker's JSON, not Bridgeback's: they are read by key in
/// one place, `BrokerOverview.parse`, which the dashboard shares.
public struct ManagementClient: Sendable {
    let base: String
    let vhost: String
    let user: String
    let password: String

    public init(base: String, vhost: String, user: String, password: String) {
        self.base = base
        self.vhost = vhost
        self.user = user
        self.password = password
    }

    /// Why the management API gave nothing usable, in words.
    public struct Failure: Error, Sendable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }

    /// `GET path` with `{vhost}` filled in: the answer's JSON, or why there is none.
    public func get(_ path: String) async -> Result<JSONValue, Failure> {
        let encoded = vhost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? vhost
        guard let url = URL(string: base.trimmingTrailingSlash + path.replacingOccurrences(of: "{vhost}", with: encoded)) else {
            return .failure(Failure(reason: "'\(base)' is not a URL"))
        }
        var request = URLRequest(url: url, timeoutInterval: 5)
        request.setValue("Basic " + Data("\(user):\(password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            let code = (response as? HTTPURLResponse)?.statusCode ?? 0
            guard code == 200 else {
                let hint =
                    code == 401 ? " (set BRIDGEBACK_MANAGEMENT_USER/PASSWORD to a user with the monitoring tag, e.g. bb-monitor)" : ""
                return .failure(Failure(reason: "management API \(path) answered \(code)\(hint)"))
            }
            return .success(try JSONDecoder().decode(JSONValue.self, from: data))
        } catch {
            return .failure(Failure(reason: "management API at \(base) unreachable: \(error.localizedDescription)"))
        }
    }
}
