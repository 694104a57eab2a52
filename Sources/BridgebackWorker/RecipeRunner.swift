public import BridgebackCore
public import Foundation
import Synchronization

/// Runs recipes: the four built-in kinds plus registered `JobHandler`s. It has no transport;
/// the `WorkerService` wraps it with deadlines, progress publishing and completions.
public struct RecipeRunner: Sendable {
    public let catalog: RecipeCatalog
    public let handlers: [String: any JobHandler]
    /// The worker's own environment, from which each command's `env` allow-list is copied.
    /// Redacted: it holds every broker URL with its password, and a service description
    /// (swift-service-lifecycle logs those at debug level) must not print it.
    public let environment: Redacted<[String: String]>

    /// `handlers` add custom kinds; the built-in `noop` kind is a handler too (a handler registered
    /// under `noop` replaces it).
    public init(
        catalog: RecipeCatalog, handlers: [String: any JobHandler] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.catalog = catalog
        self.handlers = [NoopHandler.kind: NoopHandler()].merging(handlers) { _, registered in registered }
        self.environment = Redacted(environment)
    }

    /// Finds the recipe and validates parameters: the checks that fail a job before it runs.
    public func prepare(_ invocation: RecipeInvocation) throws(WorkerError) -> (Recipe, [String: ParameterValue]) {
        guard let recipe = catalog[invocation.name] else {
            let known = catalog.recipes.keys.sorted().joined(separator: ", ")
            throw WorkerError(
                .unknownRecipe, "this worker has no recipe '\(invocation.name)'; it knows \(known.isEmpty ? "none" : known)",
                recipe: invocation.name)
        }
        let values = try validateParameters(invocation.params, against: recipe.parameters, recipe: recipe.name)
        return (recipe, values)
    }

    /// Runs a prepared recipe; returns the result text or throws (a `WorkerError` for failures,
    /// `CancellationError` when cancelled).
    public func run(_ context: JobContext) async throws -> String {
        switch context.recipe.kind {
        case .command(let spec):
            return try await command(spec, context.parameters, jobID: context.jobID, progress: CommandProgress(context.progress)).text
        case .http(let spec):
            return try await http(spec, context.parameters)
        case .endpoints(let specs):
            return try await endpoints(specs, context)
        case .file(let spec):
            return try await FileCheck.run(spec, context.parameters, environment: environment.value)
        case .checklist(let steps):
            return try await checklist(steps, context)
        case .wait(let spec):
            return try await wait(spec, context)
        case .custom(let name, _):
            guard let handler = handlers[name] else {
                throw WorkerError(
                    .unknownRecipe, "recipe '\(context.recipe.name)' is of kind '\(name)', but no JobHandler is registered under that name",
                    recipe: context.recipe.name)
            }
            do {
                return try await handler.run(context)
            } catch let error as WorkerError {
                throw error
            } catch let error as CancellationError {
                throw error
            } catch {
                throw WorkerError(.handlerFailed, "\(name) failed: \(error)", recipe: context.recipe.name)
            }
        }
    }

    // MARK: Actions

    struct ActionResult {
        var text: String
    }

