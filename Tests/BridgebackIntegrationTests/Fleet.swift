import AsyncHTTPClient
import BridgebackAMQP
import BridgebackLedger
import Foundation
import NIOSSL
import Synchronization
import Testing
#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A whole Bridgeback fleet as real processes (the built `bridgeback` binary) against the real
/// local broker: admission, workers, coordinator and a webhook receiver, each with its own log
/// file in a scratch directory. Tests kill, stop and restart them like an operator (or a
/// power cut) would.
///
/// Isolation: every fleet has its own worker pool (`bb.jobs.<pool>`, declared here with the
/// same arguments as `bb.jobs.default`), its own surfaces and parent inbox key, and its own
/// SQLite files. The coordinator queues are shared (there is one coordinator per vhost by
/// design), so fleet tests run one at a time and purge those queues first.
final class Fleet: @unchecked Sendable {
    // @unchecked: `processes` and `httpsClient` are only touched under `lock`. The ports (and the `extra…` settings and
    // `httpsCA`) are written only while
    // the fleet starts, by the one test task that owns it, before it creates the child tasks
    // that read them (task creation orders those writes before the reads); nothing writes them
    // afterwards. Everything else is `let`.
    let directory: URL
    let pool: String
    let parent: String
    /// The webhook signing secret, fresh per fleet (24 random bytes): a test may look for it in logs.
    let receiverSecret: String
    /// Set before anything starts (then only read): extra variables for every process, extra
    /// arguments by subcommand (`"coordinator"`, `"worker"`, ...) and extra registry entries.
    var extraEnvironment: [String: String] = [:]
    var extraArguments: [String: [String]] = [:]
    var extraSurfaces: [[String: Any]] = []
    /// A CA file (PEM): admission serves HTTPS (its certificate from `extraArguments`) and `call`
    /// verifies it against this CA only. Nil: plain HTTP, as on loopback.
    var httpsCA: String?
    /// Bearer tokens by principal (principals.json holds their SHA-256): `fleet` may submit as
    /// `cli:<parent>` to this fleet's surfaces and parent; `other` is another person with its
    /// own origin and no access to the fleet's jobs; `operator` may read every job.
    let tokens: [String: String]
    /// The `fleet` principal's token, sent by `post` and written to `tokenFile` for CLI runs.
    var token: String { tokens["fleet"]! }
    private let lock = NSLock()
    private var processes: [String: ManagedProcess] = [:]
    /// The HTTPS client `call` uses with `httpsCA` (made on first use, under `lock`; shut down by `tearDown`).
    private var httpsClient: HTTPClient?
    private(set) var admissionPort = 0
    private(set) var receiverPort = 0
    /// The coordinator's status API.
    private(set) var coordinatorPort = 0
    /// Whether `tearDown` deletes the pool's queue (it made it).
    private let ownsPool: Bool
    /// The address admission serves on (`call` sends there).
    var admissionHost: String { placement?.address("admission") ?? "127.0.0.1" }
    var receiverHost: String { placement?.address("receiver") ?? "127.0.0.1" }

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["BRIDGEBACK_BIN"], !path.isEmpty { return path }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bridgeback")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside.path }
        return Broker.repoRoot.appendingPathComponent(".build/debug/bridgeback").path
    }

    /// Broker URLs by variable name (`BRIDGEBACK_WORKER_AMQP_URL`, ...) when this fleet runs against
    /// another broker than the suite's (a local cluster); empty means the suite's broker.
    let brokerURLs: [String: String]

    /// Where each process runs when the fleet spans hosts (the network-namespace lab); nil: all here.
    let placement: Placement?

    /// Processes on other hosts: `command(name)` is the prefix that runs a command on the host of the
    /// process called `name` (the lab's `exec HOST`), `address(name)` the address it serves on there.
    struct Placement: Sendable {
        var command: @Sendable (String) -> [String]
        var address: @Sendable (String) -> String
    }

    /// `pool`: a pool the broker already has (the lab's fresh cluster uses `default`, declared by
    /// `topology apply`); nil makes one for this fleet.
    init(_ name: String, brokerURLs: [String: String] = [:], pool: String? = nil, placement: Placement? = nil) throws {
        self.brokerURLs = brokerURLs
        self.placement = placement
        let tag = UUID().uuidString.prefix(6).lowercased()
        self.pool = pool ?? "t\(name)\(tag)"
        ownsPool = pool == nil
        parent = "p\(tag)"
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bb-fleet-\(name)-\(tag)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        tokens = Dictionary(uniqueKeysWithValues: ["fleet", "other", "operator"].map { ($0, Self.newToken()) })
        var generator = SystemRandomNumberGenerator()
        receiverSecret = "whsec_" + Data((0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64EncodedString()
        try writeRecipes()
        try writePrincipals()
    }

    var resultsFile: URL { directory.appendingPathComponent("results.jsonl") }
    var principalsFile: URL { directory.appendingPathComponent("principals.json") }
    /// Holds the `fleet` token, for `--token-file` in CLI runs.
    var tokenFile: URL { directory.appendingPathComponent("token") }
    var receivedFile: URL { directory.appendingPathComponent("received.jsonl") }
    var ledgerPath: String { directory.appendingPathComponent("coordinator/coordinator.sqlite").path }

    // MARK: Set-up

    /// Declares this fleet's pool queue and empties the shared coordinator queues.
    /// The URL a component connects with: this fleet's broker, or the suite's.
    func amqpURL(_ name: String) -> String { brokerURLs[name] ?? Broker.url(name) }

    /// An admin connection to this fleet's broker.
    func connectAdmin(_ name: String) async throws -> AMQPConnection {
        guard let url = brokerURLs["BRIDGEBACK_AMQP_URL"] else { return try await Broker.connect(name) }
        var configuration = try AMQPConfiguration(url: url, connectionName: name)
        configuration.reconnectBaseDelay = .milliseconds(200)
        configuration.reconnectMaxDelay = .seconds(2)
        return try await AMQPConnection.connect(configuration)
    }

    func prepareBroker() async throws {
        let admin = try await connectAdmin("fleet-setup")
        defer { Task { await admin.close() } }
        var pool = QueueDeclaration.quorum(
            "bb.jobs.\(self.pool)", deliveryLimit: 3, deadLetterExchange: "bb.dlx", deadLetterRoutingKey: "jobs.dead")
        pool.arguments["x-overflow"] = "reject-publish"
        _ = try await admin.declare(pool)
        try await admin.bind(BindingDeclaration(queue: "bb.jobs.\(self.pool)", exchange: "bb.jobs", routingKey: self.pool))
        for queue in ["bb.coordinator.contracts", "bb.coordinator.completions", "bb.coordinator.dead-jobs"] {
            _ = try await admin.purgeQueue(queue)
        }
        // A coordinator left running (a demo, a previous test's process) would be the active
        // consumer and take this fleet's messages; say so instead of timing out later.
        do {
            try await eventually("no other coordinator consumes bb.coordinator.contracts", timeout: .seconds(10)) {
                try await admin.inspectQueue("bb.coordinator.contracts").consumerCount == 0
            }
        } catch {
            throw TestFailure(
                "another coordinator is consuming bb.coordinator.contracts on the test broker; stop it (is scripts/demo or a `bridgeback coordinator` running?)"
            )
        }
    }

    /// Starts the receiver (so its port can go into the registry), then writes the registry.
    func startReceiver(delayMilliseconds: Int = 0) async throws {
        var arguments = [
            "receiver", "--host", receiverHost, "--port", receiverPort == 0 ? "0" : "\(receiverPort)", "--secret", receiverSecret,
            "--out", receivedFile.path, "--quiet",
        ]
        if delayMilliseconds > 0 { arguments += ["--delay-ms", "\(delayMilliseconds)"] }
        let process = try start("receiver", arguments)
        receiverPort = try await process.waitForPort()
        try writeSurfaces()
    }

    func startAdmission() async throws {
        let process = try start(
            "admission",
            [
                "admission", "--host", admissionHost, "--port", "0",
                "--data-dir", directory.appendingPathComponent("admission").path,
                "--surfaces", surfacesFile.path, "--recipes", recipesFile.path, "--pool", pool, "--principals", principalsFile.path,
            ]
                // Cancels are decided by the coordinator (started first by startAll).
                + (coordinatorPort == 0 || placement != nil ? [] : ["--coordinator-url", "http://127.0.0.1:\(coordinatorPort)"]),
            amqpURL: amqpURL("BRIDGEBACK_ADMISSION_AMQP_URL"))
        admissionPort = try await process.waitForPort()
    }

    /// `environment`: extra variables for this worker only (a lowered BRIDGEBACK_CONSUMER_TIMEOUT_MS).
    func startWorker(_ name: String, slots: Int = 4, environment: [String: String] = [:]) async throws {
        let process = try start(
            name, ["worker", "--pool", pool, "--slots", "\(slots)", "--recipes", recipesFile.path, "--name", name, "--grace", "1"],
            amqpURL: amqpURL("BRIDGEBACK_WORKER_AMQP_URL"), environment: environment)
        try await process.waitForLog("worker started")
    }

    /// Starts a coordinator on the fleet's data directory. `name` gives a second one its own log;
    /// `ready` is the log line to wait for (a standby says "coordinator standby").
    /// `environment`: extra variables for it (the dashboard's management API credentials).
    func startCoordinator(
        lostGrace: Double = 300, sweepInterval: Double = 15, name: String = "coordinator", ready: String = "coordinator consuming",
        environment: [String: String] = [:]
    ) async throws {
        let process = try start(
            name,
            [
                "coordinator", "--data-dir", directory.appendingPathComponent("coordinator").path, "--surfaces", surfacesFile.path,
                "--lost-grace", "\(lostGrace)", "--sweep-interval", "\(sweepInterval)", "--webhook-timeout", "5", "--http-port", "0",
                "--principals", principalsFile.path,
            ],
            amqpURL: amqpURL("BRIDGEBACK_COORDINATOR_AMQP_URL"), environment: environment)
        try await process.waitForLog(ready)
        // The status API of the first coordinator; a standby (its own name) serves its own.
        if name == "coordinator" { coordinatorPort = try await process.waitForPort() }
    }

    /// Admission, two workers, the coordinator and the receiver.
    func startAll(workers: Int = 2, lostGrace: Double = 300, sweepInterval: Double = 15, receiverDelay: Int = 0) async throws {
        try await prepareBroker()
        try await startReceiver(delayMilliseconds: receiverDelay)
        try await startCoordinator(lostGrace: lostGrace, sweepInterval: sweepInterval)
        for n in 1...max(workers, 1) where workers > 0 { try await startWorker("worker\(n)") }
        try await startAdmission()
    }

    @discardableResult
    /// `executable`: another program run and torn down like a fleet process (the Prometheus server);
    /// `environment`: variables added to (or replacing) the test's own.
    func start(
        _ name: String, _ arguments: [String], amqpURL: String? = nil, executable: String = Fleet.binary,
        environment extra: [String: String] = [:]
    ) throws -> ManagedProcess {
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("BRIDGEBACK_") && key.hasSuffix("AMQP_URL") { environment[key] = nil }
        for key in ["BRIDGEBACK_TOKEN", "BRIDGEBACK_TOKEN_FILE", "BRIDGEBACK_PRINCIPALS"] { environment[key] = nil }
        if let amqpURL { environment["BRIDGEBACK_AMQP_URL"] = amqpURL }
        environment.merge(extraEnvironment) { $1 }
        environment.merge(extra) { $1 }
        var arguments = arguments + (arguments.first.flatMap { extraArguments[$0] } ?? [])
        var executable = executable
        if let prefix = placement?.command(name), let first = prefix.first {
            arguments = Array(prefix.dropFirst()) + [executable] + arguments
            executable = first
        }
        let process = try ManagedProcess(
            name: name, executable: executable, arguments: arguments, environment: environment,
            log: directory.appendingPathComponent("\(name).log"), workingDirectory: directory)
        lock.withLock { processes[name] = process }
        return process
    }

    func process(_ name: String) -> ManagedProcess? { lock.withLock { processes[name] } }

    /// Kills everything still running and removes the pool queue; call from `defer`.
    func tearDown() async {
        for process in lock.withLock({ Array(processes.values) }) { process.kill(SIGKILL) }
        for process in lock.withLock({ Array(processes.values) }) { process.waitForExit() }
        if let client = lock.withLock({ httpsClient }) { try? await client.shutdown() }
        if ownsPool, let admin = try? await connectAdmin("fleet-teardown") {
            _ = try? await admin.deleteQueue("bb.jobs.\(pool)")
            await admin.close()
        }
    }

    /// The last lines of every log, for a failed expectation's comment.
    func logs(lines: Int = 15) -> String {
        lock.withLock { Array(processes.values) }.map { process in
            let text = (try? String(contentsOf: process.log, encoding: .utf8)) ?? ""
            return "── \(process.name)\n" + text.split(separator: "\n").suffix(lines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    // MARK: Configuration files

    var surfacesFile: URL { directory.appendingPathComponent("surfaces.json") }
    var recipesFile: URL { directory.appendingPathComponent("recipes.json") }

    private func writeSurfaces() throws {
        let surfaces: [[String: Any]] =
            [
                [
                    "id": "cli:\(parent)", "kind": "inbox", "address": parent, "human_name": "the test terminal",
                    "work_surface": "work:\(parent)", "length_policy": "split", "direct_allowed": true,
                ],
                [
                    "id": "work:\(parent)", "kind": "inbox", "address": "\(parent).work", "human_name": "the test work log",
                    "direct_allowed": true,
                ],
                [
                    "id": "hooks:\(parent)", "kind": "webhook", "address": "http://\(receiverHost):\(receiverPort)/hooks",
                    "human_name": "the test receiver",
                    "max_length": 256000, "length_policy": "split", "direct_allowed": true, "signing_secret": receiverSecret,
                ],
                [
                    "id": "file:\(parent)", "kind": "file", "address": resultsFile.path, "human_name": "the test results file",
                    "direct_allowed": true,
                ],
            ] + extraSurfaces
        let data = try JSONSerialization.data(
            withJSONObject: ["schema": "bridgeback.surfaces.v1", "surfaces": surfaces], options: [.prettyPrinted])
        try data.write(to: surfacesFile)
    }

    /// `bbt_` + 32 random bytes, as `bridgeback principals add` makes them.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "bbt_"
            + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Lowercase hex SHA-256 (the principals file's token hash), via sha256sum.
    static func sha256Hex(_ text: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(String(decoding: data, as: UTF8.self).prefix(64))
    }

    private func writePrincipals() throws {
        func entry(_ name: String, origins: [String], surfaces: [String], parents: [String], isOperator: Bool = false) throws -> [String:
            Any]
        {
            [
                "name": name, "origins": origins, "surfaces": surfaces, "parents": parents, "operator": isOperator,
                "tokens": [["id": "tok_\(name)", "sha256": try Self.sha256Hex(tokens[name]!)]],
            ]
        }
        let principals = [
            try entry("fleet", origins: ["cli:\(parent)"], surfaces: ["*:\(parent)"], parents: [parent, "\(parent).*"]),
            try entry("other", origins: ["cli:other-\(parent)"], surfaces: ["cli:other-\(parent)"], parents: ["other-\(parent)"]),
            try entry("operator", origins: [], surfaces: [], parents: [], isOperator: true),
        ]
        let data = try JSONSerialization.data(
            withJSONObject: ["schema": "bridgeback.principals.v1", "principals": principals], options: [.prettyPrinted])
        try data.write(to: principalsFile)
        _ = FileManager.default.createFile(
            atPath: tokenFile.path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600])
    }

    private func writeRecipes() throws {
        let recipes: [[String: Any]] = [
            ["name": "noop", "kind": "command", "argv": ["/bin/true"], "timeout_seconds": 5],
            [
                "name": "echo", "kind": "command", "parameters": [["name": "text", "type": "string", "required": true]],
                "argv": ["/bin/echo", "{text}"], "timeout_seconds": 5,
            ],
            // echo after 0.4 s: a worker holds jobs in flight long enough to be cut off mid-job.
            [
                "name": "slow-echo", "kind": "command", "parameters": [["name": "text", "type": "string", "required": true]],
                "argv": ["/bin/sh", "-c", "sleep 0.4; echo \"$1\"", "sh", "{text}"], "timeout_seconds": 5,
            ],
            [
                "name": "sleep", "kind": "wait",
                "parameters": [["name": "seconds", "type": "int", "minimum": 0, "maximum": 3600, "default": 1]],
                "interval_seconds": 1, "timeout_seconds": 5, "timeout_param": "seconds",
            ],
            // Returns its text parameter as the result: how `bridgeback audit --deliver` sends its report.
            [
                "name": "deliver-text", "kind": "command",
                "parameters": [["name": "text", "type": "string", "required": true, "max_length": 60000]],
                "argv": ["/usr/bin/printf", "%s", "{text}"], "timeout_seconds": 10, "output_cap_bytes": 262144,
            ],
            // Kills the worker that runs it: a poison job.
            ["name": "crash-worker", "kind": "command", "argv": ["/bin/sh", "-c", "kill -9 $PPID; sleep 5"], "timeout_seconds": 10],
            // Cancel tests: `touch` leaves `touched` behind if it ever runs; `gate-hold` is a checklist whose first
            // step (rolled back by removing `prepared`) is followed by a shell that writes its process group id
            // (it leads the group) to gate.pid and waits on a child.
            [
                "name": "touch", "kind": "command", "timeout_seconds": 10,
                "argv": ["/usr/bin/touch", directory.appendingPathComponent("touched").path],
            ],
            [
                "name": "gate-hold", "kind": "checklist",
                "steps": [
                    [
                        "name": "prepare",
                        "command": ["argv": ["/usr/bin/touch", directory.appendingPathComponent("prepared").path], "timeout_seconds": 10],
                        "rollback": [
                            "command": [
                                "argv": ["/bin/rm", "-f", directory.appendingPathComponent("prepared").path], "timeout_seconds": 10,
                            ]
                        ],
                    ],
                    [
                        "name": "hold",
                        "command": [
                            "argv": [
                                "/bin/sh", "-c", "echo $$ > \"$0\"; sleep 60 & wait",
                                directory.appendingPathComponent("gate.pid").path,
                            ], "timeout_seconds": 120,
                        ],
                    ],
                ],
            ],
            // Long-job tests: appends its tag to runs.log each time it executes (the test counts executions), then sleeps.
            [
                "name": "count-run", "kind": "command", "timeout_seconds": 60,
                "parameters": [
                    ["name": "tag", "type": "string", "required": true],
                    ["name": "seconds", "type": "int", "minimum": 0, "maximum": 60, "default": 1],
                ],
                "argv": [
                    "/bin/sh", "-c", "echo \"$1\" >> \"$0\"; sleep \"$2\"; echo \"ran $1\"",
                    directory.appendingPathComponent("runs.log").path, "{tag}", "{seconds}",
                ],
            ],
            // Speaks the progress protocol (docs/worker.md): two steps, a routine update, plain output, a result.
            [
                "name": "reports", "kind": "command", "timeout_seconds": 10,
                "argv": [
                    "/bin/sh", "-c",
                    "echo '::step 1/2 checking endpoints'; echo 'plain line'; sleep 0.2; echo '::progress 50 checked 1 of 2 endpoints'; "
                        + "sleep 0.2; echo '::step 2/2 writing the report'; echo '::result all 2 endpoints answered'",
                ],
            ],
        ]
        let data = try JSONSerialization.data(
            withJSONObject: ["version": 1, "allowed_hosts": ["127.0.0.1"], "recipes": recipes], options: [.prettyPrinted])
        try data.write(to: recipesFile)
    }

    // MARK: Talking to the fleet

    struct Reply {
        var status: Int
        var json: [String: Any]
        var raw: String
        var jobID: String? { json["job_id"] as? String }
        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    }

    /// POSTs one request to admission.
    func submit(_ body: [String: Any]) async throws -> Reply {
        try await post(try JSONSerialization.data(withJSONObject: body))
    }

    /// POSTs to admission as `as` (a principal of `tokens`; nil sends no token).
    func post(_ body: Data, path: String = "/v1/requests", as principal: String? = "fleet") async throws -> Reply {
        try await call("POST", path, body: body, as: principal)
    }

    /// GETs from admission as `as`.
    func get(_ path: String, as principal: String? = "fleet") async throws -> Reply {
        try await call("GET", path, body: nil, as: principal)
    }

    /// One request to admission (or to `port`), with the principal's bearer token.
    func call(_ method: String, _ path: String, body: Data?, as principal: String?, port: Int? = nil) async throws -> Reply {
        let host = port == nil ? admissionHost : "127.0.0.1"
        if let httpsCA {
            return try await callHTTPS(method, "https://\(host):\(port ?? admissionPort)\(path)", body, principal, ca: httpsCA)
        }
        var request = URLRequest(url: URL(string: "http://\(host):\(port ?? admissionPort)\(path)")!)
        request.httpMethod = method
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = body
        }
        if let principal { request.setValue("Bearer \(tokens[principal] ?? principal)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, json: object, raw: String(decoding: data, as: UTF8.self))
    }

    /// `call` over HTTPS, the server verified against `ca` only (URLSession on Linux cannot be given a CA).
    private func callHTTPS(_ method: String, _ url: String, _ body: Data?, _ principal: String?, ca: String) async throws -> Reply {
        let client = lock.withLock {
            if let client = httpsClient { return client }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(ca)
            var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
            configuration.timeout = .init(connect: .seconds(10), read: .seconds(60))
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            httpsClient = client
            return client
        }
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        if let principal { request.headers.add(name: "Authorization", value: "Bearer \(tokens[principal] ?? principal)") }
        let response = try await client.execute(request, timeout: .seconds(60))
        let data = Data((try await response.body.collect(upTo: 16 << 20)).readableBytesView)
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return Reply(status: Int(response.status.code), json: object, raw: String(decoding: data, as: UTF8.self))
    }

    /// A detached request for `recipe`, answered at `final` in `mode`.
    func detach(_ recipe: String, params: [String: Any] = [:], final: String, mode: String, key: String? = nil, deadline: Double? = nil)
        -> [String: Any]
    {
        var contract: [String: Any] = ["final_surface": final, "delivery_mode": mode]
        if let deadline { contract["deadline_s"] = deadline }
        var body: [String: Any] = [
            "origin": "cli:\(parent)", "text": "fleet test: \(recipe)", "force": "detach",
            "recipe": ["name": recipe, "params": params], "contract": contract,
        ]
        if let key { body["idempotency_key"] = key }
        return body
    }

    /// Submits many requests, a few at a time; returns job id → request body.
    func submitAll(_ bodies: [[String: Any]], concurrency: Int = 8) async throws -> [String] {
        let payloads = try bodies.map { try JSONSerialization.data(withJSONObject: $0) }
        return try await withThrowingTaskGroup(of: (Int, String).self) { group in
            var ids = [String](repeating: "", count: payloads.count)
            var next = 0
            func add() {
                let index = next
                let payload = payloads[index]
                next += 1
                group.addTask {
                    let reply = try await self.post(payload)
                    guard reply.status == 202, let id = reply.jobID else { throw TestFailure("submit → \(reply.status): \(reply.raw)") }
                    return (index, id)
                }
            }
            for _ in 0..<min(concurrency, payloads.count) { add() }
            while let (index, id) = try await group.next() {
                ids[index] = id
                if next < payloads.count { add() }
            }
            return ids
        }
    }

    // MARK: What arrived where

    /// Verified webhook deliveries: (webhook id, final notice, duplicate flag).
    func received() -> [(id: String, notice: [String: Any], duplicate: Bool)] {
        Self.jsonLines(receivedFile).compactMap { line in
            guard let id = line["webhook_id"] as? String, let body = line["body"] as? [String: Any] else { return nil }
            return (id, body, line["duplicate"] as? Bool ?? false)
        }
    }

    /// Final notices appended to the file surface.
    func fileResults() -> [[String: Any]] { Self.jsonLines(resultsFile) }

    static func jsonLines(_ url: URL) -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
    }

    /// Opens a queue on `bb.inbox` for this fleet's parent before jobs run; the test reads it.
    func inboxCollector() async throws -> InboxCollector {
        try await InboxCollector.start(parent: parent)
    }

    // MARK: The ledger

    struct LedgerJob {
        var state: String
        var finalOutcome: String?
        var duplicates: Int
        /// The decided final notice's kind (`result`, `failure`, `cancelled`, `lost`), once decided.
        var noticeKind: String? = nil
    }

    /// Every job of the ledger, read through the ledger's own read-only query API (`LedgerReader`).
    func ledgerJobs() throws -> [String: LedgerJob] {
        let rows = try LedgerReader(path: ledgerPath).read { try $0.allJobs() }
        return Dictionary(
            uniqueKeysWithValues: rows.map { row in
                (
                    row.jobID,
                    LedgerJob(
                        state: row.state, finalOutcome: row.finalOutcome, duplicates: row.duplicates,
                        noticeKind: row.decision?.kind.rawValue)
                )
            })
    }

    /// Part states by delivery id, with their surface (through `LedgerReader`).
    func ledgerParts() throws -> [(deliveryID: String, job: String, surface: String, state: String, attempts: Int)] {
        try LedgerReader(path: ledgerPath).read { try $0.allParts() }.map {
            ($0.deliveryID.description, $0.deliveryID.job.description, $0.surfaceID.rawValue, $0.state.name, $0.state.attempts)
        }
    }
}

/// Final notices published to this fleet's parent inbox, collected as they arrive.
final class InboxCollector: Sendable {
    let connection: AMQPConnection
    let queue: String
    private let notices = Mutex<[(messageID: String, body: [UInt8])]>([])
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    private init(connection: AMQPConnection, queue: String) {
        self.connection = connection
        self.queue = queue
    }

    static func start(parent: String) async throws -> InboxCollector {
        let connection = try await Broker.connect("fleet-inbox")
        let queue = "test.inbox.\(parent)"
        _ = try await connection.declare(QueueDeclaration(name: queue, durable: true))  // survives a broker restart
        try await connection.bind(BindingDeclaration(queue: queue, exchange: "bb.inbox", routingKey: parent))
        let collector = InboxCollector(connection: connection, queue: queue)
        let consumer = try await connection.consume(queue: queue, prefetch: 200)
        collector.task.withLock {
            $0 = Task {
                do {
                    for try await delivery in consumer {
                        if delivery.properties.type == "bridgeback.final.v1" {
                            let id = delivery.properties.messageID ?? ""
                            let body = delivery.body
                            collector.notices.withLock { $0.append((id, body)) }
                        }
                        delivery.ack()
                    }
                } catch {}
            }
        }
        return collector
    }

    var received: [(messageID: String, notice: [String: Any])] {
        notices.withLock { $0 }.map { ($0.messageID, (try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any]) ?? [:]) }
    }

    func close() async {
        task.withLock { $0?.cancel() }
        _ = try? await connection.deleteQueue(queue)
        await connection.close()
    }
}

/// One fleet process with its log file.
final class ManagedProcess: Sendable {
    let name: String
    let log: URL
    private let process: Process

    /// Where this run's output starts in `log` (a restarted process appends to the same file).
    private let logStart: UInt64

    init(name: String, executable: String, arguments: [String], environment: [String: String], log: URL, workingDirectory: URL) throws {
        self.name = name
        self.log = log
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        logStart = ((try? FileManager.default.attributesOfItem(atPath: log.path)[.size]) as? NSNumber)?.uint64Value ?? 0
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = workingDirectory
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    /// The exit status once it has exited (a signal's number when it was killed by one).
    var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    func kill(_ signal: Int32) {
        if process.isRunning { Glibc.kill(process.processIdentifier, signal) }
    }

    func waitForExit() {
        if process.isRunning || process.processIdentifier > 0 { process.waitUntilExit() }
    }

    /// Everything in the log file, earlier runs of the same name included.
    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// This run's output only.
    var ownOutput: String {
        guard let data = FileManager.default.contents(atPath: log.path), UInt64(data.count) >= logStart else { return "" }
        return String(decoding: data.dropFirst(Int(logStart)), as: UTF8.self)
    }

    /// Waits until the log contains `text` (the process announces readiness in its log).
    func waitForLog(_ text: String, timeout: Duration = .seconds(30)) async throws {
        try await eventually("\(name) logs '\(text)'", timeout: timeout) {
            let output = self.ownOutput
            guard self.isRunning || output.contains(text) else { throw TestFailure("\(self.name) exited:\n\(output.suffix(2000))") }
            return output.contains(text)
        }
    }

    /// The port from the "listening" line (`http.port=N`).
    func waitForPort() async throws -> Int {
        try await waitForLog("listening")
        try await eventually("\(name) logs its port") { self.port != nil }
        return self.port!
    }

    private var port: Int? {
        for line in ownOutput.split(separator: "\n") where line.contains("http.port=") {
            let tail = line.split(separator: "http.port=").last ?? ""
            if let port = Int(tail.prefix { $0.isNumber }), port > 0 { return port }
        }
        return nil
    }
}
