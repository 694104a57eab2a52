/// The registry name of a surface, e.g. `cli:alice`, `work:alice`, `hooks:ops`.
///
/// Requests name surfaces only by id; addresses live in the registry, so a request can
/// never point a webhook at an arbitrary URL.
public struct SurfaceID: Sendable, Hashable, Comparable, WireStringIdentifier, ExpressibleByStringLiteral {
    public let rawValue: String

    /// Accepts 1–128 characters from `[A-Za-z0-9:._/@-]`; throws `invalidSurfaceID` otherwise.
    public init(validating rawValue: String) throws(BridgebackError) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= 128,
            rawValue.unicodeScalars.allSatisfy({ Self.allowed($0) })
        else {
            throw BridgebackError(
                .invalidSurfaceID,
                "surface id '\(rawValue)' must be 1-128 characters from letters, digits and : . _ / @ -",
                surfaceID: rawValue
            )
        }
        self.rawValue = rawValue
    }

    /// For literals in code and tests; traps on an invalid literal.
    public init(stringLiteral value: String) {
        do { try self.init(validating: value) } catch { preconditionFailure(error.description) }
    }

    private static func allowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ":", ".", "_", "/", "@", "-": true
        default: false
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: SurfaceID, rhs: SurfaceID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(wireString: String) throws(BridgebackError) { try self.init(validating: wireString) }
}
