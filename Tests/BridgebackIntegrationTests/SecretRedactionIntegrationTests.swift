import BridgebackAMQP
import BridgebackAdmissionStore
import Foundation
import GRDB
import Testing
#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Issue #10 item 4 on the real fleet: with every process at `--log-level trace`, no secret the
/// test chose reaches a log or a CLI output, in any form it could be recognised in.
///
/// Secrets: broker passwords of users this test creates (with characters a URL must
/// percent-encode), the webhook signing secrets (inline and from the environment), chat bot
/// tokens, bearer tokens and their principals-file hashes, the MCP server's token, each job's
/// completion capability (and its hash), and wrong passwords and tokens a client presented.
/// The test also asserts the lines it expects at debug and trace level, so it fails if the
/// processes logged too little to prove anything.
extension BrokerBacked {
    @Suite(.serialized)
    struct SecretRedactionIntegrationTests {
        /// A broker user made for this test with a password the test chose.
        struct TestUser {
            var name: String
            var password: String
            /// The password as it appears percent-encoded in a URL.
            var encodedPassword: String { password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password }
            func url(port: String) -> String { "amqp://\(name):\(encodedPassword)@127.0.0.1:\(port)/bridgeback" }
        }

        static func randomText(_ count: Int) -> String {
            let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
            var generator = SystemRandomNumberGenerator()
            return String((0..<count).map { _ in alphabet.randomElement(using: &generator)! })
        }

