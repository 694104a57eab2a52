import Foundation
import Testing

/// The coordinator's live dashboard in a real browser (headless Chromium) against a real fleet
/// and broker: sign in through the form, see the submitted job and where its answer went, see
/// a second job arrive through the event stream without a reload, read one job's timeline,
/// and fit a phone's width. Screenshots go to .build/test-artifacts/ for people to look at.
extension BrokerBacked {
    @Suite(.serialized)
    struct DashboardBrowserTests {
        static let artifacts = Broker.repoRoot.appendingPathComponent(".build/test-artifacts")

        /// `expression`'s value in the page, as a string ("" for null).
        static func text(_ browser: Chromium, _ page: String, _ expression: String) async throws -> String {
            let value = try await browser.evaluate(expression, session: page)
            return value.map { "\($0)" } ?? ""
        }

        /// Polls `expression` in the page until `accept` holds; a timeout names what the page last showed.
        static func wait(
            _ what: String, _ browser: Chromium, _ page: String, _ expression: String, timeout: Duration = .seconds(30),
            until accept: @escaping (String) -> Bool
        ) async throws {
            var last = ""
            do {
                try await eventually(what, timeout: timeout) {
                    last = try await text(browser, page, expression)
                    return accept(last)
                }
            } catch {
                let shown = (try? await text(browser, page, "location.href + '\\n' + document.body.innerText")) ?? "?"
                throw TestFailure("timed out waiting for: \(what); last value: \(last.prefix(500))\npage: \(shown.prefix(1500))")
            }
        }

