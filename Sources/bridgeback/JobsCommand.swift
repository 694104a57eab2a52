import ArgumentParser
import BridgebackCoordinator
import BridgebackCore
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `bridgeback jobs`: what was handed off, and where each answer went — admission's record
/// joined with the coordinator's delivery ledger.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List detached jobs and where their answers went; 'jobs show <id>' explains one job.",
        discussion: """
            Reads the admission API (GET /v1/jobs) and joins each job with the
            coordinator's status API (GET /v1/deliveries, GET /v1/jobs/{id}/delivery).
            If the coordinator cannot be reached, says so once and shows admission's
            state only.

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

        @Option(help: ArgumentHelp("Coordinator status API base URL. Env: BRIDGEBACK_COORDINATOR_URL.", valueName: "url"))
        var coordinator: String =
            ProcessInfo.processInfo.environment["BRIDGEBACK_COORDINATOR_URL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "http://127.0.0.1:8090"

        @Option(help: ArgumentHelp("Surface registry, for the names of surfaces (optional).", valueName: "file"))
        var surfaces: String = "deploy/local/surfaces.json"

        @Flag(help: "Print JSON (the admission record and the delivery status of each job) instead of lines for people.")
        var json: Bool = false

        @OptionGroup var auth: ClientAuthOptions

        /// A client carrying this command's token.
        func client() throws -> StatusClient { StatusClient(token: try auth.token()) }

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

            let admissionJobs: [JSONValue]?
            var admissionProblem: String?
            switch await client.get(endpoints.admission, "/v1/jobs", query: query) {
            case .ok(let value): admissionJobs = value["jobs"]?.arrayValue ?? []
            case .status(let code, let message):
                throw jobsFailure("admission answered \(code) for GET /v1/jobs: \(message)")
            case .unreachable(let reason):
                admissionJobs = nil
                admissionProblem = "admission at \(endpoints.admission) is unreachable (\(reason))"
            }
            var deliveries: [String: JobDeliveryStatus] = [:]
            var deliveryOrder: [JobDeliveryStatus] = []
            var coordinatorProblem: String?
            switch await client.get(endpoints.coordinator, "/v1/deliveries", query: query, as: CoordinatorStatusAPI.DeliveryList.self) {
            case .ok(let list):
                deliveryOrder = list.jobs
                for job in list.jobs { deliveries[job.jobID] = job }
            case .status(let code, let message): coordinatorProblem = "the coordinator answered \(code): \(message)"
            case .unreachable(let reason): coordinatorProblem = "the coordinator at \(endpoints.coordinator) is unreachable (\(reason))"
            }
            if admissionJobs == nil && coordinatorProblem != nil {
                throw jobsFailure(
                    "\(admissionProblem ?? "admission is unreachable") and \(coordinatorProblem ?? ""); is the fleet running? (--admission / --coordinator, or BRIDGEBACK_ADMISSION_URL / BRIDGEBACK_COORDINATOR_URL)"
                )
            }
            // A job admission answered for that the coordinator's recent list did not include: ask for it.
            for job in admissionJobs ?? [] where coordinatorProblem == nil {
                guard let id = job["job_id"]?.stringValue, deliveries[id] == nil else { continue }
                if case .ok(let status) = await client.get(
                    endpoints.coordinator, "/v1/jobs/\(id)/delivery", as: JobDeliveryStatus.self)
                {
                    deliveries[id] = status
                }
            }

            if endpoints.json {
                var rows: [JSONValue] = []
                if let admissionJobs {
                    for job in admissionJobs {
                        let id = job["job_id"]?.stringValue ?? ""
                        rows.append(["job_id": .string(id), "admission": job, "delivery": deliveries[id].map(JSONValue.encoding) ?? .null])
                    }
                } else {
                    rows = deliveryOrder.map { ["job_id": .string($0.jobID), "admission": .null, "delivery": JSONValue.encoding($0)] }
                }
                var object: [String: JSONValue] = ["jobs": .array(rows)]
                if let problem = coordinatorProblem ?? admissionProblem { object["warning"] = .string(problem) }
                print(JSONValue.object(object).jsonText)
                return
            }

            if let problem = coordinatorProblem { warn("\(problem); showing admission's state only") }
            if let problem = admissionProblem { warn("\(problem); showing the coordinator's ledger only") }
            let registry = endpoints.registry
            var lines: [String] = []
            if let admissionJobs {
                for job in admissionJobs {
                    let id = job["job_id"]?.stringValue ?? "?"
                    lines.append(
                        JobLine.line(
                            admission: job, delivery: deliveries[id], registry: registry, coordinatorKnown: coordinatorProblem == nil))
                }
            } else {
                lines = deliveryOrder.map { JobLine.line(admission: nil, delivery: $0, registry: registry, coordinatorKnown: true) }
            }
            if lines.isEmpty {
                print(surface.map { "No jobs for \($0)." } ?? "No jobs yet.")
            } else {
                lines.forEach { print($0) }
            }
        }
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
            var admission: JSONValue?
            var notes: [String] = []
            switch await client.get(endpoints.admission, "/v1/jobs/\(id)") {
            case .ok(let value): admission = value
            case .status(404, _): notes.append("admission has no record of this job (was it admitted by another admission instance?)")
            case .status(let code, let message): notes.append("admission answered \(code): \(message)")
            case .unreachable(let reason): notes.append("admission at \(endpoints.admission) is unreachable (\(reason))")
            }
            var delivery: JobDeliveryStatus?
            var coordinatorReachable = true
            switch await client.get(endpoints.coordinator, "/v1/jobs/\(id)/delivery", as: JobDeliveryStatus.self) {
            case .ok(let value): delivery = value
            case .status(404, _): notes.append("the coordinator has not heard of this job yet (no contract or completion has reached it)")
            case .status(let code, let message): notes.append("the coordinator answered \(code): \(message)")
            case .unreachable(let reason):
                coordinatorReachable = false
                notes.append("the coordinator at \(endpoints.coordinator) is unreachable (\(reason)); delivery state unknown")
            }
            if admission == nil && delivery == nil {
                throw jobsFailure("no job \(id): " + notes.joined(separator: "; "))
            }
            if endpoints.json {
                var object: [String: JSONValue] = [
                    "job_id": .string(id), "admission": admission ?? .null,
                    "delivery": delivery.map(JSONValue.encoding) ?? .null,
                    "result": .string(endpoints.coordinator.trimmingTrailingSlash + "/v1/jobs/\(id)/result"),
                ]
                if !notes.isEmpty { object["notes"] = .array(notes.map { .string($0) }) }
                print(JSONValue.object(object).jsonText)
                return
            }
            print(
                JobLine.detail(
                    id: id, admission: admission, delivery: delivery, registry: endpoints.registry, notes: notes,
                    coordinatorURL: endpoints.coordinator, coordinatorReachable: coordinatorReachable))
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

/// Talks to the admission and coordinator APIs with a short timeout; failures become values, not throws.
struct StatusClient {
    enum Answer<T> {
        case ok(T)
        /// An HTTP error status with the API's `error.message` (or the body).
        case status(Int, String)
        case unreachable(String)
    }

    let session: URLSession
    /// Sent as `Authorization: Bearer …` on every request (never printed).
    let token: String?

    /// Seconds a request may take (also AsyncHTTPClient's, with BRIDGEBACK_CA_FILE).
    let timeout: TimeInterval

    init(timeout: TimeInterval = 5, token: String?) {
        self.token = token
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        session = URLSession(configuration: configuration)
    }

    func get(_ base: String, _ path: String, query: [URLQueryItem] = []) async -> Answer<JSONValue> {
        await get(base, path, query: query, as: JSONValue.self)
    }

    func get<T: Decodable>(_ base: String, _ path: String, query: [URLQueryItem] = [], as type: T.Type) async -> Answer<T> {
        switch await raw(base, path, query: query, accept: "application/json") {
        case .ok(let data):
            do { return .ok(try JSONDecoder().decode(T.self, from: data)) } catch {
                return .status(200, "the answer of GET \(path) does not decode: \(error)")
            }
        case .status(let code, let message): return .status(code, message)
        case .unreachable(let reason): return .unreachable(reason)
        }
    }

    func getText(_ base: String, _ path: String) async -> Answer<String> {
        switch await raw(base, path, query: [], accept: "text/plain") {
        case .ok(let data): .ok(String(decoding: data, as: UTF8.self))
        case .status(let code, let message): .status(code, message)
        case .unreachable(let reason): .unreachable(reason)
        }
    }

    private func raw(_ base: String, _ path: String, query: [URLQueryItem], accept: String) async -> Answer<Data> {
        guard var components = URLComponents(string: base.trimmingTrailingSlash + path) else {
            return .unreachable("'\(base)' is not a URL")
        }
        if !query.isEmpty { components.queryItems = query }
        guard let url = components.url else { return .unreachable("'\(base)\(path)' is not a URL") }
        var request = URLRequest(url: url)
        request.setValue(accept, forHTTPHeaderField: "Accept")
        return await send(request)
    }

    /// POSTs a JSON body (the coordinator's dry-run); the answer is returned undecoded.
    func post(_ base: String, _ path: String, body: [UInt8]) async -> Answer<Data> {
        guard let url = URL(string: base.trimmingTrailingSlash + path) else { return .unreachable("'\(base)\(path)' is not a URL") }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body)
        return await send(request)
    }

    /// One request: a 2xx body, or the API's `error.message` with the status, or why it failed.
    private func send(_ request: URLRequest) async -> Answer<Data> {
        var request = request
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        do {
            let (data, code) = try await CLIHTTP.send(request, session: session, timeout: timeout)
            guard (200..<300).contains(code) else {
                var message =
                    (try? JSONDecoder().decode(JSONValue.self, from: data))?["error"]?["message"]?.stringValue
                    ?? String(decoding: data.prefix(300), as: UTF8.self)
                if code == 401 && token == nil {
                    message += " (no token given: set BRIDGEBACK_TOKEN, BRIDGEBACK_TOKEN_FILE or --token-file)"
                }
                return .status(code, message)
            }
            return .ok(data)
        } catch {
            return .unreachable(error.localizedDescription)
        }
    }
}

/// The human forms: one line per job, and the detail of one job.
enum JobLine {
    /// `09:12 · "Run the release gate for api 2.3" · release-gate · delivered to Alice's terminal (parent-mediated), 1 part · 4 s · job_…`
    static func line(admission: JSONValue?, delivery: JobDeliveryStatus?, registry: SurfaceRegistry?, coordinatorKnown: Bool) -> String {
        let contract = admission.flatMap(self.contract)
        let id = contract?.jobID.description ?? delivery?.jobID ?? admission?["job_id"]?.stringValue ?? "?"
        let created = contract?.createdAt ?? delivery?.createdAt.flatMap(WireDate.parse)
        let what = contract?.summary ?? delivery?.summary ?? "?"
        let recipe = contract?.recipe.name ?? delivery?.recipe ?? "?"
        var fields = [created.map(clock) ?? "--:--", "\"\(HumanText.excerpt(what, maxCharacters: 60))\"", recipe]
        if let delivery {
            fields.append(delivery.human)
            if let seconds = delivery.turnaroundSeconds {
                fields.append(HumanText.duration(seconds: seconds))
            } else if let created, delivery.finishedAt == nil {
                fields.append("for \(HumanText.duration(seconds: Date().timeIntervalSince(created)))")
            }
        } else {
            fields.append(admissionState(admission, contract: contract, registry: registry, coordinatorKnown: coordinatorKnown))
        }
        fields.append(id)
        return fields.joined(separator: " · ")
    }

    /// What admission alone can say (the coordinator is unreachable, or has not heard of the job).
    static func admissionState(_ admission: JSONValue?, contract: OwnershipContract?, registry: SurfaceRegistry?, coordinatorKnown: Bool)
        -> String
    {
        let state = admission?["state"]?.stringValue ?? "unknown"
        let final = contract.map { name($0.finalSurface, registry) } ?? "its final surface"
        switch state {
        case "accepted": return "accepted, waiting in admission's outbox"
        case "published":
            return coordinatorKnown
                ? "handed to the broker; the coordinator has not recorded it yet"
                : "handed to the broker; the answer goes to \(final) (delivery state unknown)"
        case "cancel_requested": return "cancel requested (recorded only; a running job still finishes)"
        default: return state
        }
    }

    static func detail(
        id: String, admission: JSONValue?, delivery: JobDeliveryStatus?, registry: SurfaceRegistry?, notes: [String],
        coordinatorURL: String, coordinatorReachable: Bool
    ) -> String {
        let contract = admission.flatMap(self.contract)
        var out: [String] = []
        func row(_ label: String, _ value: String) { out.append("  " + label.padding(toLength: 11, withPad: " ", startingAt: 0) + value) }
        out.append(contract?.summary ?? delivery?.summary ?? id)
        row("job", id)
        if let asked = contract?.requestExcerpt ?? delivery?.asked, !asked.isEmpty {
            let origin = contract?.origin.rawValue ?? delivery?.origin
            row("asked", "\"\(asked)\"" + (origin.map { " in \(name(try? SurfaceID(validating: $0), registry))" } ?? ""))
        }
        if let contract {
            let params = contract.recipe.params.keys.sorted().map { "\($0)=\(contract.recipe.params[$0].map(plain) ?? "")" }
            row("recipe", contract.recipe.name + (params.isEmpty ? "" : " (" + params.joined(separator: ", ") + ")"))
            row("origin", named(contract.origin, registry))
            row("work", named(contract.workSurface, registry) + " (progress: bridgeback watch \(contract.workSurface))")
            row("final", named(contract.finalSurface, registry))
            row("mode", "\(contract.deliveryMode.rawValue) (\(contract.deliveryMode.humanName))")
            row("deadline", "\(local(contract.deadline)) (\(relative(contract.deadline)))")
            row("parent", contract.parentID)
            var admitted = "detached at \(local(contract.createdAt)) under policy \(contract.policyVersion)"
            if !contract.defaultsApplied.isEmpty { admitted += "; defaults used for " + contract.defaultsApplied.joined(separator: ", ") }
            row("admission", admitted)
            if let state = admission?["state"]?.stringValue {
                var text = state
                if let note = admission?["state_note"]?.stringValue { text += ": " + note }
                row("", text)
            }
        } else if let delivery {
            row("recipe", delivery.recipe ?? "?")
            row("final", "\(delivery.finalSurfaceName ?? delivery.finalSurface ?? "?") (\(delivery.finalSurface ?? "?"))")
            if let mode = delivery.deliveryMode { row("mode", "\(mode) (\(delivery.deliveryModeName ?? mode))") }
        }
        if let delivery {
            row("state", delivery.human)
            if let worker = delivery.worker {
                row("ran", "on \(worker)" + (delivery.runSeconds.map { " for \(HumanText.duration(seconds: $0))" } ?? ""))
            }
            if let seconds = delivery.turnaroundSeconds { row("answered", "\(HumanText.duration(seconds: seconds)) after it was asked") }
            if delivery.duplicatesSuppressed > 0 {
                row("duplicates", "\(delivery.duplicatesSuppressed) repeated ending(s) acknowledged and not delivered")
            }
            if !delivery.parts.isEmpty { out.append("  parts") }
            for part in delivery.parts {
                let target = part.surfaceName.map { "\($0) (\(part.surface))" } ?? part.surface
                out.append("    \(part.part)/\(part.totalParts) \(part.purpose) → \(target): \(part.stateText)")
                if let failure = part.lastFailure, part.state != "failed", part.state != "uncertain" {
                    out.append("        last failure: \(failure.description)" + (failure.detail.isEmpty ? "" : " (\(failure.detail))"))
                }
                if let next = part.nextAttemptAt.flatMap(WireDate.parse) {
                    out.append("        next try: \(local(next)) (\(relative(next)))")
                }
                out.append("        delivery id \(part.deliveryID), \(part.attempts == 1 ? "1 attempt" : "\(part.attempts) attempts")")
            }
        }
        for note in notes { out.append("  note: " + note) }
        if coordinatorReachable {
            out.append(
                "  full result: bridgeback jobs show \(id) --result   (or GET \(coordinatorURL.trimmingTrailingSlash)/v1/jobs/\(id)/result)"
            )
        }
        return out.joined(separator: "\n")
    }

    static func contract(_ admission: JSONValue) -> OwnershipContract? {
        guard let value = admission["contract"], let data = try? JSONEncoder().encode(value) else { return nil }
        return try? WireCodec.decode(OwnershipContract.self, from: data)
    }

    static func name(_ id: SurfaceID?, _ registry: SurfaceRegistry?) -> String {
        guard let id else { return "?" }
        return registry?[id]?.humanName ?? id.rawValue
    }

    /// "Alice's terminal (cli:alice)", or the id alone when the registry does not know it.
    static func named(_ id: SurfaceID, _ registry: SurfaceRegistry?) -> String {
        registry?[id].map { "\($0.humanName) (\(id))" } ?? id.rawValue
    }

    static func plain(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .number(let n): n == n.rounded() && abs(n) < 1e15 ? String(Int(n)) : String(n)
        case .bool(let b): String(b)
        case .null: "null"
        default: JSONValue.encoding(value).jsonText
        }
    }

    /// "09:12" today, "Nov 25 09:12" otherwise, in local time.
    static func clock(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = Calendar.current.isDateInToday(date) ? "HH:mm" : "MMM d HH:mm"
        return formatter.string(from: date)
    }

    static func local(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }

    /// "in 52 min", "3 min ago".
    static func relative(_ date: Date, now: Date = Date()) -> String {
        let seconds = date.timeIntervalSince(now)
        return seconds >= 0 ? "in \(HumanText.duration(seconds: seconds))" : "\(HumanText.duration(seconds: -seconds)) ago"
    }
}

extension JSONValue {
    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// Any Encodable as a JSONValue (for `--json` output that nests typed values).
    static func encoding(_ value: some Encodable) -> JSONValue {
        guard let data = try? JSONEncoder().encode(value), let json = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            return .null
        }
        return json
    }

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