        /// Creates `name` with `like`'s permissions (topology/definitions.json) through the management API.
        static func createUser(_ name: String, like template: String) async throws -> TestUser {
            // '/', '%' and '@' must be percent-encoded in a URL: the test looks for both forms.
            let user = TestUser(name: name, password: "Pw/\(randomText(20))%@\(randomText(6))")
            let definitions =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: Broker.repoRoot.appendingPathComponent("topology/definitions.json"))) as? [String: Any] ?? [:]
            let permission = try #require((definitions["permissions"] as? [[String: Any]])?.first { $0["user"] as? String == template })
            let body = try JSONSerialization.data(withJSONObject: ["password": user.password, "tags": ""])
            try await Broker.management("PUT", "api/users/\(name)", json: String(decoding: body, as: UTF8.self))
            let rights = try JSONSerialization.data(withJSONObject: [
                "configure": permission["configure"] as? String ?? "^$", "write": permission["write"] as? String ?? "^$",
                "read": permission["read"] as? String ?? "^$",
            ])
            try await Broker.management("PUT", "api/permissions/bridgeback/\(name)", json: String(decoding: rights, as: UTF8.self))
            return user
        }

        static func deleteUser(_ name: String) async {
            try? await Broker.management("DELETE", "api/users/\(name)")
        }

        /// Runs the built `bridgeback` with `arguments`; returns its exit status and stdout + stderr.
        static func cli(_ arguments: [String], environment extra: [String: String] = [:], directory: URL) throws -> (Int32, String) {
            let log = directory.appendingPathComponent("cli-\(UUID().uuidString.prefix(6)).out")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Fleet.binary)
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            for key in environment.keys where key.hasPrefix("BRIDGEBACK_") { environment[key] = nil }
            environment.merge(extra) { $1 }
            process.environment = environment
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            process.currentDirectoryURL = directory
            try process.run()
            process.waitUntilExit()
            try handle.close()
            return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        }

        /// The completion capability admission minted for `job` (from its outbox row).
        static func capability(_ fleet: Fleet, job: String) throws -> String {
            let path = fleet.directory.appendingPathComponent("admission/admission.sqlite").path
            let messages = try AdmissionRecordsReader(path: path).read { try $0.outbox(jobID: job) }
            let payload = try #require(messages.first { $0.kind == .job }).payload
            let object = try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any]
            return try #require(object?["completion_capability"] as? String)
        }

        /// Every form in which `bytes` (a key) could show up if printed: Swift's array description,
        /// hex, base64.
        static func forms(ofKey bytes: [UInt8]) -> [String] {
            ["\(bytes)", bytes.map { String(format: "%02x", $0) }.joined(), Data(bytes).base64EncodedString()]
        }

        @Test func noSecretReachesAnyLogOrCLIOutputAtTraceLevel() async throws {
            let tag = Self.randomText(6).lowercased()
            let port = URL(string: Broker.url())?.port.map(String.init) ?? "5672"
            var users: [String: TestUser] = [:]
            for (role, template) in [
                ("admission", "bb-admission"), ("worker", "bb-worker"), ("coordinator", "bb-coordinator"), ("watch", "bb-watch"),
            ] {
                users[role] = try await Self.createUser("bbt-\(role)-\(tag)", like: template)
            }
            let created = users
            do {
                try await run(users: created, port: port)
            } catch {
                for user in created.values { await Self.deleteUser(user.name) }
                throw error
            }
            for user in created.values { await Self.deleteUser(user.name) }
        }

        func run(users: [String: TestUser], port: String) async throws {
            let envSecretKey = (0..<32).map { _ in UInt8.random(in: .min ... .max) }
            let envSecret = "whsec_" + Data(envSecretKey).base64EncodedString()
            let chatTokens = [
                "BB_TEST_SLACK_TOKEN": "xoxb-\(Self.randomText(12))-\(Self.randomText(24))",
                "BB_TEST_TELEGRAM_TOKEN": "7\(Int.random(in: 100_000...999_999)):\(Self.randomText(35))",
                "BB_TEST_DISCORD_TOKEN": "MT\(Self.randomText(24)).\(Self.randomText(6)).\(Self.randomText(38))",
            ]
            let wrongToken = "bbt_" + Self.randomText(43)
            let wrongPassword = "Wrong/\(Self.randomText(16))"

            try await withFleet(
                "secrets",
                brokerURLs: [
                    "BRIDGEBACK_ADMISSION_AMQP_URL": users["admission"]!.url(port: port),
                    "BRIDGEBACK_WORKER_AMQP_URL": users["worker"]!.url(port: port),
                    "BRIDGEBACK_COORDINATOR_AMQP_URL": users["coordinator"]!.url(port: port),
                ]
            ) { fleet in
                fleet.extraEnvironment = ["BRIDGEBACK_LOG_LEVEL": "trace", "BB_TEST_WEBHOOK_SECRET": envSecret].merging(chatTokens) { $1 }
                // The broker validates user_id: this test's worker user is the trusted one.
                fleet.extraArguments = ["coordinator": ["--trusted-completion-user", users["worker"]!.name]]
                fleet.extraSurfaces = [
                    [
                        "id": "hooks2:\(fleet.parent)", "kind": "webhook", "address": "http://127.0.0.1:9/unused",
                        "human_name": "an unused hook",
                        "direct_allowed": true, "signing_secret": ["env": "BB_TEST_WEBHOOK_SECRET"],
                    ],
                    [
                        "id": "slack:\(fleet.parent)", "kind": "slack", "address": "C0123ABCD", "human_name": "#test",
                        "direct_allowed": true,
                        "token": ["env": "BB_TEST_SLACK_TOKEN"], "api_base": "http://127.0.0.1:9/slack",
                    ],
                    [
                        "id": "tg:\(fleet.parent)", "kind": "telegram", "address": "12345", "human_name": "a chat", "direct_allowed": true,
                        "token": ["env": "BB_TEST_TELEGRAM_TOKEN"], "api_base": "http://127.0.0.1:9/tg",
                    ],
                    [
                        "id": "discord:\(fleet.parent)", "kind": "discord", "address": "98765", "human_name": "a channel",
                        "direct_allowed": true,
                        "token": ["env": "BB_TEST_DISCORD_TOKEN"], "api_base": "http://127.0.0.1:9/discord",
                    ],
                ]
                try await fleet.startAll(workers: 1)

                // Two jobs: a signed webhook delivery and a parent-inbox one.
                let collector = try await fleet.inboxCollector()
                defer { Task { await collector.close() } }
                let hook = try await fleet.submit(
                    fleet.detach("echo", params: ["text": "to the hook"], final: "hooks:\(fleet.parent)", mode: "direct"))
                let inbox = try await fleet.submit(
                    fleet.detach("echo", params: ["text": "to the inbox"], final: "cli:\(fleet.parent)", mode: "parent"))
                let ids = [try #require(hook.jobID, "\(hook.raw)"), try #require(inbox.jobID, "\(inbox.raw)")]
                try await eventually("the webhook notice arrives signed", timeout: .seconds(30)) {
                    fleet.received().contains { $0.notice["job_id"] as? String == ids[0] }
                }
                try await eventually("both jobs are delivered", timeout: .seconds(30)) {
                    let jobs = try fleet.ledgerJobs()
                    return ids.allSatisfy { jobs[$0]?.finalOutcome == "delivered" }
                }
                let capabilities = try ids.map { try Self.capability(fleet, job: $0) }
                // A refused token (401) on both HTTP servers.
                #expect(try await fleet.get("/v1/jobs", as: wrongToken).status == 401)
                #expect(
                    try await fleet.call("GET", "/v1/jobs/\(ids[0])", body: nil, as: wrongToken, port: fleet.coordinatorPort).status == 401)

                // bridgeback mcp over HTTP, at trace, behind the principals file; one tool call reaches
                // admission with the caller's token.
                let mcpToken = fleet.token
                let mcp = try fleet.start(
                    "mcp",
                    [
                        "mcp", "--transport", "http", "--port", "0", "--principals", fleet.principalsFile.path,
                        "--admission", "http://127.0.0.1:\(fleet.admissionPort)", "--coordinator",
                        "http://127.0.0.1:\(fleet.coordinatorPort)",
                        "--origin", "cli:\(fleet.parent)", "--parent", fleet.parent, "--amqp-url", users["watch"]!.url(port: port),
                    ])
                let mcpPort = try await mcp.waitForPort()
                let session = try await Self.mcpCall(
                    port: mcpPort, token: mcpToken, session: nil,
                    [
                        "jsonrpc": "2.0", "id": 1, "method": "initialize",
                        "params": [
                            "protocolVersion": "2025-03-26", "capabilities": [:] as [String: Any],
                            "clientInfo": ["name": "test", "version": "1"],
                        ],
                    ]
                ).session
                _ = try await Self.mcpCall(
                    port: mcpPort, token: mcpToken, session: session, ["jsonrpc": "2.0", "method": "notifications/initialized"])
                let listed = try await Self.mcpCall(
                    port: mcpPort, token: mcpToken, session: session,
                    [
                        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
                        "params": ["name": "bridgeback_jobs", "arguments": [:] as [String: Any]],
                    ])
                #expect(listed.body.contains(ids[0]), "the MCP tool call listed the fleet's jobs: \(listed.body.prefix(500))")
                #expect(
                    try await Self.mcpCall(
                        port: mcpPort, token: wrongToken, session: session, ["jsonrpc": "2.0", "id": 3, "method": "tools/list"]
                    ).status == 401)

                // CLI outputs: a listing with the right token, a refused token, a refused broker password,
                // and a broker URL that does not even parse (a raw '@' and '/' in the password).
                var outputs: [(String, String)] = []
                let endpoints = [
                    "--admission", "http://127.0.0.1:\(fleet.admissionPort)", "--coordinator", "http://127.0.0.1:\(fleet.coordinatorPort)",
                ]
                let (listStatus, listOutput) = try Self.cli(
                    ["jobs", "list"] + endpoints, environment: ["BRIDGEBACK_TOKEN": fleet.token], directory: fleet.directory)
                #expect(listStatus == 0 && listOutput.contains(ids[0]), "\(listOutput)")
                outputs.append(("jobs list", listOutput))
                let (refusedStatus, refusedOutput) = try Self.cli(
                    ["jobs", "list"] + endpoints, environment: ["BRIDGEBACK_TOKEN": wrongToken], directory: fleet.directory)
                #expect(refusedStatus != 0 && refusedOutput.contains("401"), "\(refusedOutput)")
                outputs.append(("jobs list (wrong token)", refusedOutput))
                let definitions = Broker.repoRoot.appendingPathComponent("topology/definitions.json").path
                let badPassword =
                    "amqp://\(users["worker"]!.name):\(wrongPassword.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)@127.0.0.1:\(port)/bridgeback"
                let (badStatus, badOutput) = try Self.cli(
                    ["topology", "check", "--definitions", definitions, "--amqp-url", badPassword, "--log-level", "trace"],
                    directory: fleet.directory)
                #expect(badStatus != 0, "\(badOutput)")
                outputs.append(("topology check (wrong password)", badOutput))
                let unparseable = "amqp://\(users["worker"]!.name):\(wrongPassword)@x@127.0.0.1:\(port)/bridgeback"
                let (_, unparseableOutput) = try Self.cli(
                    ["topology", "check", "--definitions", definitions, "--amqp-url", unparseable, "--log-level", "trace"],
                    directory: fleet.directory)
                outputs.append(("topology check (unparseable URL)", unparseableOutput))

                // What must be found: proof that each process logged at debug and trace level.
                let logs = Dictionary(
                    uniqueKeysWithValues: ["admission", "worker1", "coordinator", "receiver", "mcp"].map { name in
                        (name, fleet.process(name)?.output ?? "")
                    })
                for name in ["admission", "worker1", "coordinator", "mcp"] {
                    #expect(logs[name]!.contains("Starting service"), "\(name) logs ServiceGroup's debug lines")
                }
                for name in ["admission", "worker1", "coordinator"] {
                    #expect(logs[name]!.contains("AMQP connected"), "\(name) logs its broker connection (with a redacted URL)")
                    #expect(logs[name]!.contains(":***@"), "\(name) shows the redacted URL form")
                }
                #expect(logs["admission"]!.contains("trace") && logs["admission"]!.contains("authenticated"), "admission logs trace lines")
                #expect(logs["admission"]!.contains("authentication failed"), "admission logs the refused token (without it)")
                #expect(logs["mcp"]!.contains("authentication failed"), "bridgeback mcp logs the refused token (without it)")
                #expect(logs["coordinator"]!.contains("trace"), "the coordinator logs trace lines")
                #expect(logs["worker1"]!.contains(" debug "), "the worker logs debug lines")
                #expect(badOutput.contains("authenticationFailed"), "the refused password is reported as such: \(badOutput)")

                // What must not be found, in any form.
                var secrets: [(String, String)] = []
                for (role, user) in users {
                    secrets.append(("\(role) broker password", user.password))
                    secrets.append(("\(role) broker password, URL-encoded", user.encodedPassword))
                    secrets.append(("\(role) broker basic auth", Data("\(user.name):\(user.password)".utf8).base64EncodedString()))
                }
                secrets.append(("wrong broker password", wrongPassword))
                secrets.append(("inline webhook secret", fleet.receiverSecret))
                let inlineKey = [UInt8](Data(base64Encoded: String(fleet.receiverSecret.dropFirst("whsec_".count)))!)
                secrets.append(("inline webhook secret, base64 part", String(fleet.receiverSecret.dropFirst("whsec_".count))))
                secrets += Self.forms(ofKey: inlineKey).map { ("inline webhook key bytes", $0) }
                secrets.append(("env webhook secret", envSecret))
                secrets += Self.forms(ofKey: envSecretKey).map { ("env webhook key bytes", $0) }
                secrets += chatTokens.map { ("chat token \($0.key)", $0.value) }
                secrets += chatTokens.map { ("chat token bytes \($0.key)", "\(Array($0.value.utf8))") }
                for (name, token) in fleet.tokens {
                    secrets.append(("bearer token \(name)", token))
                    secrets.append(("bearer token hash \(name)", try Fleet.sha256Hex(token)))
                }
                secrets.append(("wrong bearer token", wrongToken))
                for (index, capability) in capabilities.enumerated() {
                    secrets.append(("capability of job \(index)", capability))
                    secrets.append(("capability hash of job \(index)", try Fleet.sha256Hex(capability)))
                }
                let everything = logs.map { ("\($0.key) log", $0.value) } + outputs
                for (what, text) in everything {
                    #expect(!text.isEmpty, "\(what) is empty")
                    for (name, secret) in secrets where text.contains(secret) {
                        let line = text.split(separator: "\n").first { $0.contains(secret) } ?? ""
                        Issue.record("\(name) appears in the \(what): \(line.prefix(400))")
                    }
                }
                fleet.process("mcp")?.kill(SIGTERM)
                if let admin = try? await Broker.connect("secrets-teardown") {
                    _ = try? await admin.deleteQueue("bb.watch.inbox.\(fleet.parent)")
                    await admin.close()
                }
            }
        }

        /// One JSON-RPC message to `bridgeback mcp` over streamable HTTP.
        static func mcpCall(port: Int, token: String, session: String?, _ message: [String: Any]) async throws -> (
            status: Int, session: String?, body: String
        ) {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/mcp")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("application/json, text/event-stream", forHTTPHeaderField: "Accept")
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            if let session { request.setValue(session, forHTTPHeaderField: "Mcp-Session-Id") }
            request.httpBody = try JSONSerialization.data(withJSONObject: message)
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as? HTTPURLResponse
            return (
                http?.statusCode ?? 0, http?.value(forHTTPHeaderField: "Mcp-Session-Id") ?? session, String(decoding: data, as: UTF8.self)
            )
        }
    }
}
