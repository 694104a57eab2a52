import Foundation

/// Reads the hot wire types (job message, contract, completion) in one pass over the bytes.
///
/// `WireCodec.decode` reads a message twice: `StrictJSON` (duplicates, depth, UTF-8) builds a
/// tree, then `JSONDecoder` parses the bytes again into the type. This reader takes the common
/// case in one pass and answers nil for anything it is not sure of, so the old path decides:
/// accepting or refusing, with the same error it always gave. It returns a value only when
///
/// - the document is a JSON object, UTF-8, with every key ASCII and unescaped and no key twice
///   (at any depth), no raw control character, no lone surrogate escape, nested at most 16 deep
///   (`StrictJSON` would accept all of it, under its limit of 32);
/// - every key is one the type reads (`JSONDecoder` would ignore an unknown one; here it sends
///   the message to the old path), `schema` is exactly the type's schema;
/// - every field has the JSON type and a value the type's own `Decodable` accepts (the same
///   parsers: `JobID`, `SurfaceID`, `WireDate.parse`, the enums' raw values), an integer field
///   is a plain integer of at most 18 digits and a number in recipe parameters a plain decimal of
///   at most 15 digits without exponent (where `Double` parsers cannot differ).
///
/// `HandWrittenWireTests` checks both paths on random and hostile inputs.
struct WireJSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    static let maxDepth = 16

    /// Reads a whole document that is one object, calling `member` for each key; nil on anything unsure.
    /// `member` gets the key's position in `keys` and reads the value; a key twice or not in `keys` is refused.
    static func document(
        _ bytes: UnsafeBufferPointer<UInt8>, keys: [StaticString], member: (inout WireJSONReader, Int) -> Bool
    ) -> UInt64? {
        var reader = WireJSONReader(bytes)
        guard let seen = reader.object(keys: keys, member: member) else { return nil }
        reader.skipWhitespace()
        return reader.index == bytes.count ? seen : nil
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// The next byte after whitespace, consumed if it is `byte`.
    mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// An object of known keys; the set of keys seen (bit = position in `keys`), nil on anything unsure.
    mutating func object(keys: [StaticString], member: (inout WireJSONReader, Int) -> Bool) -> UInt64? {
        guard consume(UInt8(ascii: "{")) else { return nil }
        var seen: UInt64 = 0
        if consume(UInt8(ascii: "}")) { return seen }
        repeat {
            skipWhitespace()
            guard let key = plainKey(), consume(UInt8(ascii: ":")) else { return nil }
            guard let position = Self.position(of: key, in: keys, bytes: bytes) else { return nil }
            let bit: UInt64 = 1 << UInt64(position)
            guard seen & bit == 0 else { return nil }
            seen |= bit
            skipWhitespace()
            guard member(&self, position) else { return nil }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) ? seen : nil
    }

    private static func position(of key: Range<Int>, in keys: [StaticString], bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        for (position, candidate) in keys.enumerated() where candidate.utf8CodeUnitCount == key.count {
            if memcmp(candidate.utf8Start, bytes.baseAddress! + key.lowerBound, key.count) == 0 { return position }
        }
        return nil
    }

    /// A key of printable ASCII without escapes (anything else goes to the old path); the range of its text.
    mutating func plainKey() -> Range<Int>? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        let start = index + 1
        var end = start
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") {
                index = end + 1
                return start..<end
            }
            guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { return nil }
            end += 1
        }
        return nil
    }

    /// `null`, consumed.
    mutating func null() -> Bool {
        guard bytes.count - index >= 4, bytes[index] == UInt8(ascii: "n"), bytes[index + 1] == UInt8(ascii: "u"),
            bytes[index + 2] == UInt8(ascii: "l"), bytes[index + 3] == UInt8(ascii: "l")
        else { return false }
        index += 4
        return true
    }

    /// Whether the value here is exactly the string `text` without escapes (the `schema` field).
    mutating func exactString(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard bytes.count - index >= count + 2, bytes[index] == UInt8(ascii: "\""), bytes[index + 1 + count] == UInt8(ascii: "\""),
            memcmp(text.utf8Start, bytes.baseAddress! + index + 1, count) == 0
        else { return false }
        index += count + 2
        return true
    }

    mutating func string() -> String? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        let start = index + 1
        var end = start
        var ascii = true
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") {
                index = end + 1
                let text = UnsafeBufferPointer(rebasing: bytes[start..<end])
                return ascii ? String(decoding: text, as: UTF8.self) : String(validating: text, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") {
                index = start
                return escapedString()
            }
            if byte < 0x20 { return nil }
            if byte >= 0x80 { ascii = false }
            end += 1
        }
        return nil
    }

    /// A string with escapes; `index` is just after its opening quote.
    private mutating func escapedString() -> String? {
        var out: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: out, as: UTF8.self)
            case 0..<0x20:
                return nil
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { return nil }
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            return nil
                        }
                        index += 2
                        guard let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        return nil
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { return nil }
                    UTF8.encode(unicode) { out.append($0) }
                default:
                    return nil
                }
            default:
                out.append(byte)
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard bytes.count - index >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = JSONHex.digit(bytes[index]) else { return nil }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// A plain integer (`0`, `-12`, at most 18 digits, no fraction or exponent).
    mutating func int() -> Int? {
        var cursor = index
        let negative = cursor < bytes.count && bytes[cursor] == UInt8(ascii: "-")
        if negative { cursor += 1 }
        let first = cursor
        var value = 0
        while cursor < bytes.count, bytes[cursor] >= UInt8(ascii: "0"), bytes[cursor] <= UInt8(ascii: "9") {
            // Counted before the digit is added: a 19th digit could overflow `Int` (a trap).
            guard cursor - first < 18 else { return nil }
            value = value * 10 + Int(bytes[cursor] - UInt8(ascii: "0"))
            cursor += 1
        }
        let digits = cursor - first
        guard digits > 0, digits == 1 || bytes[first] != UInt8(ascii: "0"), !(negative && value == 0) else { return nil }
        if cursor < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[cursor]) { return nil }
        index = cursor
        return negative ? -value : value
    }

    /// A plain decimal (`-12.5`: at most 15 digits, no exponent), as `Double` parses it.
    private mutating func plainNumber() -> Double? {
        guard let number = scanNumber(), !number.exponent, number.digits <= 15 else { return nil }
        return parseNumber(to: number.end)
    }

    /// The extent of a JSON number starting here (`-`, digits without a leading zero, a fraction,
    /// an exponent), without consuming it: where it ends, how many digits its integer and fraction
    /// parts have, whether it has an exponent. Nil if what is here is not one.
    private func scanNumber() -> (end: Int, digits: Int, exponent: Bool)? {
        var cursor = index
        func digits() -> Int {
            let start = cursor
            while cursor < bytes.count, bytes[cursor] >= UInt8(ascii: "0"), bytes[cursor] <= UInt8(ascii: "9") { cursor += 1 }
            return cursor - start
        }
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "-") { cursor += 1 }
        let intStart = cursor
        var count = digits()
        guard count > 0, count == 1 || bytes[intStart] != UInt8(ascii: "0") else { return nil }
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: ".") {
            cursor += 1
            let fraction = digits()
            guard fraction > 0 else { return nil }
            count += fraction
        }
        var exponent = false
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "e") || bytes[cursor] == UInt8(ascii: "E") {
            cursor += 1
            if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "+") || bytes[cursor] == UInt8(ascii: "-") { cursor += 1 }
            guard digits() > 0 else { return nil }
            exponent = true
        }
        return (cursor, count, exponent)
    }

    /// The number from here to `end` (found by `scanNumber`) as `Double` parses it, consumed.
    private mutating func parseNumber(to end: Int) -> Double? {
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self)
        guard let value = Double(text) else { return nil }
        index = end
        return value
    }

    /// Any JSON value (recipe parameters), `depth` being the depth of the container it is in.
    mutating func value(depth: Int) -> JSONValue? {
        skipWhitespace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            return members(depth: depth + 1).map(JSONValue.object)
        case UInt8(ascii: "["):
            guard depth + 1 <= Self.maxDepth else { return nil }
            index += 1
            var elements: [JSONValue] = []
            if consume(UInt8(ascii: "]")) { return .array(elements) }
            repeat {
                guard let element = value(depth: depth + 1) else { return nil }
                elements.append(element)
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "]")) ? .array(elements) : nil
        case UInt8(ascii: "\""):
            return string().map(JSONValue.string)
        case UInt8(ascii: "t"):
            return literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"):
            return literal("false") ? .bool(false) : nil
        case UInt8(ascii: "n"):
            return null() ? .null : nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return plainNumber().map(JSONValue.number)
        default:
            return nil
        }
    }

    /// An object of any (plain ASCII) keys, each once; `depth` is its own depth.
    mutating func members(depth: Int) -> [String: JSONValue]? {
        guard depth <= Self.maxDepth, consume(UInt8(ascii: "{")) else { return nil }
        var members: [String: JSONValue] = [:]
        if consume(UInt8(ascii: "}")) { return members }
        repeat {
            skipWhitespace()
            guard let range = plainKey(), consume(UInt8(ascii: ":")), let value = value(depth: depth) else { return nil }
            // Plain ASCII keys: equal as `String`s exactly when their bytes are equal.
            let key = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
            guard members.updateValue(value, forKey: key) == nil else { return nil }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) ? members : nil
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count, memcmp(word.utf8Start, bytes.baseAddress! + index, count) == 0 else { return false }
        index += count
        return true
    }

    // MARK: Field helpers: nil (or false) sends the message to the old path.

    mutating func date() -> Date? {
        guard let text = string() else { return nil }
        return WireDate.parse(text)
    }

    mutating func jobID() -> JobID? {
        guard let text = string() else { return nil }
        return try? JobID(wireString: text)
    }

    mutating func surfaceID() -> SurfaceID? {
        guard let text = string() else { return nil }
        return try? SurfaceID(wireString: text)
    }

    /// A string, or nil for `null` (`decodeIfPresent`); `.none` means unsure.
    mutating func optionalString() -> String?? {
        if null() { return .some(nil) }
        return string().map { .some($0) }
    }

    mutating func recipe(depth: Int) -> RecipeInvocation? {
        var name: String?
        var params: [String: JSONValue] = [:]
        let seen = object(keys: ["name", "params"]) { reader, key in
            switch key {
            case 0:
                name = reader.string()
                return name != nil
            default:
                if reader.null() { return true }
                guard let members = reader.members(depth: depth + 1) else { return false }
                params = members
                return true
            }
        }
        guard seen != nil, let name else { return nil }
        return RecipeInvocation(name: name, params: params)
    }
}

