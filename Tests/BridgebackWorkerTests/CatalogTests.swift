import BridgebackCore
import Foundation
import Testing

@testable import BridgebackWorker

@Suite("Recipe catalog")
struct CatalogTests {
    func problems(_ json: String, customKinds: Set<String> = []) -> WorkerError? {
        do {
            _ = try RecipeCatalog.parse(Data(json.utf8), customKinds: customKinds)
            return nil
        } catch {
            return error
        }
    }

    @Test func sampleCatalogLoads() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/local/recipes.json")
            .standardized
        let catalog = try RecipeCatalog.load(contentsOf: url)
        for name in [
            "echo", "noop", "sleep", "long-output", "fails", "release-gate", "wait-for-file", "http-health", "wait-for-log",
            "wait-for-status", "service-endpoints", "verify-backup", "agent",
        ] {
            #expect(catalog[name] != nil, "sample catalog lacks \(name)")
        }
    }

    /// Issue 10: the shipped wait-for-file let anyone probe whether any file exists on a worker.
    @Test func shippedPathParametersStayInsideTheirRoots() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/local/recipes.json")
            .standardized
        let catalog = try RecipeCatalog.load(contentsOf: url)
        let runner = RecipeRunner(catalog: catalog)
        let link = FileManager.default.temporaryDirectory.appendingPathComponent("bb-escape-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/etc")
        defer { try? FileManager.default.removeItem(atPath: link) }
        func refusal(_ path: String) -> WorkerError? {
            do {
                _ = try runner.prepare(RecipeInvocation(name: "wait-for-file", params: ["path": .string(path)]))
                return nil
            } catch { return error }
        }
        #expect(refusal("/tmp/../etc/passwd")?.message.contains("must not contain '..'") == true)
        #expect(refusal("/etc/passwd")?.message.contains("must be under /tmp") == true)
        #expect(
            refusal(link + "/passwd")?.message.contains("resolves to \"/etc/passwd\"") == true,
            "\(String(describing: refusal(link + "/passwd")))")
        #expect(refusal("/tmp/bb-backup.done") == nil)
    }

    @Test func pathParametersNeedRoots() {
        let error = problems(
            #"{"recipes": [{"name": "a", "kind": "command", "argv": ["echo", "{p}"], "parameters": [{"name": "p", "type": "path"}, {"name": "s", "type": "string", "roots": ["/tmp"]}, {"name": "q", "type": "path", "roots": ["tmp"]}]}]}"#
        )
        let fields = error?.problems.compactMap(\.field) ?? []
        #expect(fields.contains("parameters.p.roots"))
        #expect(fields.contains("parameters.s.roots"))
        #expect(fields.contains("parameters.q.roots[0]"))
    }

    @Test func notJSON() {
        let error = problems("{ recipes: ")
        #expect(error?.code == .invalidCatalog)
        #expect(error?.message.contains("not valid JSON") == true)
    }

    @Test func everyProblemNamesRecipeAndField() throws {
        let error = try #require(
            problems(
                """
                {"allowed_hosts": ["127.0.0.1"], "recipes": [
                  {"name": "a", "kind": "command", "argv": ["echo", "--name={who}"], "parameters": [{"name": "who", "type": "string"}]},
                  {"name": "b", "kind": "command", "argv": ["echo", "{nobody}"]},
                  {"name": "c", "kind": "spaceship"},
                  {"name": "d", "kind": "http", "url": "http://evil.example/{p}", "parameters": [{"name": "p", "type": "string"}]},
                  {"name": "e", "kind": "command", "argv": ["echo"], "timeout": 5},
                  {"name": "f", "kind": "command"},
                  {"name": "a", "kind": "command", "argv": ["echo"]},
                  {"name": "g", "kind": "command", "argv": ["/no/such/program"]},
                  {"name": "h", "kind": "checklist", "steps": [{"name": "s", "command": {"argv": ["true"]}, "http": {"url": "http://127.0.0.1/"}}]},
                  {"name": "i", "kind": "wait", "timeout_param": "secs"},
                  {"name": "j", "kind": "command", "argv": ["echo", "{x}"], "parameters": [{"name": "x", "type": "int", "default": "five"}]},
                  {"name": "k", "kind": "command", "argv": ["echo"], "parameters": [{"name": "y", "type": "string", "pattern": "(["}]}
                ]}
                """))
        let messages = error.problems.map(\.message)
        func has(_ recipe: String, _ field: String, _ text: String) -> Bool {
            error.problems.contains { $0.recipe == recipe && $0.field == field && $0.message.contains(text) }
        }
        #expect(has("a", "argv[1]", "placeholders must be a whole argument"), "\(messages)")
        #expect(has("b", "argv[1]", "declares no parameter 'nobody'"), "\(messages)")
        #expect(has("c", "kind", "'spaceship' is not a recipe kind"), "\(messages)")
        #expect(has("d", "url", "host 'evil.example' is not in the catalog's allowed_hosts"), "\(messages)")
        #expect(has("e", "timeout", "is not a known field; did you mean \"timeout_seconds\"?"), "\(messages)")
        #expect(has("f", "argv", "is required"), "\(messages)")
        #expect(has("a", "name", "defined more than once"), "\(messages)")
        #expect(has("g", "argv[0]", "not an executable file"), "\(messages)")
        #expect(has("h", "steps[0]", "exactly one of"), "\(messages)")
        #expect(has("i", "timeout_param", "declared int parameter"), "\(messages)")
        #expect(has("j", "parameters.x.default", "must be an int"), "\(messages)")
        #expect(has("k", "parameters.y.pattern", "not a valid regular expression"), "\(messages)")
        #expect(error.message.contains("recipe 'a', field 'argv[1]'"))
    }

    /// The kind-specific fields go through the schema layer: full paths, what was expected and
    /// what came, a likely typo named in nested objects too.
    @Test func kindFieldsSayWhatWasExpectedAndWhatCame() throws {
        let error = try #require(
            problems(
                """
                {"allowed_hosts": ["127.0.0.1"], "recipes": [
                  {"name": "a", "kind": "command", "argv": ["echo"], "timeout_seconds": "60"},
                  {"name": "b", "kind": "checklist", "steps": [{"name": "s", "command": {"argv": ["true"], "timout_seconds": 5}}]},
                  {"name": "c", "kind": "http", "url": "http://127.0.0.1/", "expect_status": [200, 700]},
                  {"name": "d", "kind": "command", "argv": ["echo"], "output_cap_bytes": 0, "env": null},
                  {"name": "e", "kind": "http", "urls": ["http://127.0.0.1/a", 5]},
                  {"name": "f", "kind": "wait", "probe": {"file": {"path": "/tmp/x", "min_bytes": -1}}},
                  {"name": "g", "kind": "command", "argv": ["echo"], "expect_output": "(["}
                ]}
                """))
        func message(_ recipe: String, _ field: String) -> String? {
            error.problems.first { $0.recipe == recipe && $0.field == field }?.message
        }
        let all = error.problems.map(\.message)
        #expect(
            message("a", "timeout_seconds")
                == "recipe 'a', field 'timeout_seconds': must be a number of seconds greater than 0 (at most a week, 604800), got a string",
            "\(all)")
        #expect(
            message("b", "steps[0].command.timout_seconds")?.contains(#"is not a known field; did you mean "timeout_seconds"?"#) == true,
            "\(all)")
        #expect(message("c", "expect_status[1]") == "recipe 'c', field 'expect_status[1]': must be a status code from 100 to 599, got 700")
        #expect(
            message("d", "output_cap_bytes")
                == "recipe 'd', field 'output_cap_bytes': must be a whole number of bytes from 1 to 67108864, got 0")
        #expect(
            message("d", "env") == "recipe 'd', field 'env': must be an array of environment variable names to pass through, got null")
        #expect(message("e", "urls[1]") == "recipe 'e', field 'urls[1]': must be a URL template string, got 5")
        #expect(
            message("f", "probe.file.min_bytes")
                == "recipe 'f', field 'probe.file.min_bytes': must be a whole number ≥ 0 or a {param} naming an int parameter, got -1")
        #expect(message("g", "expect_output") == "recipe 'g', field 'expect_output': is not a valid regular expression: ([")
        #expect(error.problems.count == 8, "\(all)")
    }

    @Test func customKindMustBeRegistered() {
        let json = #"{"recipes": [{"name": "agent-run", "kind": "agent", "options": {"model": "small"}}]}"#
        #expect(problems(json)?.problems.first?.field == "kind")
        #expect(problems(json, customKinds: ["agent"]) == nil)
    }

    @Test func programIsResolvedOnPath() throws {
        let catalog = try RecipeCatalog.parse(
            Data(#"{"recipes": [{"name": "e", "kind": "command", "argv": ["echo", "hi"]}]}"#.utf8), environment: ["PATH": "/usr/bin:/bin"])
        guard case .command(let spec)? = catalog["e"]?.kind else { Issue.record("not a command"); return }
        #expect(spec.argv[0].hasPrefix("/") && spec.argv[0].hasSuffix("/echo"))
    }
}

@Suite("Parameters")
struct ParameterTests {
    let specs: [ParameterSpec] = [
        try! ParameterSpec(name: "service", kind: .string, required: true, pattern: "[a-z][a-z0-9-]*"),
        try! ParameterSpec(name: "env", kind: .string, allowed: [.string("staging"), .string("prod")], defaultValue: .string("staging")),
        try! ParameterSpec(name: "count", kind: .int, minimum: 1, maximum: 10),
        try! ParameterSpec(name: "dry_run", kind: .bool),
    ]

    func error(_ params: [String: JSONValue]) -> WorkerError? {
        do {
            _ = try validateParameters(params, against: specs, recipe: "gate")
            return nil
        } catch {
            return error
        }
    }

    @Test func validValuesAndDefaults() throws {
        let values = try validateParameters(["service": "api", "count": 3, "dry_run": true], against: specs, recipe: "gate")
        #expect(values == ["service": .string("api"), "env": .string("staging"), "count": .int(3), "dry_run": .bool(true)])
    }

    @Test func failuresAreClear() {
        #expect(error([:])?.message == "recipe 'gate': parameter 'service' is required (string)")
        #expect(
            error(["service": "api", "colour": "red"])?.message
                == "recipe 'gate': parameter 'colour' is not declared; it takes service, env, count, dry_run")
        // Every problem is reported at once, the first one's parameter named as the field.
        let both = error(["colour": "red"])
        #expect(both?.message.contains("'colour' is not declared") == true && both?.message.contains("'service' is required") == true)
        #expect(both?.field == "colour")
        #expect(error(["service": "API; rm -rf /"])?.message.contains("must match [a-z][a-z0-9-]*") == true)
        #expect(error(["service": "api", "env": "dev"])?.message.contains(#"must be one of "staging", "prod", got "dev""#) == true)
        #expect(error(["service": "api", "count": 11])?.message.contains("at most 10") == true)
        #expect(error(["service": "api", "count": 1.5])?.message.contains("whole number") == true)
        #expect(error(["service": "api", "count": "3"])?.message.contains("must be an int, got the string") == true)
        #expect(error(["service": "api", "dry_run": "yes"])?.field == "dry_run")
        #expect(error(["service": 7])?.code == .invalidParameter)
    }

    @Test func patternMatchesWholeValue() {
        #expect(error(["service": "api-2"]) == nil)
        #expect(error(["service": "api 2"]) != nil)
        #expect(error(["service": "-api"]) != nil)
    }
}
