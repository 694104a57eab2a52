/// How the final answer reaches people.
public enum DeliveryMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// To the parent (the final surface, normally the origin's inbox); the parent decides what the user sees.
    case parent
    /// Straight to the final surface; needs `direct_allowed`. A terminal failure falls back to a
    /// notice in the work surface.
    case direct
    /// Kept with the job (visible through `GET /v1/jobs/{id}`), not sent anywhere.
    case suppressed

    /// The words used in human lines: "parent-mediated", "direct", "suppressed".
    public var humanName: String {
        switch self {
        case .parent: "parent-mediated"
        case .direct: "direct"
        case .suppressed: "suppressed"
        }
    }
}

/// A named recipe and its parameters; workers validate the parameters against the recipe.
public struct RecipeInvocation: Sendable, Hashable, Codable {
    public var name: String
    public var params: [String: JSONValue]

    public init(name: String, params: [String: JSONValue] = [:]) {
        self.name = name
        self.params = params
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        params = try container.decodeIfPresent([String: JSONValue].self, forKey: .params) ?? [:]
    }
}
