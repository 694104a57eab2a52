/// How a final surface takes a notice: its limit, its unit and what happens to a longer
/// result, in values and in words.
///
/// Admission (`dry_run: true`) and the coordinator's dry-run endpoint both describe the final
/// surface with it, so a person sees the same sentence before admitting a job and before
/// it is delivered.
public struct SurfacePlan: Sendable, Hashable, Codable {
    public var id: String
    public var kind: String
    public var humanName: String
    /// The registry address (inbox key, URL, channel id); only the coordinator shows it.
    public var address: String?
    /// The most one message may hold (context lines included), in `unit`.
    public var maxLength: Int
    /// `LengthUnit` raw value: `unicode_scalars`, `utf8_bytes`, `utf16_code_units`.
    public var unit: String
    /// The unit in words: "characters", "bytes", "UTF-16 units".
    public var unitWords: String
    /// `split` or `summarize`.
    public var lengthPolicy: String
    public var directAllowed: Bool
    public var deduplicates: Bool
    /// What happens to a long result, e.g. "the result will be split into parts of at most
    /// 500 characters (context lines included)".
    public var fitting: String

    /// - Parameter address: what to show of the registry address (nil: nothing, as admission does).
    public init(_ surface: Surface, address: String? = nil) {
        id = surface.id.rawValue
        kind = surface.kind.rawValue
        humanName = surface.humanName
        self.address = address
        maxLength = surface.maxLength
        unit = surface.lengthUnit.rawValue
        unitWords = surface.lengthUnit.words
        lengthPolicy = surface.lengthPolicy.rawValue
        directAllowed = surface.directAllowed
        deduplicates = surface.deduplicates
        let limit = "\(surface.maxLength.formatted) \(surface.lengthUnit.words)"
        switch surface.lengthPolicy {
        case .split:
            fitting = "the result will be split into parts of at most \(limit) (context lines included)"
        case .summarize:
            fitting = "a longer result will be summarized to \(limit) (context lines included) with a reference to the full result"
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, humanName = "human_name", address, maxLength = "max_length", unit, unitWords = "unit_words"
        case lengthPolicy = "length_policy", directAllowed = "direct_allowed", deduplicates, fitting
    }
}

extension LengthUnit {
    /// The unit as people say it: "characters" (Unicode scalars), "bytes", "UTF-16 units".
    public var words: String {
        switch self {
        case .unicodeScalars: "characters"
        case .utf8Bytes: "bytes"
        case .utf16CodeUnits: "UTF-16 units"
        }
    }
}

extension Int {
    /// "1,400": thousands separated, locale-independent.
    fileprivate var formatted: String {
        let digits = String(self.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (self < 0 ? "-" : "") + out
    }
}
