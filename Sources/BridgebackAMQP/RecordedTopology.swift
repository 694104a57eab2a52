/// What a connection declared, as a value: replayed in order (exchanges, queues, bindings) after
/// a reconnect, so a queue that was auto-deleted or lost with its node is back before consumers
/// resume. Only successful, non-passive declarations are recorded; deleting a queue or an
/// exchange forgets it and the bindings that named it.
struct RecordedTopology: Sendable, Hashable {
    enum Step: Sendable, Hashable {
        case exchange(ExchangeDeclaration)
        case queue(QueueDeclaration)
        case binding(BindingDeclaration)
    }

    private(set) var exchanges: [ExchangeDeclaration] = []
    private(set) var queues: [QueueDeclaration] = []
    private(set) var bindings: [BindingDeclaration] = []

    init() {}

    /// The broker accepted this exchange; a later declaration of the same name replaces it.
    mutating func declared(_ exchange: ExchangeDeclaration) {
        exchanges.removeAll { $0.name == exchange.name }
        exchanges.append(exchange)
    }

    /// The broker accepted this queue. A server-named queue (empty name) is not recorded: the
    /// broker would give it another name on replay, and nothing is bound or consuming by that.
    mutating func declared(_ queue: QueueDeclaration) {
        guard !queue.name.isEmpty else { return }
        queues.removeAll { $0.name == queue.name }
        queues.append(queue)
    }

    mutating func bound(_ binding: BindingDeclaration) {
        if !bindings.contains(binding) { bindings.append(binding) }
    }

    mutating func deletedQueue(_ name: String) {
        queues.removeAll { $0.name == name }
        bindings.removeAll { $0.queue == name }
    }

    mutating func deletedExchange(_ name: String) {
        exchanges.removeAll { $0.name == name }
        bindings.removeAll { $0.exchange == name }
    }

    /// What to declare after a reconnect, in an order the broker accepts: a binding needs both ends.
    var replay: [Step] {
        exchanges.map(Step.exchange) + queues.map(Step.queue) + bindings.map(Step.binding)
    }
}