extension JobMessage {
    private static let keys: [StaticString] = [
        "schema", "job_id", "recipe", "pool", "work_surface", "deadline", "summary", "created_at", "completion_capability",
    ]

    package static func handReadWireJSON(_ bytes: UnsafeBufferPointer<UInt8>) -> JobMessage? {
        var jobID: JobID?
        var recipe: RecipeInvocation?
        var pool: String?
        var workSurface: SurfaceID?
        var deadline: Date?
        var summary: String?
        var createdAt: Date?
        var capability: String?
        let seen = WireJSONReader.document(bytes, keys: keys) { reader, key in
            switch key {
            case 0: return reader.exactString("bridgeback.job.v1")
            case 1: jobID = reader.jobID(); return jobID != nil
            case 2: recipe = reader.recipe(depth: 2); return recipe != nil
            case 3: pool = reader.string(); return pool != nil
            case 4: workSurface = reader.surfaceID(); return workSurface != nil
            case 5: deadline = reader.date(); return deadline != nil
            case 6: summary = reader.string(); return summary != nil
            case 7: createdAt = reader.date(); return createdAt != nil
            default:
                guard let value = reader.optionalString() else { return false }
                capability = value
                return true
            }
        }
        guard seen.map({ $0 & 0xFF == 0xFF }) == true, let jobID, let recipe, let pool, let workSurface, let deadline, let summary,
            let createdAt
        else { return nil }
        return JobMessage(
            jobID: jobID, recipe: recipe, pool: pool, workSurface: workSurface, deadline: deadline, summary: summary, createdAt: createdAt,
            completionCapability: capability)
    }
}

