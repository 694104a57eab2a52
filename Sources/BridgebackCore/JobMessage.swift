public import Foundation

/// What a worker receives (`bridgeback.job.v1`): what to run, where to report progress, until when.
///
/// It deliberately carries no final destination: a worker never chooses where an answer goes.
public struct JobMessage: WireMessage, Hashable {
    public static let schema = MessageSchema(.job, version: 1)

    public var jobID: JobID
    public var recipe: RecipeInvocation
    /// The worker pool (queue `bb.jobs.<pool>`).
    public var pool: String
    /// The routing key for progress on `bb.progress`.
    public var workSurface: SurfaceID
    /// A worker should stop (and report `cancelled` or `failed`) once this passes.
    public var deadline: Date
    /// What is being done, for progress lines.
    public var summary: String
    public var createdAt: Date
    /// The job's completion capability: a secret the worker echoes in its `Completion`, which
    /// the coordinator checks against the contract's hash. Only this message carries it; it is
    /// never logged (`description` redacts it).
    public var completionCapability: String?

    public init(
        jobID: JobID, recipe: RecipeInvocation, pool: String = "default", workSurface: SurfaceID, deadline: Date, summary: String,
        createdAt: Date,
        completionCapability: String? = nil
    ) {
        self.completionCapability = completionCapability
        self.jobID = jobID
        self.recipe = recipe
        self.pool = pool
        self.workSurface = workSurface
        self.deadline = deadline
        self.summary = summary
        self.createdAt = createdAt
    }

    /// The job message for a contract (what the outbox publishes after the contract).
    /// - Parameter completionCapability: the secret whose SHA-256 is the contract's `completionCapabilitySHA256`.
    public init(contract: OwnershipContract, pool: String = "default", completionCapability: String? = nil) {
        self.init(
            jobID: contract.jobID, recipe: contract.recipe, pool: pool, workSurface: contract.workSurface,
            deadline: contract.deadline, summary: contract.summary, createdAt: contract.createdAt,
            completionCapability: completionCapability)
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", recipe, pool, workSurface = "work_surface", deadline, summary, createdAt = "created_at"
        case completionCapability = "completion_capability"
    }
}

extension JobMessage: CustomStringConvertible, CustomDebugStringConvertible {
    /// Every field but the capability, which shows as `<redacted>`.
    public var description: String {
        "JobMessage(jobID: \(jobID), recipe: \(recipe.name), pool: \(pool), workSurface: \(workSurface), deadline: \(WireDate.format(deadline)), "
            + "completionCapability: \(completionCapability == nil ? "nil" : "<redacted>"))"
    }
    public var debugDescription: String { description }
}
