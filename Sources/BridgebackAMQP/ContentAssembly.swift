/// One message's content as it arrives on a channel, frame by frame, after its `basic.deliver`
/// or `basic.return`: a content header (properties and the body's declared size), then body
/// frames until that size is reached. Other channels' frames may come in between, so each
/// channel keeps its own assembly and the connection thread never blocks waiting for a body.
///
/// A body within the consumer's `BodyLimit` is collected whole; a longer one goes fragment by
/// fragment through the limit's reducer and is never held whole. No I/O: the connection feeds
/// it and acts on the result.
struct ContentAssembly {
    /// What the content belongs to.
    enum Origin {
        case delivery(tag: UInt64, redelivered: Bool, exchange: String, routingKey: String, consumerTag: String)
        case returned(replyCode: UInt16, replyText: String)
    }

    /// A message whose content has fully arrived.
    struct Message {
        var origin: Origin
        var properties: MessageProperties
        var body: [UInt8]
        /// The declared size when it was over the limit (`body` is then the reducer's output).
        var oversizeBytes: Int?
    }

    enum Step {
        case needMore
        case complete(Message)
        /// A frame that cannot come now (a body frame before the header, or past the declared size).
        case protocolError(String)
    }

    let origin: Origin
    let limit: BodyLimit?
    private var properties: MessageProperties?
    private var declared: UInt64 = 0
    private var received: UInt64 = 0
    private var whole = true
    private var body: [UInt8] = []
    private var reducer: (any OversizeBodyReducer)?

    init(origin: Origin, limit: BodyLimit?) {
        self.origin = origin
        self.limit = limit
    }

    /// Runs `body` on this assembly in place (`ChannelTable.assemble`).
    mutating func apply<R>(_ body: (inout ContentAssembly) -> R) -> R { body(&self) }

    /// The content header frame.
    mutating func header(_ properties: MessageProperties, bodySize: UInt64) -> Step {
        guard self.properties == nil else { return .protocolError("a second content header for one message") }
        self.properties = properties
        declared = bodySize
        whole = limit.map { bodySize <= UInt64($0.maxBytes) } ?? true
        if whole {
            body.reserveCapacity(Int(min(bodySize, 64 << 20)))
        } else {
            reducer = limit?.makeReducer()
        }
        return declared == 0 ? finish() : .needMore
    }

    /// One body frame's bytes (valid only during the call).
    mutating func body(_ fragment: UnsafeRawBufferPointer) -> Step {
        guard properties != nil else { return .protocolError("a body frame before the content header") }
        received += UInt64(fragment.count)
        guard received <= declared else { return .protocolError("more body bytes than the header declared (\(declared))") }
        if whole { body.append(contentsOf: fragment) } else { reducer?.consume(fragment) }
        return received == declared ? finish() : .needMore
    }

    /// The assembly is dropped once complete, so its properties and body are moved out (swapped
    /// with empties), not copied and released.
    private mutating func finish() -> Step {
        var taken: MessageProperties? = nil
        swap(&taken, &self.properties)
        let properties = taken ?? MessageProperties()
        guard !whole, var reducer else {
            var body: [UInt8] = []
            swap(&body, &self.body)
            return .complete(Message(origin: origin, properties: properties, body: body, oversizeBytes: nil))
        }
        let kept = reducer.finish()
        self.reducer = nil
        return .complete(Message(origin: origin, properties: properties, body: kept, oversizeBytes: Int(clamping: declared)))
    }
}