    func command(_ spec: CommandSpec, _ values: [String: ParameterValue], jobID: JobID, progress: CommandProgress? = nil) async throws
        -> ActionResult
    {
        let argv = Template.argv(spec.argv, values: values)
        var env: [String: String] = [:]
        for name in spec.environment { env[name] = environment.value[name] }
        env["BRIDGEBACK_JOB_ID"] = jobID.description
        let sink =
            spec.progressProtocol
            ? progress.map { reporter in { @Sendable (directive: ProgressDirective) in await reporter.report(directive) } } : nil
        let output = try await CommandRunner.run(
            argv: argv, environment: env, workingDirectory: spec.workingDirectory, timeout: spec.timeout, outputCap: spec.outputCapBytes,
            progress: sink)
        try Task.checkCancellation()
        let program = URL(fileURLWithPath: argv[0]).lastPathComponent
        if output.timedOut {
            throw WorkerError(.timedOut, "\(program) timed out after \(Self.seconds(spec.timeout)) and was stopped")
        }
        guard output.exitStatus == 0 else {
            let tail = output.stderrTail.trimmingCharacters(in: .whitespacesAndNewlines)
            let detail = tail.isEmpty ? "" : ": " + String(tail.suffix(1000))
            throw WorkerError(.commandFailed, "\(program) exited with status \(output.exitStatus)\(detail)")
        }
        if let expected = spec.expectOutput, let pattern = expected.value(values) {
            let regex: NSRegularExpression
            do { regex = try NSRegularExpression(pattern: pattern) } catch {
                throw WorkerError(.invalidParameter, "'\(pattern)' is not a valid regular expression")
            }
            let text = output.stdout
            guard regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil else {
                throw WorkerError(.conditionNotMet, "the output of \(program) has nothing matching \(pattern)")
            }
        }
        if let lines = output.resultLines {
            var text = lines.joined(separator: "\n")
            if output.resultTruncated { text += "\n[result truncated: ::result lines past \(spec.outputCapBytes) bytes were dropped]" }
            return ActionResult(text: text)
        }
        var text = output.stdout
        if text.hasSuffix("\n") { text.removeLast() }
        if output.truncated {
            text += "\n[output truncated: kept \(spec.outputCapBytes) of \(output.stdoutBytes) bytes]"
        }
        return ActionResult(text: text)
    }

    func http(_ spec: HTTPProbeSpec, _ values: [String: ParameterValue]) async throws -> String {
        let text = Template.url(spec.url, values: values)
        let url = try Template.checkHost(text, allowed: catalog.allowedHosts).get()
        let result = try await HTTPProbe.run(spec, url: url)
        try Task.checkCancellation()
        return result
    }

    func action(_ action: RecipeAction, _ context: JobContext, progress: CommandProgress? = nil) async throws -> String {
        switch action {
        case .command(let spec): try await command(spec, context.parameters, jobID: context.jobID, progress: progress).text
        case .http(let spec): try await http(spec, context.parameters)
        case .file(let spec): try await FileCheck.run(spec, context.parameters, environment: environment.value)
        }
    }

    /// Probes every endpoint in order, reporting each; fails (listing all of them) if any failed.
    func endpoints(_ specs: [HTTPProbeSpec], _ context: JobContext) async throws -> String {
        var lines: [String] = []
        var failed = 0
        for (index, spec) in specs.enumerated() {
            do {
                lines.append("ok      " + (try await http(spec, context.parameters)))
            } catch let error as CancellationError {
                throw error
            } catch {
                failed += 1
                lines.append("FAILED  " + Self.reason(error))
            }
            await context.progress.update(
                "checked \(index + 1) of \(specs.count) endpoints\(failed > 0 ? " (\(failed) failed)" : "")",
                fraction: Double(index + 1) / Double(specs.count))
        }
        let summary = "\(specs.count - failed) of \(specs.count) endpoints healthy"
        guard failed == 0 else {
            throw WorkerError(.httpFailed, "\(summary)\n" + lines.joined(separator: "\n"), recipe: context.recipe.name)
        }
        return "\(summary)\n" + lines.joined(separator: "\n")
    }

    // MARK: Checklist

