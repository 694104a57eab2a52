@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Logging
import ServiceLifecycle
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `POST /v1/jobs/{id}/dry-run`: the final notice planned as delivery would, each part run
/// through its adapter's `dryRun`, nothing sent and nothing written.
@Suite("Dry-run: plan and check a job's delivery without sending")
struct DryRunTests {
    /// A 500-character inbox surface, a Discord channel, and the harness's usual surfaces.
    static let extra: [Surface] = [
        Surface(
            id: "cli:bob", kind: .inbox, address: "bob", humanName: "Bob's terminal", maxLength: 500,
            lengthUnit: .unicodeScalars, directAllowed: true),
        Surface(
            id: "discord:releases", kind: .discord, address: "1180000000000000000", humanName: "#releases on Discord",
            directAllowed: true, token: .environment("BB_TEST_DISCORD_TOKEN")),
    ]

    static func harness() throws -> Harness {
        try Harness(extraSurfaces: extra, environment: ["BB_TEST_DISCORD_TOKEN": "test-token"])
    }

    /// 1,400 characters in 14 paragraphs, so the splitter has clean breaks.
    static let longResult = (1...14).map { n in
        "Gate \(n): " + String(repeating: "x", count: 100 - "Gate \(n): ".count - 2) + "\n\n"
    }.joined()

    /// Decodes a served answer as the shared `DeliveryDryRun` (BridgebackCore, what the CLI reads)
    /// and checks that it encodes back to the very bytes served: no field lost, renamed or added.
    static func decode(_ response: StatusResponse) throws -> DeliveryDryRun {
        try StatusAPITests.roundTrip(DeliveryDryRun.self, response)
    }

    /// Everything the ledger holds about a job, to compare before and after.
    static func snapshot(_ h: Harness, _ id: JobID) async throws -> (JobRecord?, [PartRecord]) {
        (try await h.ledger.job(id), try await h.ledger.parts(of: id))
    }

