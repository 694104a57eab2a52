import ArgumentParser
import BridgebackClient
import BridgebackCoordinator
import BridgebackCore
import Foundation

/// `bridgeback jobs`: what was handed off, and where each answer went — each job's whole story
/// in one typed answer (`JobStory`) from admission, which joins the coordinator's ledger server-side.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List detached jobs and where their answers went; 'jobs show <id>' explains one job.",
        discussion: """
            Asks admission for each job's whole story (GET /v1/stories, GET /v1/jobs/{id}/story):
            how it was admitted and decided, its contract, and — joined by admission from the
            coordinator's ledger — when it ran, how it ended and each part's delivery. If
            admission cannot be reached, shows the coordinator's ledger only (GET /v1/deliveries);
            'jobs show --result' reads the full result from the coordinator.

            Environment:
              BRIDGEBACK_ADMISSION_URL    default for --admission (http://127.0.0.1:8080)
              BRIDGEBACK_COORDINATOR_URL  default for --coordinator (http://127.0.0.1:8090)
              BRIDGEBACK_TOKEN            bearer token for both APIs
              BRIDGEBACK_TOKEN_FILE       file holding it (default for --token-file)
            """,
        subcommands: [List.self, Show.self],
        defaultSubcommand: List.self
    )

    /// Where the two APIs are; shared by both subcommands.
    struct Endpoints: ParsableArguments {
        @Option(help: ArgumentHelp("Admission API base URL. Env: BRIDGEBACK_ADMISSION_URL.", valueName: "url"))
        var admission: String =
            ProcessInfo.processInfo.environment["BRIDGEBACK_ADMISSION_URL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "http://127.0.0.1:8080"

        @Option(
            help: ArgumentHelp(
                "Coordinator status API base URL, for --result and when admission is unreachable. Env: BRIDGEBACK_COORDINATOR_URL.",
                valueName: "url"))
        var coordinator: String =
            ProcessInfo.processInfo.environment["BRIDGEBACK_COORDINATOR_URL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "http://127.0.0.1:8090"

        @Option(help: ArgumentHelp("Surface registry, for the names of surfaces (optional).", valueName: "file"))
        var surfaces: String = "deploy/local/surfaces.json"

        @Flag(help: "Print JSON (each job's story, as admission answers it) instead of lines for people.")
        var json: Bool = false

        @OptionGroup var auth: ClientAuthOptions

        /// A client carrying this command's token.
        func client() throws -> APIClient { APIClient(token: try auth.token()) }

        func validate() throws {
            for (flag, value) in [("--admission", admission), ("--coordinator", coordinator)] {
                guard let url = URL(string: value), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                    throw ValidationError("\(flag) must be an http(s) URL such as http://127.0.0.1:8080, got '\(value)'")
                }
            }
        }

        var registry: SurfaceRegistry? { try? SurfaceRegistry.load(contentsOf: URL(fileURLWithPath: surfaces)) }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "One line per job, newest first: when, what, recipe, where the answer went, how long.")

        @OptionGroup var endpoints: Endpoints

        @Option(help: ArgumentHelp("Only jobs whose origin, work or final surface is this id.", valueName: "surface"))
        var surface: String?

        @Option(help: "How many jobs (1-500).")
        var limit: Int = 20

        func validate() throws {
            guard (1...500).contains(limit) else { throw ValidationError("--limit must be 1-500") }
        }

        func run() async throws {
            let client = try endpoints.client()
            var query = [URLQueryItem(name: "limit", value: String(limit))]
            if let surface { query.append(URLQueryItem(name: "surface", value: surface)) }

            switch await client.get(endpoints.admission, "/v1/stories", query: query, as: JobStoryList.self) {
            case .ok(let list):
                if endpoints.json {
                    print(try JobLine.json(list))
                    return
                }
                if let warning = list.warning { warn(warning) }
                let registry = endpoints.registry
                if list.jobs.isEmpty { print(surface.map { "No jobs for \($0)." } ?? "No jobs yet.") }
                for story in list.jobs { print(JobLine.line(story, registry: registry)) }
            case .status(let code, let message):
                throw jobsFailure("admission answered \(code) for GET /v1/stories: \(message)")
            case .unreachable(let reason):
                // Admission is down: what the coordinator's ledger alone can say.
                let admissionProblem = "admission at \(endpoints.admission) is unreachable (\(reason))"
                switch await client.get(endpoints.coordinator, "/v1/deliveries", query: query, as: DeliveryList.self) {
                case .ok(let list):
                    if endpoints.json {
                        print(try JobLine.json(LedgerOnly(warning: admissionProblem, jobs: list.jobs)))
                        return
                    }
                    warn("\(admissionProblem); showing the coordinator's ledger only")
                    if list.jobs.isEmpty { print(surface.map { "No jobs for \($0)." } ?? "No jobs yet.") }
                    for status in list.jobs { print(JobLine.line(status)) }
                case .status(let code, let message):
                    throw jobsFailure("\(admissionProblem) and the coordinator answered \(code): \(message)")
                case .unreachable(let second):
                    throw jobsFailure(
                        "\(admissionProblem) and the coordinator at \(endpoints.coordinator) is unreachable (\(second)); is the fleet running? (--admission / --coordinator, or BRIDGEBACK_ADMISSION_URL / BRIDGEBACK_COORDINATOR_URL)"
                    )
                }
            }
        }
    }

    /// `--json` when admission is unreachable: the coordinator's statuses, said to be partial.
    struct LedgerOnly: Encodable {
        var warning: String
        var jobs: [JobDeliveryStatus]
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "One job in detail: what was asked, where, its contract, admission, state, each delivery part.",
            discussion: "The final notices the coordinator sends end with 'More: bridgeback jobs show <id>'.")

        @OptionGroup var endpoints: Endpoints

        @Argument(help: ArgumentHelp("The job id (job_…).", valueName: "job-id"))
        var jobID: String

        @Flag(help: "Print the job's full stored result (from the coordinator) instead of the summary.")
        var result: Bool = false

        func validate() throws {
            do { _ = try JobID(parsing: jobID) } catch { throw ValidationError("'\(jobID)' is not a job id: \(error.message)") }
        }

        func run() async throws {
            let client = try endpoints.client()
            let id = try JobID(parsing: jobID).description
            if result {
                switch await client.getText(endpoints.coordinator, "/v1/jobs/\(id)/result") {
                case .ok(let text):
                    print(text)
                    return
                case .status(_, let message): throw jobsFailure(message)
                case .unreachable(let reason):
                    throw jobsFailure(
                        "the coordinator at \(endpoints.coordinator) is unreachable (\(reason)); the full result is stored in its ledger")
                }
            }
            let resultLine =
                "bridgeback jobs show \(id) --result   (or GET \(endpoints.coordinator.trimmingTrailingSlash)/v1/jobs/\(id)/result)"
            let admissionProblem: String
            switch await client.get(endpoints.admission, "/v1/jobs/\(id)/story", as: JobStory.self) {
            case .ok(let story):
                if endpoints.json {
                    print(try JobLine.json(story))
                    return
                }
                print(JobLine.detail(story, registry: endpoints.registry, resultLine: resultLine))
                return
            case .status(404, _):
                admissionProblem = "admission has no record of this job (was it admitted by another admission instance?)"
            case .status(let code, let message):
                throw jobsFailure("admission answered \(code) for GET /v1/jobs/\(id)/story: \(message)")
            case .unreachable(let reason):
                admissionProblem = "admission at \(endpoints.admission) is unreachable (\(reason))"
            }
            // Admission cannot tell the story: what the coordinator's ledger alone can say.
            switch await client.get(endpoints.coordinator, "/v1/jobs/\(id)/delivery", as: JobDeliveryStatus.self) {
            case .ok(let delivery):
                if endpoints.json {
                    print(try JobLine.json(LedgerOnly(warning: admissionProblem, jobs: [delivery])))
                    return
                }
                print(JobLine.detail(delivery, registry: endpoints.registry, note: admissionProblem, resultLine: resultLine))
            case .status(404, _):
                throw jobsFailure("no job \(id): \(admissionProblem); the coordinator has not heard of it either")
            case .status(let code, let message):
                throw jobsFailure("no job \(id): \(admissionProblem); the coordinator answered \(code): \(message)")
            case .unreachable(let reason):
                throw jobsFailure(
                    "no job \(id): \(admissionProblem); the coordinator at \(endpoints.coordinator) is unreachable (\(reason))")
            }
        }
    }
}

/// Says what went wrong on stderr; the command exits 1.
private func jobsFailure(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("bridgeback jobs: \(message)\n".utf8))
    return ExitCode(1)
}

private func warn(_ text: String) {
    FileHandle.standardError.write(Data("note: \(text)\n".utf8))
}

extension JSONValue {
    /// Sorted-key JSON text, slashes unescaped.
    var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

extension String {
    var trimmingTrailingSlash: String { hasSuffix("/") ? String(dropLast()) : self }
}
