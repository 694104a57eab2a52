import Foundation
import Testing

@testable import BridgebackCore

/// The hand-written JSON of the hot wire types (`WireJSONWriter`, `WireJSONReader`) against the
/// `Codable` path they replace: the same bytes out, the same values in, and on anything the reader
/// is not sure of (hostile, malformed, unusual) the same answer, refusal included, as before.
@Suite("Hand-written wire JSON: byte-equal to JSONEncoder, value- and error-equal to StrictJSON + JSONDecoder")
struct HandWrittenWireTests {
    // MARK: Encoding

    @Test("random values of every hot type encode to JSONEncoder's bytes")
    func encodesLikeJSONEncoder() throws {
        var random = WireRandom(seed: 0x5EED_0001)
        for _ in 0..<150 {
            try expectSameBytes(random.contract())
            try expectSameBytes(random.jobMessage())
            try expectSameBytes(random.completion())
            try expectSameBytes(random.progress())
            try expectSameBytes(random.finalNotice())
        }
    }

    @Test("every single character up to U+00FF, and astral ones, escape as JSONEncoder escapes them")
    func everyCharacterEscapesAlike() throws {
        var random = WireRandom(seed: 2)
        var scalars = (0...0xFF).compactMap(Unicode.Scalar.init(_:)).map(String.init)
        scalars += ["\u{2028}", "\u{2029}", "\u{FEFF}", "\u{FFFD}", "\u{FFFF}", "\u{10000}", "\u{1F600}", "\u{10FFFF}", "e\u{301}"]
        for text in scalars {
            var event = random.progress()
            event.message = text + "x" + text
            event.worker = text
            try expectSameBytes(event)
        }
    }

    @Test("a non-finite number is left to JSONEncoder, which refuses it as before")
    func nonFiniteFallsBack() throws {
        var random = WireRandom(seed: 3)
        for value in [Double.nan, .infinity, -.infinity] {
            var event = random.progress()
            event.fraction = value
            #expect(event.handWrittenWireJSON() == nil)
            #expect(throws: BridgebackError.self) { try WireCodec.encode(event) }
            let new = Result { () throws(BridgebackError) in try WireCodec.encode(event) }
            let old = Result { () throws(BridgebackError) in try WireCodec.foundationEncode(event) }
            #expect(new.failure == old.failure && new.failure != nil)
        }
    }

    func expectSameBytes<M: WireMessage & HandWrittenJSON>(_ message: M, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let old = Array(try WireCodec.foundationEncode(message))
        let hand = try #require(message.handWrittenWireJSON(), sourceLocation: sourceLocation)
        if hand != old {
            Issue.record(
                "hand-written bytes differ:\n\(String(decoding: hand, as: UTF8.self))\nJSONEncoder:\n\(String(decoding: old, as: UTF8.self))",
                sourceLocation: sourceLocation)
        }
        #expect(Array(try WireCodec.encode(message)) == old, sourceLocation: sourceLocation)
    }

    // MARK: Decoding

    @Test("random values read back through the one-pass reader as through JSONDecoder, and the reader takes them")
    func decodesLikeJSONDecoder() throws {
        var random = WireRandom(seed: 0x5EED_0002)
        var taken = 0
        var total = 0
        for _ in 0..<100 {
            taken += try expectSameDecoding(OwnershipContract.self, Array(WireCodec.foundationEncode(random.contract()))) ? 1 : 0
            taken += try expectSameDecoding(JobMessage.self, Array(WireCodec.foundationEncode(random.jobMessage()))) ? 1 : 0
            taken += try expectSameDecoding(Completion.self, Array(WireCodec.foundationEncode(random.completion()))) ? 1 : 0
            total += 3
        }
        // Parameters with non-ASCII keys or exponents go to the old path; most values do not.
        #expect(taken > total / 4, "the one-pass reader took \(taken) of \(total)")
        // What the fleet sends every job: plain, so always the one-pass reader.
        for _ in 0..<25 {
            var contract = random.contract()
            contract.recipe = RecipeInvocation(name: "wait-0", params: ["seconds": 0, "note": "a/b \"c\" é 😀", "list": [true, nil, 1.5]])
            #expect(try expectSameDecoding(OwnershipContract.self, Array(WireCodec.foundationEncode(contract))))
            #expect(try expectSameDecoding(JobMessage.self, Array(WireCodec.foundationEncode(JobMessage(contract: contract)))))
            var completion = random.completion()
            completion.attempt = random.int(1...20)
            #expect(try expectSameDecoding(Completion.self, Array(WireCodec.foundationEncode(completion))))
        }
    }

