public import BridgebackAMQP
public import BridgebackCore
import Foundation
import Synchronization

/// Where a worker hears about cancelled jobs: every cancel the coordinator decided, the
/// retained past first, then live, until the feed ends.
public protocol CancelSource: Sendable {
    func open() async throws -> AsyncThrowingStream<CancelNotice, any Error>
}

/// Reads the `bb.cancels` stream (RabbitMQ stream queue, retained for longer than any job may
/// run) from its first retained message, so a worker that starts after a cancel still knows it.
public struct AMQPCancelSource: CancelSource {
    public static let stream = "bb.cancels"
    let connection: AMQPConnection

    public init(connection: AMQPConnection) {
        self.connection = connection
    }

    public func open() async throws -> AsyncThrowingStream<CancelNotice, any Error> {
        // A stream queue needs a prefetch and acks (flow control only: acking removes nothing).
        let consumer = try await connection.consume(queue: Self.stream, prefetch: 256, arguments: ["x-stream-offset": .string("first")])
        let (feed, sink) = AsyncThrowingStream.makeStream(of: CancelNotice.self)
        // The one task that owns the consumer's iteration; ended by the stream's termination.
        let reader = Task {
            do {
                for try await delivery in consumer {
                    delivery.ack()
                    if let notice = try? WireCodec.decode(CancelNotice.self, from: Data(delivery.body)) { sink.yield(notice) }
                }
                sink.finish()
            } catch {
                sink.finish(throwing: error)
            }
        }
        sink.onTermination = { _ in
            reader.cancel()
            Task { await consumer.cancel() }
        }
        return feed
    }
}

/// The jobs this worker knows are cancelled, and the running jobs a cancel must stop.
///
/// A cancel for a running job fires its signal (the recipe is stopped); a cancel for a job
/// not yet started is remembered, so `begin` refuses it when its message arrives. Remembered
/// cancels are kept for `keep` (longer than any job may wait and run) and at most `limit`.
final class CancelWatch: Sendable {
    private struct State {
        var cancelled: [JobID: (notice: CancelNotice, seenAt: Date)] = [:]
        var running: [JobID: Signal] = [:]
    }

    private let state = Mutex(State())
    let keep: TimeInterval
    let limit: Int

    init(keep: TimeInterval = 3 * 3600, limit: Int = 100_000) {
        self.keep = keep
        self.limit = limit
    }

    /// Records a cancel; true if it stopped a job running here.
    @discardableResult
    func record(_ notice: CancelNotice, now: Date = Date()) -> Bool {
        let signal: Signal? = state.withLock { state in
            state.cancelled[notice.jobID] = (notice, now)
            if state.cancelled.count > limit {
                let cutoff = now.addingTimeInterval(-keep)
                state.cancelled = state.cancelled.filter { $0.value.seenAt >= cutoff }
                while state.cancelled.count > limit, let oldest = state.cancelled.min(by: { $0.value.seenAt < $1.value.seenAt }) {
                    state.cancelled[oldest.key] = nil
                }
            }
            return state.running[notice.jobID]
        }
        signal?.fire()
        return signal != nil
    }

    /// The cancel of `id`, if known.
    func cancel(of id: JobID) -> CancelNotice? {
        state.withLock { $0.cancelled[id]?.notice }
    }

    /// Registers a job about to start: its cancel signal, or nil when it is already cancelled
    /// (it must not start).
    func begin(_ id: JobID) -> Signal? {
        state.withLock { state in
            guard state.cancelled[id] == nil else { return nil }
            let signal = Signal()
            state.running[id] = signal
            return signal
        }
    }

    func end(_ id: JobID) {
        _ = state.withLock { $0.running.removeValue(forKey: id) }
    }
}
