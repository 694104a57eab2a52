import BridgebackCore
import BridgebackPolicy
import Foundation

/// A parsed `POST /v1/requests` body. Parsing is strict: unknown fields are refused (a typo
/// such as `final_surfce` must not silently fall back to a default destination).
struct SubmitRequest: Sendable {
    struct ContractFields: Sendable {
        var workSurface: SurfaceID?
        var finalSurface: SurfaceID?
        var deliveryMode: DeliveryMode?
        var deadlineSeconds: Double?
        var parentID: String?
    }

    var origin: SurfaceID
    var text: String
    var hints: AdmissionHints?
    /// The hints object as received, for the request log.
    var hintsJSON: String?
    var contract: ContractFields
    var idempotencyKey: String?
    var recipe: RecipeInvocation?
    var summary: String?
    /// `dry_run: true`: check everything, say what would happen, write nothing.
    var dryRun = false

    static let fields = ["origin", "text", "hints", "contract", "idempotency_key", "recipe", "force", "summary", "dry_run"]
    static let contractFields = ["work_surface", "final_surface", "delivery_mode", "deadline_s", "parent_id"]
    static let hintFields = ["expected_wait_s", "sources", "steps", "tools", "force"]

    /// Parses a body; every refusal names the field and what a valid value looks like. The body
    /// is read through the schema layer (``SchemaReader``), failing on the first problem.
    static func parse(_ body: [UInt8]) throws(AdmissionError) -> SubmitRequest {
        let root = try strictJSON(body)
        guard case .object = root else {
            throw AdmissionError(.malformedJSON, "the body must be a JSON object such as {\"origin\": \"cli:alice\", \"text\": \"…\"}")
        }
        do {
            return try read(root, reader: SchemaReader(mode: .failFast, rootName: "the body"))
        } catch {
            throw AdmissionError(schema: error, surfaceFields: surfaceFields)
        }
    }

    /// The fields that name a surface: a bad one is `unknown_surface`, as a surface the registry
    /// does not know is.
    static let surfaceFields: Set<String> = ["origin", "contract.work_surface", "contract.final_surface"]

    private static func read(_ root: JSONValue, reader: SchemaReader) throws(SchemaProblem) -> SubmitRequest {
        // The reader fails fast: a required field that reads as nil has already thrown.
        guard let object = try reader.object(root, at: "", known: fields) else { throw reader.lastProblem(at: "") }
        guard let origin = try surface(object, "origin", required: true) else { throw reader.lastProblem(at: "origin") }
        guard let text = try object.string("text", required: true, length: .bytes(1...InputLimits.textBytes), alphabet: InputLimits.text)
        else { throw reader.lastProblem(at: "text") }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw SchemaProblem(kind: .invalidValue, path: "text", text: "is empty; say what you want done")
        }

        var hints: AdmissionHints?
        var hintsJSON: String?
        if let h = try object.object("hints", expected: "an object such as {\"expected_wait_s\": 1800}") {
            hints = try readHints(h)
            hintsJSON = (try? JSONEncoder.sorted.encode(JSONValue.object(h.members))).map { String(decoding: $0, as: UTF8.self) }
        }
        if let force = try object.oneOf("force", Decision.self) {
            var h = hints ?? AdmissionHints()
            h.force = force
            hints = h
        }

        var contract = ContractFields()
        if let c = try object.object(
            "contract", known: contractFields, expected: "an object with work_surface, final_surface, delivery_mode, deadline_s")
        {
            contract.workSurface = try surface(c, "work_surface")
            contract.finalSurface = try surface(c, "final_surface")
            contract.deliveryMode = try c.oneOf("delivery_mode", DeliveryMode.self)
            contract.deadlineSeconds = try c.number("deadline_s", bounds: .positive(), expected: "a positive number of seconds (e.g. 3600)")
            contract.parentID = try c.string(
                "parent_id", length: .bytes(1...InputLimits.parentIDBytes), alphabet: InputLimits.identifier)
        }

        let key = try object.string(
            "idempotency_key", length: .bytes(1...InputLimits.idempotencyKeyBytes), alphabet: InputLimits.visibleASCII)

        var recipe: RecipeInvocation?
        if let r = try object.object("recipe", known: ["name", "params"], expected: "an object {\"name\": …, \"params\": {…}}") {
            guard
                let name = try r.string(
                    "name", required: true, length: .bytes(1...InputLimits.recipeNameBytes), alphabet: InputLimits.name,
                    expected: "the name of a recipe from the worker catalog")
            else { throw reader.lastProblem(at: "recipe.name") }
            var params: [String: JSONValue] = [:]
            if let p = try r.object("params") {
                guard p.members.count <= InputLimits.paramCount else {
                    throw SchemaProblem(
                        kind: .outOfRange, path: "recipe.params",
                        text: "has \(p.members.count) keys; at most \(InputLimits.paramCount) are accepted")
                }
                for key in p.members.keys.sorted() {
                    let shown = key.utf8.count > 64 ? String(key.prefix(32)) + "…" : key
                    _ = try reader.string(
                        .string(key), at: p.path(shown), length: .bytes(1...InputLimits.paramNameBytes), alphabet: InputLimits.name)
                }
                params = p.members
            }
            recipe = RecipeInvocation(name: name, params: params)
        }
        let summary = try object.string("summary", length: .bytes(0...InputLimits.summaryBytes), alphabet: InputLimits.line)
        let dryRun = try object.bool("dry_run") ?? false

