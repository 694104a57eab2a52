import Foundation
import Testing

@testable import BridgebackAuth

@Suite("Bearer token encoding")
struct BearerTokenTests {
    /// The direct base64url and hex writers give what Foundation's encoder (with the URL-safe
    /// alphabet, no padding) and a formatted hex string give, for every length of a group.
    @Test func encodingsMatchFoundation() {
        for count in 0...40 {
            let bytes = BearerToken.randomBytes(count)
            #expect(bytes.count == count)
            let expected = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            #expect(BearerToken.base64url(bytes) == expected, "\(bytes)")
            #expect(BearerToken.hex(bytes) == bytes.map { String(format: "%02x", $0) }.joined())
        }
        #expect(BearerToken.base64url([0xFB, 0xFF, 0xBF]) == "-_-_")
    }

    @Test func tokensAreFreshAndWellFormed() {
        let tokens = (0..<64).map { _ in BearerToken.generate() }
        #expect(Set(tokens).count == tokens.count)
        for token in tokens {
            #expect(token.hasPrefix("bbt_") && token.count == 4 + 43, "\(token)")
        }
        let (secret, sha256) = CompletionCapability.mint()
        #expect(secret.hasPrefix("bbc_") && CompletionCapability.matches(presented: secret, sha256: sha256))
    }
}
