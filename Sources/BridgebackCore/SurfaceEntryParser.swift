/// Turns one JSON entry of `surfaces.json` into a `Surface`, reporting every bad field.
enum SurfaceEntryParser {
    static let knownFields: Set<String> = [
        "id", "kind", "address", "human_name", "max_length", "length_unit", "length_policy",
        "direct_allowed", "deduplicates", "signing_secret", "work_surface", "final_surface", "accepts_final",
        "token", "api_base",
    ]

    static func parse(_ entry: JSONValue, index: Int) -> Result<Surface, BridgebackError> {
        guard case .object(let fields) = entry else {
            return .failure(SurfaceRegistry.problem("#\(index + 1)", "", "each surface must be a JSON object"))
        }
        var name = "#\(index + 1)"
        if case .string(let text)? = fields["id"] { name = text }
        var problems: [BridgebackError] = []
        func report(_ field: String, _ message: String) {
            problems.append(SurfaceRegistry.problem(name, field, message))
        }
        func string(_ key: String) -> String? {
            switch fields[key] {
            case nil, .null?: return nil
            case .string(let text)?: return text
            default: report(key, "\(key) must be a string"); return nil
            }
        }
        func bool(_ key: String) -> Bool? {
            switch fields[key] {
            case nil, .null?: return nil
            case .bool(let value)?: return value
            default: report(key, "\(key) must be true or false"); return nil
            }
        }
        func enumValue<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) -> E? where E.RawValue == String {
            guard let text = string(key) else { return nil }
            guard let value = E(rawValue: text) else {
                report(key, "\(key) '\(text)' is not one of: \(E.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            return value
        }
        func surfaceID(_ key: String) -> SurfaceID? {
            guard let text = string(key) else { return nil }
            do { return try SurfaceID(validating: text) } catch {
                report(key, error.message)
                return nil
            }
        }

        for key in fields.keys.sorted() where !knownFields.contains(key) {
            report(key, "unknown field '\(key)'; known fields: \(knownFields.sorted().joined(separator: ", "))")
        }
        let id: SurfaceID?
        if fields["id"] == nil {
            report("id", "missing id; every surface needs a unique id such as \"cli:alice\"")
            id = nil
        } else {
            id = surfaceID("id")
        }
        let kind: SurfaceKind?
        if fields["kind"] == nil {
            report("kind", "missing kind; use one of: \(SurfaceKind.allCases.map(\.rawValue).joined(separator: ", "))")
            kind = nil
        } else {
            kind = enumValue("kind", SurfaceKind.self)
        }
        let humanName = string("human_name")
        if fields["human_name"] == nil { report("human_name", "missing human_name; give the name people know this place by") }
        var maxLength: Int?
        switch fields["max_length"] {
        case nil, .null?: break
        case .number(let value)? where value == value.rounded() && abs(value) < 1e12: maxLength = Int(value)
        default: report("max_length", "max_length must be a whole number")
        }
        let lengthUnit = enumValue("length_unit", LengthUnit.self)
        let lengthPolicy = enumValue("length_policy", LengthPolicy.self)
        let directAllowed = bool("direct_allowed")
        let deduplicates = bool("deduplicates")
        let acceptsFinal = bool("accepts_final")
        let address = string("address")
        let workSurface = surfaceID("work_surface")
        let finalSurface = surfaceID("final_surface")
        var secret: SigningSecret?
        switch fields["signing_secret"] {
        case nil, .null?: break
        case .string(let text)?: secret = .inline(text)
        case .object(let reference)?:
            if case .string(let variable)? = reference["env"], !variable.isEmpty, reference.count == 1 {
                secret = .environment(variable)
            } else {
                report("signing_secret", "signing_secret must be \"whsec_<base64>\" or {\"env\": \"VARIABLE_NAME\"}")
            }
        default: report("signing_secret", "signing_secret must be \"whsec_<base64>\" or {\"env\": \"VARIABLE_NAME\"}")
        }

        var token: SurfaceToken?
        switch fields["token"] {
        case nil, .null?: break
        case .object(let reference)?:
            if case .string(let variable)? = reference["env"], !variable.isEmpty, reference.count == 1 {
                token = .environment(variable)
            } else {
                report("token", "token must be {\"env\": \"VARIABLE_NAME\"}")
            }
        default: report("token", "token must be {\"env\": \"VARIABLE_NAME\"}; a bot token does not belong in the registry file itself")
        }
        let apiBase = string("api_base")

        guard problems.isEmpty, let id, let kind, let humanName else {
            return .failure(BridgebackError(.invalidSurfaceRegistry, problems.first?.message ?? "invalid surface", problems: problems))
        }
        return .success(
            Surface(
                id: id, kind: kind, address: address, humanName: humanName, maxLength: maxLength,
                lengthUnit: lengthUnit, lengthPolicy: lengthPolicy ?? .split, directAllowed: directAllowed ?? false,
                deduplicates: deduplicates, signingSecret: secret, workSurface: workSurface,
                finalSurface: finalSurface, acceptsFinal: acceptsFinal ?? true, token: token, apiBase: apiBase
            )
        )
    }
}
