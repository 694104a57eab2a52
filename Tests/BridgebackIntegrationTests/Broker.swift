import BridgebackAMQP
import Foundation
import Testing
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The real local broker the integration tests run against (started by scripts/test or
/// deploy/local/broker.sh start). Its admin URL comes from BRIDGEBACK_AMQP_URL or, failing that,
/// from `deploy/local/broker.sh env`.
enum Broker {
    static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    static var script: String { repoRoot.appendingPathComponent("deploy/local/broker.sh").path }

    static let env: [String: String] = {
        var result: [String: String] = [:]
        let output = (try? run(script, ["env"])) ?? ""
        for line in output.split(separator: "\n") {
            guard line.hasPrefix("export ") else { continue }  // skip the script's own log lines
            let pair = line.dropFirst("export ".count)
            guard let eq = pair.firstIndex(of: "=") else { continue }
            var value = String(pair[pair.index(after: eq)...])
            if value.hasPrefix("'") && value.hasSuffix("'") { value = String(value.dropFirst().dropLast()) }
            result[String(pair[..<eq])] = value
        }
        return result
    }()

    static func url(_ name: String = "BRIDGEBACK_AMQP_URL") -> String {
        if let value = ProcessInfo.processInfo.environment[name], !value.isEmpty { return value }
        guard let value = env[name] else {
            Issue.record("no \(name): start the broker with deploy/local/broker.sh start (or run scripts/test)")
            return "amqp://missing@127.0.0.1:1/"
        }
        return value
    }

    static func configuration(_ name: String = "test") throws -> AMQPConfiguration {
        var config = try AMQPConfiguration(url: url(), connectionName: name)
        config.reconnectBaseDelay = .milliseconds(200)
        config.reconnectMaxDelay = .seconds(2)
        return config
    }

    static func connect(_ name: String = "test") async throws -> AMQPConnection {
        try await AMQPConnection.connect(configuration(name))
    }

    /// A queue name no other test uses.
    static func uniqueName(_ prefix: String) -> String {
        "test.\(prefix).\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Calls the management HTTP API as the admin user (faster than rabbitmqctl, which boots an Erlang VM per call).
    static func management(_ method: String, _ path: String, json: String? = nil) async throws {
        let config = try configuration("management")
        let port = ProcessInfo.processInfo.environment["BRIDGEBACK_BROKER_MGMT_PORT"] ?? "15672"
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/\(path)")!)
        request.httpMethod = method
        request.setValue(
            "Basic \(Data("\(config.user):\(config.password)".utf8).base64EncodedString())", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data((json ?? "{}").utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw TestFailure("management \(method) \(path) → HTTP \(status): \(String(decoding: data, as: UTF8.self))")
        }
    }

    /// `run` on a thread of its own: a script that takes a minute (starting a cluster) must not hold
    /// one of the few cooperative-pool threads every other test in the process needs.
    static func runOffPool(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> String {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
            let thread = Thread {
                continuation.resume(with: Result { try run(executable, arguments, environment: environment) })
            }
            thread.start()
        }
    }

    /// Runs a helper script; output goes through a file, not a pipe, because the broker it may
    /// start keeps running (and would hold a pipe open forever).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("bb-test-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let output = try FileHandle(forWritingTo: outputURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try output.close()
        let text = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw TestFailure("\(executable) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus):\n\(text)")
        }
        return text
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Waits for `condition` with a deadline; the deadline only bounds a hang, it is not a speed claim.
func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw TestFailure("timed out waiting for: \(what)")
}

/// Takes the next `count` deliveries (or fails after a generous deadline).
func take(_ count: Int, from consumer: AMQPConsumer, acking: Bool = false, timeout: Duration = .seconds(30)) async throws -> [AMQPDelivery]
{
    try await withThrowingTaskGroup(of: [AMQPDelivery]?.self) { group in
        group.addTask {
            var result: [AMQPDelivery] = []
            for try await delivery in consumer {
                result.append(delivery)
                if acking { delivery.ack() }
                if result.count == count { break }
            }
            return result
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let deliveries = first else { throw TestFailure("timed out waiting for \(count) deliveries") }
        return deliveries
    }
}

func message(_ text: String, to queue: String, id: String? = nil) -> OutboundMessage {
    OutboundMessage(exchange: "", routingKey: queue, body: Array(text.utf8), properties: MessageProperties(messageID: id))
}
