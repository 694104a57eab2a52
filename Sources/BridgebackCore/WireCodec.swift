public import Foundation

/// Encodes and decodes wire messages: flat snake_case JSON objects with a `schema` field.
///
/// Decoding never traps: every failure is a `BridgebackError` whose `message` is a loggable
/// reason (which schema, which field), so a consumer can log, ack or dead-letter and go on.
public enum WireCodec {
    /// Encodes `message` with its `schema` field; keys sorted so bodies are byte-stable (signing).
    public static func encode(_ message: some WireMessage) throws(BridgebackError) -> Data {
        do {
            return try encoder.encode(Tagged(message: message))
        } catch {
            throw BridgebackError(
                .malformedMessage, "cannot encode \(type(of: message).schema): \(reason(error))",
                schema: type(of: message).schema.description)
        }
    }

    /// Reads only the `schema` field and checks it is a kind and version this build reads.
    ///
    /// Messages come from other processes, so they are read as strictly as HTTP bodies are
    /// (`StrictJSON`): UTF-8 only, duplicate keys refused, nesting capped. `null` for an
    /// optional field means absent, as at admission (docs/protocol.md).
    public static func schema(of data: Data) throws(BridgebackError) -> MessageSchema {
        do {
            _ = try StrictJSON.parse(Array(data), limits: .init(maxDepth: 32, allowNUL: true))
        } catch {
            switch error.kind {
            case .syntax, .notUTF8:
                throw BridgebackError(.missingSchema, "message is not a JSON object with a string \"schema\" field: \(error.message)")
            default:
                throw BridgebackError(.malformedMessage, "message is not acceptable JSON: \(error.message)")
            }
        }
        let probe: SchemaProbe
        do {
            probe = try decoder.decode(SchemaProbe.self, from: data)
        } catch {
            throw BridgebackError(.missingSchema, "message is not a JSON object with a string \"schema\" field: \(reason(error))")
        }
        return try MessageSchema(parsing: probe.schema)
    }

    /// Decodes a message of a known type, checking the schema first.
    public static func decode<M: WireMessage>(_ type: M.Type, from data: Data) throws(BridgebackError) -> M {
        let schema = try schema(of: data)
        guard schema.kind == M.schema.kind else {
            throw BridgebackError(
                .unexpectedSchema, "expected a \(M.schema.kind.rawValue) message, got \(schema)", schema: schema.description)
        }
        return try body(M.self, from: data, schema: schema)
    }

    /// Decodes whatever message arrived (the coordinator reads several kinds).
    public static func decodeAny(from data: Data) throws(BridgebackError) -> AnyWireMessage {
        let schema = try schema(of: data)
        switch schema.kind {
        case .contract: return .contract(try body(OwnershipContract.self, from: data, schema: schema))
        case .job: return .job(try body(JobMessage.self, from: data, schema: schema))
        case .progress: return .progress(try body(ProgressEvent.self, from: data, schema: schema))
        case .completion: return .completion(try body(Completion.self, from: data, schema: schema))
        case .receipt: return .receipt(try body(DeliveryReceipt.self, from: data, schema: schema))
        case .final: return .final(try body(FinalNotice.self, from: data, schema: schema))
        case .cancel: return .cancel(try body(CancelNotice.self, from: data, schema: schema))
        }
    }

    private static func body<M: WireMessage>(_ type: M.Type, from data: Data, schema: MessageSchema) throws(BridgebackError) -> M {
        do {
            return try decoder.decode(M.self, from: data)
        } catch {
            throw BridgebackError(.malformedMessage, "\(schema) message does not decode: \(reason(error))", schema: schema.description)
        }
    }

    /// A one-line, loggable reason for a coding error (field path and what was wrong).
    public static func reason(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return text.isEmpty ? "top level" : "'\(text)'"
        }
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing field '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case DecodingError.typeMismatch(let type, let context):
            return "field \(path(context.codingPath)) should be \(type): \(context.debugDescription)"
        case DecodingError.valueNotFound(let type, let context):
            return "field \(path(context.codingPath)) is null, expected \(type)"
        case DecodingError.dataCorrupted(let context):
            return "field \(path(context.codingPath)): \(context.debugDescription)"
        case let error as BridgebackError:
            return error.message
        default:
            return String(describing: error)
        }
    }

    private struct SchemaProbe: Decodable {
        let schema: String
    }

    private struct Tagged<M: WireMessage>: Encodable {
        let message: M
        enum Key: String, CodingKey { case schema }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(M.schema.description, forKey: .schema)
            try message.encode(to: encoder)
        }
    }

    /// Wire dates: RFC 3339 UTC with milliseconds; decoding also accepts whole seconds.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(WireDate.format(date))
        }
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = WireDate.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "'\(text)' is not an RFC 3339 timestamp such as 2025-01-31T12:00:00.000Z")
            }
            return date
        }
        return decoder
    }()
}

/// The one timestamp format on the wire.
public enum WireDate {
    /// `2025-01-31T12:00:00.123Z`.
    public static func format(_ date: Date) -> String {
        // Whole milliseconds, rounded: the formatter truncates, and .123 may be stored as .12299….
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let (wholeSeconds, millis) = fraction < 0 ? (seconds - 1, fraction + 1000) : (seconds, fraction)
        let base = Date(timeIntervalSince1970: Double(wholeSeconds)).formatted(Date.ISO8601FormatStyle())
        let digits = String(millis)
        return base.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    /// Parses with or without fractional seconds; nil if neither.
    public static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}

/// Any decoded wire message, for consumers that read several kinds from one queue.
public enum AnyWireMessage: Sendable {
    case contract(OwnershipContract)
    case job(JobMessage)
    case progress(ProgressEvent)
    case completion(Completion)
    case receipt(DeliveryReceipt)
    case final(FinalNotice)
    case cancel(CancelNotice)
}