    /// Runs steps in order; on the first failure runs the rollbacks of the steps that completed,
    /// newest first, and fails with a report of every step and rollback.
    func checklist(_ steps: [ChecklistStep], _ context: JobContext) async throws -> String {
        var lines: [String] = []
        var completed: [Int] = []
        for (index, step) in steps.enumerated() {
            let label = "\(index + 1)/\(steps.count) \(step.name)"
            await context.progress.step(index + 1, of: steps.count, step.name)
            do {
                let output = try await action(
                    step.action, context, progress: CommandProgress(context.progress, within: (index + 1, steps.count, step.name)))
                lines.append("ok      \(label)" + Self.oneLine(output))
                completed.append(index)
            } catch let error as CancellationError {
                if context.isCancelRequested { await rollBackAfterCancel(steps, completed: completed, context) }
                throw error
            } catch {
                lines.append("FAILED  \(label): \(Self.reason(error))")
                for skipped in steps.indices.dropFirst(index + 1) {
                    lines.append("skipped \(skipped + 1)/\(steps.count) \(steps[skipped].name)")
                }
                var rollbacks: [String] = []
                for done in completed.reversed() {
                    guard let rollback = steps[done].rollback else { continue }
                    await context.progress.step(index + 1, of: steps.count, "rolling back \(steps[done].name)")
                    do {
                        let output = try await action(rollback, context)
                        rollbacks.append("ok      rollback \(steps[done].name)" + Self.oneLine(output))
                    } catch let error as CancellationError {
                        throw error
                    } catch {
                        rollbacks.append("FAILED  rollback \(steps[done].name): \(Self.reason(error))")
                    }
                }
                var report = "\(context.recipe.name) failed at step \(label)\n" + lines.joined(separator: "\n")
                if !rollbacks.isEmpty { report += "\nrollback (newest first):\n" + rollbacks.joined(separator: "\n") }
                throw WorkerError(.checklistFailed, report, recipe: context.recipe.name, field: step.name)
            }
        }
        return "\(context.recipe.name): all \(steps.count) steps passed\n" + lines.joined(separator: "\n")
    }

    /// A cancelled checklist undoes what it did: the rollbacks of the completed steps, newest
    /// first, in a task of their own (this one is cancelled), each under its own timeout.
    func rollBackAfterCancel(_ steps: [ChecklistStep], completed: [Int], _ context: JobContext) async {
        let rollbacks = completed.reversed().compactMap { done in steps[done].rollback.map { (steps[done].name, $0) } }
        guard !rollbacks.isEmpty else { return }
        let runner = self
        // Unstructured on purpose: awaiting its value does not pass this task's cancellation on.
        let task = Task {
            for (name, rollback) in rollbacks {
                do {
                    _ = try await runner.action(rollback, context)
                    context.logger.notice("cancelled: rollback ran", metadata: ["step": "\(name)"])
                } catch {
                    context.logger.error("cancelled: rollback failed", metadata: ["step": "\(name)", "error": "\(Self.reason(error))"])
                }
            }
        }
        await task.value
    }

    // MARK: Wait

    func wait(_ spec: WaitSpec, _ context: JobContext) async throws -> String {
        var timeout = spec.timeout
        if let name = spec.timeoutParameter, let seconds = context.parameters[name]?.intValue {
            timeout = .seconds(seconds)
        }
        let clock = ContinuousClock()
        let start = clock.now
        let limit = start + timeout
        guard let probe = spec.probe else {
            // A plain wait: sleep out the timeout, reporting every interval.
            while clock.now < limit {
                let next = min(limit, clock.now + spec.interval)
                try await Task.sleep(until: next, clock: clock)
                await context.progress.update(
                    "waited \(Self.seconds(clock.now - start)) of \(Self.seconds(timeout))",
                    fraction: Self.fraction(clock.now - start, timeout))
            }
            return "waited \(Self.seconds(timeout))"
        }
        var checks = 0
        var last = "not checked"
        while true {
            checks += 1
            do {
                let output = try await action(probe, context, progress: CommandProgress(context.progress, routineOnly: true))
                return "condition met after \(Self.seconds(clock.now - start)) (\(checks) check\(checks == 1 ? "" : "s"))"
                    + Self.oneLine(output)
            } catch let error as CancellationError {
                throw error
            } catch {
                last = Self.reason(error)
            }
            await context.progress.update("check \(checks): not yet (\(last))", fraction: Self.fraction(clock.now - start, timeout))
            let next = clock.now + spec.interval
            guard next <= limit else {
                throw WorkerError(
                    .conditionNotMet,
                    "condition not met within \(Self.seconds(timeout)) after \(checks) check\(checks == 1 ? "" : "s"); last: \(last)",
                    recipe: context.recipe.name)
            }
            try await Task.sleep(until: next, clock: clock)
        }
    }

    // MARK: Text

