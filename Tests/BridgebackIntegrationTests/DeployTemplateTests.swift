import Foundation
import Testing

/// Issue #14 item 6: the systemd units and environment files in `deploy/` configure the binary they
/// start. Checked against the built `bridgeback`: every flag a unit passes (its own and its env
/// file's `$BRIDGEBACK_*_ARGS`; the audit and ledger-backup timers' services too) is one its
/// subcommand takes, every env file a unit loads is a template here, and admission's coordinator
/// URL is the status API that coordinator.env configures.
@Suite struct DeployTemplateTests {
    static var deploy: URL { Broker.repoRoot.appendingPathComponent("deploy") }

    /// `KEY=VALUE` lines of an environment file (comments and blanks skipped).
    static func variables(_ url: URL) throws -> [String: String] {
        var result: [String: String] = [:]
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            result[String(line[..<eq]).trimmingCharacters(in: .whitespaces)] = String(line[line.index(after: eq)...])
        }
        return result
    }

    /// The template for `/etc/bridgeback/NAME.env`: `deploy/env/NAME.env`, or `deploy/limits.env`.
    static func template(for path: String) -> URL {
        let name = URL(fileURLWithPath: path).lastPathComponent
        return name == "limits.env" ? deploy.appendingPathComponent(name) : deploy.appendingPathComponent("env/\(name)")
    }

    @Test(arguments: [
        ("bridgeback-admission.service", ["admission"]), ("bridgeback-coordinator.service", ["coordinator"]),
        ("bridgeback-worker.service", ["worker"]), ("bridgeback-audit.service", ["audit"]),
        ("bridgeback-ledger-backup.service", ["ledger", "backup"]),
    ])
    func everyFlagAUnitPassesIsOneItsSubcommandTakes(unit: String, subcommand: [String]) async throws {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("systemd/\(unit)"), encoding: .utf8)
        let lines = text.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n").map(String.init)
        var environment: [String: String] = [:]
        for line in lines where line.hasPrefix("EnvironmentFile=") {
            let path = String(line.dropFirst("EnvironmentFile=".count))
            let optional = path.hasPrefix("-")
            let template = Self.template(for: optional ? String(path.dropFirst()) : path)
            let exists = FileManager.default.fileExists(atPath: template.path)
            #expect(exists || optional, "\(unit) loads \(path), which has no template in deploy/")
            if exists { environment.merge(try Self.variables(template)) { $1 } }
        }
        // The bridgeback command line, also inside `sh -c '…'`.
        let exec = try #require(lines.first { $0.hasPrefix("ExecStart=") }, "\(unit) has no ExecStart")
        let start = try #require(exec.range(of: "/usr/local/bin/bridgeback "), "\(unit) does not start bridgeback: \(exec)")
        let command = exec[start.upperBound...].prefix { $0 != "'" }
        var words: [String] = []
        for word in command.split(separator: " ") {
            if word.hasPrefix("$") && !word.hasPrefix("$(") {
                let name = String(word.dropFirst())
                let value = try #require(environment[name], "\(unit) expands $\(name), which no env file it loads defines")
                words += value.split(separator: " ").map(String.init)
            } else {
                words.append(String(word))
            }
        }
        #expect(Array(words.prefix(subcommand.count)) == subcommand, "\(exec)")
        let flags = words.filter { $0.hasPrefix("--") }
        #expect(!flags.isEmpty)
        let help = try await Broker.runOffPool(Fleet.binary, subcommand + ["--help"])
        for flag in flags {
            #expect(help.contains(flag), "\(unit): `bridgeback \(subcommand.joined(separator: " "))` takes no \(flag)")
        }
    }

    /// The cluster's rabbitmq.conf names its peers as rabbitmq-env.conf names each node: long names
    /// (`rabbit@broker-N.example.internal`); a short name there would match no node and the nodes
    /// would not find each other. Distribution runs over TLS with the config file beside rabbitmq.conf.
    @Test func theClusterConfigNamesPeersAsTheNodesNameThemselves() throws {
        let environment = try Self.variables(Self.deploy.appendingPathComponent("env/rabbitmq-env.conf"))
        let nodename = try #require(environment["NODENAME"], "rabbitmq-env.conf sets no NODENAME")
        #expect(environment["USE_LONGNAME"] == "true" && nodename.split(separator: "@").last?.contains(".") == true, "\(nodename)")
        let conf = try String(contentsOf: Self.deploy.appendingPathComponent("cluster/rabbitmq.conf"), encoding: .utf8)
        let prefix = "cluster_formation.classic_config.nodes."
        let peers = conf.split(separator: "\n").filter { $0.hasPrefix(prefix) }.map { line in
            let parts = line.dropFirst(prefix.count).split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return (parts.first ?? "", parts.last ?? "")
        }
        #expect(peers.map(\.0) == ["1", "2", "3"], "\(peers)")
        for (n, name) in peers {
            #expect(name == nodename.replacingOccurrences(of: "broker-N", with: "broker-\(n)"), "peer \(n): \(name), node name \(nodename)")
        }
        for variable in ["SERVER_ADDITIONAL_ERL_ARGS", "CTL_ERL_ARGS"] {
            let arguments = environment[variable] ?? ""
            #expect(arguments.contains("-proto_dist inet_tls") && arguments.contains("/etc/rabbitmq/inter_node_tls.config"), "\(variable)")
        }
        #expect(FileManager.default.fileExists(atPath: Self.deploy.appendingPathComponent("cluster/inter_node_tls.config").path))
    }

    /// Admission forwards cancels and asks for job stories at the coordinator's status API: in the
    /// three-host layout that is the HTTPS port coordinator.env opens, verified with the team's CA.
    @Test func admissionsCoordinatorURLIsTheStatusAPIThatCoordinatorEnvConfigures() throws {
        let admission = try Self.variables(Self.deploy.appendingPathComponent("env/admission.env"))
        let coordinator = try Self.variables(Self.deploy.appendingPathComponent("env/coordinator.env"))
        let arguments = (coordinator["BRIDGEBACK_COORDINATOR_ARGS"] ?? "").split(separator: " ").map(String.init)
        let port = try #require(arguments.firstIndex(of: "--http-port").map { arguments[$0 + 1] }, "coordinator.env sets no --http-port")
        let url = try #require(admission["BRIDGEBACK_COORDINATOR_URL"].flatMap(URL.init(string:)), "admission.env sets no coordinator URL")
        #expect(url.port.map(String.init) == port, "admission.env's \(url) is not coordinator.env's port \(port)")
        #expect(coordinator["BRIDGEBACK_TLS_CERTIFICATE"] == nil || url.scheme == "https", "the status API serves HTTPS; \(url)")
        #expect(url.scheme != "https" || admission["BRIDGEBACK_CA_FILE"] != nil, "admission.env needs BRIDGEBACK_CA_FILE for \(url)")
    }
}
