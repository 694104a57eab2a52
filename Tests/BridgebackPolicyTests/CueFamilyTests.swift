import BridgebackPolicy
import Testing

/// Each cue family with requests written for these tests (not from the corpus), including
/// paraphrases in other styles, to check the cues generalise beyond the corpus wording.
@Suite("Cue families")
struct CueFamilyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let text: String
        let expected: Decision
        let trigger: TriggerClass?
        var testDescription: String { text }
        init(_ text: String, _ expected: Decision, _ trigger: TriggerClass? = nil) {
            self.text = text
            self.expected = expected
            self.trigger = trigger
        }
    }

    static let verification: [Case] = [
        Case("Make sure nothing broke after last night's deploy.", .detach, .verification),
        Case("Check that all the webhooks in the registry still return 200.", .detach, .verification),
        Case("Confirm every replica caught up after the failover.", .detach, .verification),
        Case("Test the restore procedure for the user database end to end.", .detach, .verification),
        Case("can u verify the dns records for all our domains point to the new LB", .detach, .verification),
        Case("Validate the new pricing config against last quarter's invoices.", .detach, .verification),
        Case("I want proof that the rate limiter works: hammer the staging API and show me the 429s.", .detach, .verification),
        Case("How do I verify a checksum on macOS?", .inline),
        Case("Does rsync verify checksums by default?", .inline),
    ]

    static let maintenance: [Case] = [
        Case("Clean up stale branches in all our repos older than 90 days.", .detach, .maintenance),
        Case("Check the status of the backup jobs every hour today and report failures.", .detach, .maintenance),
        Case("Take a snapshot of every production volume before the maintenance window.", .detach, .maintenance),
        Case("Rotate the database passwords for all services and update the secrets in Vault.", .detach, .maintenance),
        Case("Every Friday, generate the SLA report for each customer and email it to the account owners.", .detach, .maintenance),
        Case("pls check disk space on every k8s node and clean up anything over 90%", .detach, .maintenance),
        Case("Explain what a penetration test usually covers.", .inline),
        Case("Is it normal for a backup to take longer on Mondays?", .inline),
    ]

    static let releaseGate: [Case] = [
        Case(
            "Ship version 4.1: run the release checklist, tag it, deploy to canary, and roll back if p99 regresses.", .detach, .releaseGate),
        Case("Roll out the new config to 5% of hosts, wait 15 minutes, then go to 100%.", .detach, .releaseGate),
        Case("Set up a canary for the new search ranking and promote it if CTR holds for a day.", .detach, .releaseGate),
        Case("Do a final pre-launch check: DNS, TLS, rate limits, error pages and status page.", .detach, .releaseGate),
        Case("Release 3.2 to the beta channel, wait a day, and if crash rates look fine, go to production.", .detach, .releaseGate),
        Case("What's the best way to structure a canary rollout?", .inline),
        Case("Does a staged rollout need a feature flag?", .inline),
        Case("Remind me: is it kubectl rollout undo or kubectl rollback?", .inline),
    ]

    static let multiSource: [Case] = [
        Case("Gather the meeting notes, the Jira epics and the Slack thread about onboarding and write a summary.", .detach, .multiSource),
        Case("Draft the weekly status update from the sprint board, the incident channel and the roadmap doc.", .detach, .multiSource),
        Case("Put together a competitive analysis from the G2 reviews, the analyst reports and our win/loss notes.", .detach, .multiSource),
        Case("Look at Sentry, Datadog and the support inbox and tell me what's behind today's spike in complaints.", .detach, .multiSource),
        Case("Summarize the key points of the 12-factor app methodology.", .inline),
        Case("Summarize the difference between audit logs and access logs in two sentences.", .inline),
    ]

    static let wait: [Case] = [
        Case("Wait until the CI pipeline goes green, then merge the PR.", .detach, .wait),
        Case("Ping me when the backfill job is done.", .detach, .wait),
        Case("Monitor the queue depth overnight and alert me if it goes above 10k.", .detach, .wait),
        Case("Once the migration finishes, run the consistency check.", .detach, .wait),
        Case("Remind me to check the deploy in 2 hours.", .detach, .wait),
        Case("Keep watching the Kafka consumer lag and tell me when it's back under 1000.", .detach, .wait),
        Case("When the nightly import is done, send the summary to the data team channel.", .detach, .wait),
        Case("Give me a bash loop that polls an URL until it returns 200.", .inline),
        Case("What does `kubectl rollout status` wait for?", .inline),
    ]

    static let questionsAndSmallTasks: [Case] = [
        Case("What is a blue-green deployment?", .inline),
        Case("Explain the difference between a health check and a readiness probe.", .inline),
        Case("Is it safe to run VACUUM FULL during business hours? Just yes or no.", .inline),
        Case("List the usual steps of a release checklist, one line each.", .inline),
        Case("Here's my cron line: `0 3 * * *` — when does it run?", .inline),
        Case("Check this SQL for syntax errors: SELECT * FORM users;", .inline),
        Case("Rewrite this error message to be friendlier: 'Operation failed'.", .inline),
        Case("Fix the indentation in the snippet above.", .inline),
        Case("Write a cron entry that runs the backup script every night at 2am.", .inline),
        Case("Tell me the difference between rollback and roll-forward.", .inline),
        Case("Calculate the monthly cost of 3 m5.large instances at $0.096/hour.", .inline),
        Case("list all the HTTP status codes in the 4xx range", .inline),
        Case("Good morning!", .inline),
        Case("Thanks, I'll check the servers myself.", .inline),
        Case("Open the settings page for me.", .inline),
    ]

    static let scopeAndSteps: [Case] = [
        Case("Crawl the docs site and find every broken link.", .detach),
        Case("Figure out which of our 200 microservices still use the deprecated auth library.", .detach),
        Case("Find out why half the nodes in the eu-west cluster keep restarting.", .detach),
        Case("Bisect the regression in the parser between v2.1 and v2.4.", .detach),
        Case("Spin up a staging copy of prod, replay yesterday's traffic against it and compare latencies.", .detach),
        Case("Sort these five names alphabetically: Ann, Bo, Cy, Di, Ed.", .inline),
    ]

    /// The shapes the blind batch of 2026-12-06 missed under policy 2026.12-1 (counts in words,
    /// polite requests phrased as questions, inventory questions, events without a comma, casual
    /// notify, plain-word schedules and rollouts, compiled deliverables, reports with scope words,
    /// quick checks of given data), in new sentences written for this test, not the batch's rows;
    /// the last 20 were written after the policy was tuned on the first 45 and found two more gaps
    /// ('the moment X clears, …', 'prepare an investor update on …').
    static let blindShapes: [Case] = [
        Case("Re-label roughly fifteen hundred product photos with the new colour tags.", .detach),
        Case("Move the 40k archived chats (give or take) into cold storage.", .detach),
        Case("Sorry to bother — could you go through every open PO from this quarter and flag the ones without an approver?", .detach),
        Case("Do any of our staging environments still run the old TLS config?", .detach),
        Case("when the bank statement lands in the shared folder pls reconcile it against the ledger", .detach),
        Case("Give me a buzz when the new laptop order ships.", .detach),
        Case("Refresh the sales dashboard extracts on weekday evenings.", .detach),
        Case(
            "Build a renewal brief for the Acme account from the contract, the usage dashboard, last year's QBR deck and the support history.",
            .detach),
        Case(
            "Turn on the new invoice layout for the Dutch customers, and if complaints climb past twenty a day, switch it back off.",
            .detach),
        Case("Heads up: we re-tagged all 8,000 support tickets last week, no issues.", .inline),
        Case("The quarterly access review for every team finished yesterday, nothing flagged.", .inline),
        Case("Could you explain what a dossier for due diligence usually contains?", .inline),
        Case("check this sort code is valid: 20-00-00", .inline),
        Case("Would you say it is risky to rename all our S3 buckets at once?", .inline),
        Case("list all the countries that use the euro", .inline),
        Case("Could you tidy up the wording of this paragraph? 'We was going to ship it monday'", .inline),
        Case("Pull the open invoices for each of our 12 subsidiaries and total them by currency.", .detach),
        Case("Can you make a one-pager about our parental leave policy changes for the all-hands?", .detach),
        Case("Not urgent and not now — someday we should archive every old repo. Just a thought.", .inline),
        Case("Write a regex that matches every ISO date.", .inline),
        Case("Roll the new shift rota out to the Porto warehouse first and then the rest if nobody complains.", .detach),
        Case("Are all our marketing emails still going out through the old SMTP relay anywhere?", .detach),
        Case("How do I delete every row in a table in Postgres?", .inline),
        Case("Could you send the updated price list to all 300 resellers and track who opens it?", .detach),
        Case("what's 15% of 2,400?", .inline),
        Case("Can you tell me which of our plans includes SSO?", .inline),
        Case("Could you rewrite this intro so it sounds friendlier? 'Dear user, your account is suspended.'", .inline),
        Case("Is every one of our invoices supposed to have a PO number, or only the big ones?", .inline),
        Case("We migrated all 2,000 mailboxes to the new tenant on Saturday and everything synced fine.", .inline),
        Case("Ops rotated every database password on Monday, just for your information.", .inline),
        Case("Could you give me three name ideas for the new billing service?", .inline),
        Case("when is the next bank holiday in Ireland?", .inline),
        Case("If the build fails, what does the red X in the pipeline mean?", .inline),
        Case("Would you help me word a reminder to the team about timesheets?", .inline),
        Case("What happens to thousands of queued messages if the broker restarts?", .inline),
        Case("thanks! the export of all 5k contacts worked perfectly", .inline),
        Case("Can you convert 3,500 feet to metres?", .inline),
        Case("could you double-check every vendor's bank details in the payment run against the master file before friday?", .detach),
        Case("Once legal signs the MSA then set up the customer in billing and send the welcome pack.", .detach),
        Case("Deduplicate the several thousand leads we imported from the trade show.", .detach),
        Case("Check in with me each weekday morning about the open incidents and summarise what changed.", .detach),
        Case("Any customer accounts still on the legacy plan in any of our regions?", .detach),
        Case("Compile a competitor pricing pack covering the five vendors we lost deals to this year.", .detach),
        Case("Just so you know, I cleaned up all the old feature flags this morning.", .inline),
        Case("Update: payments for all 1,200 suppliers were released this morning.", .inline),
        Case("Could you quickly remind me what our VAT number is?", .inline),
        Case("We're thinking about moving every team to the new expense tool next year. Any gotchas we should know about?", .inline),
        Case("Can you reword this so it sounds less formal: 'Kindly ensure all timesheets are submitted by Friday.'", .inline),
        Case("Our whole finance team signed the new policy last week, all done.", .inline),
        Case("Is there a limit on how many contacts we can import at once into HubSpot?", .inline),
        Case("could you draft a short reply saying we'll look into it?", .inline),
        Case("Which of these two subject lines is better: 'Your invoice' or 'Invoice #123 is ready'?", .inline),
        Case("When does the Q3 close usually happen?", .inline),
        Case("Resend the failed welcome emails to the ~1,800 users who signed up during the outage.", .detach),
        Case("Would you mind going through all of last month's refund requests and checking each one was approved by a manager?", .detach),
        Case("Are there still any open purchase orders from our old supplier in any of our subsidiaries?", .detach),
        Case("the moment the customs paperwork clears, book the courier and email the client the tracking link", .detach),
        Case("Prepare an investor update on our Q4 numbers for the board meeting.", .detach),
        Case(
            "Launch the new loyalty scheme in two pilot cafes, and if sign-ups look healthy after a fortnight, extend it to every branch.",
            .detach),
        Case("Tag every photo in the shared drive from the 2025 offsite with the people in it.", .detach),
        Case("Check the warehouse stock levels against the ERP every weekday at 6am and flag mismatches.", .detach),
        Case("Write up a summary of the customer interviews from the research folder, the call notes and the survey comments.", .detach),
        Case("ping me the moment the new hire's laptop is delivered", .detach),
        Case("Last week we archived every inactive Slack channel, FYI.", .inline),
        Case("how many invoices did we send last month?", .inline),
    ]

    /// The shapes the second blind batch (blind-2026-12-06b) missed under policy 2026.12-2 (a message that says
    /// no action is wanted, a bare command line, a unit question, checking that an expression gives a stated
    /// value, casual notify with "the second", "just tell me once", an outside event with no comma, keeping one
    /// thing in line with another, a count in digits and words, a "how many" question followed by the work,
    /// a document per item, a past form after a possessive), in new sentences written for this test, not the batch's rows.
    static let blindShapesB: [Case] = [
        Case("Just sharing: the migration dry run took 40 minutes across all 12 shards, no errors.", .inline),
        Case("Nothing needed from you — we rotated every API key on Tuesday.", .inline),
        Case("git undo last commit but keep changes", .inline),
        Case("docker list containers", .inline),
        Case("How many tablets is 750 mg if each one is 250 mg?", .inline),
        Case("check whether round(2.675, 2) returns 2.68 in Python", .inline),
        Case("just tell me yes or no", .inline),
        Case("How many hours are in a fortnight?", .inline),
        Case("text me the second the payroll run finishes", .detach),
        Case("no hurry, just tell me once the nightly export has landed", .detach),
        Case("once legal signs off on the contract send it to the client and file the signed copy", .detach),
        Case("Keep the team wiki in line with the API docs whenever an endpoint gets renamed.", .detach),
        Case("Dedupe the supplier contacts table (about 9 thousand entries).", .detach),
        Case(
            "How many of our stores would the new opening hours affect? Go through every store's rota and count the shifts that change.",
            .detach),
        Case("Fact sheets per product line for the trade fair, please.", .detach),
        Case("From now on, on Monday mornings, export the previous week's signed contracts to the shared drive.", .detach),
        Case("We archived the closed matters yesterday, all done.", .inline),
    ]

    /// The shapes the third blind batch (blind-2026-12-06c) missed under policy 2026.12-3 (an event verb outside the
    /// old closed list with no comma, frequency adverbs and "at each <event>", approximate counts, "as long as" and
    /// "if nobody complains" gates, an ask embedded after "any chance you could", a question then an instruction opened
    /// by "hit", an inventory question inside a statement, a possibility read as a report, years of records, filing a
    /// batch "into folders", a literal to check after a colon, "test me"), in new sentences written for this test,
    /// not the batch's rows, with questions in the same words that must stay inline.
    static let blindShapesC: [Case] = [
        Case("once the quarter closes on the 31st reconcile the bank accounts against the ledger", .detach),
        Case("when the new hire's laptop ships send them the setup guide and book an IT slot", .detach),
        Case("As soon as the vendor replies forward the quote to procurement and update the tracker", .detach),
        Case("Nightly until the migration is over, compare the row counts between the old and new databases.", .detach),
        Case("At each stand-up, pull the open blocker tickets and post them in the team channel.", .detach),
        Case("refresh the stock levels hourly during the flash sale and flag anything under ten units", .detach),
        Case("Update the footer on the 25-ish landing pages we run for partners.", .detach),
        Case("Go through the client folders (there are like 60 of them) and remove anything older than seven years.", .detach),
        Case("Turn on the new checkout for a quarter of shoppers and keep widening it as long as refunds stay flat.", .detach),
        Case("Move the Lisbon office onto the new VPN first, then everybody else on Monday if nobody complains.", .detach),
        Case("Any chance you could re-tag all the 2024 blog posts with the new categories?", .detach),
        Case("did the DNS switch actually take? hit each of our 12 domains and list which still resolve to the old IP", .detach),
        Case("I'd like to know whether any of our vendor contracts, across all business units, still auto-renew without notice.", .detach),
        Case(
            "Somewhere on the shared drive there might still be spreadsheets with customer card numbers. I need every one of them found.",
            .detach),
        Case("Could you pull the last three years of utility bills for the 14 rental units and see which ones went up the most?", .detach),
        Case(
            "You know the 3,000 scanned receipts in the expenses inbox? Can you OCR them and file them into the right cost-centre folders",
            .detach),
        Case("Can you check this crontab line fires on Mondays at 6am: 0 6 * * 1", .inline),
        Case("is this cron right for nightly at 11pm: 0 23 * * *", .inline),
        Case("quiz me: what is the capital of Australia?", .inline),
        Case("test me on the French irregular verbs", .inline),
        Case("What does hourly billing mean for a freelancer?", .inline),
        Case("Is it normal that payroll closes on a Friday?", .inline),
        Case("How do I roll a feature out to everyone else after a pilot?", .inline),
        Case("We had like 40 of them last year, is that a lot?", .inline),
        Case("What's a good nightly backup window for a small shop?", .inline),
        Case("Why would a rollout pause as long as the error rate stays flat?", .inline),
        Case("When the invoice arrives, who usually approves it?", .inline),
        Case("FYI we hit every store with the new price labels yesterday, all done.", .inline),
    ]

    /// The shapes the fourth blind batch (blind-2026-12-06d) missed under policy 2026.12-3 (a list set off by dashes,
    /// "tell to me when", "I wonder whether any of our …", "bring/get X live … only then", "Do the … first" after a
    /// question, a stated fact with "isn't", a "Context:" heading before a report and a small ask), in new sentences
    /// written for this test, not the batch's rows.
    static let blindShapesD: [Case] = [
        Case(
            "Board dinner Thursday. Need a background pack on how our EU churn moved this year - the big accounts lost, the pricing changes, the support backlog - something I can skim in the taxi.",
            .detach),
        Case("Please say to me when the parcel with the spare parts is arrived at the depot.", .detach),
        Case("I wonder whether any of our 80-odd landing pages still load the old analytics tag.", .detach),
        Case(
            "Get the new booking widget live at the three flagship hotels on Monday, check the first weekend's bookings landed in the PMS, and only then switch it on for the other twenty.",
            .detach),
        Case(
            "Can we get the new price list onto the tills this week? Do the two test shops first, then the rest, and stop if any till rejects it.",
            .detach),
        Case("Could you confirm 2030 isn't a leap year?", .inline),
        Case(
            "Background: last month we re-tagged every product photo (about 12,000) and the shop search is much better now. I'm writing a blog post - can you suggest a title?",
            .inline),
        Case("I wonder whether it's worth moving our 80 landing pages to a new CMS?", .inline),
        Case("How do I check whether any of our buckets are still public?", .inline),
        Case("Do you think the lab ones should go first?", .inline),
    ]

    /// The shapes batch G (blind-2026-12-06g) missed under policy 2026.12-4 before it was tuned on (an instruction
    /// before "once … has finished", "please you <verb>", platforms joined by "+" or listed after "go through … on",
    /// an inventory question with "we've", a count "there must be several hundred", a handover that keeps the old
    /// one running, "if … not arriving … switch back", a brief with a list after its colon, a schedule set off by
    /// commas; and quick ones: a list given after a colon, a sum, "the same as", "on a Friday"), in new sentences.
    static let blindShapesG: [Case] = [
        Case("give me a shout once the nightly export to the data lake has finished and the file sizes look normal", .detach),
        Case("when the boiler service is finish please you check the pressure log and send me the numbers", .detach),
        Case("before the client call go through checkout on an old iPad, Android and the desktop site and note anything broken", .detach),
        Case("Try the new login on iOS + Android + the smart TV app and list what breaks.", .detach),
        Case("which of the tablets we've lent to schools still run the old exam app", .detach),
        Case("move all the signed NDAs from the 'inbox' folder into the client folders, there must be several hundred", .detach),
        Case(
            "Hand the Welsh depots over to the new courier on Monday; keep the old contract running until we've had a clean week.",
            .detach),
        Case("please you do the migration of the mailboxes on saturday and if mails not arriving you switch back", .detach),
        Case(
            "Background briefing for the minister: our flood defences vs the two neighbouring councils, spend, incidents, complaints.",
            .detach),
        Case("through the holiday weekend, hourly, queue lengths for the three call centres to the ops lead", .detach),
        Case("turn this into a numbered list: wash cups, sweep floor, lock door", .inline),
        Case("if a tap drips 5 ml every minute for 30 days how many litres is that", .inline),
        Case("can you confirm 09:30 is the same as half past nine?", .inline),
        Case("verify for me: is New Year's Day 2027 on a Friday?", .inline),
        Case("here is my plan: tidy the garage, then the shed. Sound reasonable?", .inline),
        Case("I get paid weekly, is that normal for contractors?", .inline),
    ]

    func check(_ c: Case) {
        let d = decide(c.text)
        #expect(d.decision == c.expected, "\(c.text) → \(d.decision): \(d.reason)")
        if let trigger = c.trigger {
            #expect(d.triggers.contains(trigger), "\(c.text) should fire \(trigger); fired \(d.triggers)")
        }
    }

    @Test(arguments: verification) func verificationFamily(_ c: Case) { check(c) }
    @Test(arguments: maintenance) func maintenanceFamily(_ c: Case) { check(c) }
    @Test(arguments: releaseGate) func releaseGateFamily(_ c: Case) { check(c) }
    @Test(arguments: multiSource) func multiSourceFamily(_ c: Case) { check(c) }
    @Test(arguments: wait) func waitFamily(_ c: Case) { check(c) }
    @Test(arguments: questionsAndSmallTasks) func inlineFamilies(_ c: Case) { check(c) }
    @Test(arguments: scopeAndSteps) func scopeAndStagedSteps(_ c: Case) { check(c) }
    @Test(arguments: blindShapes) func shapesOfTheBlindBatch(_ c: Case) { check(c) }
    @Test(arguments: blindShapesB) func shapesOfTheSecondBlindBatch(_ c: Case) { check(c) }
    @Test(arguments: blindShapesC) func shapesOfTheThirdBlindBatch(_ c: Case) { check(c) }
    @Test(arguments: blindShapesD) func shapesOfTheFourthBlindBatch(_ c: Case) { check(c) }
    @Test(arguments: blindShapesG) func shapesOfBatchG(_ c: Case) { check(c) }

    /// Questions *about* long-work topics, in phrasings the corpus does not use.
    @Test(arguments: [
        "Can you explain how quorum queues handle a node failure?",
        "How many hours should a consumer_timeout be for long jobs?",
        "Why would a canary deployment fail?",
        "What's the syntax for a systemd timer that runs daily?",
        "Do you think we should run canaries for config changes too?",
        "Can you tell me what a preflight check usually includes?",
        "Give me a one-line summary of what a health check endpoint should return.",
        "Why do people say you should never deploy on Fridays?",
        "How would you structure a weekly backup verification process?",
        "What happened in last night's deploy?",
    ])
    func unseenTrapsStayInline(_ text: String) {
        let d = decide(text)
        #expect(d.decision == .inline, "\(text) → \(d.reason)")
    }
}
