/// Who made a request, and what it may do: the identity the bearer-token middleware attaches
/// to every authenticated HTTP request.
///
/// Scope is explicit: `origins` it may submit as, `surfaces` it may send progress or answers
/// to (work and final surface), `parents` it may hand answers back to (`parent_id`), and
/// whether it is an `operator`, who may read, list and cancel every job. Anyone else sees only
/// jobs whose origin is one of its own origins. Scope applies to submissions whatever the role.
public struct Principal: Sendable, Hashable {
    public var name: String
    public var origins: [ScopePattern]
    public var surfaces: [ScopePattern]
    public var parents: [ScopePattern]
    public var isOperator: Bool

    public init(name: String, origins: [ScopePattern], surfaces: [ScopePattern], parents: [ScopePattern], isOperator: Bool = false) {
        self.name = name
        self.origins = origins
        self.surfaces = surfaces
        self.parents = parents
        self.isOperator = isOperator
    }

    /// Everything allowed: the identity of `--insecure-no-auth` (loopback development only).
    public static func unrestricted(name: String) -> Principal {
        let all = [try! ScopePattern(validating: "*")]  // a valid literal
        return Principal(name: name, origins: all, surfaces: all, parents: all, isOperator: true)
    }

    // MARK: Decisions

    /// Whether this principal may submit a request asked in `origin`.
    public func maySubmit(asOrigin origin: String) -> Bool { origins.anyMatches(origin) }

    /// Whether progress or an answer may go to `surface`.
    public func mayDeliver(to surface: String) -> Bool { surfaces.anyMatches(surface) }

    /// Whether an answer may be handed back to parent `parentID`.
    public func mayAddress(parent parentID: String) -> Bool { parents.anyMatches(parentID) }

    /// Whether a job asked in `origin` is visible (read, list, cancel) to this principal.
    public func maySee(jobOrigin origin: String) -> Bool { isOperator || origins.anyMatches(origin) }

    /// The first part of a job this principal may not address, as a 403 naming the field:
    /// origin, then work surface, final surface, parent. `defaulted` names the fields the caller
    /// did not give (the message then says the default was refused); `skipping` names fields not
    /// known yet (`work_surface`, `final_surface`, `parent_id`), which are not checked.
    public func authorize(
        origin: String, workSurface: String, finalSurface: String, parentID: String, defaulted: Set<String> = [],
        skipping: Set<String> = []
    ) -> AuthError? {
        if !maySubmit(asOrigin: origin) {
            return refusal("origin", "submit as origin '\(origin)'", allowed: origins)
        }
        for (field, surface) in [("work_surface", workSurface), ("final_surface", finalSurface)]
        where !skipping.contains(field) && !mayDeliver(to: surface) {
            let note = defaulted.contains(field) ? " (the default for origin '\(origin)')" : ""
            return refusal("contract.\(field)", "send to surface '\(surface)'\(note)", allowed: surfaces)
        }
        if !skipping.contains("parent_id") && !mayAddress(parent: parentID) {
            let note = defaulted.contains("parent_id") ? " (the default for origin '\(origin)')" : ""
            return refusal("contract.parent_id", "hand answers to parent '\(parentID)'\(note)", allowed: parents)
        }
        return nil
    }

    private func refusal(_ field: String, _ what: String, allowed: [ScopePattern]) -> AuthError {
        let list = allowed.isEmpty ? "none" : allowed.map(\.rawValue).joined(separator: ", ")
        return AuthError(
            .forbidden,
            "principal '\(name)' may not \(what); its principals-file entry allows: \(list). Ask an operator to extend it, or use a value inside that scope",
            field: field)
    }
}