        return SubmitRequest(
            origin: origin, text: text, hints: hints, hintsJSON: hintsJSON, contract: contract, idempotencyKey: key,
            recipe: recipe, summary: summary, dryRun: dryRun)
    }

    /// A surface id: 1-128 bytes of letters, digits and `: . _ / @ -` (``SurfaceID``'s own rule).
    private static func surface(_ object: JSONFields, _ key: String, required: Bool = false) throws(SchemaProblem) -> SurfaceID? {
        guard
            let text = try object.string(
                key, required: required, length: .bytes(1...128), alphabet: InputLimits.identifier,
                expected: "a surface id such as \"cli:alice\"")
        else { return nil }
        do { return try SurfaceID(validating: text) } catch {
            throw SchemaProblem(kind: .invalidValue, path: object.path(key), text: "is not a surface id: \(error.message)")
        }
    }

    /// Reads a body as strict JSON: UTF-8 only, no duplicate keys, no NUL, nesting bounded.
    static func strictJSON(_ body: [UInt8]) throws(AdmissionError) -> JSONValue {
        do {
            return try StrictJSON.parse(body, limits: .init(maxDepth: InputLimits.maxDepth))
        } catch {
            switch error.kind {
            case .syntax, .notUTF8:
                throw AdmissionError(
                    .malformedJSON,
                    "the body is not valid JSON (UTF-8 only: \(error.message)); send a JSON object such as {\"origin\": \"cli:alice\", \"text\": \"…\"}",
                    field: error.path.isEmpty || error.path.hasSuffix("<key>") ? nil : error.path)
            case .duplicateKey, .tooDeep, .stringTooLong, .nulCharacter:
                throw AdmissionError(.invalidRequest, error.message, field: error.path.isEmpty ? nil : error.path)
            }
        }
    }

    /// The hints of a logged request again (`hintsJSON`), to recompute its first decision.
    static func parse(hintsJSON: String) throws(AdmissionError) -> AdmissionHints? {
        guard case .object(let h) = try strictJSON(Array(hintsJSON.utf8)) else { return nil }
        return try parseHints(h)
    }

    private static func parseHints(_ h: [String: JSONValue]) throws(AdmissionError) -> AdmissionHints {
        let reader = SchemaReader(mode: .failFast, rootName: "the body")
        do {
            return try readHints(JSONFields(h, at: "hints", reader: reader))
        } catch {
            throw AdmissionError(schema: error, surfaceFields: [])
        }
    }

    private static func readHints(_ h: JSONFields) throws(SchemaProblem) -> AdmissionHints {
        try h.refuseUnknown(known: hintFields)
        var hints = AdmissionHints()
        // Range-checked on the Double before any conversion: Int(1e19) would trap the process.
        func count(_ key: String) throws(SchemaProblem) -> Int? {
            try h.number(key, bounds: .nonNegative(atMost: InputLimits.countHintMaximum)).map { Int($0.rounded()) }
        }
        hints.expectedWaitSeconds = try h.number("expected_wait_s", bounds: .nonNegative(atMost: InputLimits.expectedWaitMaximum))
        hints.sources = try count("sources")
        hints.steps = try count("steps")
        hints.tools = try count("tools")
        hints.force = try h.oneOf("force", Decision.self)
        return hints
    }
}

/// The optional body of `POST /v1/jobs/{id}/cancel`: `{"reason": "…"}`, one line of at most
/// 1,000 bytes. Like every other body, a typo is refused, never ignored.
enum CancelBody {
    static func reason(_ object: [String: JSONValue]) throws(AdmissionError) -> String? {
        let fields = JSONFields(object, at: "", reader: SchemaReader(mode: .failFast, rootName: "the body"))
        do {
            try fields.refuseUnknown(known: ["reason"])
            return try fields.string("reason", length: .bytes(0...InputLimits.summaryBytes), alphabet: InputLimits.line)
        } catch {
            throw AdmissionError(schema: error, surfaceFields: [])
        }
    }
}

extension AdmissionError {
    /// A request field refused by the schema layer: 400 `invalid_request` naming the field, or
    /// `unknown_surface` for a malformed surface id in one of `surfaceFields`.
    init(schema problem: SchemaProblem, surfaceFields: Set<String>) {
        let code: Code =
            surfaceFields.contains(problem.path) && (problem.kind == .outOfRange || problem.kind == .invalidValue)
            ? .unknownSurface : .invalidRequest
        self.init(code, problem.message, field: problem.path.isEmpty ? nil : problem.path)
    }
}

extension JSONEncoder {
    /// Sorted keys, no escaped slashes: stable, readable bodies.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
