/// An identifier that travels as a JSON string and is validated when decoded, so a malformed id
/// fails decoding with the validator's message instead of entering the system.
public protocol WireStringIdentifier: Codable, CustomStringConvertible {
    /// Parses and validates the wire form (the same text `description` produces).
    init(wireString: String) throws(BridgebackError)
}

extension WireStringIdentifier {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(wireString: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
