import BridgebackAMQP
import BridgebackCore
import BridgebackPolicy
import Foundation
import GRDB
import Logging
import Synchronization

@testable import BridgebackAdmission
@testable import BridgebackAdmissionStore

enum Fixtures {
    static let registryJSON = """
        {
          "schema": "bridgeback.surfaces.v1",
          "surfaces": [
            {"id": "cli:alice", "kind": "inbox", "address": "alice", "human_name": "Alice's terminal", "work_surface": "work:alice", "direct_allowed": true},
            {"id": "work:alice", "kind": "inbox", "address": "alice.work", "human_name": "Alice's work log"},
            {"id": "pager:digest", "kind": "inbox", "address": "pager.digest", "human_name": "the pager digest", "direct_allowed": false},
            {"id": "api:anon", "kind": "stdout", "human_name": "the anonymous API", "accepts_final": false}
          ]
        }
        """

    /// In the worker's catalog format (deploy/local/recipes.json, docs/worker.md).
    static let catalogJSON = """
        {
          "version": 1,
          "default_recipe": "noop",
          "recipes": [
            {"name": "noop", "kind": "command", "argv": ["/bin/true"]},
            {"name": "agent", "kind": "handler", "parameters": [{"name": "prompt", "type": "string", "required": true, "max_length": 8000}]},
            {"name": "release-gate", "kind": "checklist", "parameters": [
              {"name": "service", "type": "string", "required": true, "pattern": "[a-z][a-z0-9-]{0,30}"},
              {"name": "env", "type": "string", "allowed": ["staging", "prod"], "default": "staging"},
              {"name": "retries", "type": "int", "minimum": 0, "maximum": 5}
            ]}
          ]
        }
        """

    static let registry: SurfaceRegistry = try! SurfaceRegistry.load(from: Data(registryJSON.utf8))
    static let catalog: RecipeCatalogView = try! RecipeCatalogView.parse(Data(catalogJSON.utf8))
    static let engine: PolicyEngine = try! PolicyEngine.bundledDefault()

    static var logger: Logger {
        var logger = Logger(label: "test.admission")
        logger.logLevel = .critical
        return logger
    }
}

