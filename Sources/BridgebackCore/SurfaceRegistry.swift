public import Foundation

/// Every place a result may go, loaded once at start from `surfaces.json`.
///
/// Validation collects *all* problems so an operator fixes the file in one pass; each problem
/// names the surface and what to change. See docs/protocol.md for the file format.
public struct SurfaceRegistry: Sendable {
    /// The file's schema tag.
    public static let schema = "bridgeback.surfaces.v1"
    /// The smallest `max_length` accepted: room for the human context lines (about 250
    /// characters) and some of the answer.
    public static let minimumMaxLength = 300

    /// Surfaces in file order.
    public let surfaces: [Surface]
    private let byID: [SurfaceID: Surface]

    /// Builds a registry from already-parsed surfaces, checking ids and cross references.
    public init(surfaces: [Surface]) throws(BridgebackError) {
        var problems: [BridgebackError] = []
        var byID: [SurfaceID: Surface] = [:]
        for surface in surfaces {
            if byID[surface.id] != nil {
                problems.append(
                    Self.problem(surface.id.rawValue, "id", "duplicate surface id '\(surface.id)'; give each surface its own id"))
            } else {
                byID[surface.id] = surface
            }
            problems += Self.check(surface)
        }
        for surface in surfaces {
            for (field, target) in [("work_surface", surface.workSurface), ("final_surface", surface.finalSurface)] {
                if let target, byID[target] == nil {
                    problems.append(
                        Self.problem(
                            surface.id.rawValue, field, "\(field) '\(target)' is not a surface in this registry; add it or fix the id"))
                }
            }
            if let final = surface.finalSurface, let target = byID[final], !target.acceptsFinal {
                problems.append(
                    Self.problem(
                        surface.id.rawValue, "final_surface",
                        "final_surface '\(final)' has accepts_final: false; choose a surface that accepts answers"))
            }
        }
        if !problems.isEmpty { throw Self.aggregate(problems) }
        self.surfaces = surfaces
        self.byID = byID
    }

    /// The surface with `id`, or nil.
    public subscript(id: SurfaceID) -> Surface? { byID[id] }

    /// The surface with `id`; throws `unknownSurface` naming the known ids.
    public func surface(_ id: SurfaceID, role: String = "surface") throws(BridgebackError) -> Surface {
        guard let surface = byID[id] else {
            let known = surfaces.map(\.id.rawValue).joined(separator: ", ")
            throw BridgebackError(
                .unknownSurface, "\(role) '\(id)' is not in the surface registry; known surfaces: \(known)", surfaceID: id.rawValue,
                field: role)
        }
        return surface
    }

