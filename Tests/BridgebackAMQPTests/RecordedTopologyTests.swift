@testable import BridgebackAMQP
import Testing

struct RecordedTopologyTests {
    @Test func replaysExchangesThenQueuesThenBindingsInDeclarationOrder() {
        var topology = RecordedTopology()
        topology.bound(BindingDeclaration(queue: "q1", exchange: "x1", routingKey: "k"))
        topology.declared(QueueDeclaration(name: "q1"))
        topology.declared(ExchangeDeclaration(name: "x1", kind: .topic))
        topology.declared(QueueDeclaration(name: "q2"))
        topology.declared(ExchangeDeclaration(name: "x2", kind: .direct))
        #expect(
            topology.replay == [
                .exchange(ExchangeDeclaration(name: "x1", kind: .topic)), .exchange(ExchangeDeclaration(name: "x2", kind: .direct)),
                .queue(QueueDeclaration(name: "q1")), .queue(QueueDeclaration(name: "q2")),
                .binding(BindingDeclaration(queue: "q1", exchange: "x1", routingKey: "k")),
            ])
    }

    @Test func aRedeclarationReplacesTheEarlierOneAndABindingIsRecordedOnce() {
        var topology = RecordedTopology()
        topology.declared(QueueDeclaration(name: "q", durable: false))
        topology.declared(QueueDeclaration.quorum("q", deliveryLimit: 5))
        topology.declared(ExchangeDeclaration(name: "x", kind: .direct))
        topology.declared(ExchangeDeclaration(name: "x", kind: .fanout))
        let binding = BindingDeclaration(queue: "q", exchange: "x", routingKey: "")
        topology.bound(binding)
        topology.bound(binding)
        #expect(topology.queues == [QueueDeclaration.quorum("q", deliveryLimit: 5)])
        #expect(topology.exchanges.map(\.kind) == [.fanout])
        #expect(topology.bindings == [binding])
    }

    @Test func aServerNamedQueueIsNotRecorded() {
        var topology = RecordedTopology()
        topology.declared(QueueDeclaration(name: "", durable: false, exclusive: true))
        #expect(topology.replay.isEmpty)
    }

    @Test func deletingForgetsTheDeclarationAndTheBindingsThatNameIt() {
        var topology = RecordedTopology()
        topology.declared(ExchangeDeclaration(name: "x", kind: .topic))
        topology.declared(ExchangeDeclaration(name: "y", kind: .topic))
        topology.declared(QueueDeclaration(name: "q"))
        topology.declared(QueueDeclaration(name: "r"))
        topology.bound(BindingDeclaration(queue: "q", exchange: "x", routingKey: "a"))
        topology.bound(BindingDeclaration(queue: "r", exchange: "x", routingKey: "b"))
        topology.bound(BindingDeclaration(queue: "r", exchange: "y", routingKey: "c"))

        topology.deletedQueue("q")
        #expect(topology.queues.map(\.name) == ["r"])
        #expect(topology.bindings.map(\.routingKey) == ["b", "c"])

        topology.deletedExchange("x")
        #expect(topology.exchanges.map(\.name) == ["y"])
        #expect(topology.bindings == [BindingDeclaration(queue: "r", exchange: "y", routingKey: "c")])
    }
}
