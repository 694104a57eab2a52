import Logging

extension Logger {
    /// This logger with `metadata` added in one update of its handler. Setting keys one at a
    /// time (`logger[metadataKey:]`) has swift-log's `StreamLogHandler` render its whole
    /// metadata again for each key; the delivery driver adds three per part.
    func adding(_ metadata: Logger.Metadata) -> Logger {
        var copy = self
        var handler = copy.handler
        handler.metadata.merge(metadata) { _, new in new }
        copy.handler = handler
        return copy
    }
}
