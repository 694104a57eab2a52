import Foundation

/// A chat surface's bot token, named by environment variable (`"token": {"env": "VAR"}`).
///
/// Only the env form exists: a bot token can post as the bot anywhere it is a member, so it
/// must not sit in a registry file that is copied around and checked in. It is resolved when
/// the coordinator starts, so a missing variable stops it then, not at the first send.
public enum SurfaceToken: Sendable, Hashable {
    /// The name of an environment variable holding the token.
    case environment(String)

    /// The token text; throws `missingSecret` naming the variable when it is unset or blank.
    public func resolve(environment: [String: String]) throws(BridgebackError) -> String {
        switch self {
        case .environment(let name):
            let value = (environment[name] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else {
                throw BridgebackError(.missingSecret, "environment variable \(name) is not set; set it to the bot token")
            }
            return value
        }
    }
}
