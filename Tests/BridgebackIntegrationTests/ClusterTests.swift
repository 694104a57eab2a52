import BridgebackAMQP
import BridgebackTopology
import Foundation
import Testing

/// A local three-node RabbitMQ cluster (`deploy/local/cluster.sh`) in a scratch directory, on ports
/// of its own, so it runs beside the suite's single broker; with `tls`, AMQP is served over TLS only
/// and the URLs verify the nodes against the cluster's own CA.
final class LocalCluster: Sendable {
    let directory: URL
    let basePort: Int
    let tls: Bool
    /// `BRIDGEBACK_*_AMQP_URL` → every node's URL, comma-separated (what `cluster.sh env` prints).
    let urls: [String: String]

    static var script: String { Broker.repoRoot.appendingPathComponent("deploy/local/cluster.sh").path }

    private init(directory: URL, basePort: Int, tls: Bool, urls: [String: String]) {
        self.directory = directory
        self.basePort = basePort
        self.tls = tls
        self.urls = urls
    }

    static func start(basePort: Int = 5681, tls: Bool = false) async throws -> LocalCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bb-cluster-\(UUID().uuidString.prefix(6))")
        let environment = [
            "BRIDGEBACK_CLUSTER_DIR": directory.path, "BRIDGEBACK_CLUSTER_BASE_PORT": "\(basePort)",
            "BRIDGEBACK_CLUSTER_TLS": tls ? "1" : "0",
        ]
        do {
            _ = try await Broker.runOffPool(script, ["start"], environment: environment)
        } catch {
            _ = try? await Broker.runOffPool(script, ["stop"], environment: environment)
            throw error
        }
        var urls: [String: String] = [:]
        for line in try await Broker.runOffPool(script, ["env"], environment: environment).split(separator: "\n")
        where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count)
            guard let eq = pair.firstIndex(of: "=") else { continue }
            urls[String(pair[..<eq])] = String(pair[pair.index(after: eq)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        return LocalCluster(directory: directory, basePort: basePort, tls: tls, urls: urls)
    }

    @discardableResult
    func run(_ arguments: [String], extra: [String: String] = [:]) async throws -> String {
        try await Broker.runOffPool(
            Self.script, arguments,
            environment: [
                "BRIDGEBACK_CLUSTER_DIR": directory.path, "BRIDGEBACK_CLUSTER_BASE_PORT": "\(basePort)",
                "BRIDGEBACK_CLUSTER_TLS": tls ? "1" : "0",
            ].merging(extra) { $1 })
    }

    /// The node number (1–3) leading a quorum queue.
    /// Asked up to ten times, 2 s apart: on a loaded machine the management API can be slow to
    /// answer, and a queue that just failed over may not name its new leader yet.
    func leader(of queue: String) async throws -> Int {
        var problem: any Error = TestFailure("cluster.sh leader \(queue) was never asked")
        for attempt in 0..<10 {
            if attempt > 0 { try await Task.sleep(for: .seconds(2)) }
            do {
                let output = try await run(["leader", queue])
                if let line = output.split(separator: "\n").last, let node = Int(line.trimmingCharacters(in: .whitespaces)) {
                    return node
                }
                problem = TestFailure("cluster.sh leader \(queue) said: \(output)")
            } catch {
                problem = error
            }
        }
        throw problem
    }

    func kill(node: Int) async throws { try await run(["kill", "\(node)"]) }

    /// `bridgeback topology check` against node N's management API: its output (a check with drift exits 1).
    func topologyCheck(management node: Int) async -> String {
        do {
            return try await Broker.runOffPool(
                Fleet.binary,
                ["topology", "check", "--management", "http://127.0.0.1:\(basePort + 10000 + node - 1)", "--log-level", "warning"],
                environment: ["BRIDGEBACK_AMQP_URL": urls["BRIDGEBACK_AMQP_URL"] ?? ""])
        } catch {
            return "\(error)"
        }
    }

    /// `bridgeback topology apply` against the cluster, as its admin.
    func applyTopology() async throws {
        _ = try await Broker.runOffPool(
            Fleet.binary, ["topology", "apply", "--log-level", "warning"],
            environment: ["BRIDGEBACK_AMQP_URL": urls["BRIDGEBACK_AMQP_URL"] ?? ""])
    }

    func stop() async {
        _ = try? await run(["stop"])
        try? FileManager.default.removeItem(at: directory)
    }
}

/// The replication check of `topology check`, without a broker.
struct ReplicationCheckTests {
    let nodes = ["a@h", "b@h", "c@h"]

    @Test func threeMembersOnlineOnThreeNodesIsClean() {
        #expect(TopologyManager.replicationDrift(queue: "q", members: nodes, online: nodes, clusterNodes: nodes) == nil)
    }

    @Test func aSingleNodeBrokerNeedsOneMember() {
        #expect(TopologyManager.replicationDrift(queue: "q", members: ["a@h"], online: ["a@h"], clusterNodes: ["a@h"]) == nil)
    }

    @Test func anOfflineMemberIsReportedWithWhatItMeans() throws {
        let drift = try #require(TopologyManager.replicationDrift(queue: "q", members: nodes, online: ["a@h", "b@h"], clusterNodes: nodes))
        #expect(drift.kind == .underReplicated)
        #expect(drift.detail.contains("2 of 3 members online (offline: c@h)"))
        #expect(drift.detail.contains("keeps working while a majority (2) is online"))
        let down = try #require(TopologyManager.replicationDrift(queue: "q", members: nodes, online: ["a@h"], clusterNodes: nodes))
        #expect(down.detail.contains("unavailable until a member returns"))
    }

