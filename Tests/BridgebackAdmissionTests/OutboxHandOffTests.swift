@testable import BridgebackAdmissionStore
import Foundation
import GRDB
import Synchronization
import Testing

@testable import BridgebackAdmission

/// The relay publishes the rows the store's commits hand over only while that stream is known
/// complete; every interleaving of commits, late hand-overs, reads, failures and polls publishes
/// every row exactly once.
@Suite("Outbox hand-off")
struct OutboxHandOffTests {
    static func row(_ seq: Int64) -> OutboxRow {
        OutboxRow(
            seq: seq, jobID: "job_\(seq)", kind: seq % 2 == 0 ? .job : .contract, exchange: "bb.jobs", routingKey: "default", payload: [],
            createdAt: Date(timeIntervalSince1970: 0), sentAt: nil, attempts: 0, lastError: nil)
    }

    @Test("it reads until a read drains the outbox, then hands out what was committed after, oldest first")
    func transitions() {
        var state = OutboxHandOffState(capacity: 8)
        state.handed([Self.row(1), Self.row(2)])
        #expect(state.next(limit: 10) == .read)
        state.readStarted()
        #expect(state.buffer.isEmpty)
        // Rows 3 and 4 were in the read (committed before it) but handed after it started; 5 came later.
        state.handed([Self.row(3), Self.row(4)])
        state.handed([Self.row(5)])
        state.readReturned(maxSeq: 4)
        state.readDrained()
        #expect(state.mode == .handing(coveredUpTo: 4))
        #expect(state.next(limit: 10) == .publish([Self.row(5)]))
        #expect(state.next(limit: 10) == .publish([]))
        state.handed([Self.row(6), Self.row(7), Self.row(8)])
        #expect(state.next(limit: 2) == .publish([Self.row(6), Self.row(7)]))
        state.mustRead()
        #expect(state.next(limit: 2) == .read)
        #expect(state.buffer == [Self.row(8)])
    }

    @Test("past its capacity the hand-off drops the rows and reads until a read drains with nothing dropped since")
    func overflow() {
        var state = OutboxHandOffState(capacity: 3)
        state.readStarted()
        state.readDrained()
        state.handed([Self.row(1), Self.row(2)])
        state.handed([Self.row(3), Self.row(4)])
        #expect(state.overflowed && state.buffer.isEmpty)
        #expect(state.next(limit: 10) == .read)
        state.readStarted()
        state.handed([Self.row(5), Self.row(6)])
        state.handed([Self.row(7), Self.row(8)])
        state.readReturned(maxSeq: 4)
        state.readDrained()
        #expect(state.mode == .reading)
        state.readStarted()
        state.readReturned(maxSeq: 8)
        state.readDrained()
        #expect(state.mode == .handing(coveredUpTo: 8) && state.next(limit: 10) == .publish([]))
    }

    /// A model of the store (rows with a sent flag, hand-overs that arrive late but in commit
    /// order) and of the relay's pass; random steps, then every hand-over delivered and passes run.
    @Test("random interleavings of commits, late hand-overs, reads, failed publishes and polls publish every row exactly once")
    func randomInterleavings() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var state = OutboxHandOffState(capacity: Int.random(in: 2...12, using: &generator))
            var unsent: [Int64] = []
            var nextSeq: Int64 = 1
            var waitingHands: [[OutboxRow]] = []
            var published: [Int64: Int] = [:]
            let limit = Int.random(in: 2...5, using: &generator)

            func pass(fail: Bool) {
                let rows: [Int64]
                let read: Bool
                switch state.next(limit: limit) {
                case .publish(let handed):
                    rows = handed.map(\.seq)
                    read = false
                case .read:
                    state.readStarted()
                    rows = Array(unsent.prefix(limit))
                    read = true
                    if let last = rows.last { state.readReturned(maxSeq: last) }
                }
                guard !rows.isEmpty else {
                    if read { state.readDrained() }
                    return
                }
                if fail {
                    state.mustRead()
                    return
                }
                for seq in rows { published[seq, default: 0] += 1 }
                unsent.removeAll { rows.contains($0) }
                if read && rows.count < limit { state.readDrained() }
            }

