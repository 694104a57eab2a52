/// What sort of receiver a surface is; decides its adapter and its defaults.
public enum SurfaceKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A parent's inbox on `bb.inbox`, keyed by `address`; messages carry delivery ids.
    case inbox
    /// An HTTP endpoint signed as in Standard Webhooks; dedups by `webhook-id`.
    case webhook
    /// A local file that receives JSON lines.
    case file
    /// The coordinator's standard output (demos).
    case stdout
    /// Slack `chat.postMessage` to a channel id.
    case slack
    /// Telegram `sendMessage` to a chat id.
    case telegram
    /// Discord channel messages.
    case discord

    /// Whether the registry entry must give an `address`.
    public var requiresAddress: Bool { self != .stdout }

    /// The receiver's own hard limit, if it has one; `max_length` may not exceed it.
    public var hardMaxLength: Int? {
        switch self {
        case .slack: 40_000
        case .telegram: 4_096
        case .discord: 2_000
        case .inbox, .webhook, .file, .stdout: nil
        }
    }

    /// `max_length` when the registry omits it. Slack accepts up to 40,000 characters but
    /// asks for at most 4,000 per message for readability, so parts default to that.
    public var defaultMaxLength: Int {
        switch self {
        case .slack: 4_000
        case .telegram: 4_096
        case .discord: 2_000
        case .webhook: 256_000
        case .inbox, .stdout: 1_000_000
        case .file: 10_000_000
        }
    }

    /// How the receiver counts length: chat APIs count characters, Telegram counts UTF-16.
    public var defaultLengthUnit: LengthUnit {
        switch self {
        case .slack, .discord: .unicodeScalars
        case .telegram: .utf16CodeUnits
        case .inbox, .webhook, .file, .stdout: .utf8Bytes
        }
    }

    /// Whether the receiver drops a repeated delivery id by default: inbox and webhook do,
    /// and Discord does because its adapter sends a per-part `nonce` with `enforce_nonce`.
    public var deduplicatesByDefault: Bool {
        switch self {
        case .inbox, .webhook, .discord: true
        case .file, .stdout, .slack, .telegram: false
        }
    }

    /// The chat kinds: posted through a bot API with a `token` and an optional `api_base`.
    public var isChat: Bool {
        switch self {
        case .slack, .telegram, .discord: true
        case .inbox, .webhook, .file, .stdout: false
        }
    }

    /// The public API a chat kind talks to when the registry gives no `api_base`.
    public var defaultAPIBase: String? {
        switch self {
        case .slack: "https://slack.com/api"
        case .telegram: "https://api.telegram.org"
        case .discord: "https://discord.com/api/v10"
        case .inbox, .webhook, .file, .stdout: nil
        }
    }

    /// Whether the receiver *can* deduplicate at all (Slack and Telegram take no key).
    public var canDeduplicate: Bool {
        switch self {
        case .inbox, .webhook, .file, .discord: true
        case .stdout, .slack, .telegram: false
        }
    }
}

/// The unit a surface's `max_length` is measured in.
public enum LengthUnit: String, Sendable, Hashable, Codable, CaseIterable {
    /// Unicode scalars ("characters" for Slack and Discord).
    case unicodeScalars = "unicode_scalars"
    /// UTF-8 bytes (HTTP bodies, files).
    case utf8Bytes = "utf8_bytes"
    /// UTF-16 code units (Telegram).
    case utf16CodeUnits = "utf16_code_units"

    /// The length of `text` in this unit.
    public func measure(_ text: some StringProtocol) -> Int {
        switch self {
        case .unicodeScalars: text.unicodeScalars.count
        case .utf8Bytes: text.utf8.count
        case .utf16CodeUnits: text.utf16.count
        }
    }

    /// The length of one grapheme in this unit.
    public func measure(_ character: Character) -> Int {
        switch self {
        case .unicodeScalars: character.unicodeScalars.count
        case .utf8Bytes: character.utf8.count
        case .utf16CodeUnits: character.utf16.count
        }
    }
}

/// What to do with a result longer than the surface allows.
public enum LengthPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Numbered parts, each with its own delivery id.
    case split
    /// One message: the head of the result and a reference to the stored full result.
    case summarize
}
