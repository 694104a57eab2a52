import BridgebackCore
import BridgebackWorker
import Foundation
import Testing

@testable import BridgebackAdmission

/// Admission and the worker read one catalog grammar (``RecipeCatalogDocument``) and one set of
/// parameter rules (``ParameterSpec``): a catalog one accepts is one the other accepts, and a
/// request admission lets through is one the worker runs (issue #15: they used to disagree about
/// `params`, `enum`, `additional_params` and number/array/object types).
@Suite("Admission and the worker agree on the catalog")
struct CatalogAgreementTests {
    static let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func admissionAccepts(_ json: String) -> Bool { (try? RecipeCatalogView.parse(Data(json.utf8))) != nil }
    func workerAccepts(_ json: String) -> Bool {
        (try? RecipeCatalog.parse(Data(json.utf8), customKinds: ["handler"], environment: ["PATH": "/usr/bin:/bin"])) != nil
    }

    @Test("every catalog is accepted by both or refused by both")
    func sameVerdicts() {
        let cmd = #""kind": "command", "argv": ["/bin/true"]"#
        let catalogs: [(String, Bool)] = [
            (#"{"recipes": [{"name": "a", \#(cmd)}]}"#, true),
            (#"{"version": 1, "description": "d", "default_recipe": "a", "recipes": [{"name": "a", \#(cmd)}]}"#, true),
            (#"{"recipes": [{"name": "a", \#(cmd), "parameters": [{"name": "p", "type": "string", "max_length": 10}]}]}"#, true),
            (#"{"recipes": [{"name": "a", \#(cmd), "parameters": [{"name": "n", "type": "int", "minimum": 1, "maximum": 3}]}]}"#, true),
            (#"{"recipes": [{"name": "a", \#(cmd), "parameters": [{"name": "f", "type": "path", "roots": ["/tmp"]}]}]}"#, true),
            (#"{"recipes": [{"name": "a", "kind": "handler"}]}"#, true),
            // The grammar admission used to accept alone:
            (#"{"recipes": {"a": {\#(cmd)}}}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd), "params": [{"name": "p", "type": "string"}]}]}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd), "additional_params": true}]}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd), "parameters": [{"name": "p", "type": "number"}]}]}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd), "parameters": [{"name": "p", "type": "any"}]}]}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd), "parameters": [{"name": "p", "type": "string", "enum": ["x"]}]}]}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd), "parameters": {"p": {"type": "string"}}}]}"#, false),
            (#"{"recipes": [{"name": "a"}]}"#, false),
            // Shared refusals:
            (#"{"recipes": [{"name": "a", \#(cmd)}, {"name": "a", \#(cmd)}]}"#, false),
            (#"{"recipes": [{"name": "A b", \#(cmd)}]}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd)}], "default_recipe": "b"}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd)}], "extra": 1}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd), "parameters": [{"name": "p", "type": "string", "pattern": "("}]}]}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd), "parameters": [{"name": "p", "type": "path"}]}]}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd), "parameters": [{"name": "p", "type": "string", "minimum": 1}]}]}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd), "parameters": [{"name": "p", "type": "int", "default": "x"}]}]}"#, false),
            (
                #"{"recipes": [{"name": "a", \#(cmd), "parameters": [{"name": "p", "type": "string"}, {"name": "p", "type": "int"}]}]}"#,
                false
            ),
            (#"{"recipes": [{"name": "a", \#(cmd), "parameters": [{"name": "p", "type": "string", "allowed": [1]}]}]}"#, false),
            (#"{"recipes": [{"name": "a", \#(cmd)}], "recipes": []}"#, false),
        ]
        for (json, expected) in catalogs {
            #expect(admissionAccepts(json) == expected, "admission: \(json)")
            #expect(workerAccepts(json) == expected, "worker: \(json)")
        }
    }

    @Test("the shipped catalog: every request gets the same verdict and the same words from both")
    func sameRequestVerdicts() throws {
        let file = Self.root.appendingPathComponent("deploy/local/recipes.json")
        let admission = try RecipeCatalogView.load(contentsOf: file)
        let worker = try RecipeCatalog.load(contentsOf: file)
        #expect(Set(admission.recipes.keys) == Set(worker.recipes.keys))
        let requests: [(String, [String: JSONValue])] = [
            ("release-gate", ["service": "api", "version": "2.3"]),
            ("release-gate", ["service": "api", "version": "two"]),
            ("release-gate", ["service": "API", "version": "2.3", "colour": "red"]),
            ("release-gate", ["service": "api", "version": "2.3", "fail_at": "later"]),
            ("release-gate", ["version": "2.3"]),
            ("release-gate", ["service": "api", "version": .null]),
            ("sleep", ["seconds": 1]),
            ("sleep", ["seconds": 99999]),
            ("sleep", ["seconds": 1.5]),
            ("sleep", ["seconds": 1e19]),
            ("sleep", ["seconds": "1"]),
            ("noop", [:]),
            ("noop", ["x": 1]),
            ("echo", ["text": .string(String(repeating: "x", count: 5000))]),
            ("echo", ["text": "a\u{0}b"]),
        ]
        for (name, params) in requests {
            let recipe = try #require(worker[name], "\(name) missing in the worker's catalog")
            var admissionMessage: String?
            do { try admission.validate(RecipeInvocation(name: name, params: params)) } catch { admissionMessage = error.message }
            var workerMessage: String?
            do { _ = try validateParameters(params, against: recipe.parameters, recipe: name) } catch { workerMessage = error.message }
            #expect(admissionMessage == workerMessage, "\(name) \(params)")
        }
    }
}
