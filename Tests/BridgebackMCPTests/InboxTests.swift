import BridgebackCore
import Foundation
import MCP
import Synchronization
import Testing

@testable import BridgebackMCP

/// Counts acknowledgements per message, as the broker would see them.
final class AckLog: Sendable {
    private let counts = Mutex([String: Int]())
    func ack(_ id: String) -> Inbox.Ack { { self.counts.withLock { $0[id, default: 0] += 1 } } }
    func count(_ id: String) -> Int { counts.withLock { $0[id] ?? 0 } }
}

func item(_ id: String, job: String = "job_1") -> InboxItem {
    InboxItem(messageID: id, jobID: job, kind: "result", human: "Result of \(job)", body: ["text": "ok"], arrivedAt: Date())
}

@Suite struct InboxTests {
    @Test func aWaitingMessageIsAckedOnlyWhenTakenAndNeverShownAgain() async {
        let inbox = Inbox(parent: "alice")
        let acks = AckLog()
        #expect(await inbox.arrived(item("d1"), ack: acks.ack("d1")))
        #expect(await inbox.peek(max: 10).map(\.messageID) == ["d1"])
        #expect(acks.count("d1") == 0, "peeking does not acknowledge")
        #expect(await inbox.take(max: 10).map(\.messageID) == ["d1"])
        #expect(acks.count("d1") == 1)
        #expect(await inbox.take(max: 10).isEmpty)
        // The broker redelivers it (a connection loss before the ack reached it): acked, not shown.
        #expect(await inbox.arrived(item("d1"), ack: acks.ack("d1")) == false)
        #expect(acks.count("d1") == 2)
        #expect(await inbox.peek(max: 10).isEmpty)
    }

    @Test func aRedeliveryOfAWaitingMessageKeepsOneCopyAndTheNewestHandle() async {
        let inbox = Inbox(parent: "alice")
        let first = AckLog()
        let second = AckLog()
        await inbox.arrived(item("d1"), ack: first.ack("d1"))
        #expect(await inbox.arrived(item("d1"), ack: second.ack("d1")) == false)
        #expect(await inbox.waitingCount == 1)
        _ = await inbox.take(max: 10)
        #expect(first.count("d1") == 0 && second.count("d1") == 1)
    }

    @Test func takeHonoursMaxAndJobFilterOldestFirst() async {
        let inbox = Inbox(parent: "alice")
        let acks = AckLog()
        for (id, job) in [("a", "j1"), ("b", "j2"), ("c", "j1"), ("d", "j1")] { await inbox.arrived(item(id, job: job), ack: acks.ack(id)) }
        #expect(await inbox.take(max: 2, jobID: "j1").map(\.messageID) == ["a", "c"])
        #expect(await inbox.peek(max: 10).map(\.messageID) == ["b", "d"])
        #expect(acks.count("b") == 0 && acks.count("d") == 0)
    }

    @Test func listenersHearArrivalsButNotDuplicates() async {
        let inbox = Inbox(parent: "alice")
        let events = await inbox.events()
        let acks = AckLog()
        await inbox.arrived(item("d1"), ack: acks.ack("d1"))
        await inbox.arrived(item("d1"), ack: acks.ack("d1"))
        await inbox.arrived(item("d2"), ack: acks.ack("d2"))
        var seen: [String] = []
        for await event in events {
            if case .arrived(let item) = event { seen.append(item.messageID) }
            if seen.count == 2 { break }
        }
        #expect(seen == ["d1", "d2"])
    }

