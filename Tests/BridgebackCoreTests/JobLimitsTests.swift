import BridgebackCore
import Foundation
import Testing

@Suite("Job limits: one set of numbers for admission, the broker script and the systemd units")
struct JobLimitsTests {
    static func limitsFile() throws -> [String: String] {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: repo.appendingPathComponent("deploy/limits.env"), encoding: .utf8)
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let pair = line.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { values[pair[0]] = pair[1] }
        }
        return values
    }

    @Test("deploy/limits.env says what the code's defaults say")
    func fileMatchesCode() throws {
        let values = try Self.limitsFile()
        #expect(values["BRIDGEBACK_CONSUMER_TIMEOUT_MS"].flatMap(Double.init) == JobLimits.brokerConsumerTimeoutSeconds * 1000)
        #expect(values["BRIDGEBACK_MAX_DEADLINE_S"].flatMap(Double.init) == JobLimits.maxDeadlineSeconds)
    }

    @Test("the cluster nodes' rabbitmq.conf uses the same consumer_timeout")
    func clusterConfigMatches() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: repo.appendingPathComponent("deploy/cluster/rabbitmq.conf"), encoding: .utf8)
        let line = text.split(separator: "\n").first { $0.hasPrefix("consumer_timeout") }
        let value = line?.split(separator: "=").last?.trimmingCharacters(in: .whitespaces)
        #expect(value == (try Self.limitsFile())["BRIDGEBACK_CONSUMER_TIMEOUT_MS"])
    }

    @Test("the longest deadline must be below the consumer timeout")
    func problem() {
        #expect(JobLimits.problem(maxDeadline: JobLimits.maxDeadlineSeconds, consumerTimeout: JobLimits.brokerConsumerTimeoutSeconds) == nil)
        #expect(JobLimits.problem(maxDeadline: 7 * 24 * 3600, consumerTimeout: 7200)?.contains("runs twice") == true)
        #expect(JobLimits.problem(maxDeadline: 7200, consumerTimeout: 7200) != nil)
    }
}