extension OwnershipContract {
    private static let keys: [StaticString] = [
        "schema", "job_id", "origin", "work_surface", "final_surface", "delivery_mode", "deadline", "policy_version", "summary",
        "parent_id", "recipe", "created_at", "request_excerpt", "idempotency_key", "defaults_applied", "completion_capability_sha256",
    ]

    package static func handReadWireJSON(_ bytes: UnsafeBufferPointer<UInt8>) -> OwnershipContract? {
        var jobID: JobID?
        var surfaces: [SurfaceID?] = [nil, nil, nil]
        var deliveryMode: DeliveryMode?
        var deadline: Date?
        var policyVersion: String?
        var summary: String?
        var parentID: String?
        var recipe: RecipeInvocation?
        var createdAt: Date?
        var requestExcerpt: String?
        var idempotencyKey: String?
        var defaultsApplied: [String]?
        var capabilityHash: String?
        let seen = WireJSONReader.document(bytes, keys: keys) { reader, key in
            switch key {
            case 0: return reader.exactString("bridgeback.contract.v1")
            case 1: jobID = reader.jobID(); return jobID != nil
            case 2, 3, 4:
                surfaces[key - 2] = reader.surfaceID()
                return surfaces[key - 2] != nil
            case 5:
                deliveryMode = reader.string().flatMap(DeliveryMode.init(rawValue:))
                return deliveryMode != nil
            case 6: deadline = reader.date(); return deadline != nil
            case 7: policyVersion = reader.string(); return policyVersion != nil
            case 8: summary = reader.string(); return summary != nil
            case 9: parentID = reader.string(); return parentID != nil
            case 10: recipe = reader.recipe(depth: 2); return recipe != nil
            case 11: createdAt = reader.date(); return createdAt != nil
            case 12:
                guard let value = reader.optionalString() else { return false }
                requestExcerpt = value
                return true
            case 13:
                guard let value = reader.optionalString() else { return false }
                idempotencyKey = value
                return true
            case 14:
                if reader.null() { return true }
                guard reader.consume(UInt8(ascii: "[")) else { return false }
                var values: [String] = []
                if !reader.consume(UInt8(ascii: "]")) {
                    repeat {
                        reader.skipWhitespace()
                        guard let value = reader.string() else { return false }
                        values.append(value)
                    } while reader.consume(UInt8(ascii: ","))
                    guard reader.consume(UInt8(ascii: "]")) else { return false }
                }
                defaultsApplied = values
                return true
            default:
                guard let value = reader.optionalString() else { return false }
                capabilityHash = value
                return true
            }
        }
        guard seen.map({ $0 & 0xFFF == 0xFFF }) == true, let jobID, let origin = surfaces[0], let workSurface = surfaces[1],
            let finalSurface = surfaces[2], let deliveryMode, let deadline, let policyVersion, let summary, let parentID, let recipe,
            let createdAt
        else { return nil }
        return OwnershipContract(
            jobID: jobID, origin: origin, workSurface: workSurface, finalSurface: finalSurface, deliveryMode: deliveryMode,
            deadline: deadline, policyVersion: policyVersion, summary: summary, requestExcerpt: requestExcerpt ?? "", parentID: parentID,
            recipe: recipe, idempotencyKey: idempotencyKey, createdAt: createdAt, defaultsApplied: defaultsApplied ?? [],
            completionCapabilitySHA256: capabilityHash)
    }
}

