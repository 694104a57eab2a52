package import Foundation

/// Writes JSON bytes exactly as a `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]` writes them
/// (swift-foundation on Linux), for the few wire and ledger types every job encodes.
///
/// `JSONEncoder` goes through `Codable`'s containers and builds a tree before it writes; the
/// hot types (contract, job message, progress, completion, final notice, stored decision) were
/// ~5–20 % of each process's CPU. The rules copied here, and checked byte for byte against
/// `JSONEncoder` by `HandWrittenWireTests`:
/// - keys sorted by their UTF-8 bytes (for the fixed types the order is written out by hand);
/// - strings: `"` and `\` escaped, `\b \f \n \r \t` in short form, other bytes below 0x20 as
///   `\u00xx` (lower-case hex), everything else (`/`, non-ASCII, U+2028) as it is in UTF-8;
/// - numbers: `Int` in decimal; `Double` as its `description` without a trailing `.0`; a
///   non-finite `Double` is not written (the caller falls back to `JSONEncoder`, which refuses it);
/// - optionals that are nil leave their key out (`encodeIfPresent`).
package struct WireJSONWriter {
    package private(set) var bytes: [UInt8] = []
    /// False once something was met that only `JSONEncoder` may answer (a non-finite number).
    package private(set) var ok = true
    /// `/` written as `\/`, as a `JSONEncoder` without `.withoutEscapingSlashes` writes it (the
    /// admission store's JSON columns, whose bytes predate this writer).
    private let escapingSlashes: Bool

    package init(capacity: Int, escapingSlashes: Bool = false) {
        bytes.reserveCapacity(capacity)
        self.escapingSlashes = escapingSlashes
    }

    /// Punctuation and keys, written as they are (the caller's text is already JSON).
    @inline(__always)
    package mutating func raw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Bytes that are already JSON (a value encoded elsewhere, spliced in as it is).
    package mutating func append(_ json: [UInt8]) {
        bytes.append(contentsOf: json)
    }

    package mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { escaped($0) }
    }

    /// A string known to need no escapes (dates, identifiers checked on construction).
    package mutating func plainString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
    }

    package mutating func int(_ value: Int) {
        plainDigits(value.description)
    }

    package mutating func bool(_ value: Bool) {
        value ? raw("true") : raw("false")
    }

    package mutating func double(_ value: Double) {
        guard value.isFinite else {
            ok = false
            return
        }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        plainDigits(text)
    }

    /// A wire date: `WireDate.format` as a string.
    package mutating func wireDate(_ date: Date) {
        plainString(WireDate.format(date))
    }

    /// A ledger date (`.millisecondsSince1970`): `1000.0 * seconds` as a number.
    package mutating func ledgerDate(_ date: Date) {
        double(1000.0 * date.timeIntervalSince1970)
    }

    package mutating func strings(_ values: [String]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    package mutating func json(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let value): bool(value)
        case .number(let value): double(value)
        case .string(let value): string(value)
        case .array(let values):
            bytes.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                json(value)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members): object(members)
        }
    }

    /// An object with keys known only at run time: sorted by their UTF-8 bytes, as `JSONEncoder` sorts them.
    package mutating func object(_ members: [String: JSONValue]) {
        bytes.append(UInt8(ascii: "{"))
        if members.count == 1, let (key, value) = members.first {
            string(key)
            bytes.append(UInt8(ascii: ":"))
            json(value)
        } else if !members.isEmpty {
            for (index, member) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }).enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                string(member.key)
                bytes.append(UInt8(ascii: ":"))
                json(member.value)
            }
        }
        bytes.append(UInt8(ascii: "}"))
    }

    private mutating func plainDigits(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    private mutating func escaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var mark = 0
        for index in 0..<utf8.count {
            let byte = utf8[index]
            guard
                byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
                    || (byte == UInt8(ascii: "/") && escapingSlashes)
            else { continue }
            if index > mark { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[mark..<index])) }
            mark = index + 1
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case UInt8(ascii: "/"): raw("\\/")
            case 0x08: raw("\\b")
            case 0x0C: raw("\\f")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            default:
                raw("\\u00")
                bytes.append(Self.hex[Int(byte >> 4)])
                bytes.append(Self.hex[Int(byte & 0x0F)])
            }
        }
        if utf8.count > mark { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[mark..<utf8.count])) }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
}

