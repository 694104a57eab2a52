import ArgumentParser
import BridgebackAuth
import BridgebackCore
import Foundation

/// `bridgeback principals`: create principals and tokens, rotate and revoke tokens, list who may do what.
///
/// A new token is printed once (or written to `--token-out`, mode 0600) and only its SHA-256 is
/// stored. The servers reload the file within a second of a change, so none needs a restart.
struct PrincipalsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "principals",
        abstract: "Manage the principals file: who may call the admission and status APIs, with what scope.",
        discussion: """
            Patterns: '*' matches any run of characters ('cli:alice', 'hooks:*', '*').
            Each principal names the origins it may submit as (--origins), the work and final
            surfaces it may send to (--surfaces), the parents it may hand answers to (--parents),
            and whether it is an operator (reads, lists and cancels every job).

            Examples:
              bridgeback principals add --file principals.json --name alice \\
                  --origins cli:alice --surfaces cli:alice,work:alice --parents alice --token-out ~/.bridgeback-token
              bridgeback principals rotate --file principals.json --name alice
              bridgeback principals revoke --file principals.json --name alice --token-id tok_1a2b3c4d

            See docs/security.md (token rotation, the threat model).
            """,
        subcommands: [Add.self, Rotate.self, Revoke.self, List.self])

    struct FileOption: ParsableArguments {
        @Option(help: ArgumentHelp("The principals file. Env: BRIDGEBACK_PRINCIPALS.", valueName: "file"))
        var file: String?

        var url: URL {
            get throws {
                // An optional option may not carry a default, so the environment is read here.
                let fromEnvironment = ProcessInfo.processInfo.environment["BRIDGEBACK_PRINCIPALS"].flatMap { $0.isEmpty ? nil : $0 }
                guard let file = file ?? fromEnvironment else {
                    throw ValidationError("give --file (or set BRIDGEBACK_PRINCIPALS)")
                }
                return URL(fileURLWithPath: file)
            }
        }

        /// The file's principals; an absent file is an empty one when `creating`.
        func load(creating: Bool = false) throws -> PrincipalsFile {
            let url = try url
            if creating && !FileManager.default.fileExists(atPath: url.path) { return PrincipalsFile() }
            do { return try PrincipalsFile.load(contentsOf: url) } catch { throw principalsFailure(error.message) }
        }
    }

    /// Where a new token goes: printed, or written to a 0600 file.
    struct TokenOutput: ParsableArguments {
        @Option(
            name: .customLong("token-out"),
            help: ArgumentHelp("Write the new token to this file (mode 0600) instead of printing it.", valueName: "file"))
        var tokenOut: String?

        func emit(_ token: String, tokenID: String, principal: String) throws {
            guard let tokenOut else {
                print(token)
                FileHandle.standardError.write(
                    Data("new token \(tokenID) for '\(principal)' printed above; it is shown only once (only its SHA-256 is stored)\n".utf8)
                )
                return
            }
            let url = URL(fileURLWithPath: tokenOut)
            _ = FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600])
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
            try Data((token + "\n").utf8).write(to: url)
            FileHandle.standardError.write(Data("new token \(tokenID) for '\(principal)' written to \(tokenOut) (mode 0600)\n".utf8))
        }
    }

    static func newToken(note: String?) -> (token: String, entry: PrincipalsFile.TokenEntry) {
        let token = BearerToken.generate()
        let entry = PrincipalsFile.TokenEntry(
            id: BearerToken.newTokenID(), sha256: BearerToken.sha256Hex(token), createdAt: WireDate.format(Date()), note: note)
        return (token, entry)
    }

    static func patterns(_ values: [String], flag: String) throws -> [ScopePattern] {
        var out: [ScopePattern] = []
        for value in values {
            for piece in value.split(separator: ",") {
                let text = piece.trimmingCharacters(in: .whitespaces)
                do { out.append(try ScopePattern(validating: text)) } catch { throw ValidationError("\(flag): \(error.message)") }
            }
        }
        return out
    }

    static func save(_ file: PrincipalsFile, to url: URL) throws {
        // Validate what is about to be written exactly as a server will read it.
        let encoder = JSONEncoder()
        do { _ = try PrincipalsFile.parse(try encoder.encode(file)) } catch let error as AuthError {
            throw principalsFailure(error.message)
        }
        try file.write(to: url)
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Add a principal with a new token (printed once); creates the file if needed.")

        @OptionGroup var file: FileOption
        @Option(help: "Principal name (a-z, 0-9, . _ @ -).") var name: String
        @Option(help: ArgumentHelp("Origins it may submit as (comma-separated or repeated; '*' wildcard).", valueName: "patterns"))
        var origins: [String] = []
        @Option(help: ArgumentHelp("Work and final surfaces it may send to.", valueName: "patterns"))
        var surfaces: [String] = []
        @Option(help: ArgumentHelp("Parent ids (inbox keys) it may hand answers to.", valueName: "patterns"))
        var parents: [String] = []
        @Flag(name: .customLong("operator"), help: "May read, list and cancel every principal's jobs.")
        var isOperator: Bool = false
        @Option(help: "A note for people (who or what holds it).") var note: String?
        @OptionGroup var output: TokenOutput

        func validate() throws {
            guard PrincipalsFile.isValidName(name) else { throw ValidationError("--name must be 1-64 characters from a-z, 0-9, . _ @ -") }
        }

        func run() throws {
            var principals = try file.load(creating: true)
            guard !principals.principals.contains(where: { $0.name == name }) else {
                throw ValidationError("principal '\(name)' exists; 'bridgeback principals rotate --name \(name)' gives it a new token")
            }
            let (token, entry) = PrincipalsCommand.newToken(note: nil)
            principals.principals.append(
                PrincipalsFile.Entry(
                    name: name, origins: try patterns(origins, flag: "--origins"), surfaces: try patterns(surfaces, flag: "--surfaces"),
                    parents: try patterns(parents, flag: "--parents"), isOperator: isOperator, tokens: [entry], note: note))
            try save(principals, to: try file.url)
            try output.emit(token, tokenID: entry.id, principal: name)
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate",
            abstract: "Give a principal an additional token (printed once); revoke the old one once clients use the new one.")

        @OptionGroup var file: FileOption
        @Option(help: "Principal name.") var name: String
        @Option(help: "A note for the new token (e.g. the host that uses it).") var note: String?
        @OptionGroup var output: TokenOutput

        func run() throws {
            var principals = try file.load()
            guard let index = principals.principals.firstIndex(where: { $0.name == name }) else {
                throw ValidationError("no principal '\(name)' in \(try file.url.path)")
            }
            let (token, entry) = PrincipalsCommand.newToken(note: note)
            principals.principals[index].tokens.append(entry)
            try save(principals, to: try file.url)
            try output.emit(token, tokenID: entry.id, principal: name)
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke", abstract: "Remove one token (--token-id), or a whole principal (--principal).")

        @OptionGroup var file: FileOption
        @Option(help: "Principal name.") var name: String
        @Option(name: .customLong("token-id"), help: "The token to remove (see 'principals list').") var tokenID: String?
        @Flag(name: .customLong("principal"), help: "Remove the principal and all its tokens.") var wholePrincipal: Bool = false

        func validate() throws {
            guard (tokenID != nil) != wholePrincipal else { throw ValidationError("give exactly one of --token-id or --principal") }
        }

        func run() throws {
            var principals = try file.load()
            guard let index = principals.principals.firstIndex(where: { $0.name == name }) else {
                throw ValidationError("no principal '\(name)' in \(try file.url.path)")
            }
            if wholePrincipal {
                principals.principals.remove(at: index)
            } else {
                let before = principals.principals[index].tokens.count
                principals.principals[index].tokens.removeAll { $0.id == tokenID }
                guard principals.principals[index].tokens.count < before else {
                    throw ValidationError("principal '\(name)' has no token '\(tokenID ?? "")'")
                }
            }
            try save(principals, to: try file.url)
            FileHandle.standardError.write(Data("revoked; servers reading \(try file.url.path) drop it within a second\n".utf8))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Who may do what (token ids, never tokens).")

        @OptionGroup var file: FileOption

        func run() throws {
            let principals = try file.load()
            for entry in principals.principals {
                func list(_ patterns: [ScopePattern]) -> String {
                    patterns.isEmpty ? "(none)" : patterns.map(\.rawValue).joined(separator: ", ")
                }
                print("\(entry.name)\(entry.isOperator ? " (operator)" : "")\(entry.note.map { " — \($0)" } ?? "")")
                print("  origins   \(list(entry.origins))")
                print("  surfaces  \(list(entry.surfaces))")
                print("  parents   \(list(entry.parents))")
                print(
                    "  tokens    "
                        + (entry.tokens.isEmpty
                            ? "(none: disabled)"
                            : entry.tokens.map { "\($0.id)\($0.createdAt.map { " (\($0))" } ?? "")" }.joined(separator: ", ")))
            }
        }
    }
}

private func principalsFailure(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("bridgeback principals: \(message)\n".utf8))
    return ExitCode(2)
}
