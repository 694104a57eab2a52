import BridgebackAMQP
import Foundation
import Synchronization
import Testing

/// Everything that needs the real broker, serialized as one group: one test restarts the broker.
@Suite(.serialized)
enum BrokerBacked {}

/// Broker behaviour proven against a real RabbitMQ on loopback.
extension BrokerBacked {
    @Suite(.serialized)
    struct AMQPIntegrationTests {
        @Test func publishWithConfirmsThenConsumeAndAck() async throws {
            let connection = try await Broker.connect("confirms")
            defer { Task { await connection.close() } }
            let queue = Broker.uniqueName("confirms")
            try await connection.declare(.quorum(queue))
            let publisher = try await connection.makePublisher(confirmWindow: 64)
            let messages = (0..<500).map { message("m\($0)", to: queue, id: "id-\($0)") }
            let results = await publisher.publish(contentsOf: messages)
            #expect(results.allSatisfy { (try? $0.get()) != nil })
            #expect(try await connection.inspectQueue(queue).messageCount == 500)

            let consumer = try await connection.consume(queue: queue, prefetch: 50)
            // Prefetch 50 < 500: acknowledging as we go is what lets the rest flow.
            let deliveries = try await take(500, from: consumer, acking: true)
            #expect(deliveries.map { String(decoding: $0.body, as: UTF8.self) } == (0..<500).map { "m\($0)" })
            #expect(deliveries[0].properties.messageID == "id-0")
            #expect(deliveries[0].properties.persistent)
            await consumer.cancel()
            try await eventually("queue drained") { try await connection.inspectQueue(queue).messageCount == 0 }
            try await connection.deleteQueue(queue)
        }

        /// Plain acks that reach the connection's thread together go out as one `multiple` ack only
        /// where that settles the same deliveries: shown from the broker's side, which gives back
        /// exactly the deliveries left unacked, nothing else, when the connection closes.
        ///
        /// On a classic queue: there the channel applies every ack it read before it closes. On a
        /// quorum queue (3.10) a burst of ~290 single acks just before the close was applied only in
        /// part in one run (the rest redelivered: at-least-once; the broker's quorum-queue client
        /// holds settles back past a number in flight), so "exactly what is left" cannot be read
        /// there by closing. Quorum queues take the same path in the fleet tests: every worker's
        /// ack and the inbox consumer's go through it.
        @Test func plainAcksOfAChunkAreMergedAndSettleExactlyThoseDeliveries() async throws {
            let queue = Broker.uniqueName("merged-acks")
            let connection = try await Broker.connect("merged-acks")
            try await connection.declare(QueueDeclaration(name: queue))
            let publisher = try await connection.makePublisher(confirmWindow: 64)
            let results = await publisher.publish(contentsOf: (0..<120).map { message("m\($0)", to: queue) })
            #expect(results.allSatisfy { (try? $0.get()) != nil })

            let consumer = try await connection.consume(queue: queue, prefetch: 200)
            let deliveries = try await take(120, from: consumer).sorted { $0.deliveryTag < $1.deliveryTag }
            // Left unacked: the 41st and the last. A multiple ack may cover only the 40 before the gap.
            let keep: Set<Int> = [40, 119]
            let before = connection.mergedAcks
            deliveries.enumerated().filter { !keep.contains($0.offset) }.map(\.element).ackAll()
            try await eventually("the acks handed over") { connection.mergedAcks - before == 40 }
            #expect(connection.mergedAcks - before == 40, "merged: the 40 oldest, not past the unacked 41st")
            await consumer.cancel()
            try await assertOnlyLeft(keep.sorted().map { "m\($0)" }, in: queue, after: connection)
        }

        /// The same with one `ack()` per delivery in a shuffled order, as concurrent handlers ack:
        /// however the thread groups them, the broker settles only what was acked.
        @Test func plainAcksOneByOneInAnyOrderSettleExactlyThoseDeliveries() async throws {
            let queue = Broker.uniqueName("shuffled-acks")
            let connection = try await Broker.connect("shuffled-acks")
            try await connection.declare(QueueDeclaration(name: queue))
            let publisher = try await connection.makePublisher(confirmWindow: 64)
            _ = await publisher.publish(contentsOf: (0..<300).map { message("m\($0)", to: queue) })
            let consumer = try await connection.consume(queue: queue, prefetch: 300)
            let deliveries = try await take(300, from: consumer)
            // Left unacked: the first (so no multiple ack may cover anything before it) and every 25th.
            let keep = Set(stride(from: 0, to: 300, by: 25))
            // Acked in the order 0, 7, 14, … (mod 300), by concurrent tasks.
            let order = (0..<300).map { $0 * 7 % 300 }.filter { !keep.contains($0) }
            await withTaskGroup(of: Void.self) { group in
                for index in order {
                    let delivery = deliveries[index]
                    group.addTask { delivery.ack() }
                }
            }
            await consumer.cancel()
            try await assertOnlyLeft(keep.sorted().map { "m\($0)" }, in: queue, after: connection)
        }

