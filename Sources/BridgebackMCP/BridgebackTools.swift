import BridgebackCore
import Foundation
public import MCP

/// Who this MCP server acts for: the origin surface requests come from and the parent key its
/// parent-mediated answers come back to (the routing key on `bb.inbox`).
public struct AssistantIdentity: Sendable, Hashable {
    /// The origin surface id, e.g. `cli:alice`.
    public var origin: String
    /// The parent key, e.g. `alice` (the address of the origin's inbox surface).
    public var parent: String?

    public init(origin: String, parent: String?) {
        self.origin = origin
        self.parent = parent
    }
}

/// The Bridgeback tools an assistant sees, and what each does. Behaviour only: the MCP `Server`
/// wiring is in `BridgebackMCPServer`.
///
/// Everything goes through admission's and the coordinator's HTTP APIs with the caller's token
/// (the session's, `MCPCaller`), so an assistant can do exactly what its user could do with
/// `curl`, nothing more.
public struct BridgebackTools: Sendable {
    public let client: FleetClient
    public let identity: AssistantIdentity
    public let inbox: Inbox?
    public let consumer: InboxConsumer?
    /// Who the calls are made for (the stdio default: the client's own token).
    public let caller: MCPCaller

    public init(client: FleetClient, identity: AssistantIdentity, inbox: Inbox?, consumer: InboxConsumer?, caller: MCPCaller? = nil) {
        self.client = client
        self.identity = identity
        self.inbox = inbox
        self.consumer = consumer
        self.caller = caller ?? .serverToken(client.token.value)
    }

    /// The same tools acting for `caller`: its token on every call, its scope on the inbox.
    public func serving(_ caller: MCPCaller) -> BridgebackTools {
        BridgebackTools(
            client: client.with(token: caller.token.value), identity: identity, inbox: inbox, consumer: consumer, caller: caller)
    }

    /// Throws the MCP error a model can act on when the caller may not open `parent`'s inbox.
    func requireInbox(_ what: String, parent: String) throws(MCPError) {
        if let refusal = caller.inboxRefusal(parent: parent) { throw MCPError.invalidRequest("\(what): \(refusal)") }
    }

    public static let names = [
        "bridgeback_decide", "bridgeback_detach", "bridgeback_job", "bridgeback_jobs", "bridgeback_cancel", "bridgeback_inbox",
        "bridgeback_outcome",
    ]

    // MARK: Definitions

    static let hintsSchema: Value = [
        "type": "object",
        "description": "What you already know about the work's shape; each optional.",
        "properties": [
            "expected_wait_s": [
                "type": "number", "minimum": 0, "description": "Seconds the work will mostly spend waiting (deploys, CI, polls).",
            ],
            "sources": ["type": "integer", "minimum": 0, "description": "How many separate sources it must gather from."],
            "steps": ["type": "integer", "minimum": 0, "description": "How many verification or checklist steps it has."],
            "tools": ["type": "integer", "minimum": 0, "description": "How many tool calls you expect it to take."],
        ],
        "additionalProperties": false,
    ]

    static let recipeSchema: Value = [
        "type": "object",
        "description": "The named recipe a worker runs (requests never carry shell code) and its parameters.",
        "properties": [
            "name": ["type": "string", "minLength": 1, "description": "A recipe from the worker catalog, e.g. \"release-gate\"."],
            "params": ["type": "object", "description": "The recipe's parameters, checked against its declaration."],
        ],
        "required": ["name"],
        "additionalProperties": false,
    ]

    static let jobIDSchema: Value = [
        "type": "string", "minLength": 1, "description": "The job id from bridgeback_detach, e.g. \"job_01J…\".",
    ]

