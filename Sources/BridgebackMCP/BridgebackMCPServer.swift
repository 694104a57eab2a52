import BridgebackCore
import Foundation
public import Logging
public import MCP
import Synchronization

/// Builds MCP sessions that serve the Bridgeback tools, and announces inbox events to them.
///
/// One `MCPSession` per connected client: the stdio transport has one; the HTTP transport one
/// per `Mcp-Session-Id`. All sessions of a process share the fleet client and the inbox; each
/// acts for its own `MCPCaller` (the token its calls carry, the principal whose scope opens the
/// inbox or not).
public struct BridgebackMCPServer: Sendable {
    public static let name = "bridgeback"
    public static let version = "1.0.0"

    public let tools: BridgebackTools
    let logger: Logger

    public init(tools: BridgebackTools, logger: Logger) {
        self.tools = tools
        self.logger = logger
    }

    /// The inbox as an MCP resource: `bridgeback://inbox/<parent>`.
    public var inboxURI: String? { tools.identity.parent.map { "bridgeback://inbox/\($0)" } }

    var instructions: String {
        """
        Bridgeback moves long work out of this conversation and brings the answer back. Before starting work that \
        may take many tool calls or long waits (verification closeouts, audits, release gates, multi-source \
        preparation, waiting on deploys), call bridgeback_decide; if it says detach, call bridgeback_detach and tell \
        the user the one line it returns. Answers of parent-mediated jobs arrive in your inbox: when told a notice \
        arrived, call bridgeback_inbox, then tell the user the result in your own words, naming the job.
        """
    }

    /// A new MCP server for one client connection acting for `caller`, with every handler registered.
    public func makeSession(caller: MCPCaller) async -> MCPSession {
        let server = Server(
            name: Self.name, version: Self.version, title: "Bridgeback", instructions: instructions,
            capabilities: .init(logging: .init(), resources: .init(subscribe: true, listChanged: false), tools: .init(listChanged: false)))
        let tools = self.tools.serving(caller)
        let session = MCPSession(server: server, inbox: tools.inbox, inboxURI: inboxURI, caller: caller, logger: logger)
        var logger = self.logger
        if let principal = caller.principal { logger[metadataKey: "principal"] = "\(principal.name)" }
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: tools.definitions) }
        await server.withMethodHandler(CallTool.self) { [logger] params in
            logger.info("tool call", metadata: ["tool": "\(params.name)"])
            return try await tools.call(params.name, params.arguments)
        }
        await server.withMethodHandler(SetLoggingLevel.self) { params in
            session.setLevel(params.level)
            return Empty()
        }
        let uri = inboxURI
        await server.withMethodHandler(ListResources.self) { _ in
            guard let uri, let parent = tools.identity.parent, caller.inboxRefusal(parent: parent) == nil else {
                return ListResources.Result(resources: [])
            }
            return ListResources.Result(resources: [
                Resource(
                    name: "inbox", uri: uri,
                    description: "Final notices waiting for parent \(parent) (read = peek; take them with bridgeback_inbox).",
                    mimeType: "application/json")
            ])
        }
        await server.withMethodHandler(ReadResource.self) { params in
            guard let uri, params.uri == uri, let inbox = tools.inbox else {
                throw MCPError.invalidParams("resources/read: argument 'uri' must be \(uri ?? "(no inbox configured)"), got \(params.uri)")
            }
            try tools.requireInbox("resources/read", parent: inbox.parent)
            let items = await inbox.peek(max: 100)
            let json = JSONValue.object(["waiting": .array(items.map(\.json)), "count": .number(Double(items.count))])
            let text = String(decoding: (try? JSONEncoder().encode(json)) ?? Data(), as: UTF8.self)
            return ReadResource.Result(contents: [.text(text, uri: uri, mimeType: "application/json")])
        }
        await server.withMethodHandler(ResourceSubscribe.self) { params in
            guard params.uri == uri else {
                throw MCPError.invalidParams(
                    "resources/subscribe: argument 'uri' must be \(uri ?? "(no inbox configured)"), got \(params.uri)")
            }
            if let parent = tools.identity.parent { try tools.requireInbox("resources/subscribe", parent: parent) }
            session.setSubscribed(true)
            return Empty()
        }
        await server.withMethodHandler(ResourceUnsubscribe.self) { _ in
            session.setSubscribed(false)
            return Empty()
        }
        await server.onNotification(InitializedNotification.self) { _ in
            await session.startAnnouncing()
        }
        return session
    }
}