        /// A delivery turned into a message (`publish(_:thenAck:)`, a worker's completion for its
        /// job) is acked only once that message is confirmed: the two whose publish the broker
        /// returns (no queue bound) stay unacked and come back, and every other one is settled.
        @Test func publishThenAckSettlesADeliveryOnlyOnceItsMessageIsConfirmed() async throws {
            let source = Broker.uniqueName("then-ack-source")
            let target = Broker.uniqueName("then-ack-target")
            let connection = try await Broker.connect("then-ack")
            try await connection.declare(QueueDeclaration(name: source))
            try await connection.declare(.quorum(target))
            _ = try await connection.makePublisher().publish(contentsOf: (0..<60).map { message("m\($0)", to: source) })
            let consumer = try await connection.consume(queue: source, prefetch: 100)
            let deliveries = try await take(60, from: consumer)
            let publisher = try await connection.makePublisher(confirmWindow: 64)
            let unroutable: Set<String> = ["m7", "m30"]
            let failed = await withTaskGroup(of: String?.self) { group in
                for delivery in deliveries {
                    let text = String(decoding: delivery.body, as: UTF8.self)
                    let to = unroutable.contains(text) ? Broker.uniqueName("nowhere") : target
                    group.addTask {
                        do {
                            try await publisher.publish(message(text, to: to), thenAck: delivery)
                            return nil
                        } catch {
                            return text
                        }
                    }
                }
                var failed: Set<String> = []
                for await text in group { if let text { failed.insert(text) } }
                return failed
            }
            #expect(failed == unroutable)
            #expect(try await connection.inspectQueue(target).messageCount == 58)
            // Held until here: a consumer released ends, and its channel's unacked deliveries go back.
            await consumer.cancel()
            try await assertOnlyLeft(unroutable.sorted(), in: source, after: connection)
            let admin = try await Broker.connect("then-ack-cleanup")
            try await admin.deleteQueue(target)
            await admin.close()
        }

        /// Closes `connection`, whose consumer on `queue` the caller cancelled after its acks (its
        /// channel applies them before it closes; the broker requeues what was left unacked), then
        /// consumes `queue` on a new one: exactly `bodies` come back, redelivered, and nothing else.
        private func assertOnlyLeft(_ bodies: [String], in queue: String, after connection: AMQPConnection) async throws {
            // The channel handles the ack frames already sent before the close that ends it.
            await connection.close()
            let again = try await Broker.connect("acks-checked")
            defer { Task { await again.close() } }
            let consumer = try await again.consume(queue: queue, prefetch: 500)
            let back = try await take(bodies.count, from: consumer, acking: true)
            #expect(Set(back.map { String(decoding: $0.body, as: UTF8.self) }) == Set(bodies))
            #expect(back.allSatisfy { $0.redelivered })
            await consumer.cancel()
            try await eventually("nothing else left") { try await again.inspectQueue(queue).messageCount == 0 }
            #expect(try await again.inspectQueue(queue).messageCount == 0)
            try await again.deleteQueue(queue)
        }

        @Test func mandatoryPublishWithNoRouteFailsAsUnroutable() async throws {
            let connection = try await Broker.connect("unroutable")
            defer { Task { await connection.close() } }
            let publisher = try await connection.makePublisher()
            do {
                try await publisher.publish(message("nobody home", to: Broker.uniqueName("missing")))
                Issue.record("an unroutable mandatory publish succeeded")
            } catch let error as AMQPError {
                #expect(error.code == .unroutable)
                #expect(error.replyCode == 312)
            }
            // The channel stays usable afterwards.
            let queue = Broker.uniqueName("after-return")
            try await connection.declare(.quorum(queue))
            try await publisher.publish(message("ok", to: queue))
            try await connection.deleteQueue(queue)
        }

