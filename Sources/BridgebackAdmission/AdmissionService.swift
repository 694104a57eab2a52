import BridgebackAdmissionStore
import BridgebackAMQP
public import BridgebackAuth
public import BridgebackMetrics
public import BridgebackHTTP
public import BridgebackCore
import BridgebackPolicy
public import Foundation
public import Logging
public import ServiceLifecycle
import UnixSignals

/// Everything `bridgeback admission` needs to start, from flags, environment and files.
public struct AdmissionServiceConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Holds `admission.sqlite` (request log, jobs, outbox).
    public var dataDirectory: URL
    /// The surface registry (`surfaces.json`).
    public var surfacesFile: URL
    /// The worker's recipe catalog; nil skips recipe checks at admission.
    public var recipesFile: URL?
    /// A policy file; nil uses the policy shipped with the build.
    public var policyFile: URL?
    /// `amqp://…` for the outbox relay; nil runs without a broker (rows wait in the outbox).
    public var amqpURL: String?
    public var api: AdmissionConfiguration
    public var relay: OutboxRelayConfiguration
    /// Who may call the HTTP API (`HTTPAuth.configure` builds it from `--principals`).
    public var auth: HTTPAuth
    /// HTTP timeouts and the connection ceiling.
    public var httpLimits: HTTPServerLimits
    /// The coordinator's status API (`http://host:port`), which decides cancels; nil: cancel answers 503.
    public var coordinatorURL: String?
    /// A PEM CA an `https://` coordinator is verified against (BRIDGEBACK_CA_FILE); nil: the system's roots.
    public var coordinatorCAFile: String?
    /// How long the store keeps jobs, request-log lines and refusals it is done with (`StorePruner`).
    public var retention: Retention = .standard

    public init(
        host: String = "127.0.0.1", port: Int = 8080, dataDirectory: URL, surfacesFile: URL, recipesFile: URL? = nil,
        policyFile: URL? = nil, amqpURL: String? = nil, api: AdmissionConfiguration = .init(), relay: OutboxRelayConfiguration = .init(),
        auth: HTTPAuth, httpLimits: HTTPServerLimits = .init(), coordinatorURL: String? = nil
    ) {
        self.coordinatorURL = coordinatorURL
        self.auth = auth
        self.httpLimits = httpLimits
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.surfacesFile = surfacesFile
        self.recipesFile = recipesFile
        self.policyFile = policyFile
        self.amqpURL = amqpURL
        self.api = api
        self.relay = relay
    }
}

/// A start-up problem (unreadable file, invalid registry or policy, bad AMQP URL), with a
/// message that names the file and what to fix.
public struct AdmissionStartupError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The admission process: HTTP API and outbox relay, wired to one store.
///
/// ```swift
/// let service = try AdmissionService(configuration: config, logger: logger)
/// try await service.run()   // until SIGTERM/SIGINT; HTTP stops first, then the relay
/// ```
public struct AdmissionService: Sendable {
    public let api: AdmissionAPI
    public let relay: OutboxRelay
    /// Prunes the store on `configuration.retention`'s schedule.
    public let pruner: StorePruner
    public let configuration: AdmissionServiceConfiguration
    private let logger: Logger
    private let exposition: MetricsExposition?
    private let cancelClient: CoordinatorCancelClient?

