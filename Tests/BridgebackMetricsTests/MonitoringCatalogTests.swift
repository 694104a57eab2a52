import Foundation
import Testing

/// docs/operations.md's metric and alert tables against what the code records and what
/// deploy/monitoring/ queries, so neither drifts from the other: a metric added, renamed or
/// dropped in one place and not the others fails here.
@Suite struct MonitoringCatalogTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func read(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The text of operations.md under `### <heading>` up to the next heading of that level or higher.
    static func section(_ heading: String) throws -> String {
        let text = try read("docs/operations.md")
        guard let start = text.range(of: "\n### \(heading)") else { throw Failure("no section '### \(heading)' in docs/operations.md") }
        let rest = text[start.upperBound...]
        let end = rest.range(of: "\n### ")?.lowerBound ?? rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex
        return String(rest[..<end])
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func matches(_ pattern: String, in text: String, group: Int = 0) throws -> [String] {
        let regex = try NSRegularExpression(pattern: pattern)
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: group), in: text).map { String(text[$0]) }
        }
    }

    /// The first column of the metric table: one metric per row.
    static func documentedMetrics() throws -> Set<String> {
        let rows = try section("Metrics").split(separator: "\n").filter { $0.hasPrefix("| `bridgeback_") }
        return Set(try rows.flatMap { row in try matches(#"^\| `(bridgeback_[a-z_]+)`"#, in: String(row), group: 1) })
    }

    /// Every metric name the code records: the quoted `bridgeback_<process>_…` labels in Sources/.
    static func recordedMetrics() throws -> Set<String> {
        var names: Set<String> = []
        let sources = root.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift" else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            names.formUnion(try matches(#""(bridgeback_(?:admission|worker|coordinator|amqp)_[a-z_]+)""#, in: text, group: 1))
        }
        return names
    }

    /// Metric names a file queries (`bridgeback_…` and `rabbitmq_…`), histogram series folded
    /// into their metric when the metric is a documented one.
    static func queried(_ path: String, documented: Set<String>) throws -> Set<String> {
        let text = try read(path)
        return Set(
            try matches(#"\b(?:bridgeback|rabbitmq)_[a-z_]+"#, in: text).map { name in
                for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                    let base = String(name.dropLast(suffix.count))
                    if documented.contains(base) { return base }
                }
                return name
            })
    }

    @Test("every metric the code records is in the metric table, and every row is recorded by the code")
    func tableMatchesTheCode() throws {
        let documented = try Self.documentedMetrics()
        let recorded = try Self.recordedMetrics()
        #expect(documented.count >= 40, "the table parsed: \(documented.count) rows")
        #expect(
            recorded.subtracting(documented).isEmpty, "recorded but not in docs/operations.md: \(recorded.subtracting(documented).sorted())"
        )
        #expect(documented.subtracting(recorded).isEmpty, "documented but never recorded: \(documented.subtracting(recorded).sorted())")
    }

    @Test("names follow Prometheus conventions: counters end in _total, histograms in _seconds, gauges in neither")
    func conventions() throws {
        let rows = try Self.section("Metrics").split(separator: "\n").filter { $0.hasPrefix("| `bridgeback_") }
        #expect(rows.count >= 40)
        for row in rows {
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let name = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            switch cells[1] {
            case "counter": #expect(name.hasSuffix("_total"), "\(name)")
            case "histogram": #expect(name.hasSuffix("_seconds"), "\(name)")
            case "gauge": #expect(!name.hasSuffix("_total") && !name.hasSuffix("_count"), "\(name)")
            default: Issue.record("\(name): unknown type '\(cells[1])'")
            }
            // Bounded label sets: no label that would carry a job, request or message id.
            #expect(!cells[2].contains("job_id") && !cells[2].contains("id`"), "\(name): labels \(cells[2])")
        }
    }

    @Test("the alert rules and the Grafana dashboard query only documented metrics (ours, and the broker's the docs name)")
    func queriesUseDocumentedMetrics() throws {
        let metrics = try Self.section("Metrics")
        let documented = try Self.documentedMetrics()
        let broker = Set(try Self.matches(#"`(rabbitmq_[a-z_]+)`"#, in: metrics, group: 1))
        #expect(broker.count >= 3, "\(broker)")
        for path in ["deploy/monitoring/alerts.yml", "deploy/monitoring/grafana-dashboard.json"] {
            let queried = try Self.queried(path, documented: documented)
            #expect(!queried.isEmpty)
            let unknown = queried.subtracting(documented).subtracting(broker)
            #expect(unknown.isEmpty, "\(path) queries metrics docs/operations.md does not list: \(unknown.sorted())")
        }
    }

    @Test("the Grafana dashboard is provisionable JSON: panels with queries, the datasource variable, a uid")
    func grafanaDashboard() throws {
        let data = Data(try Self.read("deploy/monitoring/grafana-dashboard.json").utf8)
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((dashboard["uid"] as? String)?.isEmpty == false)
        #expect((dashboard["title"] as? String)?.isEmpty == false)
        let variables = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        #expect(variables.contains { $0["name"] as? String == "datasource" && $0["type"] as? String == "datasource" })
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        var expressions = 0
        for panel in panels where panel["type"] as? String != "row" {
            let title = panel["title"] as? String ?? "?"
            let targets = panel["targets"] as? [[String: Any]] ?? []
            #expect(!targets.isEmpty, "panel '\(title)' has no query")
            for target in targets {
                let expr = target["expr"] as? String ?? ""
                #expect(!expr.isEmpty, "panel '\(title)': a target without expr")
                expressions += 1
            }
            let datasource = panel["datasource"] as? [String: Any]
            #expect(datasource?["uid"] as? String == "${datasource}", "panel '\(title)' uses the datasource variable")
        }
        #expect(expressions >= panels.count)
    }

    @Test("every alert in the docs' table is a rule in alerts.yml and has a firing case in alerts_test.yml, and no rule is undocumented")
    func alertsMatchTheDocs() throws {
        let table = try Self.section("Prometheus, alerts, Grafana (`deploy/monitoring/`)")
        let documented = Set(try Self.matches(#"(?m)^\| (Bridgeback[A-Za-z]+) \|"#, in: table, group: 1))
        let rules = Set(try Self.matches(#"(?m)^\s*- alert: (\w+)"#, in: try Self.read("deploy/monitoring/alerts.yml"), group: 1))
        #expect(documented.count >= 11, "\(documented)")
        #expect(
            documented == rules,
            "docs only: \(documented.subtracting(rules).sorted()); alerts.yml only: \(rules.subtracting(documented).sorted())")
        // A firing case: `alertname: X` followed (before the next alertname) by a non-empty exp_alerts.
        let tests = try Self.read("deploy/monitoring/alerts_test.yml")
        var firing: Set<String> = []
        var current: String?
        for line in tests.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("alertname:") { current = line.dropFirst("alertname:".count).trimmingCharacters(in: .whitespaces) }
            if line == "exp_alerts:", let name = current { firing.insert(name) }  // `exp_alerts: []` is the quiet case
        }
        #expect(rules.subtracting(firing).isEmpty, "alerts without a firing test case: \(rules.subtracting(firing).sorted())")
    }

    /// Issue #13, item 4: the alerts it names, each under the rule that implements it.
    @Test("the alerts the issue asks for all exist")
    func issueAlerts() throws {
        let rules = Set(try Self.matches(#"(?m)^\s*- alert: (\w+)"#, in: try Self.read("deploy/monitoring/alerts.yml"), group: 1))
        let asked = [
            "backlog growing on bb.jobs.*": "BridgebackJobsBacklogGrowing", "oldest job older than N minutes": "BridgebackOldestJobTooOld",
            "no consumer on a jobs queue": "BridgebackJobsQueueWithoutConsumer", "no active coordinator": "BridgebackNoActiveCoordinator",
            "coordinator queues backing up": "BridgebackCoordinatorQueuesBackingUp",
            "outbox backlog growing": "BridgebackOutboxBacklogGrowing",
            "any uncertain delivery": "BridgebackDeliveryUncertain", "lost jobs": "BridgebackLostJobs",
            "dead-lettered jobs": "BridgebackDeadLetteredJobs", "delivery failure rate": "BridgebackDeliveryFailureRate",
            "a process down": "BridgebackProcessDown",
        ]
        for (what, rule) in asked { #expect(rules.contains(rule), "\(what): no rule \(rule)") }
    }
}