        @Test func nackWithoutRequeueDeadLetters() async throws {
            let connection = try await Broker.connect("dlx")
            defer { Task { await connection.close() } }
            let dlx = Broker.uniqueName("dlx")
            let dead = Broker.uniqueName("dead")
            let queue = Broker.uniqueName("work")
            try await connection.declare(ExchangeDeclaration(name: dlx, kind: .direct, durable: false, autoDelete: true))
            try await connection.declare(.quorum(dead))
            try await connection.bind(BindingDeclaration(queue: dead, exchange: dlx, routingKey: "dead"))
            try await connection.declare(.quorum(queue, deliveryLimit: 5, deadLetterExchange: dlx, deadLetterRoutingKey: "dead"))
            let publisher = try await connection.makePublisher()
            try await publisher.publish(message("poison", to: queue, id: "p-1"))

            let consumer = try await connection.consume(queue: queue, prefetch: 1)
            let first = try await take(1, from: consumer)[0]
            first.nack(requeue: false)
            let deadConsumer = try await connection.consume(queue: dead, prefetch: 1)
            let deadLettered = try await take(1, from: deadConsumer)[0]
            #expect(deadLettered.properties.messageID == "p-1")
            #expect(String(decoding: deadLettered.body, as: UTF8.self) == "poison")
            guard case .array(let deaths)? = deadLettered.properties.headers["x-death"], case .table(let death)? = deaths.first else {
                Issue.record("no x-death header on the dead-lettered message: \(deadLettered.properties.headers)")
                return
            }
            #expect(death["reason"] == .string("rejected"))
            #expect(death["queue"] == .string(queue))
            deadLettered.ack()
            await consumer.cancel()
            await deadConsumer.cancel()
            for name in [queue, dead] { try await connection.deleteQueue(name) }
            try await connection.deleteExchange(dlx)
        }

        @Test func deliveryLimitDeadLettersAMessageRejectedRepeatedly() async throws {
            let connection = try await Broker.connect("delivery-limit")
            defer { Task { await connection.close() } }
            let dlx = Broker.uniqueName("dlx")
            let dead = Broker.uniqueName("dead")
            let queue = Broker.uniqueName("limited")
            try await connection.declare(ExchangeDeclaration(name: dlx, kind: .direct, durable: false, autoDelete: true))
            try await connection.declare(.quorum(dead))
            try await connection.bind(BindingDeclaration(queue: dead, exchange: dlx, routingKey: "dead"))
            try await connection.declare(.quorum(queue, deliveryLimit: 2, deadLetterExchange: dlx, deadLetterRoutingKey: "dead"))
            let publisher = try await connection.makePublisher()
            try await publisher.publish(message("crashes every worker", to: queue, id: "c-1"))

            let consumer = try await connection.consume(queue: queue, prefetch: 1)
            // Limit 2: the first delivery and two redeliveries are rejected, then it is dead-lettered.
            var attempts = 0
            for try await delivery in consumer {
                attempts += 1
                delivery.reject(requeue: true)
                if attempts == 3 { break }
            }
            let deadConsumer = try await connection.consume(queue: dead, prefetch: 1)
            let deadLettered = try await take(1, from: deadConsumer)[0]
            #expect(deadLettered.properties.messageID == "c-1")
            guard case .array(let deaths)? = deadLettered.properties.headers["x-death"], case .table(let death)? = deaths.first else {
                Issue.record("no x-death header")
                return
            }
            #expect(death["reason"] == .string("delivery_limit"))
            deadLettered.ack()
            #expect(try await connection.inspectQueue(queue).messageCount == 0)
            await deadConsumer.cancel()
            for name in [queue, dead] { try await connection.deleteQueue(name) }
        }

        @Test func singleActiveConsumerHandsOverWhenTheActiveOneDisconnects() async throws {
            let admin = try await Broker.connect("sac-admin")
            defer { Task { await admin.close() } }
            let queue = Broker.uniqueName("sac")
            try await admin.declare(.quorum(queue, singleActiveConsumer: true))
            let first = try await Broker.connect("sac-1")
            let second = try await Broker.connect("sac-2")
            defer { Task { await second.close() } }
            let active = try await first.consume(queue: queue, prefetch: 10)
            try await Task.sleep(for: .milliseconds(200))
            let standby = try await second.consume(queue: queue, prefetch: 10)

            let publisher = try await admin.makePublisher()
            for result in await publisher.publish(contentsOf: (0..<5).map { message("a\($0)", to: queue) }) { try result.get() }
            let toActive = try await take(5, from: active)
            toActive.forEach { $0.ack() }
            #expect(toActive.count == 5)

            await first.close()  // the active consumer goes away
            for result in await publisher.publish(contentsOf: (0..<5).map { message("b\($0)", to: queue) }) { try result.get() }
            let toStandby = try await take(5, from: standby)
            #expect(toStandby.map { String(decoding: $0.body, as: UTF8.self) } == (0..<5).map { "b\($0)" })
            toStandby.forEach { $0.ack() }
            await standby.cancel()
            try await admin.deleteQueue(queue)
        }