    /// The tool list with JSON Schemas and descriptions written for a model choosing among them.
    public var definitions: [Tool] {
        let parent = identity.parent.map { "'\($0)'" } ?? "(none configured)"
        return [
            Tool(
                name: "bridgeback_decide",
                title: "Should this stay inline?",
                description: """
                    Ask Bridgeback's admission policy whether a request should be answered inline (now, in this turn) or \
                    detached as background work, before you start it. Returns the decision, the one-sentence reason and the \
                    triggers that matched (verification-heavy closeouts, maintenance loops, release gates, multi-source \
                    preparation, wait-heavy work). Writes nothing. A question *about* such work stays inline. Use it when a \
                    request might take many tool calls or long waits; then answer inline or call bridgeback_detach.
                    """,
                inputSchema: [
                    "type": "object",
                    "properties": [
                        "text": ["type": "string", "minLength": 1, "description": "The user's request, as they said it."],
                        "hints": Self.hintsSchema,
                        "recipe": Self.recipeSchema,
                    ],
                    "required": ["text"],
                    "additionalProperties": false,
                ],
                annotations: .init(readOnlyHint: true)),
            Tool(
                name: "bridgeback_detach",
                title: "Hand long work to Bridgeback",
                description: """
                    Submit a request as background work with its ownership contract: where progress goes (work_surface), \
                    where the final answer returns (final_surface), and how (delivery_mode: "parent" = the answer comes back \
                    to this assistant's inbox \(parent) and you decide what the user sees; "direct" = sent straight to the \
                    final surface; "suppressed" = kept with the job). Anything you leave out is defaulted by admission and \
                    the defaults are stated back. If the policy says the request is small enough to answer inline, nothing \
                    is detached unless force is true. Returns the job id and one line to tell the user. Pass an \
                    idempotency_key so a retry never creates a second job.
                    """,
                inputSchema: [
                    "type": "object",
                    "properties": [
                        "text": ["type": "string", "minLength": 1, "description": "What to do, in the user's words."],
                        "recipe": Self.recipeSchema,
                        "summary": [
                            "type": "string", "description": "A short name for the job, shown to people (\"release gate for api 2.3\").",
                        ],
                        "work_surface": [
                            "type": "string", "description": "Surface id where progress goes; default: the origin's work surface.",
                        ],
                        "final_surface": [
                            "type": "string",
                            "description": "Surface id where the answer returns; default: the origin (\(identity.origin)).",
                        ],
                        "delivery_mode": [
                            "type": "string", "enum": ["parent", "direct", "suppressed"], "description": "Default: parent.",
                        ],
                        "deadline_s": [
                            "type": "number", "exclusiveMinimum": 0,
                            "description": "Seconds until the job counts as lost; default set by admission.",
                        ],
                        "idempotency_key": [
                            "type": "string", "minLength": 1, "maxLength": 200,
                            "description": "Same key from the same origin = the same job, never a second one.",
                        ],
                        "hints": Self.hintsSchema,
                        "force": [
                            "type": "boolean", "description": "Detach even if the policy would keep the request inline. Default false.",
                        ],
                    ],
                    "required": ["text"],
                    "additionalProperties": false,
                ]),
            Tool(
                name: "bridgeback_job",
                title: "Where is this job?",
                description: """
                    Where a detached job stands, in words: admitted or handed to a worker, its latest progress, and where its \
                    final answer went (delivered, waiting in your inbox, failed, uncertain). Use it when the user asks about \
                    a job or before telling them it is done.
                    """,
                inputSchema: [
                    "type": "object", "properties": ["job_id": Self.jobIDSchema], "required": ["job_id"], "additionalProperties": false,
                ],
                annotations: .init(readOnlyHint: true)),
            Tool(
                name: "bridgeback_jobs",
                title: "Recent jobs",
                description:
                    "The most recent jobs of a surface (default: this assistant's origin \(identity.origin)), newest first, one line each.",
                inputSchema: [
                    "type": "object",
                    "properties": [
                        "surface": ["type": "string", "description": "A surface id; jobs whose origin, work or final surface it is."],
                        "limit": ["type": "integer", "minimum": 1, "maximum": 100, "description": "Default 20."],
                    ],
                    "additionalProperties": false,
                ],
                annotations: .init(readOnlyHint: true)),
            Tool(
                name: "bridgeback_cancel",
                title: "Cancel a job",
                description: """
                    Ask Bridgeback to cancel a detached job (the user changed their mind, or it is no longer needed). The answer \
                    says what cancelling does to this job now; the job still ends in exactly one final notice.
                    """,
                inputSchema: [
                    "type": "object",
                    "properties": [
                        "job_id": Self.jobIDSchema, "reason": ["type": "string", "description": "Why, in a few words; kept with the job."],
                    ],
                    "required": ["job_id"],
                    "additionalProperties": false,
                ],
                annotations: .init(destructiveHint: true, idempotentHint: true)),
            Tool(
                name: "bridgeback_inbox",
                title: "Answers waiting for you",
                description: """
                    The final notices waiting for this assistant (parent key \(parent)): the answers of jobs detached with \
                    delivery_mode "parent", and receipts about deliveries that failed or are uncertain. Taking a notice removes \
                    it for good, so you see each exactly once: show it to the user (or act on it) in this turn. Use peek: true \
                    to look without taking. You are also told of new notices as they arrive (a log message \
                    "bridgeback.inbox"; the resource bridgeback://inbox/… is updated).
                    """,
                inputSchema: [
                    "type": "object",
                    "properties": [
                        "peek": ["type": "boolean", "description": "Look without taking. Default false."],
                        "max": ["type": "integer", "minimum": 1, "maximum": 100, "description": "At most this many. Default 10."],
                        "job_id": ["type": "string", "description": "Only this job's notices."],
                    ],
                    "additionalProperties": false,
                ]),
            Tool(
                name: "bridgeback_outcome",
                title: "Report how an inline turn went",
                description: """
                    After answering a request inline that bridgeback_decide (or bridgeback_detach) kept inline, report how \
                    it went: how long it took, how many tool calls, how long you waited, which sources. The audit uses this to \
                    find requests that should have been detached. Use the request_id from the decision.
                    """,
                inputSchema: [
                    "type": "object",
                    "properties": [
                        "request_id": ["type": "string", "minLength": 1, "description": "The request_id of the inline decision (req_…)."],
                        "duration_s": ["type": "number", "minimum": 0, "description": "How long the inline turn took, in seconds."],
                        "succeeded": ["type": "boolean", "description": "Whether the turn did what was asked."],
                        "tool_calls": ["type": "integer", "minimum": 0],
                        "wait_s": [
                            "type": "number", "minimum": 0, "description": "Seconds spent waiting within the turn (at most duration_s).",
                        ],
                        "sources": [
                            "description": "How many sources, or their names.",
                            "anyOf": [
                                ["type": "integer", "minimum": 0], ["type": "array", "items": ["type": "string", "minLength": 1]],
                            ],
                        ],
                        "verification_loops": ["type": "integer", "minimum": 0],
                        "follow_ups": ["type": "integer", "minimum": 0],
                        "note": ["type": "string", "maxLength": 2000],
                    ],
                    "required": ["request_id", "duration_s", "succeeded"],
                    "additionalProperties": false,
                ]),
        ]
    }