extension Completion {
    fileprivate static let keys: [StaticString] = [
        "schema", "job_id", "worker", "attempt", "started_at", "finished_at", "outcome", "capability",
    ]
    /// The ledger's form (`write(to:ledger: true)`): no `schema`, the same fields in the same positions after it.
    fileprivate static let ledgerKeys: [StaticString] = [
        "job_id", "worker", "attempt", "started_at", "finished_at", "outcome", "capability",
    ]
    fileprivate static let outcomeKeys: [StaticString] = ["status", "result", "reason"]

    package static func handReadWireJSON(_ bytes: UnsafeBufferPointer<UInt8>) -> Completion? {
        var reader = WireJSONReader(bytes)
        guard let completion = reader.completion(ledger: false) else { return nil }
        reader.skipWhitespace()
        return reader.index == bytes.count ? completion : nil
    }
}

extension WireJSONReader {
    /// A completion object here: the wire form, or the ledger's (`ledger`: no `schema`, dates in
    /// milliseconds as `JSONEncoder.DateEncodingStrategy.millisecondsSince1970` writes them).
    mutating func completion(ledger: Bool) -> Completion? {
        var jobID: JobID?
        var worker: String?
        var attempt: Int?
        var startedAt: Date?
        var finishedAt: Date?
        var outcome: CompletionOutcome?
        var capability: String?
        let seen = object(keys: ledger ? Completion.ledgerKeys : Completion.keys) { reader, position in
            switch ledger ? position + 1 : position {
            case 0: return reader.exactString("bridgeback.completion.v1")
            case 1: jobID = reader.jobID(); return jobID != nil
            case 2: worker = reader.string(); return worker != nil
            case 3: attempt = reader.int(); return attempt != nil
            case 4: startedAt = ledger ? reader.millisecondDate() : reader.date(); return startedAt != nil
            case 5: finishedAt = ledger ? reader.millisecondDate() : reader.date(); return finishedAt != nil
            case 6:
                var texts: [String?] = [nil, nil, nil]
                let present = reader.object(keys: Completion.outcomeKeys) { reader, key in
                    texts[key] = reader.string()
                    return texts[key] != nil
                }
                guard present != nil else { return false }
                switch texts[0] {
                case "succeeded": outcome = texts[1].map { .succeeded(result: $0) }
                case "failed": outcome = texts[2].map { .failed(reason: $0) }
                case "cancelled": outcome = .cancelled
                default: outcome = nil
                }
                return outcome != nil
            default:
                guard let value = reader.optionalString() else { return false }
                capability = value
                return true
            }
        }
        let required: UInt64 = ledger ? 0x3F : 0x7F
        guard seen.map({ $0 & required == required }) == true, let jobID, let worker, let attempt, let startedAt, let finishedAt,
            let outcome
        else { return nil }
        return Completion(
            jobID: jobID, worker: worker, attempt: attempt, startedAt: startedAt, finishedAt: finishedAt, outcome: outcome,
            capability: capability)
    }