    @Test("hostile field values, missing, repeated and unknown fields: the same value or the same error as before")
    func hostileFields() throws {
        let bases: [(any (WireMessage & HandWrittenJSON & Equatable).Type, [(String, String)])] = [
            (OwnershipContract.self, Self.contractFields), (JobMessage.self, Self.jobFields), (Completion.self, Self.completionFields),
        ]
        var taken = 0
        for (type, fields) in bases {
            taken += try expectSameDecodingOpening(type, Self.document(fields)) ? 1 : 0
            for index in fields.indices {
                var without = fields
                without.remove(at: index)
                try expectSameDecodingOpening(type, Self.document(without))
                try expectSameDecodingOpening(type, Self.document(fields + [fields[index]]))
                try expectSameDecodingOpening(type, Self.document([fields[index]] + fields))
                for value in Self.hostileValues {
                    var changed = fields
                    changed[index].1 = value
                    taken += try expectSameDecodingOpening(type, Self.document(changed)) ? 1 : 0
                }
            }
            for extra in [("extra", "1"), ("final_surface", "\"cli:mallory\""), ("job\\u005fid", "\"x\""), ("é", "1"), ("", "null")] {
                try expectSameDecodingOpening(type, Self.document(fields + [extra]))
            }
            try expectSameDecodingOpening(type, Self.document(fields.reversed()))
        }
        #expect(taken > 10)
    }

    @Test("truncated at every byte, bytes replaced and inserted, other encodings and framings: the same answer as before")
    func hostileBytes() throws {
        var random = SeededGenerator(seed: 0x5EED_0003)
        let interesting: [UInt8] =
            Array(#""\{}[],: n0-e.tfu/"#.utf8) + [0x00, 0x09, 0x0A, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xE2, 0xED, 0xF0, 0xF5, 0xFF]
        let documents: [(any (WireMessage & HandWrittenJSON & Equatable).Type, [UInt8])] = [
            (OwnershipContract.self, Self.document(Self.contractFields)), (JobMessage.self, Self.document(Self.jobFields)),
            (Completion.self, Self.document(Self.completionFields)),
        ]
        for (type, bytes) in documents {
            for length in 0..<bytes.count { try expectSameDecodingOpening(type, Array(bytes[..<length])) }
            for _ in 0..<300 {
                var mutated = bytes
                let position = Int.random(in: 0..<mutated.count, using: &random)
                let byte = interesting.randomElement(using: &random)!
                if Bool.random(using: &random) { mutated[position] = byte } else { mutated.insert(byte, at: position) }
                try expectSameDecodingOpening(type, mutated)
            }
            let text = String(decoding: bytes, as: UTF8.self)
            for framed in [
                [0xEF, 0xBB, 0xBF] + bytes, Array(text.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }, bytes + Array("x".utf8),
                bytes + Array(" \n\t\r".utf8), Array(" \n".utf8) + bytes, bytes + bytes, Array("[]".utf8), Array("null".utf8), [],
                Array("   ".utf8), Array("{}".utf8), Array("\"bridgeback.job.v1\"".utf8),
            ] {
                try expectSameDecodingOpening(type, framed)
            }
            // A message of another kind, as the coordinator's queues could be sent.
            for (other, otherBytes) in documents where ObjectIdentifier(other) != ObjectIdentifier(type) {
                try expectSameDecodingOpening(type, otherBytes)
            }
        }
    }

    @Test("recipe parameters nested deep, with odd numbers and keys: the same answer as before")
    func hostileParameters() throws {
        var parameters: [String] = []
        for depth in [1, 12, 13, 14, 15, 28, 29, 30, 31, 40] {
            parameters.append("{\"a\":" + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}")
            parameters.append(String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth))
        }
        for number in [
            "0", "-0", "0.1", "-0.0", "1.5", "2.50", "123456789012345", "1234567890123456", "12345678901234567890", "1e3", "1E-3", "1e400",
            "-1e400", "4.9e-324", "1e-400", "01", "1.", ".5", "-", "+1", "0x10", "NaN", "Infinity",
        ] {
            parameters.append("{\"n\":\(number)}")
        }
        parameters += [
            #"{"a":1,"a":2}"#, #"{"\u00e9":1,"e\u0301":2}"#, #"{"é":1,"é":2}"#, #"{"a":1,"A":2,"a_b":3,"aB":4,"":5}"#,
            #"{"a":"\ud800"}"#, #"{"a":"\udc00\ud800"}"#, #"{"a":"\ud83d\ude00"}"#, #"{"a":"\u0000"}"#, "{\"a\":\"\u{0}\"}",
            #"{"a":tru}"#, #"{"a":nul}"#, #"{"a":[1,]}"#, #"{"a":{"b":1,}}"#, #"{"a" : [ 1 , {"b" : null } ] }"#, "null", "[]", "1",
            #"{"a":"\x"}"#, #"{"a":"\u12"}"#, "{\"a\":\"\u{7F}\u{80}\"}",
        ]
        var taken = 0
        for params in parameters {
            var fields = Self.jobFields
            fields[2].1 = #"{"name":"wait-0","params":"# + params + "}"
            taken += try expectSameDecoding(JobMessage.self, Self.document(fields)) ? 1 : 0
            var contract = Self.contractFields
            contract[10].1 = #"{"params":"# + params + #","name":"wait-0"}"#
            try expectSameDecoding(OwnershipContract.self, Self.document(contract))
        }
        #expect(taken > 10)
    }

