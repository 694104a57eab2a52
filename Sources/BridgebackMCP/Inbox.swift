public import BridgebackCore
public import Foundation

/// One message waiting in (or taken from) the parent inbox: a final-notice part or a receipt.
public struct InboxItem: Sendable, Hashable {
    /// The broker message id: the delivery id for a notice (`<job>/<part>` style), `rcpt_…` for a receipt.
    public var messageID: String
    public var jobID: String
    /// `result`, `failure`, `cancelled`, `lost` for a final notice; `receipt` for a delivery receipt.
    public var kind: String
    /// What the assistant may show its user, already in words.
    public var human: String
    /// The decoded message as JSON (the notice's text, context, parts…).
    public var body: JSONValue
    public var arrivedAt: Date

    /// Reads a `bb.inbox` message body; nil for a body that is not a Bridgeback notice or receipt.
    public static func decode(_ body: [UInt8], messageID: String?, arrivedAt: Date) -> InboxItem? {
        let data = Data(body)
        guard let message = try? WireCodec.decodeAny(from: data), let json = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            return nil
        }
        switch message {
        case .final(let notice):
            let part = notice.totalParts > 1 ? " (part \(notice.part) of \(notice.totalParts))" : ""
            let head: String
            switch notice.kind {
            case .result: head = "Result of job \(notice.jobID)\(part):"
            case .failure: head = "Job \(notice.jobID) failed\(part):"
            case .cancelled: head = "Job \(notice.jobID) was cancelled\(part):"
            case .lost: head = "Job \(notice.jobID) was lost (no answer by its deadline)\(part):"
            }
            let human = [head, notice.text, notice.contextText].filter { !$0.isEmpty }.joined(separator: "\n")
            return InboxItem(
                messageID: messageID ?? notice.deliveryID.description, jobID: notice.jobID.description, kind: notice.kind.rawValue,
                human: human, body: json, arrivedAt: arrivedAt)
        case .receipt(let receipt):
            var human =
                "Delivery of job \(receipt.jobID) part \(receipt.part)/\(receipt.totalParts) to \(receipt.surface): \(receipt.outcome.rawValue)"
            if let failure = receipt.failure { human += " (\(failure.kind.humanDescription): \(failure.detail))" }
            return InboxItem(
                messageID: messageID ?? "rcpt_\(receipt.deliveryID)_\(receipt.outcome.rawValue)", jobID: receipt.jobID.description,
                kind: "receipt", human: human, body: json, arrivedAt: arrivedAt)
        default:
            return nil
        }
    }

    /// The item as a tool result shows it.
    public var json: JSONValue {
        [
            "message_id": .string(messageID), "job_id": .string(jobID), "kind": .string(kind), "human": .string(human),
            "arrived_at": .string(WireDate.format(arrivedAt)), "message": body,
        ]
    }
}

/// What the inbox tells connected sessions about.
public enum InboxEvent: Sendable, Hashable {
    /// A new message is waiting (not yet taken).
    case arrived(InboxItem)
    /// A progress event for a job this server detached or was asked about.
    case progress(ProgressEvent)
}

/// The state of one parent's inbox inside the MCP server: what is waiting, what was taken.
///
/// Every waiting message is held unacknowledged at the broker; `take` acknowledges it. So a
/// crash of this process before `take` hands the message back to the broker (the next server
/// for this parent gets it), and a taken message is never shown again. A copy of a taken
/// message that arrives later (the broker redelivers after a connection loss, or the
/// coordinator publishes a part twice) is acknowledged and dropped by message id.
public actor Inbox {
    /// How a waiting message is acknowledged at the broker (an `AMQPDelivery.ack` in production).
    public typealias Ack = @Sendable () -> Void

    private struct Waiting {
        var item: InboxItem
        var ack: Ack
    }

    public let parent: String
    private var waiting: [Waiting] = []
    private var taken: [String] = []
    private var takenSet: Set<String> = []
    private let takenMemory: Int
    private var listeners: [UUID: AsyncStream<InboxEvent>.Continuation] = [:]
    private var progress: [String: [ProgressEvent]] = [:]
    private var progressOrder: [String] = []
    /// Whether the broker consumer is running (false: the inbox cannot see new messages).
    public private(set) var connected = false
    public private(set) var lastError: String?

    public init(parent: String, takenMemory: Int = 10_000) {
        self.parent = parent
        self.takenMemory = takenMemory
    }

    /// A message arrived from the broker. Returns false when it was a duplicate of a taken one (and acked).
    @discardableResult
    public func arrived(_ item: InboxItem, ack: @escaping Ack) -> Bool {
        if takenSet.contains(item.messageID) {
            ack()
            return false
        }
        if let index = waiting.firstIndex(where: { $0.item.messageID == item.messageID }) {
            // A redelivery of a message still waiting (after a reconnect): keep the newest handle.
            waiting[index].ack = ack
            return false
        }
        waiting.append(Waiting(item: item, ack: ack))
        broadcast(.arrived(item))
        return true
    }

    /// The waiting messages, oldest first, without taking them.
    public func peek(max: Int) -> [InboxItem] {
        Array(waiting.prefix(max).map(\.item))
    }

    public var waitingCount: Int { waiting.count }

    /// Takes up to `max` waiting messages: acknowledges each at the broker and forgets it.
    public func take(max: Int, jobID: String? = nil) -> [InboxItem] {
        var result: [InboxItem] = []
        var kept: [Waiting] = []
        for entry in waiting {
            if result.count < max && (jobID == nil || entry.item.jobID == jobID) {
                entry.ack()
                remember(entry.item.messageID)
                result.append(entry.item)
            } else {
                kept.append(entry)
            }
        }
        waiting = kept
        return result
    }

    /// The broker connection was lost: every waiting message will be redelivered, so the old
    /// handles are dropped (their acks would go to a closed channel).
    public func brokerLost(_ reason: String) {
        connected = false
        lastError = reason
        waiting.removeAll()
    }

    public func brokerUp() {
        connected = true
        lastError = nil
    }

    private func remember(_ id: String) {
        guard takenSet.insert(id).inserted else { return }
        taken.append(id)
        if taken.count > takenMemory {
            takenSet.remove(taken.removeFirst())
        }
    }

    // MARK: Progress

    /// Records a progress event (the last 20 per job, for the 200 most recent jobs) and tells listeners.
    public func progressed(_ event: ProgressEvent) {
        let id = event.jobID.description
        if progress[id] == nil {
            progressOrder.append(id)
            if progressOrder.count > 200 { progress[progressOrder.removeFirst()] = nil }
        }
        var events = progress[id, default: []]
        guard !events.contains(where: { $0.sequence == event.sequence }) else { return }
        events.append(event)
        events.sort { $0.sequence < $1.sequence }
        progress[id] = Array(events.suffix(20))
        broadcast(.progress(event))
    }

    /// The progress events seen for a job, oldest first.
    public func progress(of jobID: String) -> [ProgressEvent] {
        progress[jobID] ?? []
    }

    // MARK: Listeners

    /// A stream of inbox events for one MCP session; ends when the session stops listening.
    public func events() -> AsyncStream<InboxEvent> {
        let (stream, continuation) = AsyncStream<InboxEvent>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let id = UUID()
        listeners[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.removeListener(id) }
        }
        return stream
    }

    private func removeListener(_ id: UUID) {
        listeners[id] = nil
    }

    private func broadcast(_ event: InboxEvent) {
        for continuation in listeners.values { continuation.yield(event) }
    }
}
