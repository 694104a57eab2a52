public import Foundation

/// The ownership record written before a job runs (wire schema `bridgeback.contract.v1`).
///
/// It is the *only* source of a job's destination: the coordinator delivers to
/// `finalSurface` in `deliveryMode` and ignores anything a completion claims.
public struct OwnershipContract: WireMessage, Hashable {
    public static let schema = MessageSchema(.contract, version: 1)

    public var jobID: JobID
    /// Where the request was asked.
    public var origin: SurfaceID
    /// Where progress goes.
    public var workSurface: SurfaceID
    /// Where the answer returns.
    public var finalSurface: SurfaceID
    public var deliveryMode: DeliveryMode
    /// No completion by `deadline` + the coordinator's grace → one `lost` notice.
    public var deadline: Date
    /// The admission policy version that decided to detach.
    public var policyVersion: String
    /// What was detached, in a few words ("release gate for api 2.3").
    public var summary: String
    /// A short excerpt of what was asked, for the human context of the final message.
    public var requestExcerpt: String
    /// Who the answer is handed back to (the inbox routing key for parent-mediated delivery).
    public var parentID: String
    public var recipe: RecipeInvocation
    public var idempotencyKey: String?
    public var createdAt: Date
    /// Which fields admission filled in by default (`work_surface`, `final_surface`, `delivery_mode`, `parent_id`).
    public var defaultsApplied: [String]
    /// Lowercase hex SHA-256 of the job's completion capability: the coordinator delivers only a
    /// completion that presents the secret behind it (which only the job message carries). The
    /// contract holds the hash, never the secret, so a contract shown or leaked forges nothing.
    /// Nil only for contracts admitted before capabilities existed (no check).
    public var completionCapabilitySHA256: String?

    public init(
        jobID: JobID, origin: SurfaceID, workSurface: SurfaceID, finalSurface: SurfaceID,
        deliveryMode: DeliveryMode, deadline: Date, policyVersion: String, summary: String,
        requestExcerpt: String, parentID: String, recipe: RecipeInvocation,
        idempotencyKey: String? = nil, createdAt: Date, defaultsApplied: [String] = [], completionCapabilitySHA256: String? = nil
    ) {
        self.completionCapabilitySHA256 = completionCapabilitySHA256
        self.jobID = jobID
        self.origin = origin
        self.workSurface = workSurface
        self.finalSurface = finalSurface
        self.deliveryMode = deliveryMode
        self.deadline = deadline
        self.policyVersion = policyVersion
        self.summary = summary
        self.requestExcerpt = requestExcerpt
        self.parentID = parentID
        self.recipe = recipe
        self.idempotencyKey = idempotencyKey
        self.createdAt = createdAt
        self.defaultsApplied = defaultsApplied
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", origin, workSurface = "work_surface", finalSurface = "final_surface"
        case deliveryMode = "delivery_mode", deadline, policyVersion = "policy_version", summary
        case requestExcerpt = "request_excerpt", parentID = "parent_id", recipe
        case idempotencyKey = "idempotency_key", createdAt = "created_at", defaultsApplied = "defaults_applied"
        case completionCapabilitySHA256 = "completion_capability_sha256"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        jobID = try c.decode(JobID.self, forKey: .jobID)
        origin = try c.decode(SurfaceID.self, forKey: .origin)
        workSurface = try c.decode(SurfaceID.self, forKey: .workSurface)
        finalSurface = try c.decode(SurfaceID.self, forKey: .finalSurface)
        deliveryMode = try c.decode(DeliveryMode.self, forKey: .deliveryMode)
        deadline = try c.decode(Date.self, forKey: .deadline)
        policyVersion = try c.decode(String.self, forKey: .policyVersion)
        summary = try c.decode(String.self, forKey: .summary)
        requestExcerpt = try c.decodeIfPresent(String.self, forKey: .requestExcerpt) ?? ""
        parentID = try c.decode(String.self, forKey: .parentID)
        recipe = try c.decode(RecipeInvocation.self, forKey: .recipe)
        idempotencyKey = try c.decodeIfPresent(String.self, forKey: .idempotencyKey)
        createdAt = try c.decode(Date.self, forKey: .createdAt)
        defaultsApplied = try c.decodeIfPresent([String].self, forKey: .defaultsApplied) ?? []
        completionCapabilitySHA256 = try c.decodeIfPresent(String.self, forKey: .completionCapabilitySHA256)
    }
}

extension OwnershipContract {
    /// The contract as the HTTP APIs show it (admission's jobs, dry runs and stories): the wire form
    /// with its `schema` field, without the completion capability hash (only the coordinator checks
    /// it), and with RFC 3339 dates whatever the date strategy of the coder it passes through — so a
    /// client decoding with a plain `JSONDecoder` gets the same contract as one using `WireCodec`.
    public struct Shown: Sendable, Hashable, Codable {
        public var contract: OwnershipContract

        public init(_ contract: OwnershipContract) {
            var shown = contract
            shown.completionCapabilitySHA256 = nil
            self.contract = shown
        }

        private enum Tag: String, CodingKey { case schema }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func date(_ key: CodingKeys) throws -> Date {
                let text = try c.decode(String.self, forKey: key)
                guard let date = WireDate.parse(text) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: key, in: c, debugDescription: "'\(text)' is not an RFC 3339 timestamp such as 2025-01-31T12:00:00.000Z")
                }
                return date
            }
            contract = OwnershipContract(
                jobID: try c.decode(JobID.self, forKey: .jobID), origin: try c.decode(SurfaceID.self, forKey: .origin),
                workSurface: try c.decode(SurfaceID.self, forKey: .workSurface),
                finalSurface: try c.decode(SurfaceID.self, forKey: .finalSurface),
                deliveryMode: try c.decode(DeliveryMode.self, forKey: .deliveryMode), deadline: try date(.deadline),
                policyVersion: try c.decode(String.self, forKey: .policyVersion), summary: try c.decode(String.self, forKey: .summary),
                requestExcerpt: try c.decodeIfPresent(String.self, forKey: .requestExcerpt) ?? "",
                parentID: try c.decode(String.self, forKey: .parentID), recipe: try c.decode(RecipeInvocation.self, forKey: .recipe),
                idempotencyKey: try c.decodeIfPresent(String.self, forKey: .idempotencyKey), createdAt: try date(.createdAt),
                defaultsApplied: try c.decodeIfPresent([String].self, forKey: .defaultsApplied) ?? [])
        }

        public func encode(to encoder: any Encoder) throws {
            var tag = encoder.container(keyedBy: Tag.self)
            try tag.encode(OwnershipContract.schema.description, forKey: .schema)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(contract.jobID, forKey: .jobID)
            try c.encode(contract.origin, forKey: .origin)
            try c.encode(contract.workSurface, forKey: .workSurface)
            try c.encode(contract.finalSurface, forKey: .finalSurface)
            try c.encode(contract.deliveryMode, forKey: .deliveryMode)
            try c.encode(WireDate.format(contract.deadline), forKey: .deadline)
            try c.encode(contract.policyVersion, forKey: .policyVersion)
            try c.encode(contract.summary, forKey: .summary)
            try c.encode(contract.requestExcerpt, forKey: .requestExcerpt)
            try c.encode(contract.parentID, forKey: .parentID)
            try c.encode(contract.recipe, forKey: .recipe)
            try c.encodeIfPresent(contract.idempotencyKey, forKey: .idempotencyKey)
            try c.encode(WireDate.format(contract.createdAt), forKey: .createdAt)
            try c.encode(contract.defaultsApplied, forKey: .defaultsApplied)
        }
    }
}
