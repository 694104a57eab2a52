/// The per-job completion capability: a secret admission mints for each job, sends only in the
/// job message (to the worker that runs it), and records only as a SHA-256 in the contract (to
/// the coordinator). A completion is the job's own when the SHA-256 of the capability it echoes
/// equals the contract's; whatever broker user published it, nothing else is delivered.
public enum CompletionCapability {
    /// A fresh capability (`bbc_` + 32 random bytes) and the hash the contract carries.
    public static func mint() -> (secret: String, sha256: String) {
        let secret = "bbc_" + String(BearerToken.generate().dropFirst(BearerToken.prefix.count))
        return (secret, BearerToken.sha256Hex(secret))
    }

    /// Whether `presented` hashes to `sha256` (constant-time comparison of the digests).
    public static func matches(presented: String?, sha256: String) -> Bool {
        guard let presented, let expected = BearerToken.unhex(sha256), expected.count == 32 else { return false }
        return BearerToken.constantTimeEqual(BearerToken.digest(presented), expected)
    }
}