    /// Decodes through both paths and expects the same value (and the same UTF-8, which `==` on
    /// strings does not check) or the same error. Returns whether the one-pass reader took it.
    @discardableResult
    func expectSameDecoding<M: WireMessage & HandWrittenJSON & Equatable>(
        _ type: M.Type, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Bool {
        let data = Data(bytes)
        let old = Result { () throws(BridgebackError) in try WireCodec.foundationDecode(M.self, from: data) }
        let new = Result { () throws(BridgebackError) in try WireCodec.decode(M.self, from: data) }
        let hand = bytes.withUnsafeBufferPointer { M.handReadWireJSON($0) }
        let shown = String(decoding: bytes, as: UTF8.self)
        switch (old, new) {
        case (.success(let old), .success(let new)):
            #expect(old == new, "\(shown)", sourceLocation: sourceLocation)
            #expect(try WireCodec.foundationEncode(old) == WireCodec.foundationEncode(new), "\(shown)", sourceLocation: sourceLocation)
        case (.failure(let old), .failure(let new)):
            #expect(old == new, "\(shown)", sourceLocation: sourceLocation)
            #expect(hand == nil, "the reader took what the old path refuses: \(shown)", sourceLocation: sourceLocation)
        default:
            Issue.record("old \(old), new \(new) for \(shown)", sourceLocation: sourceLocation)
        }
        if let hand, case .success(let old) = old {
            #expect(try WireCodec.foundationEncode(hand) == WireCodec.foundationEncode(old), sourceLocation: sourceLocation)
        }
        return hand != nil
    }

    @discardableResult
    func expectSameDecodingOpening(
        _ type: any (WireMessage & HandWrittenJSON & Equatable).Type, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Bool {
        func open<M: WireMessage & HandWrittenJSON & Equatable>(_ type: M.Type) throws -> Bool {
            try expectSameDecoding(M.self, bytes, sourceLocation: sourceLocation)
        }
        return try open(type)
    }

    // MARK: Fixtures

    static func document(_ fields: [(String, String)]) -> [UInt8] {
        Array(("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}").utf8)
    }

    static let contractFields: [(String, String)] = [
        ("schema", #""bridgeback.contract.v1""#), ("job_id", "\"\(Fixtures.jobID)\""), ("origin", #""cli:alice""#),
        ("work_surface", #""work:alice""#), ("final_surface", #""cli:alice""#), ("delivery_mode", #""parent""#),
        ("deadline", #""2026-01-01T00:10:00.000Z""#), ("policy_version", #""2026.12-1""#), ("summary", #""release gate \/ api""#),
        ("parent_id", #""alice""#), ("recipe", #"{"name":"wait-0","params":{"seconds":0}}"#),
        ("created_at", #""2026-01-01T00:00:00.000Z""#),
        ("request_excerpt", #""run the gate""#), ("idempotency_key", #""k-1""#), ("defaults_applied", #"["work_surface","parent_id"]"#),
        ("completion_capability_sha256", "\"\(String(repeating: "ab", count: 32))\""),
    ]

    static let jobFields: [(String, String)] = [
        ("schema", #""bridgeback.job.v1""#), ("job_id", "\"\(Fixtures.jobID)\""), ("recipe", #"{"name":"wait-0","params":{"seconds":0}}"#),
        ("pool", #""default""#), ("work_surface", #""work:alice""#), ("deadline", #""2026-01-01T00:10:00.000Z""#),
        ("summary", #""caf\u00e9 \ud83d\ude00 \"x\"""#), ("created_at", #""2026-01-01T00:00:00Z""#), ("completion_capability", #""cap-1""#),
    ]

    static let completionFields: [(String, String)] = [
        ("schema", #""bridgeback.completion.v1""#), ("job_id", "\"\(Fixtures.jobID)\""), ("worker", #""worker-1""#), ("attempt", "1"),
        ("started_at", #""2026-01-01T00:00:00.000Z""#), ("finished_at", #""2026-01-01T00:00:01.250Z""#),
        ("outcome", #"{"status":"succeeded","result":"ok\n"}"#), ("capability", #""cap-1""#),
    ]

    static let hostileValues: [String] = [
        "null", "true", "0", "1", "-1", "-0", "1.0", "1e0", "01", "9223372036854775807", "123456789012345678", "1234567890123456789",
        "9999999999999999999", "-99999999999999999999",
        "-123456789012345678", "1e400", "\"\"", "\"x\"", "\"1\"", "[]", "{}", "[\"a\",1]", "[\"a\",null]", "[\"a\",\"b\"]",
        #""\u0000""#, #""\ud800""#, #""\ud83d\ude00""#, "\"caf\u{e9}\"", #""\/""#, "\"a\u{1}\"", #""bridgeback.job.v1""#,
        #""bridgeback.completion.v1""#, #""bridgeback.contract.v1""#, #""bridgeback.job.v01""#, #""bridgeback.job.v2""#,
        #""bridgeback.nope.v1""#, #""2026-01-01T00:00:00Z""#, #""2026-01-01T00:00:00.5Z""#, #""2026-02-30T00:00:00.000Z""#,
        #""2026-01-01T00:00:00+01:00""#, #""1899-12-31T23:59:59.999Z""#, "\"\(Fixtures.jobID)\"", #""job_01arz3ndektsv4rrffq69g5fav""#,
        #""job_81ARZ3NDEKTSV4RRFFQ69G5FAV""#, #""cli:alice""#, #""cli alice""#, #""parent""#, #""direct""#, #""suppressed""#,
        #""Parent""#, #"{"status":"cancelled"}"#, #"{"status":"cancelled","result":5}"#, #"{"status":"failed","reason":"r"}"#,
        #"{"status":"failed"}"#, #"{"status":"succeeded"}"#, #"{"status":"succeeded","result":null}"#, #"{"status":"done"}"#,
        #"{"status":1}"#, #"{"status":"succeeded","result":"a","result":"b"}"#, #"{"name":"x"}"#, #"{"name":"x","params":null}"#,
        #"{"name":"x","params":[]}"#, #"{"name":null}"#, #"{"name":"x","extra":1}"#,
    ]
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// Random values with every awkward part the wire meets: control characters, quotes, slashes,
/// non-ASCII and astral characters, empty and long strings, optionals present and absent,
/// every enum case, odd numbers and dates.
struct WireRandom {
    var generator: SeededGenerator

    init(seed: UInt64) {
        generator = SeededGenerator(seed: seed)
    }

    static let pieces: [String] =
        [
            "", "a", "Z", "job", " ", "\"", "\\", "/", "//", "\\u0000", "\\n", "\u{7F}", "é", "e\u{301}", "ü", "日本", "😀",
            "\u{1F468}\u{200D}\u{1F469}", "\u{2028}", "\u{2029}", "\u{FEFF}", "\u{FFFD}", "\u{10FFFF}", "\u{0}", "</script>",
            #"{"a":1}"#, "\r\n", "\t",
        ] + (1..<0x20).map { String(Unicode.Scalar(UInt8($0))) }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &generator) }
    mutating func bool() -> Bool { Bool.random(using: &generator) }

    mutating func string() -> String {
        switch int(0...9) {
        case 0: return ""
        case 1: return String(repeating: Self.pieces.randomElement(using: &generator)!, count: int(500...3000))
        default: return (0..<int(1...6)).map { _ in Self.pieces.randomElement(using: &generator)! }.joined()
        }
    }

    mutating func optionalString() -> String? { bool() ? string() : nil }

    mutating func date() -> Date {
        switch int(0...4) {
        case 0: return Date(timeIntervalSince1970: 1_760_000_000 + Double(int(0...10_000_000)) / 1000)
        case 1: return Date(timeIntervalSince1970: Double.random(in: -2_208_988_800...253_402_300_799, using: &generator))
        case 2: return Date(timeIntervalSince1970: Double(int(-5_000_000_000...400_000_000_000)) + 0.0005)
        case 3: return Date()
        default: return Date(timeIntervalSince1970: Double.random(in: 0...2_000_000_000, using: &generator))
        }
    }

    mutating func double() -> Double {
        switch int(0...6) {
        case 0:
            return [0, -0.0, 1, 0.5, 0.1, 1e-7, 1e16, 1e300, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 123456789.125].randomElement(
                using: &generator)!
        case 1:
            let value = Double(bitPattern: generator.next())
            return value.isFinite ? value : 2.5
        case 2: return Double(int(-1_000_000...1_000_000))
        case 3: return Double(int(Int.min...Int.max))
        default: return Double.random(in: 0...1, using: &generator)
        }
    }

    mutating func surface() -> SurfaceID {
        let allowed = Array("abcXYZ019:._/@-")
        return try! SurfaceID(validating: String((0..<int(1...20)).map { _ in allowed.randomElement(using: &generator)! }))
    }

    mutating func jobID() -> JobID { JobID.make(at: date(), using: &generator) }

    mutating func key() -> String {
        ["seconds", "a", "A", "a_b", "aB", "a1", "", "_", "é", "e\u{301}", "😀", "\u{0}", "/", "\"", "zz", "Z"].randomElement(
            using: &generator)!
    }

    mutating func json(depth: Int = 0) -> JSONValue {
        switch depth > 3 ? int(0...3) : int(0...6) {
        case 0: return .null
        case 1: return .bool(bool())
        case 2: return .number(double())
        case 3: return .string(string())
        case 4: return .array((0..<int(0...3)).map { _ in json(depth: depth + 1) })
        default: return .object(params(depth: depth + 1))
        }
    }

    mutating func params(depth: Int = 0) -> [String: JSONValue] {
        var members: [String: JSONValue] = [:]
        for _ in 0..<int(0...4) { members[key()] = json(depth: depth) }
        return members
    }

    mutating func recipe() -> RecipeInvocation { RecipeInvocation(name: string(), params: params()) }

    mutating func contract() -> OwnershipContract {
        OwnershipContract(
            jobID: jobID(), origin: surface(), workSurface: surface(), finalSurface: surface(),
            deliveryMode: DeliveryMode.allCases.randomElement(using: &generator)!, deadline: date(), policyVersion: string(),
            summary: string(),
            requestExcerpt: string(), parentID: string(), recipe: recipe(), idempotencyKey: optionalString(), createdAt: date(),
            defaultsApplied: (0..<int(0...3)).map { _ in string() }, completionCapabilitySHA256: optionalString())
    }

    mutating func jobMessage() -> JobMessage {
        JobMessage(
            jobID: jobID(), recipe: recipe(), pool: string(), workSurface: surface(), deadline: date(), summary: string(),
            createdAt: date(),
            completionCapability: optionalString())
    }

    mutating func outcome() -> CompletionOutcome {
        switch int(0...2) {
        case 0: .succeeded(result: string())
        case 1: .failed(reason: string())
        default: .cancelled
        }
    }

    mutating func completion() -> Completion {
        Completion(
            jobID: jobID(), worker: string(), attempt: bool() ? int(1...5) : int(Int.min...Int.max), startedAt: date(), finishedAt: date(),
            outcome: outcome(), capability: optionalString())
    }

    mutating func progress() -> ProgressEvent {
        ProgressEvent(
            jobID: jobID(), workSurface: surface(), sequence: int(Int.min...Int.max),
            phase: ProgressEvent.Phase.allCases.randomElement(using: &generator)!, message: string(), fraction: bool() ? double() : nil,
            worker: optionalString(), at: date())
    }

    mutating func finalNotice() -> FinalNotice {
        let job = jobID()
        let total = int(1...4)
        let kind = FinalNoticeKind.allCases.randomElement(using: &generator)!
        let context = HumanContext(
            jobID: job, asked: string(), askedIn: string(), recipe: string(), ranOn: optionalString(),
            durationSeconds: bool() ? Double(int(0...100_000)) / 7 : nil,
            kind: kind, detail: optionalString(), part: int(1...total), totalParts: total)
        var notice = FinalNotice(
            deliveryID: DeliveryID(job: job, part: int(1...total), purpose: bool() ? .final : .fallback), kind: kind, totalParts: total,
            text: string(), addedPrefix: string(), addedSuffix: string(), summarized: bool(), context: context, origin: surface(),
            finalSurface: surface(), deliveryMode: DeliveryMode.allCases.randomElement(using: &generator)!, createdAt: date())
        if bool() { notice.contextText = string() }
        // Any number after rendering (`HumanText.duration` is for real durations).
        if notice.context.durationSeconds != nil, bool() { notice.context.durationSeconds = double() }
        return notice
    }
}
