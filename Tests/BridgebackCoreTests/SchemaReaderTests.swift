import BridgebackCore
import Foundation
import Testing

/// The schema layer's object reader: each getter at its boundaries, unknown keys, `null`, the two
/// modes and the line hook. Every refusal must name the full path and what was expected.
@Suite("Schema reader")
struct SchemaReaderTests {
    static func json(_ text: String) throws -> JSONValue { try StrictJSON.parse(Array(text.utf8)) }

    /// Reads `text` with `body` in fail-fast mode; the problem thrown, or nil when it read cleanly.
    static func firstProblem(_ text: String, nullIsAbsent: Bool = true, _ body: (JSONFields) throws(SchemaProblem) -> Void) throws
        -> SchemaProblem?
    {
        let reader = SchemaReader(mode: .failFast, nullIsAbsent: nullIsAbsent, rootName: "the body")
        let root = try json(text)
        do throws(SchemaProblem) {
            guard let fields = try reader.object(root, at: "") else { return reader.problems.first }
            try body(fields)
            return nil
        } catch {
            #expect(reader.problems == [error], "fail-fast records exactly the problem it throws")
            return error
        }
    }

    @Test("unknown keys are refused in sorted order with the full path, the known keys and a likely typo")
    func unknownKeys() throws {
        let problem = try #require(
            try Self.firstProblem(#"{"contract": {"dedline_s": 5, "zzz": 1}}"#) { fields throws(SchemaProblem) in
                _ = try fields.object("contract", known: ["deadline_s", "parent_id"])
            })
        #expect(problem.kind == .unknownField)
        #expect(problem.path == "contract.dedline_s")
        #expect(problem.field == "dedline_s")
        #expect(
            problem.message.hasPrefix(#""contract.dedline_s" is not a known field; did you mean "deadline_s"? Known fields here: "#),
            "\(problem.message)")
        #expect(problem.message.contains("deadline_s, parent_id"))
        // Far from every known key: no guess.
        let far = try #require(
            try Self.firstProblem(#"{"qqqqqqqq": 1}"#) { fields throws(SchemaProblem) in try fields.refuseUnknown(known: ["origin"]) })
        #expect(far.message == #""qqqqqqqq" is not a known field; known fields: origin"#)
    }

    @Test("comment keys are allowed when the format has a comment prefix; a 60,000-byte key is shown cut")
    func commentsAndLongKeys() throws {
        #expect(
            try Self.firstProblem(#"{"_note": "x", "a": 1}"#) { fields throws(SchemaProblem) in
                try fields.refuseUnknown(known: ["a"], commentPrefix: "_")
            } == nil)
        let long = String(repeating: "k", count: 60_000)
        let problem = try #require(
            try Self.firstProblem(#"{"\#(long)": 1}"#) { fields throws(SchemaProblem) in try fields.refuseUnknown(known: ["a"]) })
        #expect(problem.path.count < 40 && problem.message.count < 200)
    }