    // MARK: Calls

    /// Runs one tool call. Bad arguments throw `MCPError.invalidParams` naming the field; a
    /// refusal from admission is a tool result with `isError` and admission's own words.
    public func call(_ name: String, _ arguments: [String: Value]?) async throws(MCPError) -> CallTool.Result {
        switch name {
        case "bridgeback_decide": return try await decide(arguments)
        case "bridgeback_detach": return try await detach(arguments)
        case "bridgeback_job": return try await job(arguments)
        case "bridgeback_jobs": return try await jobs(arguments)
        case "bridgeback_cancel": return try await cancel(arguments)
        case "bridgeback_inbox": return try await inboxCall(arguments)
        case "bridgeback_outcome": return try await outcome(arguments)
        default: throw MCPError.invalidParams("unknown tool '\(name)'; the tools are \(Self.names.joined(separator: ", "))")
        }
    }

    private func requestBody(_ args: Arguments, dryRun: Bool) throws(MCPError) -> [String: JSONValue] {
        var body: [String: JSONValue] = ["origin": .string(identity.origin), "text": .string(try args.string("text", required: true)!)]
        if let hints = try args.object("hints") {
            let h = try Arguments(tool: args.tool, hints, known: ["expected_wait_s", "sources", "steps", "tools"])
            var out: [String: JSONValue] = [:]
            if let x = try h.number("expected_wait_s") { out["expected_wait_s"] = .number(x) }
            for key in ["sources", "steps", "tools"] { if let n = try h.integer(key) { out[key] = .number(Double(n)) } }
            body["hints"] = .object(out)
        }
        if let recipe = try args.object("recipe") {
            let r = try Arguments(tool: args.tool, recipe, known: ["name", "params"])
            var out: [String: JSONValue] = ["name": .string(try r.string("name", required: true)!)]
            if let params = try r.object("params") { out["params"] = Value.object(params).jsonValue }
            body["recipe"] = .object(out)
        }
        if dryRun { body["dry_run"] = true }
        return body
    }