    /// Loads and validates a registry file.
    public static func load(contentsOf url: URL) throws(BridgebackError) -> SurfaceRegistry {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw BridgebackError(.invalidSurfaceRegistry, "cannot read surface registry at \(url.path): \(error.localizedDescription)")
        }
        return try load(from: data)
    }

    /// Parses and validates registry JSON (`{"schema": "bridgeback.surfaces.v1", "surfaces": [...]}`).
    public static func load(from data: Data) throws(BridgebackError) -> SurfaceRegistry {
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw BridgebackError(.invalidSurfaceRegistry, "surface registry is not valid JSON: \(WireCodec.reason(error))")
        }
        let entries = try topLevel(root)
        var surfaces: [Surface] = []
        var problems: [BridgebackError] = []
        for (index, entry) in entries.enumerated() {
            switch SurfaceEntryParser.parse(entry.value, index: index) {
            case .success(let surface): surfaces.append(surface)
            case .failure(let error): problems += error.problems.isEmpty ? [error] : error.problems
            }
        }
        var registry: SurfaceRegistry?
        do {
            registry = try SurfaceRegistry(surfaces: surfaces)
        } catch {
            problems += error.problems.isEmpty ? [error] : error.problems
        }
        guard let registry, problems.isEmpty else { throw aggregate(problems) }
        return registry
    }

    /// The top level through the schema layer (fail fast): `schema` and `surfaces`. Other keys are
    /// ignored, as they always were (a file that loaded before still loads), but one that looks like a
    /// mistyped required key is named in that key's refusal.
    static func topLevel(_ root: JSONValue) throws(BridgebackError) -> [(path: String, value: JSONValue)] {
        let reader = SchemaReader(mode: .failFast, rootName: "surface registry")
        var top: JSONFields?
        do {
            top = try reader.object(root, at: "", required: true, expected: "a JSON object with \"schema\" and \"surfaces\"")
            _ = try top?.oneOf("schema", [Self.schema], required: true)
            return try top?.array("surfaces", required: true, expected: "an array of surface objects") ?? []
        } catch {
            var message = error.path.isEmpty ? error.message : "surface registry: \(error.message)"
            if error.kind == .missing,
                let typo = top?.members.keys.sorted().first(where: { SchemaReader.closest(to: $0, in: [error.path]) != nil }),
                !["schema", "surfaces"].contains(typo)
            {
                message += "; the file has \"\(typo)\": did you mean \"\(error.path)\"?"
            }
            let found: String? = if case .string(let text)? = top?["schema"] { text } else { nil }
            throw BridgebackError(
                .invalidSurfaceRegistry, message, field: error.path.isEmpty ? nil : error.topField,
                schema: error.path == "schema" ? found : nil)
        }
    }

    /// Resolves every surface credential now, so a missing env var stops the process at start:
    /// a webhook's HMAC key bytes, or a chat surface's bot token as UTF-8 bytes.
    public func resolveSecrets(environment: [String: String]) throws(BridgebackError) -> [SurfaceID: [UInt8]] {
        var result: [SurfaceID: [UInt8]] = [:]
        var problems: [BridgebackError] = []
        for surface in surfaces {
            do {
                if let secret = surface.signingSecret {
                    result[surface.id] = try secret.resolve(environment: environment)
                } else if let token = surface.token {
                    result[surface.id] = Array(try token.resolve(environment: environment).utf8)
                }
            } catch {
                var located = error
                located.surfaceID = surface.id.rawValue
                located.message = "surface '\(surface.id)': \(error.message)"
                problems.append(located)
            }
        }
        if !problems.isEmpty {
            if problems.count == 1 { throw problems[0] }
            throw BridgebackError(.missingSecret, problems.map(\.message).joined(separator: "; "), problems: problems)
        }
        return result
    }

    static func check(_ surface: Surface) -> [BridgebackError] {
        var problems: [BridgebackError] = []
        let id = surface.id.rawValue
        let kind = surface.kind
        if surface.humanName.trimmingCharacters(in: .whitespaces).isEmpty {
            problems.append(problem(id, "human_name", "human_name is empty; give the name people know this place by"))
        }
        if kind.requiresAddress && (surface.address ?? "").isEmpty {
            problems.append(problem(id, "address", "a \(kind.rawValue) surface needs an address (\(addressHint(kind)))"))
        }
        if kind == .webhook, let address = surface.address, !address.isEmpty {
            let url = URL(string: address)
            if url == nil || !["http", "https"].contains(url?.scheme?.lowercased() ?? "") || (url?.host ?? "").isEmpty {
                problems.append(problem(id, "address", "webhook address '\(address)' must be an absolute http(s) URL"))
            }
        }
        if surface.maxLength < minimumMaxLength {
            problems.append(problem(id, "max_length", "max_length \(surface.maxLength) is too small; use at least \(minimumMaxLength)"))
        }
        if let hard = kind.hardMaxLength, surface.maxLength > hard {
            problems.append(
                problem(
                    id, "max_length", "max_length \(surface.maxLength) exceeds the \(kind.rawValue) limit of \(hard); use \(hard) or less"))
        }
        if kind == .webhook, surface.signingSecret == nil {
            problems.append(
                problem(id, "signing_secret", "a webhook surface needs signing_secret: \"whsec_<base64>\" or {\"env\": \"VAR\"}"))
        }
        if kind != .webhook, surface.signingSecret != nil {
            problems.append(problem(id, "signing_secret", "signing_secret only applies to webhook surfaces; remove it"))
        }
        if case .inline(let text)? = surface.signingSecret {
            do { _ = try SigningSecret.decode(text, source: "signing_secret") } catch {
                problems.append(problem(id, "signing_secret", error.message))
            }
        }
        problems += checkChat(surface)
        if surface.deduplicates && !kind.canDeduplicate {
            problems.append(
                problem(
                    id, "deduplicates", "a \(kind.rawValue) receiver takes no idempotency key, so deduplicates cannot be true; remove it"))
        }
        return problems
    }

    /// Chat kinds need a token and an address in the API's own form; others take neither field.
    static func checkChat(_ surface: Surface) -> [BridgebackError] {
        let id = surface.id.rawValue
        let kind = surface.kind
        guard kind.isChat else {
            var problems: [BridgebackError] = []
            if surface.token != nil {
                problems.append(problem(id, "token", "token only applies to slack, telegram and discord surfaces; remove it"))
            }
            if surface.apiBase != nil {
                problems.append(problem(id, "api_base", "api_base only applies to slack, telegram and discord surfaces; remove it"))
            }
            return problems
        }
        var problems: [BridgebackError] = []
        if surface.token == nil {
            problems.append(
                problem(
                    id, "token",
                    "a \(kind.rawValue) surface needs token: {\"env\": \"VARIABLE_NAME\"} naming the variable that holds the bot token"))
        }
        if let base = surface.apiBase {
            let url = URL(string: base)
            if url == nil || !["http", "https"].contains(url?.scheme?.lowercased() ?? "") || (url?.host ?? "").isEmpty || url?.query != nil
            {
                problems.append(
                    problem(
                        id, "api_base",
                        "api_base '\(base)' must be an absolute http(s) URL without a query, e.g. \(kind.defaultAPIBase ?? "")"))
            }
        }
        if let address = surface.address, !address.isEmpty, !chatAddressIsValid(address, kind: kind) {
            problems.append(problem(id, "address", "address '\(address)' is not \(addressHint(kind))"))
        }
        return problems
    }

    static func chatAddressIsValid(_ address: String, kind: SurfaceKind) -> Bool {
        let scalars = address.unicodeScalars
        switch kind {
        case .slack:
            // Channel ids (C…, G…, D…): letters and digits. Names ("#ops") are refused: they change.
            return scalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) } && scalars.count >= 2
        case .telegram:
            // A numeric chat id (groups and channels are negative) or a public @channelusername.
            if address.hasPrefix("@") {
                return scalars.count >= 2
                    && scalars.dropFirst().allSatisfy { $0.properties.isAlphabetic && $0.isASCII || ("0"..."9").contains($0) || $0 == "_" }
            }
            let digits = address.hasPrefix("-") ? Substring(address.dropFirst()) : Substring(address)
            return !digits.isEmpty && digits.unicodeScalars.allSatisfy { ("0"..."9").contains($0) }
        case .discord:
            // A snowflake: a decimal number.
            return scalars.allSatisfy { ("0"..."9").contains($0) } && !scalars.isEmpty && scalars.count <= 20
        case .inbox, .webhook, .file, .stdout:
            return true
        }
    }

    static func addressHint(_ kind: SurfaceKind) -> String {
        switch kind {
        case .inbox: "the parent's routing key on bb.inbox"
        case .webhook: "an http(s) URL"
        case .file: "a file path"
        case .stdout: "none"
        case .slack: "a Slack channel id such as C0123456789 (not a #name)"
        case .telegram: "a Telegram chat id such as -1001234567890 or @channelusername"
        case .discord: "a Discord channel id (a snowflake such as 1234567890123456789)"
        }
    }

    static func problem(_ surface: String, _ field: String, _ message: String) -> BridgebackError {
        BridgebackError(.invalidSurfaceRegistry, "surface '\(surface)': \(message)", surfaceID: surface, field: field)
    }

    static func aggregate(_ problems: [BridgebackError]) -> BridgebackError {
        let lines = problems.map { "- \($0.message)" }.joined(separator: "\n")
        return BridgebackError(
            .invalidSurfaceRegistry,
            "surface registry has \(problems.count) problem\(problems.count == 1 ? "" : "s"):\n\(lines)",
            problems: problems
        )
    }
}
