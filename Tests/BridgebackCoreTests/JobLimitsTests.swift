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
        #expect(values["BRIDGEBACK_MAX_MESSAGE_BYTES"].flatMap(Int.init) == MessageLimits.maxMessageBytes)
        #expect(values["BRIDGEBACK_BROKER_MAX_MESSAGE_BYTES"].flatMap(Int.init) == MessageLimits.brokerMaxMessageBytes)
        // The broker's ceiling is above the consumers' limit (the gap is what is cut, not refused),
        // and what an over-limit message shrinks to is below it.
        #expect(
            MessageLimits.maxReducedBytes < MessageLimits.maxMessageBytes
                && MessageLimits.maxMessageBytes < MessageLimits.brokerMaxMessageBytes)
    }

    @Test("the local broker script and the cluster nodes' rabbitmq.conf set max_message_size from deploy/limits.env")
    func brokerMessageSizeMatches() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let expected = try #require((try Self.limitsFile())["BRIDGEBACK_BROKER_MAX_MESSAGE_BYTES"])
        let cluster = try String(contentsOf: repo.appendingPathComponent("deploy/cluster/rabbitmq.conf"), encoding: .utf8)
        let line = cluster.split(separator: "\n").first { $0.hasPrefix("max_message_size") }
        #expect(line?.split(separator: "=").last?.trimmingCharacters(in: .whitespaces) == expected)
        let script = try String(contentsOf: repo.appendingPathComponent("deploy/local/broker.sh"), encoding: .utf8)
        #expect(script.contains("BRIDGEBACK_BROKER_MAX_MESSAGE_BYTES=//p' \"$here/../limits.env\""))
        #expect(script.contains("max_message_size = $max_message_size"))
    }

    @Test("the cluster nodes' rabbitmq.conf uses the same consumer_timeout")
    func clusterConfigMatches() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: repo.appendingPathComponent("deploy/cluster/rabbitmq.conf"), encoding: .utf8)
        let line = text.split(separator: "\n").first { $0.hasPrefix("consumer_timeout") }
        let value = line?.split(separator: "=").last?.trimmingCharacters(in: .whitespaces)
        #expect(value == (try Self.limitsFile())["BRIDGEBACK_CONSUMER_TIMEOUT_MS"])
    }

    @Test("a job whose deadline cannot fit under the consumer timeout (less the margin) is acknowledged as it starts")
    func acknowledgement() {
        let timeout = JobLimits.brokerConsumerTimeoutSeconds
        let margin = JobLimits.heldMarginSeconds
        #expect(JobAcknowledgement.decide(remaining: 3600, consumerTimeout: timeout) == .afterCompletion)
        #expect(JobAcknowledgement.decide(remaining: timeout - margin - 1, consumerTimeout: timeout) == .afterCompletion)
        #expect(JobAcknowledgement.decide(remaining: timeout - margin, consumerTimeout: timeout) == .atStart)
        #expect(JobAcknowledgement.decide(remaining: JobLimits.maxDeadlineSeconds, consumerTimeout: timeout) == .atStart)
        // A deadline already past holds nothing for long.
        #expect(JobAcknowledgement.decide(remaining: -50, consumerTimeout: timeout) == .afterCompletion)
        // A broker timeout at or under the margin: every job is long (nothing can be held safely).
        #expect(JobAcknowledgement.decide(remaining: 1, consumerTimeout: 3) == .atStart)
        #expect(JobAcknowledgement.decide(remaining: 1, consumerTimeout: 3, margin: 1) == .afterCompletion)
    }

    @Test("BRIDGEBACK_CONSUMER_TIMEOUT_MS: milliseconds, the default when unset, refused when not a positive number")
    func consumerTimeoutFromEnvironment() {
        #expect(JobLimits.consumerTimeoutSeconds(environment: nil) == JobLimits.brokerConsumerTimeoutSeconds)
        #expect(JobLimits.consumerTimeoutSeconds(environment: "") == JobLimits.brokerConsumerTimeoutSeconds)
        #expect(JobLimits.consumerTimeoutSeconds(environment: "3000") == 3)
        #expect(JobLimits.consumerTimeoutSeconds(environment: "1e12") == 1e9)
        for bad in ["0", "-1", "2h", "nan", "inf", "1e300"] { #expect(JobLimits.consumerTimeoutSeconds(environment: bad) == nil, "\(bad)") }
    }

    @Test("the longest deadline admission accepts by default is a long job's, 7 days")
    func maxDeadline() {
        #expect(JobLimits.maxDeadlineSeconds == 7 * 24 * 3600)
        #expect(JobLimits.heldMarginSeconds < JobLimits.brokerConsumerTimeoutSeconds)
    }
}
