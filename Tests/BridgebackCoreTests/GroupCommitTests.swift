import BridgebackCore
import Synchronization
import Testing

@Suite("GroupCommit: one flush per group, every caller answered after its flush")
struct GroupCommitTests {
    /// Records each flush's items; a flush is slow, so callers arriving meanwhile must group.
    final class Recorder: Sendable {
        let flushes = Mutex<[[Int]]>([])
        let inFlight = Mutex(0)
        let overlapped = Mutex(false)
    }

    @Test("200 concurrent callers: fewer flushes than callers, no overlap, each gets its own result")
    func groups() async throws {
        let recorder = Recorder()
        let group = GroupCommit<Int, Int>(maxBatch: 64) { items in
            let running = recorder.inFlight.withLock {
                $0 += 1; return $0
            }
            if running > 1 { recorder.overlapped.withLock { $0 = true } }
            try await Task.sleep(for: .milliseconds(5))
            recorder.flushes.withLock { $0.append(items) }
            recorder.inFlight.withLock { $0 -= 1 }
            return items.map { item in item % 7 == 0 ? .failure(Odd(value: item)) : .success(item * 2) }
        }
        let results = await withTaskGroup(of: (Int, Int?).self) { tasks in
            for i in 0..<200 { tasks.addTask { (i, try? await group.submit(i)) } }
            return await tasks.reduce(into: [Int: Int?]()) { $0[$1.0] = $1.1 }
        }
        for i in 0..<200 { #expect(results[i] == (i % 7 == 0 ? nil : i * 2), "\(i)") }
        let flushes = recorder.flushes.withLock { $0 }
        #expect(flushes.flatMap { $0 }.sorted() == Array(0..<200))
        #expect(flushes.count < 200)
        #expect(flushes.allSatisfy { $0.count <= 64 })
        #expect(!recorder.overlapped.withLock { $0 })
    }

    @Test("a thrown flush fails exactly its group; the next caller flushes again")
    func failure() async throws {
        let calls = Mutex(0)
        let group = GroupCommit<Int, Int> { items in
            let n = calls.withLock {
                $0 += 1; return $0
            }
            if n == 1 { throw Odd(value: -1) }
            return items.map { .success($0) }
        }
        await #expect(throws: Odd.self) { try await group.submit(1) }
        #expect(try await group.submit(2) == 2)
    }

    struct Odd: Error { var value: Int }
}