    /// A date as milliseconds since 1970 (a JSON number, at most 40 characters), read as
    /// `JSONDecoder`'s `millisecondsSince1970` reads it: the number parsed to the nearest `Double`
    /// (both parse with `strtod`), divided by 1000.
    mutating func millisecondDate() -> Date? {
        guard let number = scanNumber(), number.end - index <= 40, let milliseconds = parseNumber(to: number.end),
            milliseconds.isFinite
        else { return nil }
        return Date(timeIntervalSince1970: milliseconds / 1000.0)
    }
}

/// A parked ending as the ledger keeps it (the coordinator's `StoredEnding`,
/// `{"alternates":[…],"completion":…,"reason":…,"type":…}`), read in one pass; nil for anything
/// else, which then goes to `JSONDecoder` (a `null` member, an unknown key, a number out of range).
package struct LedgerEndingFields: Sendable {
    package var type: String
    package var completion: Completion?
    package var alternates: [Completion]?
    package var reason: String?

    private static let keys: [StaticString] = ["type", "completion", "alternates", "reason"]

    package static func handRead(_ bytes: UnsafeBufferPointer<UInt8>) -> LedgerEndingFields? {
        var type: String?
        var completion: Completion?
        var alternates: [Completion]?
        var reason: String?
        let seen = WireJSONReader.document(bytes, keys: keys) { reader, key in
            switch key {
            case 0: type = reader.string(); return type != nil
            case 1: completion = reader.completion(ledger: true); return completion != nil
            case 2:
                guard reader.consume(UInt8(ascii: "[")) else { return false }
                var list: [Completion] = []
                if !reader.consume(UInt8(ascii: "]")) {
                    repeat {
                        guard let next = reader.completion(ledger: true) else { return false }
                        list.append(next)
                    } while reader.consume(UInt8(ascii: ","))
                    guard reader.consume(UInt8(ascii: "]")) else { return false }
                }
                alternates = list
                return true
            default: reason = reader.string(); return reason != nil
            }
        }
        guard seen.map({ $0 & 1 == 1 }) == true, let type else { return nil }
        return LedgerEndingFields(type: type, completion: completion, alternates: alternates, reason: reason)
    }
}
