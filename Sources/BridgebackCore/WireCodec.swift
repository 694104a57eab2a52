public import Foundation

/// Encodes and decodes wire messages: flat snake_case JSON objects with a `schema` field.
///
/// Decoding never traps: every failure is a `BridgebackError` whose `message` is a loggable
/// reason (which schema, which field), so a consumer can log, ack or dead-letter and go on.
public enum WireCodec {
    /// Encodes `message` with its `schema` field; keys sorted so bodies are byte-stable (signing).
    public static func encode(_ message: some WireMessage) throws(BridgebackError) -> Data {
        // The hot types write their bytes by hand (`WireJSONWriter`): the same bytes, checked by
        // `HandWrittenWireTests` against `JSONEncoder`, which still answers for the rest.
        if let handWritten = message as? any HandWrittenJSON, let bytes = handWritten.handWrittenWireJSON() {
            return Data(bytes)
        }
        return try foundationEncode(message)
    }

    /// `encode` through `JSONEncoder` only (what every type used before `WireJSONWriter`; tests compare the two).
    static func foundationEncode(_ message: some WireMessage) throws(BridgebackError) -> Data {
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
        let root: JSONValue
        do {
            root = try StrictJSON.parse(Array(data), limits: .init(maxDepth: 32, allowNUL: true))
        } catch {
            switch error.kind {
            case .syntax, .notUTF8:
                throw BridgebackError(.missingSchema, "message is not a JSON object with a string \"schema\" field: \(error.message)")
            default:
                throw BridgebackError(.malformedMessage, "message is not acceptable JSON: \(error.message)")
            }
        }
        // The strict parse already holds the field: no second decoding pass for it.
        guard case .object(let fields) = root else {
            throw BridgebackError(.missingSchema, "message is not a JSON object with a string \"schema\" field: it is not an object")
        }
        guard case .string(let schema)? = fields["schema"] else {
            throw BridgebackError(
                .missingSchema,
                "message is not a JSON object with a string \"schema\" field: "
                    + (fields["schema"] == nil ? "missing field 'schema'" : "field 'schema' is not a string"))
        }
        return try MessageSchema(parsing: schema)
    }

    /// Decodes a message of a known type, checking the schema first.
    public static func decode<M: WireMessage>(_ type: M.Type, from data: Data) throws(BridgebackError) -> M {
        // The hot types are read in one pass when plainly acceptable (`WireJSONReader`); anything
        // else, refusals included, takes the strict parse and `JSONDecoder` below.
        if let handRead = M.self as? any HandWrittenJSON.Type,
            let message = data.withUnsafeBytes({ handRead.handReadWireJSON($0.assumingMemoryBound(to: UInt8.self)) }) as? M
        {
            return message
        }
        return try foundationDecode(M.self, from: data)
    }

    /// `decode` through `StrictJSON` and `JSONDecoder` only (tests compare it with the one-pass reader).
    static func foundationDecode<M: WireMessage>(_ type: M.Type, from data: Data) throws(BridgebackError) -> M {
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
///
/// Every wire message, ledger row and answer formats and parses its dates here (several per job
/// in each process), so the exact forms this module writes take a direct path over the bytes;
/// anything else (another offset, other digits of fraction, a year outside 1900–9999) goes to
/// Foundation's `ISO8601FormatStyle` as before.
public enum WireDate {
    /// `2025-01-31T12:00:00.123Z`.
    public static func format(_ date: Date) -> String {
        // Whole milliseconds, rounded: the formatter truncates, and .123 may be stored as .12299….
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let (wholeSeconds, millis) = fraction < 0 ? (seconds - 1, fraction + 1000) : (seconds, fraction)
        if wholeSeconds >= minDirectSeconds, wholeSeconds < maxDirectSeconds {
            return direct(wholeSeconds, millis: millis)
        }
        let base = Date(timeIntervalSince1970: Double(wholeSeconds)).formatted(Date.ISO8601FormatStyle())
        let digits = String(millis)
        return base.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    /// Parses with or without fractional seconds; nil if neither.
    public static func parse(_ text: String) -> Date? {
        var text = text
        if let date = text.withUTF8(direct(parsing:)) { return date }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }

    /// 1900-01-01T00:00:00Z and 10000-01-01T00:00:00Z: the direct path's range (four-digit
    /// years, proleptic Gregorian, as Foundation's formatter writes them).
    static let minDirectSeconds: Int64 = -2_208_988_800
    static let maxDirectSeconds: Int64 = 253_402_300_800

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` from whole seconds since 1970 and milliseconds.
    private static func direct(_ seconds: Int64, millis: Int64) -> String {
        let (days, secondOfDay) = seconds.floorDivided(by: 86_400)
        let (year, month, day) = civil(fromDays: days)
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int64, at start: Int, digits: Int) {
                var value = value
                for index in stride(from: start + digits - 1, through: start, by: -1) {
                    buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, at: 0, digits: 4)
            buffer[4] = UInt8(ascii: "-")
            put(month, at: 5, digits: 2)
            buffer[7] = UInt8(ascii: "-")
            put(day, at: 8, digits: 2)
            buffer[10] = UInt8(ascii: "T")
            put(secondOfDay / 3600, at: 11, digits: 2)
            buffer[13] = UInt8(ascii: ":")
            put(secondOfDay / 60 % 60, at: 14, digits: 2)
            buffer[16] = UInt8(ascii: ":")
            put(secondOfDay % 60, at: 17, digits: 2)
            buffer[19] = UInt8(ascii: ".")
            put(millis, at: 20, digits: 3)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.mmmZ` with a real calendar date and time
    /// (years 1900–9999); nil for anything else, which the caller hands to Foundation.
    private static func direct(parsing bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        guard bytes.count == 24 || bytes.count == 20 else { return nil }
        func number(_ start: Int, _ digits: Int) -> Int64? {
            var value: Int64 = 0
            for index in start..<(start + digits) {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[bytes.count - 1] == UInt8(ascii: "Z"),
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2)
        else { return nil }
        var millis: Int64 = 0
        if bytes.count == 24 {
            guard bytes[19] == UInt8(ascii: "."), let fraction = number(20, 3) else { return nil }
            millis = fraction
        }
        guard year >= 1900, (1...12).contains(month), day >= 1, day <= daysIn(month, of: year), hour <= 23, minute <= 59, second <= 59
        else { return nil }
        let seconds = days(fromCivil: year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        // One correctly rounded division: the nearest Double to the written instant.
        return Date(timeIntervalSince1970: Double(seconds * 1000 + millis) / 1000)
    }

    private static func daysIn(_ month: Int64, of year: Int64) -> Int64 {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day since 1970-01-01 (H. Hinnant's `civil_from_days`).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shifted + 2) / 5 + 1
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    /// Quotient rounded down and a non-negative remainder (for times before 1970).
    fileprivate func floorDivided(by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let (q, r) = quotientAndRemainder(dividingBy: divisor)
        return r < 0 ? (q - 1, r + divisor) : (q, r)
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