/// A fresh directory under /tmp, removed by `cleanup()`.
struct TempDir {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("bb-adm-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Admission with a store in a temp directory and no relay running.
struct Harness {
    let dir: TempDir
    let store: AdmissionStore
    let doorbell: OutboxDoorbell
    let api: AdmissionAPI

    init(
        configuration: AdmissionConfiguration = .init(), catalog: RecipeCatalogView? = Fixtures.catalog, dir: TempDir = TempDir(),
        publisher: (any OutboxPublisher)? = nil, cancelForwarder: (any CancelForwarding)? = FakeCoordinator(),
        now: @escaping @Sendable () -> Date = { Date() }, deliveryLookup: (any DeliveryLookup)? = nil,
        walSync: (@Sendable (Database) throws -> Void)? = nil
    ) throws {
        self.dir = dir
        store =
            try walSync.map { try AdmissionStore(path: dir.url.appendingPathComponent("admission.sqlite").path, walSync: $0) }
            ?? AdmissionStore(directory: dir.url)
        doorbell = OutboxDoorbell()
        api = AdmissionAPI(
            configuration: configuration, registry: Fixtures.registry, engine: Fixtures.engine, catalog: catalog, store: store,
            doorbell: doorbell, publisher: publisher, logger: Fixtures.logger, now: now, cancelForwarder: cancelForwarder,
            cancelContractWait: .milliseconds(600), deliveryLookup: deliveryLookup)
    }

    func submit(_ json: String) async -> APIResponse {
        await api.submit(body: Array(json.utf8), as: .testOperator)
    }

    func relay(
        _ publisher: any OutboxPublisher,
        configuration: OutboxRelayConfiguration = .init(initialBackoff: .milliseconds(5), maxBackoff: .milliseconds(20))
    ) -> OutboxRelay {
        OutboxRelay(store: store, publisher: publisher, doorbell: doorbell, configuration: configuration, logger: Fixtures.logger)
    }
}

/// Stands in for the coordinator's cancel route: the first cancel of a job is accepted (202),
/// later ones are 409 `already_cancelled`; ids in `unknown` are 404 (contract not arrived);
/// with `down`, every call throws. Records the bearer tokens it was given.
final class FakeCoordinator: CancelForwarding {
    struct State {
        var cancelled: Set<String> = []
        var unknown: Set<String> = []
        var down = false
        var bearers: [String] = []
        var calls = 0
    }
    let state = Mutex(State())

    struct Down: Error {}

    func cancel(jobID: String, body: [UInt8], bearer: String) async throws -> (status: Int, body: [UInt8]) {
        try state.withLock { state in
            state.calls += 1
            state.bearers.append(bearer)
            if state.down { throw Down() }
            if state.unknown.contains(jobID) {
                return (404, Array(#"{"error":{"code":"not_found","message":"unknown"}}"#.utf8))
            }
            if state.cancelled.contains(jobID) {
                return (
                    409,
                    Array(
                        #"{"error":{"code":"already_cancelled","message":"job \#(jobID) was already cancelled; it cannot be cancelled"}}"#
                            .utf8)
                )
            }
            state.cancelled.insert(jobID)
            // The coordinator's answer as it writes it (`CancelDecided`).
            let decided = CancelDecided(
                jobID: jobID, requestedBy: "ops", requestedAt: "2026-12-06T03:00:00Z", workersTold: true, note: "n")
            return (202, Array((try? JSONEncoder().encode(decided)) ?? Data()))
        }
    }
}

/// Records what it is asked to publish; fails on demand.
final class FakePublisher: OutboxPublisher {
    struct State {
        var published: [OutboundMessage] = []
        var calls = 0
        /// Fail every message of the next `failCalls` calls with `failCode`.
        var failCalls = 0
        var failCode: AMQPError.Code = .notConnected
        /// Fail any message whose routing key is this (for example "contract").
        var failRoutingKey: String?
        /// What `isConnected()` answers.
        var connected = true
        /// What `isBlocked()` answers.
        var blocked = false
    }
    let state = Mutex(State())

    init(failCalls: Int = 0, failCode: AMQPError.Code = .notConnected) {
        state.withLock {
            $0.failCalls = failCalls
            $0.failCode = failCode
        }
    }

    func publish(_ messages: [OutboundMessage]) async -> [Result<Void, AMQPError>] {
        state.withLock { s in
            s.calls += 1
            if s.failCalls > 0 {
                s.failCalls -= 1
                return messages.map { _ in .failure(AMQPError(s.failCode, "fake failure")) }
            }
            return messages.map { message in
                if message.routingKey == s.failRoutingKey { return .failure(AMQPError(.unroutable, "fake unroutable")) }
                s.published.append(message)
                return .success(())
            }
        }
    }
    func isConnected() async -> Bool { state.withLock { $0.connected } }
    func isBlocked() async -> Bool { state.withLock { $0.blocked } }
    func shutdown() async {}

    var published: [OutboundMessage] { state.withLock { $0.published } }
    var calls: Int { state.withLock { $0.calls } }
}

extension APIResponse {
    subscript(_ key: String) -> JSONValue? {
        if case .object(let object) = body { return object[key] }
        return nil
    }
    var errorCode: String? {
        if case .object(let e)? = self["error"], case .string(let code)? = e["code"] { return code }
        return nil
    }
    var errorMessage: String? {
        if case .object(let e)? = self["error"], case .string(let message)? = e["message"] { return message }
        return nil
    }
    var errorField: String? {
        if case .object(let e)? = self["error"], case .string(let field)? = e["field"] { return field }
        return nil
    }
}

extension JSONValue {
    var string: String? { if case .string(let s) = self { s } else { nil } }
    subscript(_ key: String) -> JSONValue? { if case .object(let o) = self { o[key] } else { nil } }
    var strings: [String] { if case .array(let a) = self { a.compactMap(\.string) } else { [] } }
    var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
}
