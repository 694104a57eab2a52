import BridgebackCore
import Foundation
import Testing

@testable import BridgebackAdmission

@Suite("Recipe catalog view")
struct RecipeCatalogViewTests {
    @Test("reads the worker's catalog file and checks its declarations")
    func workerCatalog() throws {
        // Tests/BridgebackAdmissionTests/<this file> → repository root (symlinks resolved).
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = root.appendingPathComponent("deploy/local/recipes.json")
        try #require(FileManager.default.fileExists(atPath: file.path), "no \(file.path)")
        let catalog = try RecipeCatalogView.load(contentsOf: file)
        #expect(catalog.recipes["noop"] != nil)
        // Every shipped recipe loads here as it does in the worker (CatalogTests.sampleCatalogLoads).
        for name in ["wait-for-log", "wait-for-status", "service-endpoints", "verify-backup", "agent", "release-gate", "wait-for-file"] {
            #expect(catalog.recipes[name] != nil, "admission does not see \(name)")
        }
        try catalog.validate(RecipeInvocation(name: "verify-backup", params: ["path": "/var/backups/db.dump", "max_age_seconds": 3600]))
        let gate = try #require(catalog.recipes["release-gate"])
        #expect(gate.params.first { $0.name == "service" }?.required == true)
        // A parameter with a default is filled in when left out.
        #expect(gate.params.first { $0.name == "fail_at" }?.defaultValue == .string("none"))
        try catalog.validate(RecipeInvocation(name: "release-gate", params: ["service": "api", "version": "2.3"]))
        #expect(throws: AdmissionError.self) {
            try catalog.validate(RecipeInvocation(name: "release-gate", params: ["service": "api", "version": "two"]))
        }
        #expect(throws: AdmissionError.self) {
            try catalog.validate(RecipeInvocation(name: "sleep", params: ["seconds": 99999]))
        }
        #expect(throws: AdmissionError.self) {
            try catalog.validate(RecipeInvocation(name: "noop", params: ["x": 1]))
        }
        // Path parameters: confined to their roots, '..' refused (issue 10: probing files on a worker host).
        try catalog.validate(RecipeInvocation(name: "wait-for-file", params: ["path": "/tmp/backup.done"]))
        for path in ["/tmp/../etc/passwd", "/etc/passwd", "tmp/x", "/tmpx/y"] {
            do {
                try catalog.validate(RecipeInvocation(name: "wait-for-file", params: ["path": .string(path)]))
                Issue.record("admission accepted \(path)")
            } catch {
                #expect(error.code == .invalidRecipeParams, "\(path): \(error)")
                #expect(error.message.contains("'path'"), "\(error.message)")
            }
        }
    }

    @Test("a string longer than max_length is refused")
    func maxLength() throws {
        let long = String(repeating: "x", count: 8001)
        do {
            try Fixtures.catalog.validate(RecipeInvocation(name: "agent", params: ["prompt": .string(long)]))
            Issue.record("accepted an 8001-character prompt")
        } catch {
            #expect(error.code == .invalidRecipeParams)
            #expect(error.message.contains("at most 8000 characters"))
        }
    }

    @Test("a malformed catalog is refused with a reason")
    func malformed() {
        #expect(throws: AdmissionError.self) { try RecipeCatalogView.parse(Data(#"{"recipes": [{"kind": "command"}]}"#.utf8)) }
        #expect(throws: AdmissionError.self) {
            try RecipeCatalogView.parse(Data(#"{"recipes": [{"name": "x", "parameters": [{"name": "p", "type": "float"}]}]}"#.utf8))
        }
    }
}