    func decide(_ arguments: [String: Value]?) async throws(MCPError) -> CallTool.Result {
        let args = try Arguments(tool: "bridgeback_decide", arguments, known: ["text", "hints", "recipe"])
        let body = try requestBody(args, dryRun: true)
        switch await client.dryRun(.object(body)) {
        case .ok(_, let reply, let bytes):
            let decision = reply.decision
            let triggers = reply.triggers ?? []
            var lines = [decision == "detach" ? "Detach: \(reply.reason ?? "")" : "Inline: \(reply.reason ?? "")"]
            if !triggers.isEmpty { lines.append("Triggers: \(triggers.joined(separator: ", ")).") }
            lines.append(reply.human)
            lines.append(
                decision == "detach"
                    ? "Next: call bridgeback_detach with the same text (and a recipe) to hand it off."
                    : "Next: answer inline; afterwards report how it went with bridgeback_outcome (the request_id comes from bridgeback_detach's inline answer)."
            )
            lines.append("Nothing was recorded (policy only).")
            return result(lines.joined(separator: "\n"), bytes)
        case let other:
            return failure(other, action: "ask the policy")
        }
    }

    func detach(_ arguments: [String: Value]?) async throws(MCPError) -> CallTool.Result {
        let known = [
            "text", "recipe", "summary", "work_surface", "final_surface", "delivery_mode", "deadline_s", "idempotency_key", "hints",
            "force",
        ]
        let args = try Arguments(tool: "bridgeback_detach", arguments, known: known)
        var body = try requestBody(args, dryRun: false)
        if let summary = try args.string("summary", maxLength: 500) { body["summary"] = .string(summary) }
        if let key = try args.string("idempotency_key", maxLength: 200) { body["idempotency_key"] = .string(key) }
        if try args.bool("force") == true { body["force"] = "detach" }
        var contract: [String: JSONValue] = [:]
        if let surface = try args.string("work_surface", maxLength: 255) { contract["work_surface"] = .string(surface) }
        if let surface = try args.string("final_surface", maxLength: 255) { contract["final_surface"] = .string(surface) }
        if let mode = try args.oneOf("delivery_mode", ["parent", "direct", "suppressed"]) { contract["delivery_mode"] = .string(mode) }
        if let deadline = try args.number("deadline_s", minimum: 1, maximum: 365 * 24 * 3600) { contract["deadline_s"] = .number(deadline) }
        if let parent = identity.parent { contract["parent_id"] = .string(parent) }
        if !contract.isEmpty { body["contract"] = .object(contract) }

        switch await client.submit(.object(body)) {
        case .ok(_, let reply, let bytes):
            guard reply.decision == "detach", let job = reply.job else {
                return result(
                    """
                    Not detached: the policy keeps this inline (\(reply.reason)). Answer it in this turn; then report how it went with \
                    bridgeback_outcome (request_id \(reply.requestID)). To detach anyway, call bridgeback_detach again with force: true.
                    """, bytes)
            }
            let jobID = job.jobID
            caller.follow(job: jobID)
            await consumer?.watchProgress(surface: job.contract.workSurface.description)
            var lines = [job.human]
            lines.append("Job id: \(jobID) (request \(reply.requestID))")
            lines += reply.notes ?? []
            if let parent = identity.parent, job.contract.deliveryMode == .parent, job.contract.parentID == parent {
                lines.append(
                    "The answer comes back to this assistant's inbox (\(parent)): take it with bridgeback_inbox when you are told it arrived."
                )
            }
            lines.append("Tell the user: \(job.human)")
            return result(lines.joined(separator: "\n"), bytes)
        case let other:
            return failure(other, action: "detach")
        }
    }

