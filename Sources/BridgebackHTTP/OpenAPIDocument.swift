public import BridgebackCore
import Foundation
public import Hummingbird
import NIOCore

/// An OpenAPI 3.1 document as a server serves it at `GET /openapi.json` (the sources are
/// docs/openapi/*.json, embedded by scripts/openapi-embed), plus the small part of JSON Schema
/// needed to check a body against it.
///
/// The check is what keeps code and document together: tests list every route the router
/// registers against `operations`, and run the shared response types through `problems`, so a
/// route or a field added on one side only fails a test. schemathesis checks the real servers
/// against the whole document in CI (docs/assistants.md).
public struct OpenAPIDocument: Sendable {
    /// The document exactly as served.
    public let bytes: [UInt8]
    /// The document parsed.
    public let json: JSONValue

    /// - Throws: when `text` is not a JSON object with `openapi` and `paths`.
    public init(_ text: String) throws {
        bytes = Array(text.utf8)
        json = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        guard case .string? = json["openapi"], case .object? = json["paths"] else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not an OpenAPI document: no openapi or paths"))
        }
    }

    /// HTTP methods an OpenAPI path item may hold.
    static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// Every operation as `"GET /v1/jobs/{id}"` (method upper-case, path as in the document).
    public var operations: Set<String> {
        guard case .object(let paths)? = json["paths"] else { return [] }
        var result: Set<String> = []
        for (path, item) in paths {
            guard case .object(let methods) = item else { continue }
            for method in methods.keys where Self.methods.contains(method) { result.insert("\(method.uppercased()) \(path)") }
        }
        return result
    }

    /// Adds `GET /openapi.json` serving `document` byte for byte. Add it after
    /// `HTTPAuth.protect`: the document is served behind the same bearer token as every route
    /// but `/health` (it tells no secret, but an unauthenticated caller learns nothing here).
    public static func addRoute<Context: RequestContext>(to router: Router<Context>, document: String) {
        let bytes = Array(document.utf8)
        router.get("/openapi.json") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    /// What is wrong with `body` as the `application/json` answer of `method path` with
    /// `status`; empty when it conforms. An operation or status the document lacks is a problem.
    public func problems(in body: JSONValue, method: String, path: String, status: Int) -> [String] {
        let operation = "\(method.uppercased()) \(path) → \(status)"
        guard let response = json["paths"]?[path]?[method.lowercased()]?["responses"]?[String(status)] else {
            return ["\(operation): not in the document"]
        }
        let resolved = resolve(response)
        guard let schema = resolved["content"]?["application/json"]?["schema"] else {
            return ["\(operation): the document gives no application/json schema"]
        }
        return problems(in: body, schema: schema, at: operation)
    }

    /// What is wrong with `body` as an instance of `components/schemas/<name>`.
    public func problems(in body: JSONValue, schemaNamed name: String) -> [String] {
        guard let schema = json["components"]?["schemas"]?[name] else { return ["no schema \(name) in the document"] }
        return problems(in: body, schema: schema, at: name)
    }

    /// Follows a local `$ref` (`#/components/...`).
    private func resolve(_ value: JSONValue) -> JSONValue {
        guard case .string(let ref)? = value["$ref"], ref.hasPrefix("#/") else { return value }
        var node: JSONValue? = json
        for part in ref.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
        return node.map(resolve) ?? .null
    }

    /// type, const, enum, required, properties, additionalProperties, items, anyOf, oneOf,
    /// minimum, maximum: the keywords the Bridgeback documents use for shapes. (Formats,
    /// patterns and lengths are left to schemathesis.)
    private func problems(in value: JSONValue, schema raw: JSONValue, at place: String) -> [String] {
        let schema = resolve(raw)
        if case .bool(true) = schema { return [] }
        var found: [String] = []
        if let types = schema["type"] {
            let allowed: [String] =
                switch types {
                case .string(let one): [one]
                case .array(let many): many.compactMap(\.string)
                default: []
                }
            if !allowed.contains(where: { Self.matches(value, type: $0) }) {
                return ["\(place): expected \(allowed.joined(separator: " or ")), got \(Self.describe(value))"]
            }
        }
        if let constant = schema["const"], constant != value {
            found.append("\(place): expected \(Self.describe(constant)), got \(Self.describe(value))")
        }
        if case .array(let options)? = schema["enum"], !options.contains(value) {
            found.append("\(place): \(Self.describe(value)) is not one of \(options.map(Self.describe).joined(separator: ", "))")
        }
        if case .number(let number) = value {
            if case .number(let minimum)? = schema["minimum"], number < minimum { found.append("\(place): \(number) < minimum \(minimum)") }
            if case .number(let maximum)? = schema["maximum"], number > maximum { found.append("\(place): \(number) > maximum \(maximum)") }
        }
        if case .object(let object) = value {
            if case .array(let required)? = schema["required"] {
                for key in required.compactMap(\.string) where object[key] == nil { found.append("\(place): missing required \"\(key)\"") }
            }
            let properties: [String: JSONValue] = if case .object(let p)? = schema["properties"] { p } else { [:] }
            for key in object.keys.sorted() {
                if let property = properties[key] {
                    found += problems(in: object[key]!, schema: property, at: "\(place).\(key)")
                } else if case .bool(false)? = schema["additionalProperties"] {
                    found.append("\(place): \"\(key)\" is not in the document (additionalProperties: false)")
                } else if let additional = schema["additionalProperties"], case .object = additional {
                    found += problems(in: object[key]!, schema: additional, at: "\(place).\(key)")
                }
            }
        }
        if case .array(let items) = value, let itemSchema = schema["items"] {
            for (index, item) in items.enumerated() { found += problems(in: item, schema: itemSchema, at: "\(place)[\(index)]") }
        }
        if case .array(let options)? = schema["anyOf"] {
            let each = options.map { problems(in: value, schema: $0, at: place) }
            if !each.contains(where: \.isEmpty) {
                found.append("\(place): matches none of anyOf (\(each.map { $0.first ?? "" }.joined(separator: "; ")))")
            }
        }
        if case .array(let options)? = schema["oneOf"] {
            let matching = options.filter { problems(in: value, schema: $0, at: place).isEmpty }.count
            if matching != 1 { found.append("\(place): matches \(matching) of oneOf, not exactly one") }
        }
        return found
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string), ("array", .array), ("object", .object): true
        case ("integer", .number(let number)): number.isFinite && number == number.rounded()
        default: false
        }
    }

    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): "\(flag)"
        case .number(let number): "\(number)"
        case .string(let text): "\"\(text.prefix(40))\""
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension JSONValue {
    /// The member `key` of an object; nil for anything else.
    fileprivate subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    fileprivate var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}
