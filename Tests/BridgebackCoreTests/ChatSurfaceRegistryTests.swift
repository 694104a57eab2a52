import BridgebackCore
import Foundation
import Testing

@Suite("Surface registry: slack, telegram and discord entries")
struct ChatSurfaceRegistryTests {
    func load(_ surfaces: String) -> Result<SurfaceRegistry, BridgebackError> {
        let json = #"{"schema": "bridgeback.surfaces.v1", "surfaces": ["# + surfaces + "]}"
        do { return .success(try SurfaceRegistry.load(from: Data(json.utf8))) } catch { return .failure(error) }
    }

    func problems(_ surfaces: String) -> [BridgebackError] {
        guard case .failure(let error) = load(surfaces) else { return [] }
        return error.problems.isEmpty ? [error] : error.problems
    }

    @Test("valid chat entries load with their kinds' limits, units, API bases and dedup defaults")
    func validEntries() throws {
        let registry = try load(
            #"""
            {"id": "slack:ops", "kind": "slack", "address": "C0123ABCD", "human_name": "#ops", "token": {"env": "SLACK_BOT_TOKEN"}},
            {"id": "tg:alice", "kind": "telegram", "address": "-1001234567890", "human_name": "Alice's group", "token": {"env": "TG_TOKEN"}, "api_base": "http://127.0.0.1:8081"},
            {"id": "tg:chan", "kind": "telegram", "address": "@release_notes", "human_name": "the channel", "token": {"env": "TG_TOKEN"}},
            {"id": "discord:ops", "kind": "discord", "address": "123456789012345678", "human_name": "#ops on Discord", "token": {"env": "DISCORD_TOKEN"}}
            """#
        ).get()
        let slack = try #require(registry["slack:ops"])
        #expect((slack.maxLength, slack.lengthUnit, slack.deduplicates) == (4_000, .unicodeScalars, false))
        #expect(slack.token == .environment("SLACK_BOT_TOKEN") && slack.apiBase == nil)
        let telegram = try #require(registry["tg:alice"])
        #expect((telegram.maxLength, telegram.lengthUnit, telegram.deduplicates) == (4_096, .utf16CodeUnits, false))
        #expect(telegram.apiBase == "http://127.0.0.1:8081")
        let discord = try #require(registry["discord:ops"])
        #expect((discord.maxLength, discord.lengthUnit, discord.deduplicates) == (2_000, .unicodeScalars, true))
        #expect(SurfaceKind.discord.defaultAPIBase == "https://discord.com/api/v10")
    }

    @Test("a chat entry without a token, with an inline token, or with a bad api_base or address is refused, naming the field")
    func badEntries() {
        let found = problems(
            #"""
            {"id": "s1", "kind": "slack", "address": "C1", "human_name": "S"},
            {"id": "s2", "kind": "slack", "address": "#ops", "human_name": "S", "token": "xoxb-123"},
            {"id": "t1", "kind": "telegram", "address": "alice", "human_name": "T", "token": {"env": "TG"}, "api_base": "ftp://x"},
            {"id": "d1", "kind": "discord", "address": "general", "human_name": "D", "token": {"env": ""}},
            {"id": "i1", "kind": "inbox", "address": "i", "human_name": "I", "token": {"env": "X"}, "api_base": "http://x"}
            """#)
        func fields(_ id: String) -> Set<String> { Set(found.filter { $0.surfaceID == id }.compactMap(\.field)) }
        #expect(fields("s1") == ["token"])
        #expect(found.contains { $0.surfaceID == "s1" && $0.message.contains(#"{"env": "VARIABLE_NAME"}"#) })
        #expect(fields("s2") == ["token"])  // parse fails first; the address is checked once the token is fixed
        #expect(found.contains { $0.surfaceID == "s2" && $0.message.contains("does not belong in the registry file") })
        #expect(fields("t1") == ["api_base", "address"])
        #expect(found.contains { $0.surfaceID == "t1" && $0.message.contains("@channelusername") })
        #expect(fields("d1") == ["token"])
        #expect(fields("i1") == ["token", "api_base"])
        #expect(found.contains { $0.surfaceID == "i1" && $0.message.contains("only applies to slack, telegram and discord") })
    }

    @Test("a Slack channel name instead of an id is refused")
    func slackNameRefused() {
        let found = problems(##"{"id": "s", "kind": "slack", "address": "#ops", "human_name": "S", "token": {"env": "SLACK"}}"##)
        #expect(found.map(\.field) == ["address"])
        #expect(found.first?.message.contains("C0123456789") == true)
    }

    @Test("Slack's max_length may go up to 40,000; Discord's not past 2,000")
    func hardLimits() {
        #expect(
            problems(#"{"id": "s", "kind": "slack", "address": "C1", "human_name": "S", "token": {"env": "A"}, "max_length": 40000}"#)
                .isEmpty)
        let found = problems(
            #"{"id": "d", "kind": "discord", "address": "1", "human_name": "D", "token": {"env": "A"}, "max_length": 2001}"#)
        #expect(found.map(\.field) == ["max_length"])
    }

    @Test("tokens resolve from the environment at start; a missing one is a missing_secret naming the surface and variable")
    func tokensResolve() throws {
        let registry = try load(
            #"""
            {"id": "slack:ops", "kind": "slack", "address": "C1", "human_name": "S", "token": {"env": "SLACK_BOT_TOKEN"}},
            {"id": "discord:ops", "kind": "discord", "address": "1", "human_name": "D", "token": {"env": "DISCORD_TOKEN"}}
            """#
        ).get()
        let resolved = try registry.resolveSecrets(environment: ["SLACK_BOT_TOKEN": "xoxb-1-2", "DISCORD_TOKEN": " abc.def \n"])
        #expect(resolved["slack:ops"] == Array("xoxb-1-2".utf8))
        #expect(resolved["discord:ops"] == Array("abc.def".utf8))
        do {
            _ = try registry.resolveSecrets(environment: ["SLACK_BOT_TOKEN": "xoxb-1-2"])
            Issue.record("a missing token must stop the start")
        } catch {
            #expect(error.code == .missingSecret)
            #expect(error.surfaceID == "discord:ops")
            #expect(error.message.contains("DISCORD_TOKEN"))
        }
    }
}