    func job(_ arguments: [String: Value]?) async throws(MCPError) -> CallTool.Result {
        let args = try Arguments(tool: "bridgeback_job", arguments, known: ["job_id"])
        let id = try args.string("job_id", required: true, maxLength: 100)!
        let admitted: AdmittedJob
        var structured: [String: JSONValue] = [:]
        switch await client.job(id) {
        case .ok(_, let reply, let bytes):
            admitted = reply
            structured["job"] = Self.json(bytes)
        case let other: return failure(other, action: "look up job \(id)")
        }
        // Admission answered with the caller's token: this caller may see the job, and its progress.
        caller.follow(job: id)
        let workSurface = admitted.contract.workSurface.description
        await consumer?.watchProgress(surface: workSurface)
        var lines: [String] = []
        let summary = admitted.contract.summary.isEmpty ? nil : admitted.contract.summary
        lines.append("Job \(id)" + (summary.map { " (\"\($0)\")" } ?? "") + ": " + admitted.stateNote)
        let events = await inbox?.progress(of: id) ?? []
        if let last = events.last {
            let percent = last.percent.map { " (\($0)%)" } ?? ""
            lines.append(
                "Progress: \(last.message)\(percent), \(last.phase.rawValue) at \(WireDate.format(last.at))"
                    + (last.worker.map { " on \($0)" } ?? ""))
            structured["progress"] = .array(
                events.map { event in
                    var object: [String: JSONValue] = [
                        "sequence": .number(Double(event.sequence)), "phase": .string(event.phase.rawValue),
                        "message": .string(event.message),
                        "at": .string(WireDate.format(event.at)),
                    ]
                    if let fraction = event.fraction { object["fraction"] = .number(fraction) }
                    return .object(object)
                })
        } else {
            lines.append("Progress: none seen by this assistant yet (progress goes to \(workSurface)).")
        }
        switch await client.delivery(id) {
        case .ok(_, let delivery, let bytes):
            lines.append("Delivery: " + delivery.human)
            structured["delivery"] = Self.json(bytes)
        case .refused(404, _, _, _):
            lines.append("Delivery: the coordinator has no record of it yet (its contract is still on its way).")
        case .refused(_, _, let message, _):
            lines.append("Delivery: the coordinator status API refused: \(message)")
        case .unreachable(let reason):
            lines.append("Delivery: unknown (\(reason)).")
        }
        if let inbox, caller.inboxRefusal(parent: inbox.parent) == nil {
            let waiting = await inbox.peek(max: 1000).filter { $0.jobID == id }
            if !waiting.isEmpty {
                lines.append("\(waiting.count) notice(s) for this job are waiting in your inbox: take them with bridgeback_inbox.")
            }
        }
        return result(lines.joined(separator: "\n"), structured: .object(structured))
    }

    func jobs(_ arguments: [String: Value]?) async throws(MCPError) -> CallTool.Result {
        let args = try Arguments(tool: "bridgeback_jobs", arguments, known: ["surface", "limit"])
        let surface = try args.string("surface", maxLength: 255) ?? identity.origin
        let limit = try args.integer("limit", minimum: 1, maximum: 100) ?? 20
        switch await client.jobs(surface: surface, limit: limit) {
        case .ok(_, let reply, let bytes):
            guard !reply.jobs.isEmpty else { return result("No jobs for \(surface).", bytes) }
            let lines = reply.jobs.map { job in
                let summary = job.contract.summary.isEmpty ? job.contract.recipe.name : "\"\(job.contract.summary)\""
                return "\(job.jobID) · \(job.state) · \(summary) · created \(job.createdAt)"
            }
            return result("\(reply.jobs.count) job(s) for \(surface), newest first:\n" + lines.joined(separator: "\n"), bytes)
        case let other:
            return failure(other, action: "list jobs")
        }
    }

    func cancel(_ arguments: [String: Value]?) async throws(MCPError) -> CallTool.Result {
        let args = try Arguments(tool: "bridgeback_cancel", arguments, known: ["job_id", "reason"])
        let id = try args.string("job_id", required: true, maxLength: 100)!
        let reason = try args.string("reason", maxLength: 1000)
        switch await client.cancel(id, reason: reason) {
        case .ok(_, let reply, let bytes):
            return result("Cancel of job \(id) recorded: \(reply.job.stateNote)", bytes)
        case let other:
            return failure(other, action: "cancel job \(id)")
        }
    }

    func inboxCall(_ arguments: [String: Value]?) async throws(MCPError) -> CallTool.Result {
        let args = try Arguments(tool: "bridgeback_inbox", arguments, known: ["peek", "max", "job_id"])
        let peek = try args.bool("peek") ?? false
        let max = try args.integer("max", minimum: 1, maximum: 100) ?? 10
        let jobID = try args.string("job_id", maxLength: 100)
        guard let inbox, let parent = identity.parent else {
            return CallTool.Result(
                content: [
                    .text(
                        text:
                            "This Bridgeback MCP server has no inbox: it was started without --parent and a broker URL, so parent-mediated answers cannot reach it. Use bridgeback_job to see where an answer went.",
                        annotations: nil, _meta: nil)
                ],
                isError: true)
        }
        try requireInbox("bridgeback_inbox", parent: parent)
        let items: [InboxItem]
        if peek {
            items = await inbox.peek(max: 1000).filter { jobID == nil || $0.jobID == jobID }.prefix(max).map { $0 }
        } else {
            items = await inbox.take(max: max, jobID: jobID)
        }
        let remaining = await inbox.waitingCount
        let connected = await inbox.connected
        var lines: [String] = []
        if items.isEmpty {
            lines.append("No notices waiting for \(parent)" + (jobID.map { " from job \($0)" } ?? "") + ".")
        } else {
            lines.append(
                peek
                    ? "\(items.count) notice(s) waiting (peeked; not taken):"
                    : "\(items.count) notice(s) taken from the inbox of \(parent) (they will not be shown again):")
            for item in items { lines.append("— \(item.human)") }
        }
        if remaining > 0 { lines.append("\(remaining) more waiting.") }
        if !connected {
            lines.append("Warning: the inbox is not connected to the broker right now; new notices wait there until it reconnects.")
        }
        let structured: JSONValue = [
            "parent": .string(parent), "taken": .bool(!peek), "notices": .array(items.map(\.json)), "remaining": .number(Double(remaining)),
            "connected": .bool(connected),
        ]
        return result(lines.joined(separator: "\n"), structured: structured)
    }

