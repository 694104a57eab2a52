import ArgumentParser
import BridgebackAuth
import Foundation
import Logging

/// `--principals FILE` / `--insecure-no-auth` for the two HTTP servers (admission, coordinator).
struct ServerAuthOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Principals file: who may call the HTTP API, with which token hash and scope (docs/security.md). Env: BRIDGEBACK_PRINCIPALS.",
            valueName: "file"))
    var principals: String?

    @Flag(
        name: .customLong("insecure-no-auth"),
        help: "Loopback development only: no token checked, every caller is an operator. Refused with a non-loopback host.")
    var insecureNoAuth: Bool = false

    /// `--principals`, else BRIDGEBACK_PRINCIPALS (an optional option may not carry a default).
    var principalsFile: String? {
        principals ?? ProcessInfo.processInfo.environment["BRIDGEBACK_PRINCIPALS"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The server's authentication, or a start-up failure naming what to fix.
    func configure(host: String, server: String, logger: Logger) throws -> HTTPAuth {
        do {
            return try HTTPAuth.configure(
                principalsFile: principalsFile, insecureNoAuth: insecureNoAuth, host: host, server: server, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("bridgeback \(server): \(error.message)\n".utf8))
            throw ExitCode(2)
        }
    }
}

/// The bearer token a client command sends: `BRIDGEBACK_TOKEN`, else the token file
/// (`--token-file`, env `BRIDGEBACK_TOKEN_FILE`). The token is never printed.
struct ClientAuthOptions: ParsableArguments {
    @Option(
        name: .customLong("token-file"),
        help: ArgumentHelp(
            "File holding the bearer token for the admission and coordinator APIs (else env BRIDGEBACK_TOKEN). Env: BRIDGEBACK_TOKEN_FILE.",
            valueName: "file"))
    var tokenFile: String?

    /// The token to send, or nil when none is configured (the server then answers 401 with a hint).
    func token() throws -> String? {
        try ClientToken.resolve(tokenFile: tokenFile, environment: ProcessInfo.processInfo.environment)
    }
}

/// Where a token comes from, in order: an explicit `--…-file`, the variable (`BRIDGEBACK_TOKEN`),
/// the variable naming a file (`BRIDGEBACK_TOKEN_FILE`). `bridgeback mcp` reads its HTTP token the
/// same way under other names.
enum ClientToken {
    static func resolve(
        tokenFile explicit: String?, environment: [String: String],
        variable: String = "BRIDGEBACK_TOKEN", fileVariable: String = "BRIDGEBACK_TOKEN_FILE"
    ) throws -> String? {
        if explicit == nil, let token = environment[variable]?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty {
            return token
        }
        guard let tokenFile = explicit ?? environment[fileVariable].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        let text: String
        do { text = try String(contentsOfFile: tokenFile, encoding: .utf8) } catch {
            throw ValidationError("cannot read the token file \(tokenFile): \(error.localizedDescription)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty, !token.contains(where: \.isWhitespace) else {
            throw ValidationError("the token file \(tokenFile) must hold one token on one line")
        }
        return token
    }
}