    @Test("strings: length counted in bytes or characters before the characters are checked; the value is never echoed")
    func strings() throws {
        let ids = Alphabet("letters and digits") { $0.properties.isAlphabetic || ("0"..."9").contains($0) }
        func read(_ value: String, _ length: StringLength) throws -> SchemaProblem? {
            try Self.firstProblem(#"{"key": "\#(value)"}"#) { fields throws(SchemaProblem) in
                _ = try fields.string("key", length: length, alphabet: ids)
            }
        }
        #expect(try read("abc", .bytes(1...3)) == nil)
        let over = try #require(try read("abcd", .bytes(1...3)))
        #expect(over.kind == .outOfRange && over.message == #""key" must be 1-3 bytes, got 4"#)
        #expect(try read("ééé", .characters(1...3)) == nil)
        #expect(try read("ééé", .bytes(1...3))?.kind == .outOfRange)
        let empty = try #require(try read("", .bytes(1...3)))
        #expect(empty.message == #""key" must be 1-3 bytes, got 0"#)
        #expect(try read("", .bytes(0...3)) == nil)
        let bad = try #require(try read("a#b", .bytes(1...3)))
        #expect(bad.kind == .invalidValue)
        #expect(bad.message == #""key" contains '#' (U+0023), which is not allowed; use letters and digits"#)
        let control = try #require(try read(#"a\u0007"#, .bytes(1...3)))
        #expect(control.message.contains("the character U+0007"))
        let wrong = try #require(
            try Self.firstProblem(#"{"token": "xoxb-secret"}"#) { fields throws(SchemaProblem) in _ = try fields.object("token") })
        #expect(wrong.kind == .wrongType && wrong.message == #""token" must be an object, got a string"#)
        #expect(!wrong.message.contains("xoxb"))
    }

    @Test("numbers: range checked on the Double, infinities and huge values refused, never converted first")
    func numbers() throws {
        func read(_ value: String, _ bounds: NumberBounds) throws -> SchemaProblem? {
            try Self.firstProblem(#"{"n": \#(value)}"#) { fields throws(SchemaProblem) in _ = try fields.number("n", bounds: bounds) }
        }
        for ok in ["0", "0.5", "10"] { #expect(try read(ok, .nonNegative(atMost: 10)) == nil, "\(ok)") }
        for refused in ["-0.5", "10.001", "1e19", "1e308", "1e999", "-1e999"] {
            let problem = try #require(try read(refused, .nonNegative(atMost: 10)), "\(refused)")
            #expect(problem.kind == .outOfRange)
            #expect(problem.message.hasPrefix(#""n" must be a non-negative number, at most 10, got "#), "\(problem.message)")
        }
        #expect(try read("0", .positive())?.message == #""n" must be a positive number, got 0"#)
        #expect(try read("0.001", .positive()) == nil)
        #expect(try read(#""5""#, .any)?.message == #""n" must be a number, got a string"#)
        #expect(try read("true", .any)?.kind == .wrongType)
        #expect(try read("3", NumberBounds(lower: 2, lowerInclusive: false, upper: 3)) == nil)
        #expect(
            try read("2", NumberBounds(lower: 2, lowerInclusive: false, upper: 3))?.message
                == #""n" must be a number above 2, at most 3, got 2"#)
    }

    @Test("integers: whole numbers only, below 2^53 before Int is made, then the range")
    func integers() throws {
        func read(_ value: String, _ range: ClosedRange<Int>?) throws -> SchemaProblem? {
            try Self.firstProblem(#"{"i": \#(value)}"#) { fields throws(SchemaProblem) in _ = try fields.integer("i", range: range) }
        }
        #expect(try read("3", 1...5) == nil)
        #expect(try read("1e0", 1...5) == nil)
        #expect(try read("0.5", nil)?.message == #""i" must be a whole number, got 0.5"#)
        #expect(try read("6", 1...5)?.message == #""i" must be a whole number from 1 to 5, got 6"#)
        #expect(try read("0", 1...Int.max)?.message == #""i" must be a whole number of at least 1, got 0"#)
        for huge in ["1e19", "9.3e18", "9223372036854775807", "1e308", "-1e300", "9007199254740992"] {
            #expect(try read(huge, nil)?.kind == .wrongType, "\(huge)")
        }
        #expect(try read("9007199254740991", nil) == nil)
    }

    @Test("bools and choices name what is accepted and what came")
    func boolsAndChoices() throws {
        enum Mode: String, CaseIterable { case parent, direct, suppressed }
        let flag = try #require(
            try Self.firstProblem(#"{"b": 1}"#) { fields throws(SchemaProblem) in _ = try fields.bool("b") })
        #expect(flag.message == #""b" must be true or false, got 1"#)
        let choice = try #require(
            try Self.firstProblem(#"{"m": "sideways"}"#) { fields throws(SchemaProblem) in _ = try fields.oneOf("m", Mode.self) })
        #expect(choice.kind == .invalidValue)
        #expect(choice.message == #""m" must be "parent", "direct" or "suppressed", got "sideways""#)
        var read: Mode?
        _ = try Self.firstProblem(#"{"m": "direct"}"#) { fields throws(SchemaProblem) in read = try fields.oneOf("m", Mode.self) }
        #expect(read == .direct)
    }

    @Test("null is absent when the format says so (required null is missing), and a wrong type otherwise")
    func nulls() throws {
        #expect(try Self.firstProblem(#"{"s": null}"#) { fields throws(SchemaProblem) in _ = try fields.string("s") } == nil)
        let required = try #require(
            try Self.firstProblem(#"{"s": null}"#) { fields throws(SchemaProblem) in _ = try fields.string("s", required: true) })
        #expect(required.kind == .missing && required.message == #""s" is required: a string; got null"#)
        let absent = try #require(
            try Self.firstProblem(#"{}"#) { fields throws(SchemaProblem) in _ = try fields.string("s", required: true) })
        #expect(absent.kind == .missing && absent.message == #""s" is required: a string"#)
        let strict = try #require(
            try Self.firstProblem(#"{"s": null}"#, nullIsAbsent: false) { fields throws(SchemaProblem) in _ = try fields.string("s") })
        #expect(strict.kind == .wrongType && strict.message == #""s" must be a string, got null"#)
    }

    @Test("nested objects and arrays carry the full path down to the element")
    func nestedPaths() throws {
        let problem = try #require(
            try Self.firstProblem(#"{"recipes": [{"name": "a"}, {"name": "b", "parameters": [{"type": 7}]}]}"#) {
                fields throws(SchemaProblem) in
                for (path, item) in try fields.array("recipes") ?? [] {
                    guard let recipe = try fields.reader.object(item, at: path) else { continue }
                    for (parameterPath, parameter) in try recipe.array("parameters") ?? [] {
                        _ = try fields.reader.object(parameter, at: parameterPath)?.string("type")
                    }
                }
            })
        #expect(problem.path == "recipes[1].parameters[0].type")
        #expect(problem.field == "type")
        let count = try #require(
            try Self.firstProblem(#"{"a": []}"#) { fields throws(SchemaProblem) in _ = try fields.array("a", count: 1...Int.max) })
        #expect(count.message == #""a" must have at least 1 item, got 0"#)
        let root = try #require(
            try Self.firstProblem(#"{}"#) { fields throws(SchemaProblem) in try fields.reader.refuse("", "must not be empty") })
        #expect(root.message == "the body must not be empty")
    }

    @Test("collect-all records every problem in document order and throws nothing")
    func collectAll() throws {
        let reader = SchemaReader(mode: .collectAll)
        let fields = try #require(
            try reader.object(try Self.json(#"{"a": "x", "b": 2, "c": true, "d": 1}"#), at: "", known: ["a", "b", "c"]))
        #expect(try fields.integer("a") == nil)
        #expect(try fields.string("b") == nil)
        #expect(try fields.bool("c") == true)
        try fields.refuse("c", "clashes with a")
        #expect(reader.problems.map(\.path) == ["d", "a", "b", "c"])
        #expect(reader.problems.map(\.kind) == [.unknownField, .wrongType, .wrongType, .invalidValue])
        #expect(!reader.isClean)
    }

    @Test("a locator gives each problem its line and column; unknown fields are located by their key")
    func locator() throws {
        var asked: [(String, SchemaProblem.Kind)] = []
        let reader = SchemaReader(mode: .collectAll) { path, kind in
            asked.append((path, kind))
            return path == "a" ? SchemaReader.Position(line: 3, column: 7) : nil
        }
        let fields = try #require(try reader.object(try Self.json(#"{"a": "x", "zz": 1}"#), at: "", known: ["a"]))
        _ = try fields.integer("a")
        #expect(asked.map(\.0) == ["zz", "a"])
        #expect(asked.map(\.1) == [.unknownField, .wrongType])
        #expect(reader.problems[0].position == nil)
        #expect(reader.problems[1].position == SchemaReader.Position(line: 3, column: 7))
        #expect(reader.problems[1].description == #"line 3, column 7: "a" must be a whole number, got a string"#)
    }

    @Test("random documents never trap a reader and every problem names a path under the root")
    func randomDocuments() throws {
        var generator = SeededGenerator(seed: 15)
        func value(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 2 ? 5 : 7), using: &generator) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &generator))
            case 2: return .number([0, -1, 0.5, 1e19, -1e308, 9_007_199_254_740_994, 3].randomElement(using: &generator) ?? 0)
            case 3: return .string(["", "a", "é", "\u{7}", String(repeating: "x", count: 300)].randomElement(using: &generator) ?? "")
            case 4: return .number(Double(Int.random(in: -5...5, using: &generator)))
            case 5: return .array((0..<Int.random(in: 0...3, using: &generator)).map { _ in value(depth + 1) })
            default:
                return .object(Dictionary(uniqueKeysWithValues: ["s", "n", "i", "b", "o", "x"].map { ($0, value(depth + 1)) }))
            }
        }
        for _ in 0..<500 {
            let reader = SchemaReader(mode: .collectAll)
            guard let fields = try reader.object(value(0), at: "", known: ["s", "n", "i", "b", "o"]) else { continue }
            _ = try fields.string("s", length: .bytes(1...200))
            _ = try fields.number("n", bounds: .nonNegative(atMost: 1e6))
            _ = try fields.integer("i", range: 0...10)
            _ = try fields.bool("b")
            if let o = try fields.object("o", known: ["s", "n"]) { _ = try o.integer("n") }
            for problem in reader.problems {
                #expect(["s", "n", "i", "b", "o", "x", "o.s", "o.n"].contains(problem.path) || problem.path.hasPrefix("o."), "\(problem)")
                #expect(!problem.text.isEmpty)
            }
        }
    }
}