/// A wire or ledger type with a hand-written JSON form (see `WireJSONWriter`, `WireJSONReader`).
package protocol HandWrittenJSON {
    /// The bytes `WireCodec.encode` writes for it; nil when only `JSONEncoder` may answer.
    func handWrittenWireJSON() -> [UInt8]?
    /// The value `WireCodec.decode` would return, when the bytes are plainly acceptable;
    /// nil for anything else (the caller then takes the `StrictJSON` + `JSONDecoder` path,
    /// which accepts or refuses it with the reason it always gave).
    static func handReadWireJSON(_ bytes: UnsafeBufferPointer<UInt8>) -> Self?
}

extension HandWrittenJSON {
    package static func handReadWireJSON(_ bytes: UnsafeBufferPointer<UInt8>) -> Self? { nil }
}

extension RecipeInvocation {
    func write(to writer: inout WireJSONWriter) {
        writer.raw("{\"name\":")
        writer.string(name)
        writer.raw(",\"params\":")
        writer.object(params)
        writer.raw("}")
    }
}

extension OwnershipContract: HandWrittenJSON {
    package func handWrittenWireJSON() -> [UInt8]? {
        var w = WireJSONWriter(capacity: 640 + summary.utf8.count + requestExcerpt.utf8.count)
        w.raw("{")
        if let completionCapabilitySHA256 {
            w.raw("\"completion_capability_sha256\":")
            w.string(completionCapabilitySHA256)
            w.raw(",")
        }
        w.raw("\"created_at\":")
        w.wireDate(createdAt)
        w.raw(",\"deadline\":")
        w.wireDate(deadline)
        w.raw(",\"defaults_applied\":")
        w.strings(defaultsApplied)
        w.raw(",\"delivery_mode\":")
        w.plainString(deliveryMode.rawValue)
        w.raw(",\"final_surface\":")
        w.string(finalSurface.rawValue)
        if let idempotencyKey {
            w.raw(",\"idempotency_key\":")
            w.string(idempotencyKey)
        }
        w.raw(",\"job_id\":")
        w.plainString(jobID.description)
        w.raw(",\"origin\":")
        w.string(origin.rawValue)
        w.raw(",\"parent_id\":")
        w.string(parentID)
        w.raw(",\"policy_version\":")
        w.string(policyVersion)
        w.raw(",\"recipe\":")
        recipe.write(to: &w)
        w.raw(",\"request_excerpt\":")
        w.string(requestExcerpt)
        w.raw(",\"schema\":\"bridgeback.contract.v1\",\"summary\":")
        w.string(summary)
        w.raw(",\"work_surface\":")
        w.string(workSurface.rawValue)
        w.raw("}")
        return w.ok ? w.bytes : nil
    }
}

extension JobMessage: HandWrittenJSON {
    package func handWrittenWireJSON() -> [UInt8]? {
        var w = WireJSONWriter(capacity: 384 + summary.utf8.count)
        w.raw("{")
        if let completionCapability {
            w.raw("\"completion_capability\":")
            w.string(completionCapability)
            w.raw(",")
        }
        w.raw("\"created_at\":")
        w.wireDate(createdAt)
        w.raw(",\"deadline\":")
        w.wireDate(deadline)
        w.raw(",\"job_id\":")
        w.plainString(jobID.description)
        w.raw(",\"pool\":")
        w.string(pool)
        w.raw(",\"recipe\":")
        recipe.write(to: &w)
        w.raw(",\"schema\":\"bridgeback.job.v1\",\"summary\":")
        w.string(summary)
        w.raw(",\"work_surface\":")
        w.string(workSurface.rawValue)
        w.raw("}")
        return w.ok ? w.bytes : nil
    }
}

extension Completion: HandWrittenJSON {
    package func handWrittenWireJSON() -> [UInt8]? {
        var w = WireJSONWriter(capacity: 320 + outcomeBytes)
        write(to: &w, ledger: false)
        return w.ok ? w.bytes : nil
    }

    private var outcomeBytes: Int {
        switch outcome {
        case .succeeded(let result): result.utf8.count
        case .failed(let reason): reason.utf8.count
        case .cancelled: 0
        }
    }

