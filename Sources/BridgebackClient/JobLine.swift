public import BridgebackCore
public import Foundation

/// The human forms: one line per job, and the detail of one job.
public enum JobLine {
    /// `09:12 · "Run the release gate for api 2.3" · release-gate · delivered to Alice's terminal (parent-mediated), 1 part · 4 s · job_…`
    public static func line(_ story: JobStory, registry: SurfaceRegistry?) -> String {
        let contract = story.contract
        var fields = [
            clock(contract.createdAt), "\"\(HumanText.excerpt(contract.summary, maxCharacters: 60))\"", contract.recipe.name, story.human,
        ]
        if let timing = timing(story.delivery, created: contract.createdAt) { fields.append(timing) }
        fields.append(story.jobID)
        return fields.joined(separator: " · ")
    }

    /// The same line from the coordinator's status alone (admission unreachable).
    public static func line(_ delivery: JobDeliveryStatus) -> String {
        let created = delivery.createdAt.flatMap(WireDate.parse)
        var fields = [
            created.map(clock) ?? "--:--", "\"\(HumanText.excerpt(delivery.summary ?? "?", maxCharacters: 60))\"", delivery.recipe ?? "?",
            delivery.human,
        ]
        if let timing = timing(delivery, created: created) { fields.append(timing) }
        fields.append(delivery.jobID)
        return fields.joined(separator: " · ")
    }

    /// "4 s" once answered, "for 2 min" while running.
    private static func timing(_ delivery: JobDeliveryStatus?, created: Date?) -> String? {
        guard let delivery else { return nil }
        if let seconds = delivery.turnaroundSeconds { return HumanText.duration(seconds: seconds) }
        if let created, delivery.finishedAt == nil { return "for \(HumanText.duration(seconds: Date().timeIntervalSince(created)))" }
        return nil
    }

    /// One job in detail, from its story.
    public static func detail(_ story: JobStory, registry: SurfaceRegistry?, resultLine: String) -> String {
        let contract = story.contract
        var out: [String] = []
        func row(_ label: String, _ value: String) { out.append("  " + label.padding(toLength: 11, withPad: " ", startingAt: 0) + value) }
        out.append(contract.summary)
        row("job", story.jobID)
        if !contract.requestExcerpt.isEmpty {
            row("asked", "\"\(contract.requestExcerpt)\" in \(name(contract.origin, registry))")
        }
        let params = contract.recipe.params.keys.sorted().map { "\($0)=\(contract.recipe.params[$0].map(plain) ?? "")" }
        row("recipe", contract.recipe.name + (params.isEmpty ? "" : " (" + params.joined(separator: ", ") + ")"))
        row("origin", named(contract.origin, registry))
        row("work", named(contract.workSurface, registry) + " (progress: bridgeback watch \(contract.workSurface))")
        row("final", named(contract.finalSurface, registry))
        row("mode", "\(contract.deliveryMode.rawValue) (\(contract.deliveryMode.humanName))")
        row("deadline", "\(local(contract.deadline)) (\(relative(contract.deadline)))")
        row("parent", contract.parentID)
        let admission = story.admission
        var admitted = "detached at \(local(contract.createdAt)) under policy \(contract.policyVersion)"
        if admission.forced == true { admitted += " (forced)" }
        if let triggers = admission.triggers, !triggers.isEmpty { admitted += " by " + triggers.joined(separator: ", ") }
        if !contract.defaultsApplied.isEmpty { admitted += "; defaults used for " + contract.defaultsApplied.joined(separator: ", ") }
        row("admission", admitted)
        row("", admission.state + ": " + admission.stateNote)
        if let delivery = story.delivery {
            out += deliveryRows(delivery)
        } else {
            row("state", story.human)
        }
        if let note = story.deliveryNote { out.append("  note: " + note) }
        if story.delivery != nil { out.append("  full result: " + resultLine) }
        return out.joined(separator: "\n")
    }

    /// One job from the coordinator's status alone (admission could not tell its story).
    public static func detail(_ delivery: JobDeliveryStatus, registry: SurfaceRegistry?, note: String, resultLine: String) -> String {
        var out: [String] = []
        func row(_ label: String, _ value: String) { out.append("  " + label.padding(toLength: 11, withPad: " ", startingAt: 0) + value) }
        out.append(delivery.summary ?? delivery.jobID)
        row("job", delivery.jobID)
        if let asked = delivery.asked, !asked.isEmpty {
            row("asked", "\"\(asked)\"" + (delivery.origin.map { " in \(name(try? SurfaceID(validating: $0), registry))" } ?? ""))
        }
        row("recipe", delivery.recipe ?? "?")
        row("final", "\(delivery.finalSurfaceName ?? delivery.finalSurface ?? "?") (\(delivery.finalSurface ?? "?"))")
        if let mode = delivery.deliveryMode { row("mode", "\(mode) (\(delivery.deliveryModeName ?? mode))") }
        out += deliveryRows(delivery)
        out.append("  note: " + note)
        out.append("  full result: " + resultLine)
        return out.joined(separator: "\n")
    }

    /// State, run, answer time, duplicates and each part.
    private static func deliveryRows(_ delivery: JobDeliveryStatus) -> [String] {
        var out: [String] = []
        func row(_ label: String, _ value: String) { out.append("  " + label.padding(toLength: 11, withPad: " ", startingAt: 0) + value) }
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
        return out
    }

    /// Sorted-key JSON with wire dates, slashes unescaped: the typed answer as the service gave it.
    public static func json(_ value: some Encodable) throws -> String {
        String(decoding: try WireCodec.encodeBody(value), as: UTF8.self)
    }

    public static func name(_ id: SurfaceID?, _ registry: SurfaceRegistry?) -> String {
        guard let id else { return "?" }
        return registry?[id]?.humanName ?? id.rawValue
    }

    /// "Alice's terminal (cli:alice)", or the id alone when the registry does not know it.
    public static func named(_ id: SurfaceID, _ registry: SurfaceRegistry?) -> String {
        registry?[id].map { "\($0.humanName) (\(id))" } ?? id.rawValue
    }

    public static func plain(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .number(let n): n == n.rounded() && abs(n) < 1e15 ? String(Int(n)) : String(n)
        case .bool(let b): String(b)
        case .null: "null"
        default: sortedJSON(value)
        }
    }

    /// "09:12" today, "Nov 25 09:12" otherwise, in local time.
    public static func clock(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = Calendar.current.isDateInToday(date) ? "HH:mm" : "MMM d HH:mm"
        return formatter.string(from: date)
    }

    public static func local(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }

    /// "in 52 min", "3 min ago".
    public static func relative(_ date: Date, now: Date = Date()) -> String {
        let seconds = date.timeIntervalSince(now)
        return seconds >= 0 ? "in \(HumanText.duration(seconds: seconds))" : "\(HumanText.duration(seconds: -seconds)) ago"
    }

    /// Sorted-key JSON text, slashes unescaped (an array or object parameter shown as written).
    private static func sortedJSON(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}
