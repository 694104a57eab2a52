import ArgumentParser
import BridgebackClient
import BridgebackCore
import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `bridgeback submit`: one request to the admission service, from a shell.
///
/// What an assistant runtime does over HTTP, for people and scripts: the reply's human line
/// says what was decided and, for a detach, where progress goes and where the answer returns.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Send a request to the admission service and print its decision.",
        discussion: """
            Builds a POST /v1/requests body from the flags. Parameter values that look like
            integers or true/false are sent as such. Exit status: 0 admitted (inline or
            detached), 1 refused (the service's message is printed), 2 service unreachable.

            Examples:
              bridgeback submit "what is a canary release?"
              bridgeback submit "run the release gate for api 2.3" --recipe release-gate \\
                  --param service=api --param version=2.3
              bridgeback submit "echo it" --force detach --recipe echo --param text=hi \\
                  --final hooks:local --mode direct

            Environment: BRIDGEBACK_ADMISSION_URL (default http://127.0.0.1:8080);
            BRIDGEBACK_TOKEN or BRIDGEBACK_TOKEN_FILE (or --token-file): the bearer token.
            """
    )

    @Argument(help: "The request, as the person asked it.")
    var text: String

    @Option(help: "Surface the request was asked in.")
    var origin: String = "cli:alice"

    @Option(help: "Recipe for the worker (default: the admission service's default recipe).")
    var recipe: String?

    @Option(name: .customLong("param"), help: ArgumentHelp("Recipe parameter (repeatable).", valueName: "name=value"))
    var params: [String] = []

    @Option(help: ArgumentHelp("Where the final answer goes (default: back to the origin).", valueName: "surface"))
    var final: String?

    @Option(help: ArgumentHelp("Delivery mode: parent, direct or suppressed (default: parent).", valueName: "mode"))
    var mode: String?

    @Option(help: ArgumentHelp("Where progress goes (default: the origin's work surface).", valueName: "surface"))
    var work: String?

    @Option(help: "Deadline in seconds.")
    var deadline: Double?

    @Option(help: ArgumentHelp("Override the policy: inline or detach.", valueName: "decision"))
    var force: String?

    @Option(name: .customLong("key"), help: "Idempotency key: the same key from the same origin returns the same job.")
    var idempotencyKey: String?

    @Option(help: "A few words for the human line.")
    var summary: String?

    @Option(help: ArgumentHelp("Admission service base URL.", valueName: "url"))
    var admission: String = ProcessInfo.processInfo.environment["BRIDGEBACK_ADMISSION_URL"] ?? "http://127.0.0.1:8080"

    @Flag(help: "Print the service's JSON reply.")
    var json = false

    @OptionGroup var auth: ClientAuthOptions

    func validate() throws {
        if let force, !["inline", "detach"].contains(force) { throw ValidationError("--force must be inline or detach") }
        if let mode, !["parent", "direct", "suppressed"].contains(mode) {
            throw ValidationError("--mode must be parent, direct or suppressed")
        }
        if let deadline { try checkSeconds(deadline, "--deadline") }
        for param in params where !param.contains("=") { throw ValidationError("--param '\(param)' must look like name=value") }
    }

    /// The POST /v1/requests body.
    func body() -> [String: Any] {
        var body: [String: Any] = ["origin": origin, "text": text]
        var contract: [String: Any] = [:]
        if let final { contract["final_surface"] = final }
        if let mode { contract["delivery_mode"] = mode }
        if let work { contract["work_surface"] = work }
        if let deadline { contract["deadline_s"] = deadline }
        if !contract.isEmpty { body["contract"] = contract }
        if let recipe {
            var values: [String: Any] = [:]
            for param in params {
                let parts = param.split(separator: "=", maxSplits: 1)
                let name = String(parts[0])
                let raw = parts.count > 1 ? String(parts[1]) : ""
                if let number = Int(raw) {
                    values[name] = number
                } else if raw == "true" || raw == "false" {
                    values[name] = raw == "true"
                } else {
                    values[name] = raw
                }
            }
            body["recipe"] = ["name": recipe, "params": values]
        }
        if let force { body["force"] = force }
        if let idempotencyKey { body["idempotency_key"] = idempotencyKey }
        if let summary { body["summary"] = summary }
        return body
    }

    func run() async throws {
        guard let url = URL(string: admission.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/v1/requests") else {
            throw ValidationError("--admission '\(admission)' is not a URL")
        }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token = try auth.token() { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.httpBody = try JSONSerialization.data(withJSONObject: body())
        let data: Data
        let status: Int
        do {
            (data, status) = try await CLIHTTP.send(request)
        } catch {
            FileHandle.standardError.write(
                Data("bridgeback submit: cannot reach the admission service at \(admission): \(error.localizedDescription)\n".utf8))
            throw ExitCode(2)
        }
        if json {
            print(String(decoding: data, as: UTF8.self))
            if !(200..<300).contains(status) { throw ExitCode(1) }
            return
        }
        guard (200..<300).contains(status) else {
            let error = (try? JSONDecoder().decode(APIErrorBody.self, from: data))?.error
            let message = error?.message ?? String(decoding: data, as: UTF8.self)
            FileHandle.standardError.write(Data("refused (HTTP \(status), \(error?.code ?? "error")): \(message)\n".utf8))
            throw ExitCode(1)
        }
        guard let reply = try? JSONDecoder().decode(AdmissionAnswer.self, from: data) else {
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(Self.describe(reply))
    }

    /// One or two lines for a person.
    static func describe(_ reply: AdmissionAnswer) -> String {
        if reply.decision == "inline" {
            return "Inline (answer in the conversation): \(reply.reason)"
        }
        var text = reply.job?.human ?? "Detached"
        if reply.idempotentReplay == true { text += " [same request as before: the existing job]" }
        if let job = reply.job?.jobID { text += "\n  why: \(reply.reason)\n  job: \(job)" }
        return text
    }
}
