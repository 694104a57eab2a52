public import Foundation

/// What admission knows before it resolves a contract: the request's optional ownership
/// fields plus the facts admission itself supplies.
public struct ContractDraft: Sendable, Hashable {
    public var origin: SurfaceID
    public var workSurface: SurfaceID?
    public var finalSurface: SurfaceID?
    public var deliveryMode: DeliveryMode?
    public var parentID: String?
    public var deadline: Date
    public var policyVersion: String
    /// What is being detached; defaults to an excerpt of `requestText` when empty.
    public var summary: String
    /// The request as asked (only an excerpt is kept in the contract).
    public var requestText: String
    public var recipe: RecipeInvocation
    public var idempotencyKey: String?

    public init(
        origin: SurfaceID, workSurface: SurfaceID? = nil, finalSurface: SurfaceID? = nil,
        deliveryMode: DeliveryMode? = nil, parentID: String? = nil, deadline: Date,
        policyVersion: String, summary: String = "", requestText: String,
        recipe: RecipeInvocation, idempotencyKey: String? = nil
    ) {
        self.origin = origin
        self.workSurface = workSurface
        self.finalSurface = finalSurface
        self.deliveryMode = deliveryMode
        self.parentID = parentID
        self.deadline = deadline
        self.policyVersion = policyVersion
        self.summary = summary
        self.requestText = requestText
        self.recipe = recipe
        self.idempotencyKey = idempotencyKey
    }
}

extension SurfaceRegistry {
    /// Turns a draft into an ownership record, or refuses with an error a person can act on.
    ///
    /// Defaults (each recorded in `defaultsApplied`): delivery mode `parent`; final surface =
    /// the origin's `final_surface`, else the origin itself if it accepts answers; work surface
    /// = the origin's `work_surface`, else the origin; parent id = the origin's address (inbox
    /// routing key), else the origin id. A destination is never guessed beyond these rules.
    public func resolve(_ draft: ContractDraft, jobID: JobID, createdAt: Date) throws(BridgebackError) -> OwnershipContract {
        let job = jobID.description
        let origin: Surface
        do { origin = try surface(draft.origin, role: "origin") } catch {
            throw BridgebackError(.unknownSurface, error.message, jobID: job, surfaceID: draft.origin.rawValue, field: "origin")
        }
        var defaults: [String] = []

        let workID: SurfaceID
        if let explicit = draft.workSurface {
            do { workID = try surface(explicit, role: "work_surface").id } catch {
                throw BridgebackError(.unknownSurface, error.message, jobID: job, surfaceID: explicit.rawValue, field: "work_surface")
            }
        } else {
            workID = origin.workSurface ?? origin.id
            defaults.append("work_surface")
        }

        let final: Surface
        if let explicit = draft.finalSurface {
            do { final = try surface(explicit, role: "final_surface") } catch {
                throw BridgebackError(.unknownSurface, error.message, jobID: job, surfaceID: explicit.rawValue, field: "final_surface")
            }
            guard final.acceptsFinal else {
                throw BridgebackError(
                    .invalidContract,
                    "final_surface '\(explicit)' (\(final.humanName)) does not accept answers; name a surface that does, or omit final_surface to use the origin's default",
                    jobID: job, surfaceID: explicit.rawValue, field: "final_surface")
            }
        } else if let fallback = origin.finalSurface.flatMap({ self[$0] }) ?? (origin.acceptsFinal ? origin : nil) {
            final = fallback
            defaults.append("final_surface")
        } else {
            throw BridgebackError(
                .missingFinalSurface,
                "no final_surface given and origin '\(origin.id)' (\(origin.humanName)) has no default; name a final_surface, or set final_surface for '\(origin.id)' in the surface registry",
                jobID: job, surfaceID: origin.id.rawValue, field: "final_surface")
        }

        let mode: DeliveryMode
        if let explicit = draft.deliveryMode {
            mode = explicit
        } else {
            mode = .parent
            defaults.append("delivery_mode")
        }
        if mode == .direct && !final.directAllowed {
            throw BridgebackError(
                .directNotAllowed,
                "direct delivery to '\(final.id)' (\(final.humanName)) is not allowed by the surface registry; use delivery_mode \"parent\", or pick a surface with direct_allowed: true",
                jobID: job, surfaceID: final.id.rawValue, field: "delivery_mode")
        }
        guard draft.deadline > createdAt else {
            throw BridgebackError(
                .invalidContract,
                "deadline \(WireDate.format(draft.deadline)) is not after the request time \(WireDate.format(createdAt)); give a deadline in the future",
                jobID: job, field: "deadline")
        }
        guard !draft.recipe.name.isEmpty else {
            throw BridgebackError(
                .invalidContract, "recipe name is empty; name a recipe from the worker catalog", jobID: job, field: "recipe")
        }

        let parentID: String
        if let explicit = draft.parentID, !explicit.isEmpty {
            parentID = explicit
        } else {
            parentID = origin.kind == .inbox ? (origin.address ?? origin.id.rawValue) : origin.id.rawValue
            defaults.append("parent_id")
        }
        let excerpt = HumanText.excerpt(draft.requestText, maxCharacters: 160)
        let trimmedSummary = draft.summary.trimmingCharacters(in: .whitespacesAndNewlines)
        return OwnershipContract(
            jobID: jobID, origin: origin.id, workSurface: workID, finalSurface: final.id,
            deliveryMode: mode, deadline: draft.deadline, policyVersion: draft.policyVersion,
            summary: trimmedSummary.isEmpty ? HumanText.excerpt(draft.requestText, maxCharacters: 80) : trimmedSummary,
            requestExcerpt: excerpt, parentID: parentID, recipe: draft.recipe,
            idempotencyKey: draft.idempotencyKey, createdAt: createdAt, defaultsApplied: defaults
        )
    }

    /// The one human line for a detach reply:
    /// "Detached: <what>; progress in <work>; the answer returns to <final> (parent-mediated)".
    ///
    /// Falls back to surface ids if a surface has since left the registry.
    public func humanLine(for contract: OwnershipContract) -> String {
        let work = self[contract.workSurface]?.humanName ?? contract.workSurface.rawValue
        let final = self[contract.finalSurface]?.humanName ?? contract.finalSurface.rawValue
        let what = contract.summary
        switch contract.deliveryMode {
        case .parent, .direct:
            return "Detached: \(what); progress in \(work); the answer returns to \(final) (\(contract.deliveryMode.humanName))"
        case .suppressed:
            return "Detached: \(what); progress in \(work); the answer is kept with the job, not sent (suppressed)"
        }
    }
}
