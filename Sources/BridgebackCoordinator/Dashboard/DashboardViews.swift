import BridgebackCore
import BridgebackTopology
import Crypto
import Foundation

/// Everything the overview page shows, gathered once per render.
struct DashboardOverview: Sendable {
    var generatedAt: Date
    /// Ledger figures, or why the ledger did not answer.
    var ledger: Result<Ledger.HealthCounts, ManagementFailure>
    /// Whether the coordinator's broker connection is up (nil: unknown).
    var brokerConnected: Bool?
    /// The broker's queues and consumers; nil when the dashboard has no management API.
    var broker: Result<BrokerOverview, ManagementFailure>?
    var jobs: [JobDeliveryStatus]
    /// The newest progress event per job id, when the dashboard taps `bb.progress`.
    var latestProgress: [String: ProgressEvent]
}

/// The dashboard's HTML: whole pages and the fragments the live feed replaces. Pure functions
/// of their inputs; every value from a job, a worker or the broker goes through `HTML.escape`.
enum DashboardViews {
    // MARK: Pages

    /// A whole page. `stream`: the event-stream URL the page follows (nil: a static page).
    static func page(title: String, principal: String?, stream: String?, body: HTML) -> String {
        let streamAttribute: HTML = stream.map { " data-stream=\"\($0)\"" } ?? .empty
        let account: HTML =
            principal.map { name in
                """
                <span class="who">signed in as <b>\(name)</b></span>\
                <form method="post" action="/dashboard/logout" class="logout"><button type="submit">Sign out</button></form>
                """
            } ?? .empty
        let live: HTML = stream == nil ? .empty : "<span id=\"live\" class=\"live\">connecting…</span>"
        let html: HTML = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="same-origin">
            <title>\(title) · Bridgeback</title>
            <style>\(HTML(trusted: Assets.css))</style>
            </head><body\(streamAttribute)>
            <header><a class="brand" href="/dashboard">Bridgeback</a>\(live)<span class="spacer"></span>\(account)</header>
            <main>
            \(body)
            </main>
            <script>\(HTML(trusted: Assets.script))</script>
            </body></html>
            """
        return html.markup
    }

    static func overviewPage(_ overview: DashboardOverview, principal: String) -> String {
        let body: HTML = """
            <section><h2>Fleet</h2><div id="fleet">\(fleetFragment(overview))</div></section>
            <section><h2>Recent jobs</h2><div id="jobs">\(jobsFragment(overview))</div></section>
            """
        return page(title: "Fleet", principal: principal, stream: "/dashboard/events", body: body)
    }

    static func jobPage(_ timeline: JobTimeline, principal: String) -> String {
        let id = timeline.status.jobID
        let body: HTML = """
            <p class="back"><a href="/dashboard">← all jobs</a></p>
            <div id="timeline">\(timelineFragment(timeline))</div>
            """
        return page(title: "Job \(String(id.prefix(13)))", principal: principal, stream: "/dashboard/jobs/\(id)/events", body: body)
    }

    static func notFoundPage(_ message: String, principal: String) -> String {
        page(
            title: "Not found", principal: principal, stream: nil,
            body: "<p class=\"back\"><a href=\"/dashboard\">← all jobs</a></p><section><h2>Not found</h2><p>\(message)</p></section>")
    }

    /// The sign-in form. It posts the token in the body (never in a URL); the answer sets the
    /// session cookie.
    static func loginPage(message: String?, authenticationOff: Bool) -> String {
        let note: HTML = message.map { "<p class=\"error\" role=\"alert\">\($0)</p>" } ?? .empty
        let off: HTML =
            authenticationOff
            ? "<p class=\"warn\">Authentication is off (--insecure-no-auth): <a href=\"/dashboard\">open the dashboard</a>.</p>" : .empty
        let body: HTML = """
            <section class="login"><h2>Sign in</h2>\(off)\(note)
            <form method="post" action="/dashboard/login">
            <label for="token">Bearer token</label>
            <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required>
            <button type="submit">Sign in</button>
            </form>
            <p class="hint">The same token as for the status API (<code>bridgeback principals add</code> makes one). \
            It is checked once and not stored; the browser gets a session cookie that expires, and signing out ends it.</p>
            </section>
            """
        return page(title: "Sign in", principal: nil, stream: nil, body: body)
    }

    // MARK: Fragments (replaced live)

    static func fleetFragment(_ overview: DashboardOverview) -> HTML {
        var out: HTML = "<div class=\"cards\">"
        switch overview.ledger {
        case .success(let counts):
            let retry = counts.retryWait
            out += card(
                "Coordinator", tone: retry > 0 ? .warn : .ok,
                lines: [
                    "ledger ok" + (overview.brokerConnected.map { $0 ? ", broker connected" : ", broker DISCONNECTED" } ?? ""),
                    "\(counts.awaitingCompletion) running or queued, \(counts.delivering) delivering",
                    retry == 0 ? "no part waiting to retry" : "\(retry) parts waiting to retry",
                ])
        case .failure(let failure):
            out += card("Coordinator", tone: .bad, lines: ["the ledger does not answer: \(failure.reason)"])
        }
        switch overview.broker {
        case nil:
            out += card("Broker", tone: .neutral, lines: ["no management API configured (BRIDGEBACK_MANAGEMENT_URL)"])
        case .failure(let failure)?:
            out += card("Broker", tone: .warn, lines: [failure.reason])
        case .success(let broker)?:
            let worst = broker.queues.map(\.verdict).max() ?? .ok
            let coordinators = FleetRules.coordinators(active: broker.activeCoordinators, standby: broker.standbyCoordinators)
            out += card(
                "Queues", tone: tone(worst),
                lines: [
                    "\(broker.queues.count) queues, \(broker.queues.reduce(0) { $0 + $1.ready }) messages ready, "
                        + "\(broker.queues.reduce(0) { $0 + $1.unacked }) unacked",
                    broker.queues.filter { $0.verdict != .ok }.map { "\($0.name): \($0.why)" }.first ?? "all queues flowing or empty",
                ])
            let busy = broker.workers.reduce(0) { $0 + $1.inFlight }
            let slots = broker.workers.reduce(0) { $0 + $1.slots }
            out += card(
                "Workers", tone: broker.workers.isEmpty ? .warn : .ok,
                lines: ["\(broker.workers.count) connected", "\(busy) of \(slots) slots busy"])
            out += card("Active coordinator", tone: tone(coordinators.verdict), lines: [coordinators.why])
        }
        out += "</div>"
        if case .success(let broker)? = overview.broker {
            out += queuesTable(broker.queues)
            out += workersTable(broker.workers)
        }
        out +=
            "<p class=\"stamp\">as of <time datetime=\"\(WireDate.format(overview.generatedAt))\">\(clock(overview.generatedAt))</time> UTC</p>"
        return out
    }

    static func queuesTable(_ queues: [BrokerOverview.Queue]) -> HTML {
        guard !queues.isEmpty else { return "<p class=\"muted\">No bb.* queues on the broker.</p>" }
        let rows = queues.map { queue -> HTML in
            """
            <tr class="\(tone(queue.verdict).rawValue)"><td data-label="Queue"><code>\(queue.name)</code></td>\
            <td data-label="Ready" class="n">\(queue.ready)</td><td data-label="Unacked" class="n">\(queue.unacked)</td>\
            <td data-label="Consumers" class="n">\(queue.consumers)</td>\
            <td data-label="In / out" class="n">\(rate(queue.publishRate)) / \(rate(queue.deliverRate))</td>\
            <td data-label="State"><span class="badge \(tone(queue.verdict).rawValue)">\(queue.verdict.rawValue)</span> \(queue.why)</td></tr>
            """
        }
        return """
            <h3>Queues</h3><table class="grid queues"><thead><tr><th>Queue</th><th class="n">Ready</th><th class="n">Unacked</th>\
            <th class="n">Consumers</th><th class="n">In / out per s</th><th>State</th></tr></thead><tbody>\(rows.joined())</tbody></table>
            """
    }

    static func workersTable(_ workers: [BrokerOverview.Worker]) -> HTML {
        guard !workers.isEmpty else { return "<h3>Workers</h3><p class=\"warn\">No worker consumes a bb.jobs.* queue.</p>" }
        let rows = workers.map { worker -> HTML in
            """
            <tr><td data-label="Worker">\(worker.connection)</td><td data-label="Host">\(worker.host)</td>\
            <td data-label="Pool"><code>\(worker.pool)</code></td><td data-label="Busy" class="n">\(worker.inFlight) of \(worker.slots)</td></tr>
            """
        }
        return """
            <h3>Workers</h3><table class="grid workers"><thead><tr><th>Worker</th><th>Host</th><th>Pool</th><th class="n">Busy slots</th></tr></thead>\
            <tbody>\(rows.joined())</tbody></table>
            """
    }

    static func jobsFragment(_ overview: DashboardOverview) -> HTML {
        guard !overview.jobs.isEmpty else { return "<p class=\"muted\">No jobs yet.</p>" }
        let rows = overview.jobs.map { job -> HTML in
            let (label, tone) = stateBadge(job)
            let what = job.summary ?? job.asked ?? "(contract not arrived)"
            var detail: HTML = "\(job.human)"
            if job.finalOutcome == nil, let event = overview.latestProgress[job.jobID] {
                detail += "<br><span class=\"muted\">\(event.message)</span>"
            }
            let target: HTML =
                job.finalSurface.map { surface in
                    "\(job.finalSurfaceName ?? surface) <span class=\"muted\">(\(job.deliveryModeName ?? job.deliveryMode ?? "?"))</span>"
                } ?? "—"
            let admitted = job.createdAt.flatMap(WireDate.parse)
            return """
                <tr class="job" data-job="\(job.jobID)"><td data-label="Job"><a href="/dashboard/jobs/\(job.jobID)">\(what)</a>\
                <br><code class="id">\(job.jobID)</code></td>\
                <td data-label="State"><span class="badge \(tone.rawValue)">\(label)</span></td>\
                <td data-label="Answer goes to">\(target)</td><td data-label="Where it stands" class="human">\(detail)</td>\
                <td data-label="Admitted">\(admitted.map { "<time datetime=\"\(WireDate.format($0))\">\(clock($0))</time>" as HTML } ?? "—")</td></tr>
                """
        }
        return """
            <table class="grid jobs"><thead><tr><th>Job</th><th>State</th><th>Answer goes to</th><th>Where it stands</th>\
            <th>Admitted (UTC)</th></tr></thead><tbody>\(rows.joined())</tbody></table>
            """
    }

    static func timelineFragment(_ timeline: JobTimeline) -> HTML {
        let status = timeline.status
        let (label, tone) = stateBadge(status)
        var facts: [(String, String)] = [("Job id", status.jobID)]
        if let asked = status.asked, !asked.isEmpty { facts.append(("Asked", asked)) }
        if let origin = status.origin { facts.append(("Asked in", origin)) }
        if let recipe = status.recipe { facts.append(("Recipe", recipe)) }
        if let work = status.workSurface { facts.append(("Progress goes to", work)) }
        if let final = status.finalSurface {
            facts.append(("Answer goes to", "\(status.finalSurfaceName ?? final) — \(final) (\(status.deliveryModeName ?? "?"))"))
        }
        if let worker = status.worker { facts.append(("Ran on", worker)) }
        if let turnaround = status.turnaroundSeconds { facts.append(("Request to delivered", HumanText.duration(seconds: turnaround))) }
        if status.duplicatesSuppressed > 0 { facts.append(("Duplicates suppressed", "\(status.duplicatesSuppressed)")) }
        let dl = facts.map { "<dt>\($0.0)</dt><dd>\($0.1)</dd>" as HTML }.joined()
        let entries = timeline.entries.map { entry -> HTML in
            let when: HTML = entry.at.map { "<time datetime=\"\(WireDate.format($0))\">\(clock($0))</time>" } ?? "<time>—</time>"
            let bar: HTML = entry.fraction.map { "<progress max=\"100\" value=\"\(Int(($0 * 100).rounded()))\"></progress>" } ?? .empty
            let detail: HTML = entry.detail.map { "<div class=\"detail\">\($0)</div>" } ?? .empty
            return
                "<li class=\"\(entry.kind) \(entry.tone.rawValue)\">\(when)<div class=\"what\"><b>\(entry.title)</b>\(bar)\(detail)</div></li>"
        }.joined()
        var out: HTML = """
            <section><h2>\(status.summary ?? "Job \(status.jobID)") <span class="badge \(tone.rawValue)">\(label)</span></h2>
            <p class="human">\(status.human)</p><dl class="facts">\(dl)</dl></section>
            <section><h2>Timeline</h2><ol class="timeline">\(entries)</ol></section>
            """
        if let context = timeline.contextText, !context.isEmpty {
            out += "<section><h2>What the person sees with the answer</h2><pre class=\"context\">\(context)</pre></section>"
        }
        if let result = timeline.resultExcerpt {
            let more: HTML =
                result.count >= JobTimeline.resultExcerptLimit
                ? "<p class=\"muted\">Cut here; the whole text: <code>GET /v1/jobs/\(status.jobID)/result</code></p>" : .empty
            out += "<section><h2>The answer</h2><pre class=\"result\">\(result)</pre>\(more)</section>"
        }
        return out
    }

    // MARK: Pieces

    static func card(_ title: String, tone: JobTimeline.Tone, lines: [String]) -> HTML {
        "<div class=\"card \(tone.rawValue)\"><h3>\(title)</h3>\(lines.map { "<p>\($0)</p>" as HTML }.joined())</div>"
    }

    static func tone(_ verdict: BrokerOverview.Verdict) -> JobTimeline.Tone {
        switch verdict {
        case .ok: .ok
        case .degraded: .warn
        case .stalled, .unreachable: .bad
        }
    }

    /// The badge word and colour of a job: its final outcome once finished, else its state.
    static func stateBadge(_ job: JobDeliveryStatus) -> (String, JobTimeline.Tone) {
        switch job.finalOutcome {
        case "delivered"?:
            return job.noticeKind == "result" || job.noticeKind == nil ? ("delivered", .ok) : ("\(job.noticeKind!) delivered", .warn)
        case "suppressed"?: return ("suppressed", .neutral)
        case "uncertain"?: return ("uncertain", .warn)
        case let outcome?: return (outcome, .bad)
        case nil:
            switch job.state {
            case "awaiting_completion": return ("running", .neutral)
            case "delivering": return ("delivering", .neutral)
            case "completion_parked": return ("parked", .warn)
            default: return (job.state.replacingOccurrences(of: "_", with: " "), .neutral)
            }
        }
    }

    static func clock(_ date: Date) -> String {
        let text = WireDate.format(date)  // 2026-12-06T03:04:05.123Z
        guard let t = text.firstIndex(of: "T") else { return text }
        let time = text[text.index(after: t)...].prefix(8)
        let today = WireDate.format(Date()).prefix(10)
        return text.prefix(10) == today ? String(time) : "\(text.prefix(10)) \(time)"
    }

    static func rate(_ value: Double) -> String { String(format: "%.1f", value) }
}

/// The page's only style sheet and script, inline, allowed by hash in the Content-Security-Policy.
enum Assets {
    static let css = """
        :root{color-scheme:light dark;--bg:#fff;--fg:#1b1f23;--muted:#667;--line:#d8dde3;--card:#f6f8fa;\
        --ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--accent:#0969da}
        @media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8b949e;--line:#30363d;--card:#161b22;\
        --ok:#3fb950;--warn:#d29922;--bad:#f85149;--accent:#58a6ff}}
        *{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
        header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.6rem 1rem;border-bottom:1px solid var(--line);background:var(--card)}
        .brand{font-weight:700;color:var(--fg);text-decoration:none}.spacer{flex:1}
        .live{font-size:.8rem;padding:.1rem .5rem;border-radius:1rem;border:1px solid var(--line);color:var(--muted)}
        .live.on{color:var(--ok);border-color:var(--ok)}.live.off{color:var(--warn);border-color:var(--warn)}
        .who{color:var(--muted);font-size:.9rem}.logout{display:inline;margin:0}
        main{max-width:1200px;margin:0 auto;padding:0 1rem 2rem}h2{font-size:1.15rem;margin:1.4rem 0 .6rem}h3{font-size:1rem;margin:1rem 0 .4rem}
        a{color:var(--accent)}code{font:.85em ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
        .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:.75rem}
        .card{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--muted);border-radius:6px;padding:.5rem .8rem}
        .card h3{margin:.1rem 0 .3rem}.card p{margin:.1rem 0;font-size:.9rem}
        .card.ok{border-left-color:var(--ok)}.card.warn{border-left-color:var(--warn)}.card.bad{border-left-color:var(--bad)}
        table.grid{width:100%;border-collapse:collapse;font-size:.9rem}
        .grid th,.grid td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
        .grid th{font-weight:600;color:var(--muted)}.n{text-align:right;font-variant-numeric:tabular-nums}
        .badge{display:inline-block;padding:0 .45rem;border-radius:1rem;font-size:.8rem;border:1px solid currentColor;white-space:nowrap}
        .badge.ok{color:var(--ok)}.badge.warn{color:var(--warn)}.badge.bad{color:var(--bad)}.badge.neutral{color:var(--muted)}
        .muted,.stamp,.hint{color:var(--muted)}.stamp{font-size:.8rem}.warn{color:var(--warn)}.error{color:var(--bad)}
        .id{color:var(--muted);font-size:.75rem}
        dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
        ol.timeline{list-style:none;margin:0;padding:0 0 0 .6rem;border-left:2px solid var(--line)}
        .timeline li{position:relative;display:grid;grid-template-columns:6.5rem 1fr;gap:.6rem;padding:.35rem 0 .35rem .8rem}
        .timeline li::before{content:"";position:absolute;left:-.5rem;top:.75rem;width:.7rem;height:.7rem;border-radius:50%;background:var(--muted)}
        .timeline li.ok::before{background:var(--ok)}.timeline li.warn::before{background:var(--warn)}.timeline li.bad::before{background:var(--bad)}
        .timeline time{color:var(--muted);font-variant-numeric:tabular-nums;font-size:.85rem;padding-top:.1rem}
        .detail{color:var(--muted);font-size:.9rem;overflow-wrap:anywhere}progress{display:block;width:12rem;max-width:100%}
        pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem;font-size:.85rem}
        .login{max-width:26rem}.login form{display:grid;gap:.5rem}input,button{font:inherit;padding:.45rem .6rem;border-radius:6px;border:1px solid var(--line)}
        button{background:var(--card);color:var(--fg);cursor:pointer}
        @media (max-width:700px){main{padding:0 .6rem 1.5rem}
        .grid thead{display:none}.grid,.grid tbody,.grid tr,.grid td{display:block;width:100%}
        .grid tr{border:1px solid var(--line);border-radius:6px;margin:.5rem 0;padding:.3rem .5rem}
        .grid td{border:0;padding:.15rem 0;text-align:left}.grid td::before{content:attr(data-label);display:block;font-size:.75rem;color:var(--muted)}
        .timeline li{grid-template-columns:1fr;gap:0}dl.facts{grid-template-columns:1fr}dt{margin-top:.3rem}}
        """

    /// Follows the page's event stream; each event replaces the element with its name as id
    /// with the server-rendered (escaped) fragment it carries.
    static let script = """
        (function(){var b=document.body,u=b.getAttribute("data-stream"),l=document.getElementById("live");
        if(!u||!window.EventSource)return;var s=new EventSource(u);
        s.onopen=function(){l.textContent="live";l.className="live on";};
        s.onerror=function(){l.textContent=s.readyState===2?"offline, reload to retry":"reconnecting…";l.className="live off";};
        ["fleet","jobs","timeline"].forEach(function(n){s.addEventListener(n,function(e){var t=document.getElementById(n);if(t)t.innerHTML=e.data;});});
        })();
        """

    static func sha256(_ text: String) -> String { "'sha256-" + Data(SHA256.hash(data: Array(text.utf8))).base64EncodedString() + "'" }

    /// Nothing loads from elsewhere; only these two inline blocks run; forms post here only.
    static let contentSecurityPolicy =
        "default-src 'none'; style-src \(sha256(css)); script-src \(sha256(script)); connect-src 'self'; img-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}
