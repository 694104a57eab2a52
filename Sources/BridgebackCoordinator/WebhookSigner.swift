import BridgebackCore
import Crypto
import Foundation

/// Standard Webhooks signing: `v1,` + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")).
///
/// The key is the secret's decoded bytes (what follows `whsec_`), so any Standard Webhooks
/// library on the receiving side verifies what we send.
public struct WebhookSigner: Sendable {
    /// Raw key bytes; `SymmetricKey` is not `Sendable`, so it is built per signature.
    private let secret: Redacted<[UInt8]>

    /// `secret`: the key bytes, as `SurfaceRegistry.resolveSecrets` returns them.
    public init(secret: [UInt8]) {
        self.secret = Redacted(secret)
    }

    /// The `webhook-signature` header value.
    public func signature(id: String, timestamp: Int64, body: [UInt8]) -> String {
        var content = Array("\(id).\(timestamp).".utf8)
        content += body
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: secret.value))
        return "v1," + Data(mac).base64EncodedString()
    }
}