    @Test("a 1,400-character result to a 500-character surface: every part listed n/N within the limit, ledger unchanged, nothing sent")
    func splitParts() async throws {
        #expect(Self.longResult.unicodeScalars.count == 1_400)
        let h = try Self.harness()
        let contract = makeContract(final: "cli:bob", mode: .direct)
        // Decided and planned, but delivery is not running: the parts wait in the ledger.
        _ = try await h.coordinator.handleContract(body(contract))
        _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID, result: Self.longResult)))
        let before = try await Self.snapshot(h, contract.jobID)
        #expect(before.1.count > 1)

        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry, adapters: h.coordinator.adapters)
        let response = await api.dryRun(id: contract.jobID.description, body: [], as: .testOperator)
        #expect(response.status == 200)
        let report = try Self.decode(response)
        #expect(report.dryRun)
        #expect(report.outcome == "would_send")
        #expect(report.textSource == "ledger")
        #expect(report.noticeKind == "result")
        #expect(report.surface?.id == "cli:bob" && report.surface?.kind == "inbox" && report.surface?.humanName == "Bob's terminal")
        #expect(report.surface?.maxLength == 500 && report.surface?.unitWords == "characters")
        #expect(report.surface?.fitting == "the result will be split into parts of at most 500 characters (context lines included)")
        #expect(report.deliveryMode == "direct" && report.deliveryModeName == "direct")
        #expect(report.adapter == "BrokerNoticeAdapter")

        // The parts are the ledger's, byte for byte, and fit the surface.
        let stored = before.1
        #expect(report.parts.count == stored.count)
        #expect(report.parts.map(\.deliveryID) == stored.map(\.deliveryID.description))
        #expect(report.parts.map(\.body) == stored.map { String(decoding: $0.body, as: UTF8.self) })
        for (index, part) in report.parts.enumerated() {
            #expect(part.part == index + 1 && part.totalParts == stored.count)
            #expect(part.ok && part.failure == nil)
            #expect(part.length <= 500 && part.maxLength == 500)
            #expect(part.length == part.rendered.unicodeScalars.count)
            #expect(part.bodyBytes == stored[index].body.count)
            #expect(part.rendered.hasPrefix("Part \(index + 1)/\(stored.count) · You asked in Alice's terminal"))
        }
        let notices = try report.parts.map { try decodeNotice(Array($0.body.utf8)) }
        #expect(FinalNotice.rejoin(notices) == Self.longResult)
        #expect(
            report.human
                == "Would send to Bob's terminal (inbox bob), direct, in \(stored.count) parts; all \(stored.count) pass the dry-run")

        // Nothing sent, nothing written.
        #expect(h.publisher.messages.isEmpty)
        #expect(h.http.requests.isEmpty)
        let after = try await Self.snapshot(h, contract.jobID)
        #expect(after.0 == before.0 && after.1 == before.1)
    }

    @Test("a running job: planned from the given text exactly as the planner splits it, or from a marked placeholder")
    func givenTextAndPlaceholder() async throws {
        let h = try Self.harness()
        let contract = makeContract(final: "cli:bob")
        _ = try await h.coordinator.handleContract(body(contract))
        let before = try await Self.snapshot(h, contract.jobID)
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry, adapters: h.coordinator.adapters)

        let request = Array(JSONValue.object(["text": .string(Self.longResult)]).encodedText.utf8)
        let report = try Self.decode(await api.dryRun(id: contract.jobID.description, body: request, as: .testOperator))
        #expect(report.state == "awaiting_completion")
        #expect(report.textSource == "request")
        let surface = try #require(h.registry["cli:bob"])
        let expected = try FinalNoticePlanner.plan(
            contract: contract, decision: .init(kind: .result, text: Self.longResult, completion: nil), surface: surface,
            originName: "Alice's terminal", createdAt: Date())
        #expect(report.parts.count == expected.count)
        #expect(report.parts.map(\.text) == expected.map(\.text))
        #expect(report.parts.allSatisfy { $0.ok && $0.length <= 500 })

        let placeholder = try Self.decode(await api.dryRun(id: contract.jobID.description, body: [], as: .testOperator))
        #expect(placeholder.textSource == "placeholder")
        #expect(placeholder.parts.count == 1)
        #expect(placeholder.parts.first?.text == CoordinatorStatusAPI.dryRunPlaceholder)
        #expect(placeholder.notes.contains { $0.contains("placeholder") })
        #expect(placeholder.human == "Would send to Bob's terminal (inbox bob), parent-mediated, in 1 part; it passes the dry-run")

        #expect(h.publisher.messages.isEmpty)
        let after = try await Self.snapshot(h, contract.jobID)
        #expect(after.0 == before.0 && after.1.isEmpty)
    }

    @Test("a webhook without a resolved secret and a chat surface without a token: the verdict names the failure kind")
    func failingDryRun() async throws {
        let h = try Self.harness()
        // The production dry-run adapters with no secrets or tokens resolved.
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry, adapters: .dryRunOnly(secrets: [:]))
        for (final, adapter, detail) in [
            ("hooks:a", "WebhookAdapter", "no resolved signing secret"), ("discord:releases", "DiscordAdapter", "no resolved bot token"),
        ] {
            let contract = makeContract(final: SurfaceID(stringLiteral: final), mode: .direct)
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            let before = try await Self.snapshot(h, contract.jobID)
            let report = try Self.decode(await api.dryRun(id: contract.jobID.description, body: [], as: .testOperator))
            #expect(report.outcome == "would_fail")
            #expect(report.adapter == adapter)
            let part = try #require(report.parts.first)
            #expect(!part.ok)
            #expect(part.failure?.kind == "permission")
            #expect(part.failure?.description == "permission denied")
            #expect(part.failure?.detail.contains(detail) == true)
            #expect(part.consequence == "delivery would fail this part at once (and abandon the later parts)")
            #expect(report.human.contains("the notice fails the dry-run: permission denied"))
            let after = try await Self.snapshot(h, contract.jobID)
            #expect(after.0 == before.0 && after.1 == before.1)
        }
        // The webhook address is shown without its path (it may carry a credential).
        let contract = makeContract(final: "hooks:a", mode: .direct)
        _ = try await h.coordinator.handleContract(body(contract))
        let report = try Self.decode(await api.dryRun(id: contract.jobID.description, body: [], as: .testOperator))
        #expect(report.surface?.address == "http://127.0.0.1:9/…")
        #expect(h.http.requests.isEmpty && h.publisher.messages.isEmpty)
    }

    @Test("the dry-run-only adapters refuse to send")
    func dryRunOnlyAdaptersDoNotSend() async throws {
        let adapters = AdapterSet.dryRunOnly(secrets: ["hooks:a": Array("key".utf8)])
        let surface = try #require(try Harness.makeRegistry()["hooks:a"])
        let delivery = PreparedDelivery(
            deliveryID: DeliveryID(job: JobID.make(), part: 1), totalParts: 1, surface: surface, body: Array("{}".utf8), attempt: 1)
        #expect(await adapters.byKind[.webhook]?.dryRun(delivery) == nil)
        #expect(await adapters.byKind[.webhook]?.send(delivery)?.detail == "dry-run adapters do not send")
        let result = await NoSendHTTPClient().post(
            HTTPRequest(url: URL(string: "http://127.0.0.1:9/")!, headers: [:], body: [], timeout: 1))
        guard case .notSent = result else {
            Issue.record("the dry-run HTTP client answered \(result)")
            return
        }
    }

    @Test("suppressed, unknown, contract-less and malformed requests")
    func edges() async throws {
        let h = try Self.harness()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry, adapters: h.coordinator.adapters)

        let suppressed = makeContract(mode: .suppressed)
        _ = try await h.coordinator.handleContract(body(suppressed))
        let quiet = try Self.decode(await api.dryRun(id: suppressed.jobID.description, body: [], as: .testOperator))
        #expect(quiet.outcome == "suppressed" && quiet.parts.isEmpty)

        let unknown = await api.dryRun(id: JobID.make().description, body: [], as: .testOperator)
        #expect(unknown.status == 404)
        #expect(await api.dryRun(id: "nope", body: [], as: .testOperator).status == 404)

        // A completion without its contract: where it would go is not known.
        let orphan = JobID.make()
        _ = try await h.coordinator.handleCompletion(body(makeCompletion(orphan)))
        let noContract = await api.dryRun(id: orphan.description, body: [], as: .testOperator)
        #expect(noContract.status == 409 && noContract.text.contains("no_contract"))

        let bad = await api.dryRun(id: suppressed.jobID.description, body: Array(#"{"txt": "typo"}"#.utf8), as: .testOperator)
        #expect(bad.status == 400 && bad.text.contains("unknown field"))
        let notJSON = await api.dryRun(id: suppressed.jobID.description, body: Array("hello".utf8), as: .testOperator)
        #expect(notJSON.status == 400)

        let withoutAdapters = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry)
        #expect(await withoutAdapters.dryRun(id: suppressed.jobID.description, body: [], as: .testOperator).status == 503)
        #expect(h.publisher.messages.isEmpty)
    }
}

