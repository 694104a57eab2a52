// swift-tools-version:6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Bridgeback",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bridgeback", targets: ["bridgeback"]),
        .library(name: "BridgebackAMQP", targets: ["BridgebackAMQP"]),
        .library(name: "BridgebackPolicy", targets: ["BridgebackPolicy"]),
        .library(name: "BridgebackCore", targets: ["BridgebackCore"]),
        .library(name: "BridgebackMetrics", targets: ["BridgebackMetrics"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Already in the graph (AsyncHTTPClient, HummingbirdTLS); named for its trust-root API.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
    ],
    targets: [
        // rabbitmq-c (librabbitmq-dev) plus a thin, prefixed shim for what Swift cannot call.
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        // The plain C reference loop the AMQP benchmark compares the Swift layer against.
        .target(
            name: "CRabbitMQBench",
            dependencies: ["CRabbitMQ"]
        ),
        // The prefixed C shim for starting and supervising child processes (what Swift sees of glibc lacks it).
        .target(name: "CBridgebackProcess"),
        // The C allocator's figures and trim (mallinfo2, malloc_trim): the coordinator gives memory back after a backlog.
        .target(name: "CBridgebackMemory"),
        // Swift AMQP 0-9-1 layer: no domain logic, one thread per connection.
        .target(
            name: "BridgebackAMQP",
            dependencies: [
                "CRabbitMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The RabbitMQ objects Bridgeback needs: load the definitions file, apply it, report drift.
        .target(
            name: "BridgebackTopology",
            dependencies: [
                "BridgebackAMQP",
                // The definitions file is read through the schema layer (SchemaReader); the core depends on nothing.
                "BridgebackCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Prometheus backend for swift-metrics and the GET /metrics endpoint; only the executable
        // bootstraps it, libraries record through swift-metrics and serve what this renders.
        .target(
            name: "BridgebackMetrics",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The text log handler every command logs through: swift-log's StreamLogHandler line,
        // written for a fraction of its cost (#12, fourteenth session).
        .target(
            name: "BridgebackLogging",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // Admission policy engine: pure, deterministic, no I/O beyond loading its policy file.
        .target(
            name: "BridgebackPolicy",
            dependencies: ["BridgebackCore"],
            resources: [.copy("Resources/default-policy.json")],
            swiftSettings: swiftSettings
        ),
        // Domain core: records, wire messages, state machines. No I/O.
        .target(
            name: "BridgebackCore",
            swiftSettings: swiftSettings
        ),
        // Bearer-token authentication and scope decisions shared by both HTTP servers and the CLI.
        .target(
            name: "BridgebackAuth",
            dependencies: [
                "BridgebackCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP servers that face untrusted clients: timeouts, a connection ceiling, JSON errors.
        .target(
            name: "BridgebackHTTP",
            dependencies: [
                "BridgebackCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the stores share: opening a SQLite file another process writes; the group commit's transaction;
        // a WAL sync by hand (SQLite's C API: GRDBSQLite).
        .target(
            name: "BridgebackSQLite",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        // admission.sqlite: its schema and migrations, the store admission writes through, and the
        // read-only query API other processes (the audit) read it with. No HTTP, no broker.
        .target(
            name: "BridgebackAdmissionStore",
            dependencies: [
                "BridgebackCore",
                "BridgebackSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The coordinator's ledger file: its schema and migrations, the JSON forms of its columns, and the
        // read-only query API other processes (the audit) read it with. The coordinator writes it.
        .target(
            name: "BridgebackLedger",
            dependencies: [
                "BridgebackCore",
                "BridgebackSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // `bridgeback admission`: HTTP API, policy, contract validation, SQLite request log + outbox, relay.
        .target(
            name: "BridgebackAdmission",
            dependencies: [
                "BridgebackCore", "BridgebackPolicy", "BridgebackAMQP", "BridgebackAuth", "BridgebackMetrics", "BridgebackHTTP",
                "BridgebackAdmissionStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `bridgeback worker`: stateless; runs named recipes, publishes progress and completions.
        .target(
            name: "BridgebackWorker",
            dependencies: [
                "BridgebackCore", "BridgebackAMQP", "CBridgebackProcess",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `bridgeback coordinator`: the single owner of final delivery; SQLite ledger; adapters.
        .target(
            name: "BridgebackCoordinator",
            dependencies: [
                "BridgebackCore", "BridgebackAMQP", "BridgebackAuth", "BridgebackMetrics", "BridgebackHTTP", "BridgebackLedger",
                "BridgebackSQLite", "BridgebackTopology", "CBridgebackMemory",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `bridgeback audit`: reads the request log, outcomes and ledger through their stores' read-only
        // query APIs (never their SQL); classifies misses; proposes policy.
        .target(
            name: "BridgebackAudit",
            dependencies: [
                "BridgebackCore", "BridgebackPolicy", "BridgebackAdmissionStore", "BridgebackLedger",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `bridgeback mcp`: an MCP server for assistants; a client of admission and the coordinator
        // status API over HTTP, and a consumer of the parent inbox on the broker.
        .target(
            name: "BridgebackMCP",
            dependencies: [
                "BridgebackCore", "BridgebackAMQP", "BridgebackAuth", "BridgebackHTTP",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The CLI's clients of a running fleet: admission's and the coordinator's HTTP APIs (bearer token,
        // an optional private CA), the RabbitMQ management API, the `status` report, the `watch` loop and
        // the audit's report delivery and outcome ingest. The executable only parses arguments and prints.
        .target(
            name: "BridgebackClient",
            dependencies: [
                // BridgebackCoordinator: `BrokerOverview.parse`, the management API reading the dashboard shares.
                "BridgebackCore", "BridgebackAMQP", "BridgebackCoordinator", "BridgebackTopology",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `bridgeback receiver`: a Standard Webhooks receiver (verify, deduplicate, record) for the demo and tests.
        .target(
            name: "BridgebackReceiver",
            dependencies: [
                "BridgebackCore", "BridgebackCoordinator",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `bridgeback bench …` and `roundtrip`: figures against a baseline measured in the same run.
        .target(
            name: "BridgebackBench",
            dependencies: [
                "BridgebackAMQP", "BridgebackPolicy", "CRabbitMQBench",
                // `bench fleet`'s submits: a light client on the cores it measures.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bridgeback",
            dependencies: [
                "BridgebackAMQP",
                "BridgebackTopology",
                "BridgebackPolicy",
                "BridgebackCore",
                "BridgebackHTTP",
                "BridgebackAdmission",
                "BridgebackWorker",
                "BridgebackCoordinator",
                "BridgebackAudit",
                "BridgebackAuth",
                "BridgebackMetrics",
                "BridgebackLogging",
                "BridgebackMCP",
                "BridgebackReceiver",
                "BridgebackBench",
                "BridgebackClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackAMQPTests",
            dependencies: ["BridgebackAMQP"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackPolicyTests",
            dependencies: ["BridgebackPolicy"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackTopologyTests",
            dependencies: ["BridgebackTopology"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackCoreTests",
            dependencies: ["BridgebackCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackAuthTests",
            dependencies: ["BridgebackAuth"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackAdmissionTests",
            // BridgebackWorker: CatalogAgreementTests hold admission and the worker to one catalog grammar.
            dependencies: ["BridgebackAdmission", "BridgebackAdmissionStore", "BridgebackHTTP", "BridgebackWorker"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackWorkerTests",
            dependencies: ["BridgebackWorker", "BridgebackMetrics"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackReceiverTests",
            dependencies: ["BridgebackReceiver", "BridgebackCoordinator"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackCoordinatorTests",
            dependencies: ["BridgebackCoordinator", "BridgebackLedger", "BridgebackSQLite", "BridgebackTopology"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackMetricsTests",
            dependencies: ["BridgebackMetrics", .product(name: "Metrics", package: "swift-metrics")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackLoggingTests",
            dependencies: ["BridgebackLogging", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackMCPTests",
            dependencies: ["BridgebackMCP", "BridgebackCore", "BridgebackAuth", .product(name: "MCP", package: "swift-sdk")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackClientTests",
            dependencies: ["BridgebackClient", "BridgebackCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgebackAuditTests",
            // The stores and the coordinator write the data the loader reads, through their real write APIs.
            dependencies: [
                "BridgebackAudit", "BridgebackAdmissionStore", "BridgebackLedger", "BridgebackCoordinator", "BridgebackCore",
                "BridgebackPolicy",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Needs a real RabbitMQ on loopback (scripts/test starts one).
        .testTarget(
            name: "BridgebackIntegrationTests",
            dependencies: [
                "BridgebackAMQP", "BridgebackTopology", "BridgebackCore", "BridgebackWorker", "BridgebackMetrics", "BridgebackLedger",
                "BridgebackAdmissionStore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
