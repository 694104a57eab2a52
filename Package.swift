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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
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
        // Swift AMQP 0-9-1 layer: no domain logic, one thread per connection.
        .target(
            name: "BridgebackAMQP",
            dependencies: [
                "CRabbitMQ",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The RabbitMQ objects Bridgeback needs: load the definitions file, apply it, report drift.
        .target(
            name: "BridgebackTopology",
            dependencies: [
                "BridgebackAMQP",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Admission policy engine: pure, deterministic, no I/O beyond loading its policy file.
        .target(
            name: "BridgebackPolicy",
            resources: [.copy("Resources/default-policy.json")],
            swiftSettings: swiftSettings
        ),
        // Domain core: records, wire messages, state machines. No I/O.
        .target(
            name: "BridgebackCore",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bridgeback",
            dependencies: [
                "BridgebackAMQP",
                "BridgebackTopology",
                "BridgebackPolicy",
                "BridgebackCore",
                "CRabbitMQBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
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
            name: "BridgebackCoreTests",
            dependencies: ["BridgebackCore"],
            swiftSettings: swiftSettings
        ),
        // Needs a real RabbitMQ on loopback (scripts/test starts one).
        .testTarget(
            name: "BridgebackIntegrationTests",
            dependencies: ["BridgebackAMQP", "BridgebackTopology"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