        @Test(.enabled(if: Chromium.available, "needs Debian's chromium (scripts/test installs it)"), .timeLimit(.minutes(3)))
        func dashboardInChromium() async throws {
            try await withFleet("dashboard") { fleet in
                try await fleet.prepareBroker()
                try await fleet.startReceiver()
                var management: [String: String] = [:]
                for key in ["BRIDGEBACK_MANAGEMENT_URL", "BRIDGEBACK_MANAGEMENT_USER", "BRIDGEBACK_MANAGEMENT_PASSWORD"] {
                    management[key] = ProcessInfo.processInfo.environment[key].flatMap { $0.isEmpty ? nil : $0 } ?? Broker.env[key]
                }
                // Progress steps for the timelines: the dashboard taps bb.progress as the watch user.
                management["BRIDGEBACK_DASHBOARD_AMQP_URL"] = fleet.amqpURL("BRIDGEBACK_WATCH_AMQP_URL")
                try await fleet.startCoordinator(environment: management)
                try await fleet.startWorker("worker1")
                try await fleet.startAdmission()
                let first = try await fleet.submitAll([
                    fleet.detach("echo", params: ["text": "dashboard <b>first</b> job"], final: "file:\(fleet.parent)", mode: "direct")
                ])[0]
                try await eventually("the first job is delivered", timeout: .seconds(30)) {
                    (try? fleet.ledgerJobs())?[first]?.finalOutcome == "delivered"
                }

                try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
                let browser = try Chromium(
                    profile: fleet.directory.appendingPathComponent("chromium-profile"),
                    log: fleet.directory.appendingPathComponent("chromium.log"))
                defer { browser.close() }
                let page = try await browser.newPage()
                let base = "http://127.0.0.1:\(fleet.coordinatorPort)"

                // No session: the dashboard sends the browser to the sign-in form.
                try await browser.send("Page.navigate", ["url": "\(base)/dashboard"], session: page)
                try await eventually("the sign-in form shows", timeout: .seconds(30)) {
                    try await Self.text(browser, page, "location.pathname + '|' + !!document.getElementById('token')")
                        == "/dashboard/login|true"
                }
                // Sign in as the fleet's principal by filling the form (the token never goes in a URL).
                let tokenLiteral = String(decoding: try JSONSerialization.data(withJSONObject: [fleet.token]), as: UTF8.self).dropFirst()
                    .dropLast()
                _ = try await browser.evaluate(
                    "document.getElementById('token').value = \(tokenLiteral); document.querySelector('form[action=\"/dashboard/login\"]').submit(); true",
                    session: page)
                let row = "document.querySelector('tr[data-job=\"\(first)\"]')"
                try await Self.wait(
                    "the dashboard lists the first job as delivered", browser, page, "location.pathname + '|' + (\(row)?.innerText ?? '')"
                ) { $0.hasPrefix("/dashboard|") && $0.contains("delivered") }
                let firstRow = try await Self.text(browser, page, "\(row).innerText")
                #expect(firstRow.contains("the test results file"), "where the answer went: \(firstRow)")
                #expect(firstRow.contains("direct"), "\(firstRow)")
                #expect(firstRow.contains("delivered to the test results file"), "\(firstRow)")
                let cookieVisible = try await Self.text(browser, page, "document.cookie")
                #expect(!cookieVisible.contains("bb_dashboard"), "the session cookie is HttpOnly")
                try await Self.wait("the event stream is connected", browser, page, "document.getElementById('live').textContent") {
                    $0 == "live"
                }
                // Queues and workers from the broker: this fleet's pool and its one worker.
                try await Self.wait("the fleet's queue and worker show", browser, page, "document.getElementById('fleet').innerText") {
                    $0.contains("bb.jobs.\(fleet.pool)") && $0.contains("worker1")
                }

                // A second job appears live, without a reload (a reload would clear the marker).
                _ = try await browser.evaluate("window.__noReload = 42; true", session: page)
                let second = try await fleet.submitAll([
                    fleet.detach("reports", final: "hooks:\(fleet.parent)", mode: "direct")
                ])[0]
                let secondRow = "document.querySelector('tr[data-job=\"\(second)\"]')"
                try await Self.wait(
                    "the second job appears delivered through the event stream", browser, page, "\(secondRow)?.innerText ?? ''",
                    timeout: .seconds(40)
                ) { $0.contains("delivered to the test receiver") }
                #expect(try await Self.text(browser, page, "String(window.__noReload)") == "42", "the page was not reloaded")
                try Data(try await browser.screenshot(session: page)).write(to: Self.artifacts.appendingPathComponent("dashboard.png"))

                // One job's timeline, from the link in its row.
                _ = try await browser.evaluate("\(secondRow).querySelector('a').click(); true", session: page)
                try await Self.wait(
                    "the second job's timeline shows its delivered part", browser, page,
                    "document.querySelector('ol.timeline')?.innerText ?? ''"
                ) { $0.contains("Part 1/1 to the test receiver: delivered") }
                let timeline = try await Self.text(browser, page, "document.querySelector('ol.timeline').innerText")
                for step in [
                    "Admitted from the test terminal", "Started on worker1", "writing the report", "Succeeded after",
                    "Delivered to the test receiver (direct)",
                ] {
                    #expect(timeline.contains(step), "\(step) in: \(timeline)")
                }
                let context = try await Self.text(browser, page, "document.querySelector('pre.context')?.innerText ?? ''")
                #expect(!context.isEmpty, "the human context of the notice")
                try Data(try await browser.screenshot(session: page)).write(to: Self.artifacts.appendingPathComponent("dashboard-job.png"))

                // A phone: the overview fits its width (no sideways scrolling).
                try await browser.send(
                    "Emulation.setDeviceMetricsOverride", ["width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true],
                    session: page)
                try await browser.send("Page.navigate", ["url": "\(base)/dashboard"], session: page)
                try await eventually("the overview loads on the phone", timeout: .seconds(30)) {
                    (try await Self.text(browser, page, "\(row)?.innerText ?? ''")).contains("delivered")
                }
                let width = try await Self.text(browser, page, "String(document.documentElement.scrollWidth)")
                #expect((Int(width) ?? 9999) <= 390, "page width on a 390 px phone: \(width)")
                try Data(try await browser.screenshot(session: page)).write(
                    to: Self.artifacts.appendingPathComponent("dashboard-phone.png"))

                // Sign out (the form's POST): the session ends, the dashboard asks to sign in again.
                _ = try await browser.evaluate("document.querySelector('form.logout').submit(); true", session: page)
                try await eventually("signed out", timeout: .seconds(30)) {
                    try await Self.text(browser, page, "location.pathname") == "/dashboard/login"
                }
                try await browser.send("Page.navigate", ["url": "\(base)/dashboard"], session: page)
                try await eventually("the dashboard asks to sign in again", timeout: .seconds(30)) {
                    try await Self.text(browser, page, "location.pathname + '|' + !!document.getElementById('token')")
                        == "/dashboard/login|true"
                }
            }
        }
    }
}