/// One client's MCP session: the SDK `Server` plus the task that announces inbox events to it.
public final class MCPSession: Sendable {
    public let server: Server
    let inbox: Inbox?
    let inboxURI: String?
    let caller: MCPCaller
    let logger: Logger

    private struct State {
        var level: LogLevel = .info
        var subscribed = false
        var announcing: Task<Void, Never>?
    }
    private let state = Mutex(State())

    init(server: Server, inbox: Inbox?, inboxURI: String?, caller: MCPCaller, logger: Logger) {
        self.server = server
        self.inbox = inbox
        self.inboxURI = inboxURI
        self.caller = caller
        self.logger = logger
    }

    func setLevel(_ level: LogLevel) { state.withLock { $0.level = level } }
    func setSubscribed(_ flag: Bool) { state.withLock { $0.subscribed = flag } }

    /// Starts the transport and serves until `stop()` or the client goes away.
    public func start(transport: any Transport) async throws {
        try await server.start(transport: transport)
    }

    public func waitUntilCompleted() async {
        await server.waitUntilCompleted()
    }

    public func stop() async {
        let task = state.withLock { state -> Task<Void, Never>? in
            defer { state.announcing = nil }
            return state.announcing
        }
        task?.cancel()
        await server.stop()
    }

    /// After `notifications/initialized`: says how many notices wait, then announces each new
    /// notice (log message `bridgeback.inbox`, level notice; `resources/updated` if subscribed)
    /// and each progress event of a job this session detached or looked up (log message
    /// `bridgeback.progress`, level info). Notices only when the caller may open the inbox
    /// (checked at each one: a reloaded principals file may have changed the scope).
    func startAnnouncing() async {
        guard let inbox, state.withLock({ $0.announcing == nil }) else { return }
        let caller = self.caller
        let parent = inbox.parent
        let events = await inbox.events()
        let waiting = await inbox.waitingCount
        if waiting > 0, caller.inboxRefusal(parent: parent) == nil {
            await announce(
                level: .notice, logger: "bridgeback.inbox",
                data: ["event": "waiting", "count": .int(waiting), "hint": "call bridgeback_inbox to take them"], resourceChanged: true)
        }
        let task = Task { [weak self] in
            for await event in events {
                guard let self else { return }
                switch event {
                case .arrived(let item):
                    guard caller.inboxRefusal(parent: parent) == nil else { continue }
                    await self.announce(
                        level: .notice, logger: "bridgeback.inbox",
                        data: [
                            "event": "notice", "job_id": .string(item.jobID), "kind": .string(item.kind),
                            "message_id": .string(item.messageID),
                            "human": .string(HumanText.excerpt(item.human, maxCharacters: 300)), "hint": "call bridgeback_inbox to take it",
                        ], resourceChanged: true)
                case .progress(let event):
                    guard caller.follows(job: event.jobID.description) else { continue }
                    var data: [String: Value] = [
                        "event": "progress", "job_id": .string(event.jobID.description), "phase": .string(event.phase.rawValue),
                        "message": .string(event.message), "sequence": .int(event.sequence),
                    ]
                    if let fraction = event.fraction { data["fraction"] = .double(fraction) }
                    await self.announce(level: .info, logger: "bridgeback.progress", data: .object(data), resourceChanged: false)
                }
            }
        }
        state.withLock { $0.announcing = task }
    }

    private func announce(level: LogLevel, logger name: String, data: Value, resourceChanged: Bool) async {
        let (threshold, subscribed) = state.withLock { ($0.level, $0.subscribed) }
        do {
            if LogLevel.allCases.firstIndex(of: level)! >= LogLevel.allCases.firstIndex(of: threshold)! {
                try await server.log(level: level, logger: name, data: data)
            }
            if resourceChanged, subscribed, let inboxURI {
                try await server.notify(ResourceUpdatedNotification.message(.init(uri: inboxURI)))
            }
        } catch {
            logger.debug("could not notify the client", metadata: ["error": "\(error)"])
        }
    }
}
