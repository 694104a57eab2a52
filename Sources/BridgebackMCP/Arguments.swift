import BridgebackCore
import Foundation
import MCP

/// Why the MCP server could not start or serve: a code to switch on and a message to act on.
public struct MCPServerError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable { case badConfiguration = "bad_configuration", brokerRefused = "broker_refused" }
    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}

/// A tool's arguments, read strictly: every problem is an MCP `invalid params` error that names
/// the tool, the field and what was expected, so a model can correct its call.
struct Arguments {
    let tool: String
    let values: [String: Value]

    init(tool: String, _ values: [String: Value]?, known: [String]) throws(MCPError) {
        self.tool = tool
        self.values = values ?? [:]
        for key in self.values.keys.sorted() where !known.contains(key) {
            throw fail(key, "is not an argument of \(tool); its arguments are \(known.joined(separator: ", "))")
        }
    }

    func fail(_ field: String, _ expected: String) -> MCPError {
        .invalidParams("\(tool): argument '\(field)' \(expected)")
    }

    func string(_ key: String, required: Bool = false, maxLength: Int = 100_000) throws(MCPError) -> String? {
        switch values[key] {
        case nil, .null?:
            if required { throw fail(key, "is required: a non-empty string") }
            return nil
        case .string(let text)?:
            if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw fail(key, "must be a non-empty string, got an empty one")
            }
            if text.count > maxLength { throw fail(key, "must be at most \(maxLength) characters, got \(text.count)") }
            return text
        case let other?:
            throw fail(key, "must be a string, got \(Self.kind(of: other))")
        }
    }

    func oneOf(_ key: String, _ allowed: [String]) throws(MCPError) -> String? {
        guard let text = try string(key) else { return nil }
        guard allowed.contains(text) else {
            throw fail(key, "must be one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", ")), got \"\(text)\"")
        }
        return text
    }

    func bool(_ key: String, required: Bool = false) throws(MCPError) -> Bool? {
        switch values[key] {
        case nil, .null?:
            if required { throw fail(key, "is required: true or false") }
            return nil
        case .bool(let flag)?: return flag
        case let other?: throw fail(key, "must be true or false, got \(Self.kind(of: other))")
        }
    }

    func number(_ key: String, required: Bool = false, minimum: Double = 0, maximum: Double = 1e12) throws(MCPError) -> Double? {
        let value: Double
        switch values[key] {
        case nil, .null?:
            if required { throw fail(key, "is required: a number from \(Self.show(minimum)) to \(Self.show(maximum))") }
            return nil
        case .int(let n)?: value = Double(n)
        case .double(let x)?: value = x
        case let other?: throw fail(key, "must be a number, got \(Self.kind(of: other))")
        }
        guard value.isFinite, value >= minimum, value <= maximum else {
            throw fail(key, "must be a number from \(Self.show(minimum)) to \(Self.show(maximum)), got \(Self.show(value))")
        }
        return value
    }

    func integer(_ key: String, required: Bool = false, minimum: Int = 0, maximum: Int = 1_000_000_000) throws(MCPError) -> Int? {
        guard let value = try number(key, required: required, minimum: Double(minimum), maximum: Double(maximum)) else { return nil }
        guard value == value.rounded() else { throw fail(key, "must be a whole number, got \(Self.show(value))") }
        return Int(value)
    }

    func object(_ key: String) throws(MCPError) -> [String: Value]? {
        switch values[key] {
        case nil, .null?: return nil
        case .object(let object)?: return object
        case let other?: throw fail(key, "must be an object, got \(Self.kind(of: other))")
        }
    }

    func stringList(_ key: String, maxItems: Int = 100) throws(MCPError) -> [String]? {
        switch values[key] {
        case nil, .null?: return nil
        case .array(let items)?:
            guard items.count <= maxItems else { throw fail(key, "must have at most \(maxItems) items, got \(items.count)") }
            var result: [String] = []
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item, !text.isEmpty else {
                    throw fail("\(key)[\(index)]", "must be a non-empty string, got \(Self.kind(of: item))")
                }
                result.append(text)
            }
            return result
        case let other?: throw fail(key, "must be a list of strings, got \(Self.kind(of: other))")
        }
    }

    static func kind(of value: Value) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): "\(flag)"
        case .int(let n): "the number \(n)"
        case .double(let x): "the number \(show(x))"
        case .string(let text): "the string \"\(text.prefix(40))\""
        case .data: "binary data"
        case .array: "a list"
        case .object: "an object"
        }
    }

    static func show(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
    }
}

extension JSONValue {
    /// The same JSON as the MCP SDK's `Value` (whole numbers become integers).
    var mcpValue: MCP.Value {
        switch self {
        case .null: .null
        case .bool(let flag): .bool(flag)
        case .number(let x): x == x.rounded() && abs(x) < 9e15 ? .int(Int(x)) : .double(x)
        case .string(let text): .string(text)
        case .array(let items): .array(items.map(\.mcpValue))
        case .object(let object): .object(object.mapValues(\.mcpValue))
        }
    }
}

extension Value {
    /// The same JSON as Bridgeback's `JSONValue`.
    var jsonValue: JSONValue {
        switch self {
        case .null: .null
        case .bool(let flag): .bool(flag)
        case .int(let n): .number(Double(n))
        case .double(let x): .number(x)
        case .string(let text): .string(text)
        case .data(_, let data): .string(data.base64EncodedString())
        case .array(let items): .array(items.map(\.jsonValue))
        case .object(let object): .object(object.mapValues(\.jsonValue))
        }
    }
}
