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

    /// Parses a body; every refusal names the field and what a valid value looks like.
    static func parse(_ body: [UInt8]) throws(AdmissionError) -> SubmitRequest {
        let root = try strictJSON(body)
        guard case .object(let object) = root else {
            throw AdmissionError(.malformedJSON, "the body must be a JSON object such as {\"origin\": \"cli:alice\", \"text\": \"…\"}")
        }
        try refuseUnknown(object, known: fields, where: "request")

        let originText = try requiredString(object, "origin")
        let origin: SurfaceID
        do { origin = try SurfaceID(validating: originText) } catch {
            throw AdmissionError(.unknownSurface, error.message, field: "origin")
        }
        let text = try requiredString(object, "text")
        try InputLimits.check(
            text, field: "text", maxBytes: InputLimits.textBytes, allowed: InputLimits.isTextScalar,
            characters: "any text without control characters other than line breaks and tabs")
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw AdmissionError(.invalidRequest, "\"text\" is empty; say what you want done", field: "text")
        }

        var hints: AdmissionHints?
        var hintsJSON: String?
        switch object["hints"] {
        case nil, .null?:
            break
        case .object(let h)?:
            hints = try parseHints(h)
            hintsJSON = (try? JSONEncoder.sorted.encode(JSONValue.object(h))).map { String(decoding: $0, as: UTF8.self) }
        default:
            throw AdmissionError(.invalidRequest, "\"hints\" must be an object, e.g. {\"expected_wait_s\": 1800}", field: "hints")
        }
        if let force = try string(object, "force", required: false) {
            guard let decision = Decision(rawValue: force) else {
                throw AdmissionError(.invalidRequest, "\"force\" must be \"inline\" or \"detach\", got \"\(force)\"", field: "force")
            }
            var h = hints ?? AdmissionHints()
            h.force = decision
            hints = h
        }

        var contract = ContractFields()
        switch object["contract"] {
        case nil, .null?:
            break
        case .object(let c)?:
            try refuseUnknown(c, known: contractFields, where: "contract", prefix: "contract.")
            contract.workSurface = try surface(c, "work_surface")
            contract.finalSurface = try surface(c, "final_surface")
            if let mode = try string(c, "delivery_mode", required: false, prefix: "contract.") {
                guard let parsed = DeliveryMode(rawValue: mode) else {
                    throw AdmissionError(
                        .invalidRequest, "contract.delivery_mode must be \"parent\", \"direct\" or \"suppressed\", got \"\(mode)\"",
                        field: "contract.delivery_mode")
                }
                contract.deliveryMode = parsed
            }
            switch c["deadline_s"] {
            case nil, .null?: break
            case .number(let seconds)? where seconds > 0 && seconds.isFinite: contract.deadlineSeconds = seconds
            default:
                throw AdmissionError(
                    .invalidRequest, "contract.deadline_s must be a positive number of seconds, e.g. 3600", field: "contract.deadline_s")
            }
            contract.parentID = try string(c, "parent_id", required: false, prefix: "contract.")
            if let parent = contract.parentID {
                try InputLimits.check(
                    parent, field: "contract.parent_id", maxBytes: InputLimits.parentIDBytes, allowed: InputLimits.isIdentifierScalar,
                    characters: "letters, digits and : . _ / @ -")
            }
        default:
            throw AdmissionError(
                .invalidRequest, "\"contract\" must be an object with work_surface, final_surface, delivery_mode, deadline_s",
                field: "contract")
        }

        let key = try string(object, "idempotency_key", required: false)
        if let key {
            try InputLimits.check(
                key, field: "idempotency_key", maxBytes: InputLimits.idempotencyKeyBytes, allowed: InputLimits.isVisibleASCII,
                characters: "visible ASCII characters (no spaces)")
        }

        var recipe: RecipeInvocation?
        switch object["recipe"] {
        case nil, .null?:
            break
        case .object(let r)?:
            try refuseUnknown(r, known: ["name", "params"], where: "recipe", prefix: "recipe.")
            guard let name = try string(r, "name", required: true, prefix: "recipe."), !name.isEmpty else {
                throw AdmissionError(.invalidRequest, "recipe.name is empty; name a recipe from the worker catalog", field: "recipe.name")
            }
            try InputLimits.check(
                name, field: "recipe.name", maxBytes: InputLimits.recipeNameBytes, allowed: InputLimits.isNameScalar,
                characters: "letters, digits and _ . -")
            var params: [String: JSONValue] = [:]
            switch r["params"] {
            case nil, .null?: break
            case .object(let p)?: params = p
            default: throw AdmissionError(.invalidRequest, "recipe.params must be an object", field: "recipe.params")
            }
            guard params.count <= InputLimits.paramCount else {
                throw AdmissionError(
                    .invalidRequest, "recipe.params has \(params.count) keys; at most \(InputLimits.paramCount) are accepted",
                    field: "recipe.params")
            }
            for key in params.keys.sorted() {
                try InputLimits.check(
                    key, field: "recipe.params.\(key.utf8.count > 64 ? String(key.prefix(32)) + "…" : key)",
                    maxBytes: InputLimits.paramNameBytes,
                    allowed: InputLimits.isNameScalar, characters: "letters, digits and _ . -")
            }
            recipe = RecipeInvocation(name: name, params: params)
        default:
            throw AdmissionError(.invalidRequest, "\"recipe\" must be an object {\"name\": …, \"params\": {…}}", field: "recipe")
        }
        let summary = try string(object, "summary", required: false)
        if let summary {
            try InputLimits.check(
                summary, field: "summary", minBytes: 0, maxBytes: InputLimits.summaryBytes, allowed: InputLimits.isLineScalar,
                characters: "one line of text without control characters")
        }
        var dryRun = false
        switch object["dry_run"] {
        case nil, .null?: break
        case .bool(let flag)?: dryRun = flag
        default: throw AdmissionError(.invalidRequest, "\"dry_run\" must be true or false", field: "dry_run")
        }

        return SubmitRequest(
            origin: origin, text: text, hints: hints, hintsJSON: hintsJSON, contract: contract, idempotencyKey: key,
            recipe: recipe, summary: summary, dryRun: dryRun)
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

    private static func requiredString(_ object: [String: JSONValue], _ key: String) throws(AdmissionError) -> String {
        guard let value = try string(object, key, required: true) else {
            throw AdmissionError(.invalidRequest, "missing \"\(key)\" (a string)", field: key)
        }
        return value
    }

    private static func refuseUnknown(_ object: [String: JSONValue], known: [String], where place: String, prefix: String = "")
        throws(AdmissionError)
    {
        for key in object.keys.sorted() where !known.contains(key) {
            throw AdmissionError(
                .invalidRequest, "unknown \(place) field \"\(prefix)\(key)\"; known fields: \(known.joined(separator: ", "))",
                field: prefix + key)
        }
    }

    private static func string(_ object: [String: JSONValue], _ key: String, required: Bool, prefix: String = "") throws(AdmissionError)
        -> String?
    {
        switch object[key] {
        case .string(let value)?: return value
        case nil, .null?:
            if required { throw AdmissionError(.invalidRequest, "missing \"\(prefix)\(key)\" (a string)", field: prefix + key) }
            return nil
        default:
            throw AdmissionError(.invalidRequest, "\"\(prefix)\(key)\" must be a string", field: prefix + key)
        }
    }

    private static func surface(_ object: [String: JSONValue], _ key: String) throws(AdmissionError) -> SurfaceID? {
        guard let text = try string(object, key, required: false, prefix: "contract.") else { return nil }
        do { return try SurfaceID(validating: text) } catch {
            throw AdmissionError(.unknownSurface, error.message, field: "contract.\(key)")
        }
    }

    /// The hints of a logged request again (`hintsJSON`), to recompute its first decision.
    static func parse(hintsJSON: String) throws(AdmissionError) -> AdmissionHints? {
        guard case .object(let h) = try strictJSON(Array(hintsJSON.utf8)) else { return nil }
        return try parseHints(h)
    }

    private static func parseHints(_ h: [String: JSONValue]) throws(AdmissionError) -> AdmissionHints {
        try refuseUnknown(h, known: hintFields, where: "hints", prefix: "hints.")
        var hints = AdmissionHints()
        // Range-checked before any conversion: Int(1e19) would trap the process.
        func number(_ key: String, maximum: Double) throws(AdmissionError) -> Double? {
            switch h[key] {
            case nil, .null?: return nil
            case .number(let n)? where n.isFinite && n >= 0 && n <= maximum: return n
            default:
                throw AdmissionError(
                    .invalidRequest, "hints.\(key) must be a non-negative number, at most \(Int(maximum))", field: "hints.\(key)")
            }
        }
        func count(_ key: String) throws(AdmissionError) -> Int? {
            try number(key, maximum: InputLimits.countHintMaximum).map { Int($0.rounded()) }
        }
        hints.expectedWaitSeconds = try number("expected_wait_s", maximum: InputLimits.expectedWaitMaximum)
        hints.sources = try count("sources")
        hints.steps = try count("steps")
        hints.tools = try count("tools")
        switch h["force"] {
        case nil, .null?: break
        case .string(let s)? where Decision(rawValue: s) != nil: hints.force = Decision(rawValue: s)
        default: throw AdmissionError(.invalidRequest, "hints.force must be \"inline\" or \"detach\"", field: "hints.force")
        }
        return hints
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
