import BridgebackAMQP
import Foundation
import Testing

/// A command's `::step` / `::progress` / `::result` lines, seen where a watcher sees them: on
/// `bb.progress` under the job's work surface, through the real broker (issue #18).
extension BrokerBacked {
    @Suite(.serialized)
    struct ProgressProtocolIntegrationTests {
        @Test func aCommandsProgressLinesReachTheWatcherAndItsResultLineIsTheResult() async throws {
            try await withFleet("progress") { fleet in
                try await fleet.startAll(workers: 1)
                // A watcher's queue on the work surface, bound before the job runs.
                let watcher = try await fleet.connectAdmin("progress-watcher")
                let queue = "test.progress.\(fleet.parent)"
                _ = try await watcher.declare(QueueDeclaration(name: queue, durable: false))
                try await watcher.bind(BindingDeclaration(queue: queue, exchange: "bb.progress", routingKey: "work:\(fleet.parent)"))
                let consumer = try await watcher.consume(queue: queue, prefetch: 50)

                let ids = try await fleet.submitAll([fleet.detach("reports", final: "hooks:\(fleet.parent)", mode: "direct")])
                let job = try #require(ids.first)
                try await eventually("the job's notice reaches the receiver", timeout: .seconds(60)) {
                    !FleetTests.webhookNotices(fleet, job: job).isEmpty
                }
                // started, the two steps, finished — the routine 50 % update may be held back by the cadence.
                let deliveries = try await take(4, from: consumer, acking: true, timeout: .seconds(30))
                var events = deliveries.compactMap { try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any] }
                let extra = try? await take(1, from: consumer, acking: true, timeout: .seconds(2))
                events += (extra ?? []).compactMap { try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any] }
                _ = try? await watcher.deleteQueue(queue)
                await watcher.close()

                #expect(events.allSatisfy { $0["job_id"] as? String == job && $0["work_surface"] as? String == "work:\(fleet.parent)" })
                let messages = events.compactMap { $0["message"] as? String }
                #expect(events.first?["phase"] as? String == "started", "\(messages)")
                #expect(events.last?["phase"] as? String == "finished", "\(messages)")
                #expect(messages.contains { $0.contains("step 1/2") && $0.contains("checking endpoints") }, "\(messages)")
                #expect(messages.contains { $0.contains("step 2/2") && $0.contains("writing the report") }, "\(messages)")
                #expect(
                    !messages.contains { $0.contains("plain line") || $0.contains("::") },
                    "protocol lines and plain output stay apart: \(messages)")
                // The finished event is a summary line: the result travels only in the final delivery (issue 10).
                let finished = try #require(events.last?["message"] as? String)
                #expect(finished.hasPrefix("succeeded in ") && !finished.contains("endpoints answered"), "\(finished)")
                let sequences = events.compactMap { $0["sequence"] as? Int }
                #expect(sequences == sequences.sorted(), "in order: \(sequences)")

                // The result is the ::result line alone; the plain line was output, not the answer.
                let notice = try #require(FleetTests.webhookNotices(fleet, job: job).first)
                #expect((notice["text"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines) == "all 2 endpoints answered")
            }
        }
    }
}