    /// The wire form (with `schema`, dates as strings) or the ledger's (no `schema`, dates in milliseconds).
    package func write(to w: inout WireJSONWriter, ledger: Bool) {
        w.raw("{\"attempt\":")
        w.int(attempt)
        if let capability {
            w.raw(",\"capability\":")
            w.string(capability)
        }
        w.raw(",\"finished_at\":")
        ledger ? w.ledgerDate(finishedAt) : w.wireDate(finishedAt)
        w.raw(",\"job_id\":")
        w.plainString(jobID.description)
        switch outcome {
        case .succeeded(let result):
            w.raw(",\"outcome\":{\"result\":")
            w.string(result)
            w.raw(",\"status\":\"succeeded\"}")
        case .failed(let reason):
            w.raw(",\"outcome\":{\"reason\":")
            w.string(reason)
            w.raw(",\"status\":\"failed\"}")
        case .cancelled:
            w.raw(",\"outcome\":{\"status\":\"cancelled\"}")
        }
        if !ledger { w.raw(",\"schema\":\"bridgeback.completion.v1\"") }
        w.raw(",\"started_at\":")
        ledger ? w.ledgerDate(startedAt) : w.wireDate(startedAt)
        w.raw(",\"worker\":")
        w.string(worker)
        w.raw("}")
    }
}

extension ProgressEvent: HandWrittenJSON {
    package func handWrittenWireJSON() -> [UInt8]? {
        var w = WireJSONWriter(capacity: 320 + message.utf8.count)
        w.raw("{\"at\":")
        w.wireDate(at)
        if let fraction {
            w.raw(",\"fraction\":")
            w.double(fraction)
        }
        w.raw(",\"job_id\":")
        w.plainString(jobID.description)
        w.raw(",\"message\":")
        w.string(message)
        w.raw(",\"phase\":")
        w.plainString(phase.rawValue)
        w.raw(",\"schema\":\"bridgeback.progress.v1\",\"sequence\":")
        w.int(sequence)
        w.raw(",\"work_surface\":")
        w.string(workSurface.rawValue)
        if let worker {
            w.raw(",\"worker\":")
            w.string(worker)
        }
        w.raw("}")
        return w.ok ? w.bytes : nil
    }
}

extension HumanContext {
    func write(to w: inout WireJSONWriter) {
        w.raw("{\"asked\":")
        w.string(asked)
        w.raw(",\"asked_in\":")
        w.string(askedIn)
        if let detail {
            w.raw(",\"detail\":")
            w.string(detail)
        }
        if let durationSeconds {
            w.raw(",\"duration_seconds\":")
            w.double(durationSeconds)
        }
        w.raw(",\"job_id\":")
        w.plainString(jobID.description)
        w.raw(",\"kind\":")
        w.plainString(kind.rawValue)
        w.raw(",\"part\":")
        w.int(part)
        if let ranOn {
            w.raw(",\"ran_on\":")
            w.string(ranOn)
        }
        w.raw(",\"recipe\":")
        w.string(recipe)
        w.raw(",\"total_parts\":")
        w.int(totalParts)
        w.raw("}")
    }
}

extension FinalNotice: HandWrittenJSON {
    package func handWrittenWireJSON() -> [UInt8]? {
        var w = WireJSONWriter(capacity: 1024 + text.utf8.count + contextText.utf8.count)
        w.raw("{\"added_prefix\":")
        w.string(addedPrefix)
        w.raw(",\"added_suffix\":")
        w.string(addedSuffix)
        w.raw(",\"context\":")
        context.write(to: &w)
        w.raw(",\"context_text\":")
        w.string(contextText)
        w.raw(",\"created_at\":")
        w.wireDate(createdAt)
        w.raw(",\"delivery_id\":")
        w.plainString(deliveryID.description)
        w.raw(",\"delivery_mode\":")
        w.plainString(deliveryMode.rawValue)
        w.raw(",\"final_surface\":")
        w.string(finalSurface.rawValue)
        w.raw(",\"full_result\":")
        w.string(fullResult)
        w.raw(",\"job_id\":")
        w.plainString(jobID.description)
        w.raw(",\"kind\":")
        w.plainString(kind.rawValue)
        w.raw(",\"origin\":")
        w.string(origin.rawValue)
        w.raw(",\"part\":")
        w.int(part)
        w.raw(",\"schema\":\"bridgeback.final.v1\",\"summarized\":")
        w.bool(summarized)
        w.raw(",\"text\":")
        w.string(text)
        w.raw(",\"total_parts\":")
        w.int(totalParts)
        w.raw("}")
        return w.ok ? w.bytes : nil
    }
}
