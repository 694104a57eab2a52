/// Turns one JSON entry of `surfaces.json` into a `Surface`, reporting every bad field.
enum SurfaceEntryParser {
    static let knownFields: Set<String> = [
        "id", "kind", "address", "human_name", "max_length", "length_unit", "length_policy",
        "direct_allowed", "deduplicates", "signing_secret", "work_surface", "final_surface", "accepts_final",
        "token", "api_base",
    ]

    /// Reads one entry through the schema layer, collecting every problem (an operator fixes the
    /// file in one pass); each is reported against the entry's id, or `#n` when it has none.
    static func parse(_ entry: JSONValue, index: Int) -> Result<Surface, BridgebackError> {
        guard case .object(let members) = entry else {
            return .failure(SurfaceRegistry.problem("#\(index + 1)", "", "each surface must be a JSON object"))
        }
        var name = "#\(index + 1)"
        if case .string(let text)? = members["id"] { name = text }
        let reader = SchemaReader(mode: .collectAll, rootName: "the surface")
        let surface: Surface?
        do {
            surface = try read(JSONFields(members, at: "", reader: reader))
        } catch {
            surface = nil  // collect-all: nothing throws
        }
        let problems = reader.problems.map { SurfaceRegistry.problem(name, $0.topField, $0.message) }
        guard problems.isEmpty, let surface else {
            return .failure(BridgebackError(.invalidSurfaceRegistry, problems.first?.message ?? "invalid surface", problems: problems))
        }
        return .success(surface)
    }

    private static func read(_ fields: JSONFields) throws(SchemaProblem) -> Surface? {
        try fields.refuseUnknown(known: knownFields.sorted())
        func surfaceID(_ key: String, required: Bool = false, expected: String = "a surface id such as \"cli:alice\"")
            throws(SchemaProblem) -> SurfaceID?
        {
            guard let text = try fields.string(key, required: required, expected: expected) else { return nil }
            do { return try SurfaceID(validating: text) } catch {
                try fields.refuse(key, "is not a surface id: \(error.message)")
                return nil
            }
        }
        let id = try surfaceID("id", required: true, expected: "a unique surface id such as \"cli:alice\"")
        let kind = try fields.oneOf("kind", SurfaceKind.self, required: true)
        let humanName = try fields.string("human_name", required: true, expected: "the name people know this place by")
        let maxLength = try fields.integer("max_length")
        let lengthUnit = try fields.oneOf("length_unit", LengthUnit.self)
        let lengthPolicy = try fields.oneOf("length_policy", LengthPolicy.self)
        let directAllowed = try fields.bool("direct_allowed")
        let deduplicates = try fields.bool("deduplicates")
        let acceptsFinal = try fields.bool("accepts_final")
        let address = try fields.string("address")
        let workSurface = try surfaceID("work_surface")
        let finalSurface = try surfaceID("final_surface")

        let reference = "{\"env\": \"VARIABLE_NAME\"}"
        func environment(_ key: String, expected: String) throws(SchemaProblem) -> String? {
            let before = fields.reader.problems.count
            // A mistyped key is the one problem worth reporting; "env is missing" would repeat it.
            guard let object = try fields.object(key, known: ["env"], expected: expected), fields.reader.problems.count == before
            else { return nil }
            return try object.string("env", required: true, length: .bytes(1...Int.max), expected: "the name of an environment variable")
        }
        var secret: SigningSecret?
        if case .string(let text)? = fields["signing_secret"] {
            secret = .inline(text)
        } else if let variable = try environment("signing_secret", expected: "\"whsec_<base64>\" or \(reference)") {
            secret = .environment(variable)
        }
        var token: SurfaceToken?
        if case .string? = fields["token"] {
            try fields.refuse(
                "token", "must be \(reference), got a string; a bot token does not belong in the registry file itself", kind: .wrongType)
        } else if let variable = try environment("token", expected: reference) {
            token = .environment(variable)
        }
        let apiBase = try fields.string("api_base")

        guard let id, let kind, let humanName else { return nil }
        return Surface(
            id: id, kind: kind, address: address, humanName: humanName, maxLength: maxLength,
            lengthUnit: lengthUnit, lengthPolicy: lengthPolicy ?? .split, directAllowed: directAllowed ?? false,
            deduplicates: deduplicates, signingSecret: secret, workSurface: workSurface,
            finalSurface: finalSurface, acceptsFinal: acceptsFinal ?? true, token: token, apiBase: apiBase
        )
    }
}