    @Test func tooFewMembersForTheClusterIsReported() throws {
        let drift = try #require(TopologyManager.replicationDrift(queue: "q", members: ["a@h"], online: ["a@h"], clusterNodes: nodes))
        #expect(drift.detail.contains("1 member(s) on a cluster of 3 nodes; want 3"))
        #expect(drift.detail.contains("rabbitmq-queues add_member -p <vhost> q b@h"))
        // Five nodes still want three members, not five.
        let five = nodes + ["d@h", "e@h"]
        #expect(TopologyManager.replicationDrift(queue: "q", members: nodes, online: nodes, clusterNodes: five) == nil)
    }
}

extension BrokerBacked {
    /// The fleet on a three-node cluster over TLS: what issue #14 asks a broker failover to show.
    @Suite(.serialized)
    struct ClusterFailoverTests {
        @Test func killingTheNodeThatLeadsTheJobsQueueLosesNoJobAndDeliversNoneTwice() async throws {
            let cluster = try await LocalCluster.start(tls: true)
            do {
                try await failover(on: cluster)
            } catch {
                await cluster.stop()
                throw error
            }
            await cluster.stop()
        }

        private func failover(on cluster: LocalCluster) async throws {
            try await cluster.applyTopology()

            // Every client verifies the nodes against the cluster's CA; without it, or in plain AMQP, none connects.
            let verified = try #require(cluster.urls["BRIDGEBACK_AMQP_URL"])
            #expect(verified.split(separator: ",").allSatisfy { $0.hasPrefix("amqps://") && $0.contains("cacertfile=") })
            let node1 = String(verified.split(separator: ",")[0])
            let withoutCA = String(node1.split(separator: "?")[0])
            for (url, expected) in [
                (withoutCA, AMQPError.Code.tlsFailed), ("amqp" + withoutCA.dropFirst("amqps".count), .authenticationFailed),
            ] {
                do {
                    let connection = try await AMQPConnection.connect(AMQPConfiguration(url: url, connectionName: "tls-probe"))
                    await connection.close()
                    Issue.record("connected with \(url.prefix(8))… without verifying the node")
                } catch {
                    #expect((error as? AMQPError)?.code == expected, "\(error)")
                }
            }
            try await withFleet("cluster", brokerURLs: cluster.urls) { fleet in
                try await fleet.startAll(workers: 2)
                let jobsQueue = "bb.jobs.\(fleet.pool)"

                // Every quorum queue has a member on each node, and topology check sees none missing.
                let check = await cluster.topologyCheck(management: 1)
                #expect(!check.contains("under-replicated") && MultiHostTests.checkRan(check), "\(check)")

                let count = 600
                let bodies = (0..<count).map { i in
                    fleet.detach("echo", params: ["text": "c=\(i)"], final: "hooks:\(fleet.parent)", mode: "direct")
                }
                let leader = try await cluster.leader(of: jobsQueue)
                async let submitted = fleet.submitAll(bodies, concurrency: 8)
                try await eventually("a fifth of the jobs delivered before the kill", timeout: .seconds(180)) {
                    fleet.received().count >= count / 5
                }
                let deliveredBeforeKill = fleet.received().count
                let killedAt = ContinuousClock.now
                try await cluster.kill(node: leader)
                let survivor = leader == 1 ? 2 : 1
                try await eventually("topology check reports the killed node's queue members offline", timeout: .seconds(60)) {
                    await cluster.topologyCheck(management: survivor).contains("under-replicated")
                }
                let ids = try await submitted
                #expect(Set(ids).count == count)

                try await eventually("every job finishes after the failover", timeout: .seconds(300)) {
                    let jobs = (try? fleet.ledgerJobs()) ?? [:]
                    return ids.allSatisfy { jobs[$0]?.finalOutcome != nil }
                }
                let recovery = ContinuousClock.now - killedAt
                try await Task.sleep(for: .seconds(2))  // anything extra would show up now

                let received = fleet.received()
                for (i, id) in ids.enumerated() {
                    let notices = received.filter { !$0.duplicate && ($0.notice["job_id"] as? String) == id }.map(\.notice)
                    #expect(notices.count == 1, "job \(i) (\(id)) delivered \(notices.count) times")
                    for notice in notices {
                        #expect((notice["text"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines) == "c=\(i)")
                        #expect(notice["kind"] as? String == "result")
                    }
                }
                let repeatedRequests = received.filter(\.duplicate).count
                let newLeader = try await cluster.leader(of: jobsQueue)
                #expect(newLeader != leader, "the jobs queue has a new leader")

                // `cluster.sh start-node`: the killed node rejoins and its queue members catch up.
                try await cluster.run(["start-node", "\(leader)"])
                let restartedAt = ContinuousClock.now
                try await eventually("node \(leader) rejoins with every queue fully replicated", timeout: .seconds(180)) {
                    try await Task.sleep(for: .seconds(1))
                    let check = await cluster.topologyCheck(management: leader)
                    return !check.contains("under-replicated") && MultiHostTests.checkRan(check)
                }
                let rejoined = ContinuousClock.now - restartedAt
                print(
                    "cluster failover (TLS): \(count) jobs, node \(leader) (leader of \(jobsQueue)) killed after \(deliveredBeforeKill) deliveries; "
                        + "new leader node \(newLeader); every job delivered once; \(repeatedRequests) repeated webhook requests "
                        + "(same webhook-id, deduplicated by the receiver); all finished \(recovery) after the kill; node \(leader) "
                        + "started again, fully replicated \(rejoined) after")
            }
        }
    }
}
