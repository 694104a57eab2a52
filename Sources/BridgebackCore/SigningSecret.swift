import Foundation

/// A Standard Webhooks signing secret, given inline (`whsec_<base64>`) or as an env-var name.
///
/// The env form keeps real secrets out of the registry file; it is resolved when the
/// coordinator starts, so a missing variable fails at start, not at the first send.
public enum SigningSecret: Sendable, Hashable {
    /// The `whsec_…` text itself.
    case inline(String)
    /// The name of an environment variable holding the `whsec_…` text.
    case environment(String)

    /// The Standard Webhooks prefix.
    public static let prefix = "whsec_"

    /// The HMAC key bytes; throws `missingSecret` (env unset) or `invalidSurfaceRegistry` (bad format).
    public func resolve(environment: [String: String]) throws(BridgebackError) -> [UInt8] {
        switch self {
        case .inline(let text):
            return try Self.decode(text, source: "the inline signing_secret")
        case .environment(let name):
            guard let text = environment[name], !text.isEmpty else {
                throw BridgebackError(.missingSecret, "environment variable \(name) is not set; set it to a whsec_<base64> secret")
            }
            return try Self.decode(text, source: "environment variable \(name)")
        }
    }

    /// Decodes `whsec_<base64>` into 24–64 key bytes (the range Standard Webhooks requires).
    public static func decode(_ text: String, source: String) throws(BridgebackError) -> [UInt8] {
        guard text.hasPrefix(prefix) else {
            throw BridgebackError(.invalidSurfaceRegistry, "\(source) must start with 'whsec_'")
        }
        guard let data = Data(base64Encoded: String(text.dropFirst(prefix.count))) else {
            throw BridgebackError(.invalidSurfaceRegistry, "\(source) is not valid base64 after 'whsec_'")
        }
        guard (24...64).contains(data.count) else {
            throw BridgebackError(.invalidSurfaceRegistry, "\(source) decodes to \(data.count) bytes; use 24 to 64 random bytes")
        }
        return Array(data)
    }
}

extension SigningSecret: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The inline form shows `<redacted>`; the env form shows the variable's name (not secret).
    public var description: String {
        switch self {
        case .inline: "inline(\(Redacted<String>.marker))"
        case .environment(let name): "environment(\(name))"
        }
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["secret": description], displayStyle: .enum) }
}
