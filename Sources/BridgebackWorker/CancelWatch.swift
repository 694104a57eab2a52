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
///
/// When the broker ends the subscription (`consumerCancelled`: the stream was deleted and made
/// again, or the member it was read from went away), it subscribes again from the first retained
/// notice, every `resubscribeDelay` until that works: reading a notice twice is harmless
/// (`CancelWatch.record` is idempotent). Any other failure ends the feed.
public struct AMQPCancelSource: CancelSource {
    public static let stream = "bb.cancels"
    let connection: AMQPConnection
    let queue: String
    let resubscribeDelay: Duration

    public init(connection: AMQPConnection, queue: String = Self.stream, resubscribeDelay: Duration = .seconds(1)) {
        self.connection = connection
        self.queue = queue
        self.resubscribeDelay = resubscribeDelay
    }

    func subscribe() async throws -> AMQPConsumer {
        // A stream queue needs a prefetch and acks (flow control only: acking removes nothing).
        try await connection.consume(queue: queue, prefetch: 256, arguments: ["x-stream-offset": .string("first")])
    }

    public func open() async throws -> AsyncThrowingStream<CancelNotice, any Error> {
        let current = ConsumerSlot(try await subscribe())
        let (feed, sink) = AsyncThrowingStream.makeStream(of: CancelNotice.self)
        // The one task that owns the consumer's iteration; ended by the stream's termination.
        let reader = Task {
            while let consumer = current.consumer {
                do {
                    for try await delivery in consumer {
                        delivery.ack()
                        if let notice = try? WireCodec.decode(CancelNotice.self, from: Data(delivery.body)) { sink.yield(notice) }
                    }
                    sink.finish()
                    return
                } catch let error as AMQPError where error.code == .consumerCancelled {
                    current.consumer = nil
                    while current.consumer == nil {
                        do {
                            try await Task.sleep(for: resubscribeDelay)
                            current.consumer = try await subscribe()
                        } catch is CancellationError {
                            break
                        } catch {
                            continue  // not there yet (a stream being made again): try after the delay
                        }
                    }
                    if Task.isCancelled {
                        if let late = current.consumer { await late.cancel() }
                        break
                    }
                } catch {
                    sink.finish(throwing: error)
                    return
                }
            }
            sink.finish()
        }
        sink.onTermination = { _ in
            reader.cancel()
            if let consumer = current.consumer { Task { await consumer.cancel() } }
        }
        return feed
    }
}

/// The consumer the cancel feed reads now, shared by its reader task and its termination handler.
private final class ConsumerSlot: Sendable {
    private let slot: Mutex<AMQPConsumer?>
    init(_ consumer: AMQPConsumer) { slot = Mutex(consumer) }
    var consumer: AMQPConsumer? {
        get { slot.withLock { $0 } }
        set { slot.withLock { $0 = newValue } }
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