    /// Loads and validates every file now, so a bad configuration stops the process at start.
    /// - Parameters:
    ///   - publisher: overrides the AMQP publisher built from `amqpURL` (tests).
    ///   - exposition: what `GET /metrics` serves; nil serves no `/metrics`.
    ///   - cancelForwarder: overrides the coordinator client built from `coordinatorURL` (tests).
    ///   - deliveryLookup: overrides it for the delivery side of job stories (tests).
    public init(
        configuration: AdmissionServiceConfiguration, logger: Logger, metrics: AdmissionMetrics = AdmissionMetrics(),
        publisher: (any OutboxPublisher)? = nil, exposition: MetricsExposition? = nil, cancelForwarder: (any CancelForwarding)? = nil,
        deliveryLookup: (any DeliveryLookup)? = nil
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.exposition = exposition
        let registry: SurfaceRegistry
        do { registry = try SurfaceRegistry.load(contentsOf: configuration.surfacesFile) } catch {
            let details = error.problems.map { "\n  - \($0.message)" }.joined()
            throw AdmissionStartupError("surface registry \(configuration.surfacesFile.path): \(error.message)\(details)")
        }
        let engine: PolicyEngine
        do {
            if let file = configuration.policyFile {
                engine = try PolicyEngine(policy: PolicyDocument.load(from: file))
            } else {
                engine = try PolicyEngine.bundledDefault()
            }
        } catch {
            throw AdmissionStartupError("admission policy rejected: \(error)")
        }
        var catalog: RecipeCatalogView?
        if let file = configuration.recipesFile {
            do { catalog = try RecipeCatalogView.load(contentsOf: file) } catch {
                throw AdmissionStartupError(error.message)
            }
        } else {
            logger.warning("no recipe catalog given (--recipes): recipe names and parameters are not checked at admission")
        }
        if let defaultRecipe = configuration.api.defaultRecipe, let catalog, catalog.recipes[defaultRecipe] == nil {
            throw AdmissionStartupError(
                "default recipe '\(defaultRecipe)' is not in the recipe catalog \(configuration.recipesFile?.path ?? ""); known: \(catalog.recipes.keys.sorted().joined(separator: ", "))"
            )
        }
        let store: AdmissionStore
        do { store = try AdmissionStore(directory: configuration.dataDirectory) } catch {
            throw AdmissionStartupError("cannot open the admission store in \(configuration.dataDirectory.path): \(error)")
        }
        var outboxPublisher = publisher
        if outboxPublisher == nil, let url = configuration.amqpURL {
            do {
                let amqp = try AMQPConfiguration(url: url, connectionName: "bridgeback-admission")
                outboxPublisher = AMQPOutboxPublisher(configuration: amqp, logger: logger)
            } catch {
                throw AdmissionStartupError("BRIDGEBACK_ADMISSION_AMQP_URL / BRIDGEBACK_AMQP_URL: \(error.message)")
            }
        }
        if outboxPublisher == nil {
            logger.warning("no broker URL (BRIDGEBACK_ADMISSION_AMQP_URL or BRIDGEBACK_AMQP_URL): detached jobs wait in the outbox")
        }
        let doorbell = OutboxDoorbell()
        let cancelClient = configuration.coordinatorURL.map {
            CoordinatorCancelClient(baseURL: $0, caFile: configuration.coordinatorCAFile)
        }
        if cancelClient == nil && cancelForwarder == nil {
            logger.warning(
                "no coordinator URL (--coordinator-url / BRIDGEBACK_COORDINATOR_URL): POST /v1/jobs/{id}/cancel answers 503 and job stories have no delivery side"
            )
        }
        self.cancelClient = cancelClient
        api = AdmissionAPI(
            configuration: configuration.api, registry: registry, engine: engine, catalog: catalog, store: store,
            doorbell: doorbell, publisher: outboxPublisher, logger: logger, metrics: metrics,
            cancelForwarder: cancelForwarder ?? cancelClient, deliveryLookup: deliveryLookup ?? cancelClient)
        relay = OutboxRelay(
            store: store, publisher: outboxPublisher ?? NoBrokerPublisher(), doorbell: doorbell,
            configuration: configuration.relay, logger: logger, metrics: metrics)
        pruner = StorePruner(store: store, retention: configuration.retention, logger: logger, metrics: metrics)
    }

    /// Runs HTTP and the relay until SIGTERM/SIGINT. HTTP stops first (no new rows), then the
    /// relay finishes the pass it is in.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await serviceGroup(onListening: onListening).run()
    }

    /// The group `run()` runs. With `handleSignals` false nothing listens for SIGTERM/SIGINT
    /// (tests, or callers that embed it in their own group) and shutdown is up to the caller.
    public func serviceGroup(
        handleSignals: Bool = true, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> ServiceGroup {
        let logger = self.logger
        let host = configuration.host
        let http = AdmissionHTTP.application(
            api: api, auth: configuration.auth, host: host, port: configuration.port, limits: configuration.httpLimits, logger: logger,
            exposition: exposition
        ) { port in
            let scheme = configuration.httpLimits.tls == nil ? "http" : "https"
            logger.info(
                "admission listening",
                metadata: ["http.host": "\(host)", "http.port": "\(port)", "http.scheme": "\(scheme)"])
            await onListening(port)
        }
        // ServiceGroup stops services in reverse order: the HTTP server first, then the relay.
        // Named explicitly: by default ServiceGroup logs "\(service)", a dump of its fields.
        return ServiceGroup(
            configuration: .init(
                services: (cancelClient.map {
                    [ServiceGroupConfiguration.ServiceConfiguration(service: $0, serviceName: "CoordinatorCancelClient")]
                } ?? [])
                    + [
                        .init(service: pruner, serviceName: "StorePruner"), .init(service: relay, serviceName: "OutboxRelay"),
                        .init(service: http, serviceName: "AdmissionHTTP"),
                    ],
                gracefulShutdownSignals: handleSignals ? [UnixSignal.sigterm, .sigint] : [], logger: logger))
    }
}

/// Stands in when no broker is configured: every publish fails as `notConnected`, so rows stay
/// in the outbox (and go out once admission restarts with a broker URL).
struct NoBrokerPublisher: OutboxPublisher {
    func publish(_ messages: [OutboundMessage]) async -> [Result<Void, AMQPError>] {
        messages.map { _ in .failure(AMQPError(.notConnected, "no broker configured")) }
    }
    func isConnected() async -> Bool { false }
    func shutdown() async {}
}