    @Test func aFinalNoticeBodyBecomesWords() throws {
        let job = try JobID(parsing: "job_01JABCDEFGHJKMNPQRSTVWXYZ0")
        let context = HumanContext(jobID: job, asked: "verify the fix", askedIn: "the test terminal", recipe: "sleep", kind: .result)
        let notice = FinalNotice(
            deliveryID: DeliveryID(job: job, part: 1), kind: .result, totalParts: 1, text: "all green", context: context,
            origin: try SurfaceID(validating: "cli:alice"), finalSurface: try SurfaceID(validating: "cli:alice"), deliveryMode: .parent,
            createdAt: Date())
        let body = Array(try WireCodec.encode(notice))
        let decoded = try #require(InboxItem.decode(body, messageID: nil, arrivedAt: Date()))
        #expect(decoded.kind == "result" && decoded.jobID == job.description)
        #expect(decoded.human.hasPrefix("Result of job \(job):\nall green"))
        #expect(InboxItem.decode(Array("{}".utf8), messageID: "x", arrivedAt: Date()) == nil)
    }
}

@Suite struct ArgumentTests {
    func message(_ body: () throws -> Void) -> String? {
        do { try body() } catch {
            if case .invalidParams(let text)? = error as? MCPError { return text }
            return "wrong error \(error)"
        }
        return nil
    }

    @Test func errorsNameTheToolTheFieldAndWhatWasExpected() {
        #expect(
            message { _ = try Arguments(tool: "t", ["colour": "red"], known: ["text"]) }
                == "t: argument 'colour' is not an argument of t; its arguments are text")
        #expect(
            message { _ = try Arguments(tool: "t", [:], known: ["text"]).string("text", required: true) }
                == "t: argument 'text' is required: a non-empty string")
        #expect(
            message { _ = try Arguments(tool: "t", ["text": 5], known: ["text"]).string("text") }
                == "t: argument 'text' must be a string, got the number 5")
        #expect(
            message { _ = try Arguments(tool: "t", ["max": 0], known: ["max"]).integer("max", minimum: 1, maximum: 100) }
                == "t: argument 'max' must be a number from 1 to 100, got 0")
        #expect(
            message { _ = try Arguments(tool: "t", ["max": 1.5], known: ["max"]).integer("max", minimum: 1, maximum: 100) }
                == "t: argument 'max' must be a whole number, got 1.5")
        #expect(
            message { _ = try Arguments(tool: "t", ["m": "email"], known: ["m"]).oneOf("m", ["parent", "direct"]) }
                == "t: argument 'm' must be one of \"parent\", \"direct\", got \"email\"")
        #expect(
            message { _ = try Arguments(tool: "t", ["s": ["a", 3]], known: ["s"]).stringList("s") }
                == "t: argument 's[1]' must be a non-empty string, got the number 3")
    }

    @Test func theToolListHasSevenToolsWithObjectSchemas() {
        let tools = BridgebackTools(
            client: FleetClient(admissionURL: "http://127.0.0.1:1", coordinatorURL: nil, token: nil),
            identity: AssistantIdentity(origin: "cli:alice", parent: "alice"), inbox: nil, consumer: nil)
        #expect(tools.definitions.map(\.name) == BridgebackTools.names)
        for tool in tools.definitions {
            #expect(tool.inputSchema.objectValue?["type"] == "object", "\(tool.name)")
            #expect(tool.inputSchema.objectValue?["additionalProperties"] == false, "\(tool.name)")
        }
    }

    @Test func anUnreachableAdmissionIsAToolErrorThatChangedNothing() async throws {
        let tools = BridgebackTools(
            client: FleetClient(admissionURL: "http://127.0.0.1:1", coordinatorURL: nil, token: nil, timeout: 2),
            identity: AssistantIdentity(origin: "cli:alice", parent: nil), inbox: nil, consumer: nil)
        let result = try await tools.call("bridgeback_detach", ["text": "verify the fix"])
        #expect(result.isError == true)
        guard case .text(let text, _, _)? = result.content.first else { Issue.record("no text"); return }
        #expect(text.contains("Could not detach") && text.contains("Nothing was changed"))
        let inbox = try await tools.call("bridgeback_inbox", [:])
        #expect(inbox.isError == true, "no inbox without --parent")
    }
}