        @Test func aConsumerWhoseQueueIsDeletedEndsWithConsumerCancelled() async throws {
            let connection = try await Broker.connect("cancel-notify")
            defer { Task { await connection.close() } }
            let admin = try await Broker.connect("cancel-notify-admin")
            defer { Task { await admin.close() } }
            let queue = Broker.uniqueName("cancel-notify")
            try await connection.declare(.quorum(queue))
            let consumer = try await connection.consume(queue: queue, prefetch: 10)
            let ended = Task { () -> AMQPError? in
                do {
                    for try await delivery in consumer { delivery.ack() }
                    return nil
                } catch let error as AMQPError {
                    return error
                } catch {
                    return nil
                }
            }
            try await Task.sleep(for: .milliseconds(200))
            try await admin.deleteQueue(queue)
            // Without consumer_cancel_notify in the client capabilities the broker never tells
            // us, and this stream stays open (the watchdog ends it after 20 s and the test fails).
            let watchdog = Task {
                try await Task.sleep(for: .seconds(20))
                await consumer.cancel()
            }
            defer { watchdog.cancel() }
            let error = await ended.value
            #expect(error?.code == .consumerCancelled)
            #expect(error.map { "\($0)".contains(queue) } == true)
            // The connection itself is fine: other work goes on.
            let other = Broker.uniqueName("cancel-notify-after")
            try await connection.declare(.quorum(other))
            try await connection.deleteQueue(other)
        }

        @Test func wrongPasswordIsAClearError() async throws {
            var config = try Broker.configuration("bad-password")
            config.password = "definitely-wrong"
            do {
                _ = try await AMQPConnection.connect(config)
                Issue.record("connected with a wrong password")
            } catch let error as AMQPError {
                #expect(error.code == .authenticationFailed)
                #expect(error.message.contains(config.user))
            }
        }

        @Test func unknownVirtualHostIsAClearError() async throws {
            var config = try Broker.configuration("bad-vhost")
            config.virtualHost = "no-such-vhost"
            do {
                _ = try await AMQPConnection.connect(config)
                Issue.record("connected to a vhost that does not exist")
            } catch let error as AMQPError {
                #expect(error.code == .accessRefused)
                #expect(error.message.contains("no-such-vhost"))
            }
        }

        @Test func closedPortIsConnectionRefused() async throws {
            var config = try Broker.configuration("refused")
            config.port = 1
            do {
                _ = try await AMQPConnection.connect(config)
                Issue.record("connected to port 1")
            } catch let error as AMQPError {
                #expect(error.code == .connectionRefused)
            }
        }

        @Test func redeclaringAQueueWithOtherArgumentsIsAChannelErrorNotAConnectionLoss() async throws {
            let connection = try await Broker.connect("inequivalent")
            defer { Task { await connection.close() } }
            let queue = Broker.uniqueName("args")
            try await connection.declare(.quorum(queue, deliveryLimit: 3))
            do {
                try await connection.declare(.quorum(queue, deliveryLimit: 7))
                Issue.record("inequivalent declare succeeded")
            } catch let error as AMQPError {
                #expect(error.code == .channelClosed)
                #expect(error.replyCode == 406)
                #expect(error.replyText?.contains("x-delivery-limit") == true)
            }
            #expect(connection.isConnected)
            try await connection.deleteQueue(queue)
        }

        /// Regression: commands queued in the same batch as `close()` used to be dropped, and
        /// their callers never resumed. Every call must return (with a result or an error).
        @Test func commandsRacingCloseAllReturn() async throws {
            for round in 0..<20 {
                let connection = try await Broker.connect("close-race")
                let done = Mutex(false)
                // Detached, so a call that never returns cannot hang the test itself.
                Task.detached {
                    await withTaskGroup(of: Void.self) { calls in
                        for _ in 0..<8 { calls.addTask { _ = try? await connection.inspectQueue("bb.coordinator.contracts") } }
                        calls.addTask { await connection.close() }
                        for _ in 0..<8 { calls.addTask { _ = try? await connection.inspectQueue("bb.coordinator.contracts") } }
                    }
                    done.withLock { $0 = true }
                }
                try await eventually("round \(round): every call racing close() returned") { done.withLock { $0 } }
            }
        }
    }
}