            for _ in 0..<80 {
                switch Int.random(in: 0..<10, using: &generator) {
                case 0...2:
                    let rows = [Self.row(nextSeq), Self.row(nextSeq + 1)]
                    nextSeq += 2
                    unsent.append(contentsOf: rows.map(\.seq))
                    waitingHands.append(rows)
                case 3...4:
                    if !waitingHands.isEmpty { state.handed(waitingHands.removeFirst()) }
                case 5...7: pass(fail: false)
                case 8: pass(fail: true)
                default: state.mustRead()
                }
            }
            while !waitingHands.isEmpty { state.handed(waitingHands.removeFirst()) }
            for _ in 0..<(Int(nextSeq) + 4) { pass(fail: false) }
            #expect(unsent.isEmpty, "rows never published: \(unsent)")
            #expect(published.values.allSatisfy { $0 == 1 }, "published more than once: \(published.filter { $0.value > 1 })")
            #expect(published.count == Int(nextSeq - 1))
        }
    }

    @Test("the relay publishes what admission's commits handed over once a read drained the outbox, and reads again after a failure")
    func relayUsesTheHandOff() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let fake = FakePublisher()
        let relay = h.relay(fake)
        let first = try await OutboxRelayTests.detach(h, 1)
        await relay.drain()
        #expect(h.store.outboxHandOff.snapshot.mode != .reading)
        let handed = try await OutboxRelayTests.detach(h, 2)
        #expect(h.store.outboxHandOff.snapshot.buffer.map(\.jobID) == [handed[0], handed[0], handed[1], handed[1]])
        await relay.drain()
        #expect(fake.published.compactMap(\.properties.messageID) == [first[0], first[0], handed[0], handed[0], handed[1], handed[1]])
        #expect(try await h.store.counts().unsent == 0)
        // A failed publish: the row is unsent, the relay reads it back.
        fake.state.withLock { $0.failCalls = 1 }
        let failed = try await OutboxRelayTests.detach(h, 1)
        await relay.drain()
        #expect(fake.published.suffix(2).compactMap(\.properties.messageID) == [failed[0], failed[0]])
        #expect(try await h.store.counts().unsent == 0)
        #expect(h.store.outboxHandOff.snapshot.mode != .reading)
    }

    @Test("the relay's doorbell rings once per detach, after its rows are committed and before the detach is answered")
    func doorbellRingsAfterTheCommitBeforeTheAnswer() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        // As wired by the API: a detach rings the doorbell (a ring is waiting once the 202 is back).
        _ = try await OutboxRelayTests.detach(h, 1)
        let rang = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in h.doorbell.events { return true }; return false
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(5)); return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        #expect(rang)
        // What each ring saw: the outbox rows committed (through a connection of its own, so only
        // committed rows count) and whether the submit had already been answered.
        let observer = try DatabaseQueue(path: h.dir.url.appendingPathComponent("admission.sqlite").path)
        let answered = Mutex(0)
        let rings = Mutex<[(committed: Int, answeredBefore: Int)]>([])
        h.store.outboxHandOff.onHanded {
            let committed = (try? observer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox") }) ?? nil
            rings.withLock { $0.append((committed ?? -1, answered.withLock { $0 })) }
        }
        for i in 0..<3 {
            _ = try await OutboxRelayTests.detach(h, 1)
            answered.withLock { $0 += 1 }
            let seen = rings.withLock { $0 }
            #expect(seen.count == i + 1)
            // The first detach's two rows, then two more per detach: this one's were committed when it rang.
            #expect(seen.last?.committed == 2 * (i + 2))
            #expect(seen.last?.answeredBefore == i)
        }
    }
}
