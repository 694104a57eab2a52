import Testing

@testable import BridgebackPolicy

/// The process-wide cache of compiled byte programs: what makes building an engine for a policy
/// plus one cue (the audit's check of every candidate cue) cost one compile, not the policy's.
@Suite("Byte program cache", .serialized)
struct ByteRegexCacheTests {
    @Test("the same pattern is compiled once; a pattern the engine refuses is remembered as refused")
    func samePatternSameProgram() {
        let pattern = "\\bcache-test-\(UInt64.random(in: 0...UInt64.max))\\b"
        let first = ByteRegex.cached(pattern)
        let second = ByteRegex.cached(pattern)
        #expect(first != nil)
        #expect(first === second)
        let refused = "(?<=\\s)cache-test-\(UInt64.random(in: 0...UInt64.max))"
        #expect(ByteRegex.cached(refused) == nil)
        #expect(ByteRegex.cached(refused) == nil)
    }

    @Test("distinct patterns past the limit do not grow the cache past it")
    func bounded() {
        let run = UInt64.random(in: 0...UInt64.max)
        for index in 0...(ByteRegex.cacheLimit + 10) { _ = ByteRegex.cached("bound-\(run)-\(index)") }
        #expect(ByteRegex.cachedCount <= ByteRegex.cacheLimit)
        #expect(ByteRegex.cachedCount > 0)
    }
}