    static func reason(_ error: any Error) -> String {
        if let error = error as? WorkerError { return error.message }
        return String(describing: error)
    }

    static func oneLine(_ output: String) -> String {
        let first = output.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard !first.isEmpty else { return "" }
        return " — " + (first.count > 200 ? String(first.prefix(200)) + "…" : first)
    }

    /// The `finished` progress line of a success: its size, never its text. Watchers of a work
    /// surface see progress; the result itself travels only through the final delivery.
    static func finishedSummary(succeeded result: String, after duration: Duration) -> String {
        let bytes = result.utf8.count
        let lines = result.isEmpty ? 0 : result.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).count
        let size =
            bytes == 0 ? "an empty result" : "result of \(bytes) byte\(bytes == 1 ? "" : "s") in \(lines) line\(lines == 1 ? "" : "s")"
        return "succeeded in \(seconds(duration)): \(size), delivered by the coordinator"
    }

    static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        if value == value.rounded() { return "\(Int(value)) s" }
        // One decimal, as `%.1f` rounds it, written without `String(format:)`, whose Foundation
        // formatting was most of a no-op job's progress text (#12). `%.1f` rounds the double's
        // exact value; `value * 10` can round onto a tie that the exact product is not on, and the
        // product's exact remainder (a fused multiply-add) says which way it lies.
        let scaled = value * 10
        let remainder = (-scaled).addingProduct(value, 10)
        var tenths = scaled.rounded(.toNearestOrEven)
        if scaled - scaled.rounded(.down) == 0.5 && remainder != 0 {
            tenths = remainder > 0 ? scaled.rounded(.up) : scaled.rounded(.down)
        }
        let whole = Int(tenths)
        return "\(whole / 10).\(whole % 10) s"
    }

    static func fraction(_ elapsed: Duration, _ total: Duration) -> Double {
        let t = Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18
        let e = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return t > 0 ? min(1, max(0, e / t)) : 1
    }
}

/// Turns one command's protocol lines into the job's progress reports.
///
/// A `::step` that names a new position is a state change (published at once); repeating the
/// same position, and every `::progress`, is a routine update under the sparse cadence. Inside a
/// checklist step the command's lines are reported within that step ("step 2/4: deploy — 40%…"),
/// its fraction scaled into the step's share; a wait's probe reports routine updates only.
final class CommandProgress: Sendable {
    let reporter: ProgressReporter
    /// The checklist step this command runs in: number, total, name.
    let within: (number: Int, total: Int, name: String)?
    let routineOnly: Bool
    private let lastStep = Mutex<(Int, Int)?>(nil)

    init(_ reporter: ProgressReporter, within: (Int, Int, String)? = nil, routineOnly: Bool = false) {
        self.reporter = reporter
        self.within = within.map { (number: $0.0, total: $0.1, name: $0.2) }
        self.routineOnly = routineOnly
    }

    func report(_ directive: ProgressDirective) async {
        guard let update = update(for: directive) else { return }
        await reporter.sink(update)
    }

    /// The report for one directive (nil for `::result`, which is not progress).
    func update(for directive: ProgressDirective) -> ProgressUpdate? {
        var message: String
        var fraction: Double?
        var stateChange = false
        switch directive {
        case .result:
            return nil
        case .progress(let percent, let text):
            message = text.isEmpty ? "\(Self.percent(percent)) done" : text
            fraction = percent / 100
        case .step(let number, let total, let text):
            let isNew = lastStep.withLock { last in
                defer { last = (number, total) }
                return last.map { $0 != (number, total) } ?? true
            }
            stateChange = isNew && !routineOnly
            message = "step \(number)/\(total)" + (text.isEmpty ? "" : ": \(text)")
            fraction = Double(number - 1) / Double(total)
        }
        if let within {
            message = "step \(within.number)/\(within.total): \(within.name) — " + message
            fraction = fraction.map { (Double(within.number - 1) + $0) / Double(within.total) }
        }
        return ProgressUpdate(isStateChange: stateChange, message: message, fraction: fraction)
    }

    static func percent(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value))%" : String(format: "%.1f%%", value)
    }
}
