/// How large a message between processes may be.
///
/// Two limits, from one file (`deploy/limits.env`; a test keeps the numbers here equal to it):
/// consumers take a body of up to `maxMessageBytes` whole and cut a longer one while reading it
/// (a completion keeps its fields and the first `keptStringBytes` of each string; see
/// `JSONStringCutter`); the broker's own `max_message_size` is `brokerMaxMessageBytes`, above
/// which it refuses the publish outright. The gap between the two is what a consumer reads and
/// drops without holding; nothing a consumer holds for one message exceeds `maxMessageBytes`.
public enum MessageLimits {
    /// The largest body a consumer takes whole: 4 MiB (`BRIDGEBACK_MAX_MESSAGE_BYTES`).
    public static let maxMessageBytes = 4 << 20
    /// The broker's `max_message_size`: 32 MiB (`BRIDGEBACK_BROKER_MAX_MESSAGE_BYTES`).
    public static let brokerMaxMessageBytes = 32 << 20
    /// What an over-limit message keeps of each string (its result, its reason): 64 KiB.
    public static let keptStringBytes = 64 << 10
    /// The most an over-limit message may shrink to; a message that does not fit (many small
    /// values rather than one long string) is refused: 256 KiB.
    public static let maxReducedBytes = 256 << 10

    /// The marker appended to a result or reason cut from an over-limit message.
    public static func truncationMarker(fullBytes: Int, limit: Int, keptBytes: Int) -> String {
        "[truncated: the worker's message was \(fullBytes) bytes, over the \(limit)-byte limit; "
            + "only the first \(keptBytes) bytes of this text were kept]"
    }
}
