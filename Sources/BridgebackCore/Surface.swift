/// One validated entry of the surface registry: a place a result or progress may go.
public struct Surface: Sendable, Hashable {
    public var id: SurfaceID
    public var kind: SurfaceKind
    /// Kind-specific target: inbox routing key, webhook URL, file path, chat/channel id. Nil for stdout.
    public var address: String?
    /// How people call this place, used in every human line ("Alice's terminal").
    public var humanName: String
    /// The most one message may hold, in `lengthUnit`.
    public var maxLength: Int
    public var lengthUnit: LengthUnit
    public var lengthPolicy: LengthPolicy
    /// Whether a contract may name this surface with delivery mode `direct`.
    public var directAllowed: Bool
    /// Whether the receiver drops a repeated delivery id; decides `unknown_outcome` handling.
    public var deduplicates: Bool
    /// Webhook signing secret (webhooks only).
    public var signingSecret: SigningSecret?
    /// Bot token (chat kinds only), resolved from the environment at start.
    public var token: SurfaceToken?
    /// Chat API base URL, e.g. `https://discord.com/api/v10`; nil = the kind's public API.
    /// Tests and proxies point it elsewhere (`http://127.0.0.1:PORT`).
    public var apiBase: String?
    /// Where progress goes for requests that originate here (default: this surface).
    public var workSurface: SurfaceID?
    /// Where the answer goes for requests that originate here (default: this surface).
    public var finalSurface: SurfaceID?
    /// Whether this surface may receive final answers at all (an API-only origin may not).
    public var acceptsFinal: Bool

    public init(
        id: SurfaceID,
        kind: SurfaceKind,
        address: String? = nil,
        humanName: String,
        maxLength: Int? = nil,
        lengthUnit: LengthUnit? = nil,
        lengthPolicy: LengthPolicy = .split,
        directAllowed: Bool = false,
        deduplicates: Bool? = nil,
        signingSecret: SigningSecret? = nil,
        workSurface: SurfaceID? = nil,
        finalSurface: SurfaceID? = nil,
        acceptsFinal: Bool = true,
        token: SurfaceToken? = nil,
        apiBase: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.address = address
        self.humanName = humanName
        self.maxLength = maxLength ?? kind.defaultMaxLength
        self.lengthUnit = lengthUnit ?? kind.defaultLengthUnit
        self.lengthPolicy = lengthPolicy
        self.directAllowed = directAllowed
        self.deduplicates = deduplicates ?? kind.deduplicatesByDefault
        self.signingSecret = signingSecret
        self.workSurface = workSurface
        self.finalSurface = finalSurface
        self.acceptsFinal = acceptsFinal
        self.token = token
        self.apiBase = apiBase
    }
}