extension DryRunTests {
    @Test("over real HTTP: POST with a text body, GET without, a bad body is a 400")
    func overHTTP() async throws {
        let h = try Self.harness()
        let contract = makeContract(final: "cli:bob")
        _ = try await h.coordinator.handleContract(body(contract))
        var logger = Logger(label: "test.coordinator.dry-run")
        logger.logLevel = .critical
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let api = CoordinatorStatusAPI(ledger: h.ledger, registry: h.registry, adapters: h.coordinator.adapters)
        let app = CoordinatorHTTP.application(api: api, auth: TestAuth.http, host: "127.0.0.1", port: 0, logger: logger) {
            portSink.yield($0)
        }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            func call(_ method: String, _ body: String?) async throws -> (Int, Data) {
                var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/jobs/\(contract.jobID)/dry-run")!)
                request.httpMethod = method
                request.httpBody = body.map { Data($0.utf8) }
                request.setValue("Bearer \(TestAuth.operatorToken)", forHTTPHeaderField: "Authorization")
                let (data, response) = try await URLSession.shared.data(for: request)
                return ((response as? HTTPURLResponse)?.statusCode ?? -1, data)
            }
            let text = JSONValue.object(["text": .string(Self.longResult)]).encodedText
            let (status, data) = try await call("POST", text)
            #expect(status == 200)
            let report = try JSONDecoder().decode(DeliveryDryRun.self, from: data)
            #expect(report.textSource == "request" && report.parts.count > 1)
            let (getStatus, getData) = try await call("GET", nil)
            #expect(getStatus == 200)
            #expect(try JSONDecoder().decode(DeliveryDryRun.self, from: getData).textSource == "placeholder")
            let (bad, _) = try await call("POST", #"{"text": 3}"#)
            #expect(bad == 400)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(h.publisher.messages.isEmpty)
        #expect(try await h.ledger.parts(of: contract.jobID).isEmpty)
    }
}

extension JSONValue {
    fileprivate var encodedText: String {
        String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self)
    }
}
