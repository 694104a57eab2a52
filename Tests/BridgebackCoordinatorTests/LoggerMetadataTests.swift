import Logging
import Testing

@testable import BridgebackCoordinator

@Suite("Logger metadata added at once")
struct LoggerMetadataTests {
    @Test func addingKeepsTheBaseAndLetsNewKeysWin() {
        var base = Logger(label: "test", factory: { StreamLogHandler.standardError(label: $0) })
        base[metadataKey: "job_id"] = "job_1"
        base[metadataKey: "part"] = "old"
        let log = base.adding(["part": "1/2", "surface": "cli:alice", "delivery_id": "dlv_1"])
        #expect(log[metadataKey: "job_id"] == "job_1")
        #expect(log[metadataKey: "part"] == "1/2")
        #expect(log[metadataKey: "surface"] == "cli:alice")
        #expect(log[metadataKey: "delivery_id"] == "dlv_1")
        // The base logger is a value: unchanged.
        #expect(base[metadataKey: "part"] == "old")
        #expect(base[metadataKey: "surface"] == nil)
    }
}