    func outcome(_ arguments: [String: Value]?) async throws(MCPError) -> CallTool.Result {
        let known = [
            "request_id", "duration_s", "succeeded", "tool_calls", "wait_s", "sources", "verification_loops", "follow_ups", "note",
        ]
        let args = try Arguments(tool: "bridgeback_outcome", arguments, known: known)
        let requestID = try args.string("request_id", required: true, maxLength: 100)!
        var body: [String: JSONValue] = [
            "duration_s": .number(try args.number("duration_s", required: true, maximum: 30 * 24 * 3600)!),
            "succeeded": .bool(try args.bool("succeeded", required: true)!),
        ]
        for key in ["tool_calls", "verification_loops", "follow_ups"] {
            if let n = try args.integer(key) { body[key] = .number(Double(n)) }
        }
        if let wait = try args.number("wait_s", maximum: 30 * 24 * 3600) { body["wait_s"] = .number(wait) }
        switch args.values["sources"] {
        case .array?: body["sources"] = .array((try args.stringList("sources") ?? []).map { .string($0) })
        default: if let n = try args.integer("sources") { body["sources"] = .number(Double(n)) }
        }
        if let note = try args.string("note", maxLength: 2000) { body["note"] = .string(note) }
        switch await client.outcome(requestID: requestID, .object(body)) {
        case .ok(_, let reply, let bytes):
            return result("Outcome of \(requestID) \(reply.recorded) for the audit.", bytes)
        case let other:
            return failure(other, action: "report the outcome of \(requestID)")
        }
    }

    // MARK: Results

    /// A tool result whose structured content is the API's answer exactly as it was sent.
    private func result(_ text: String, _ bytes: Data) -> CallTool.Result {
        result(text, structured: Self.json(bytes))
    }

    private func result(_ text: String, structured: JSONValue) -> CallTool.Result {
        CallTool.Result(
            content: [.text(text: text, annotations: nil, _meta: nil)], structuredContent: structured.mcpValue as MCP.Value?, isError: false
        )
    }

    /// Bytes that decoded as a typed body are JSON; shown as Bridgeback's own `JSONValue` (numbers,
    /// strings and key order as sent; no `data:` string taken for binary, as `MCP.Value` would).
    static func json(_ bytes: Data) -> JSONValue {
        (try? JSONDecoder().decode(JSONValue.self, from: bytes)) ?? .null
    }

    /// A refusal or an unreachable service as a tool error the model can act on.
    private func failure<Body>(_ answer: FleetAnswer<Body>, action: String) -> CallTool.Result {
        switch answer {
        case .ok(_, _, let bytes):
            return result("done", bytes)
        case .refused(let status, let code, let message, let field):
            var text = "Could not \(action): \(message)"
            if let field { text += " (field: \(field))" }
            if status == 401 || status == 403 {
                text +=
                    caller.principal.map { " — principal '\($0.name)' (the token this session was opened with) is not allowed to do this." }
                    ?? " — the token this MCP server was started with is not allowed to do this."
            }
            let structured: JSONValue = [
                "error": [
                    "status": .number(Double(status)), "code": .string(code), "message": .string(message),
                    "field": field.map { .string($0) } ?? .null,
                ]
            ]
            return CallTool.Result(
                content: [.text(text: text, annotations: nil, _meta: nil)], structuredContent: structured.mcpValue as MCP.Value?,
                isError: true)
        case .unreachable(let reason):
            return CallTool.Result(
                content: [
                    .text(text: "Could not \(action): \(reason). Nothing was changed; try again later.", annotations: nil, _meta: nil)
                ], isError: true)
        }
    }
}
