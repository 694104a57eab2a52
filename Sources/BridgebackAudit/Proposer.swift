public import BridgebackPolicy
public import Foundation

/// Turns `trigger_wording_gap` findings into a candidate policy, and shows what it would
/// change. It never installs anything: the output is a file for an operator to review.
///
/// A cue is accepted only if it catches its missed request and changes no decision on the
/// labelled corpus; otherwise it is listed as rejected with the reason.
public struct Proposer: Sendable {
    public let current: PolicyEngine
    public let corpus: [LabelledRequest]

    public init(current: PolicyEngine, corpus: [LabelledRequest]) {
        self.current = current
        self.corpus = corpus
    }

    /// A cue the proposal adds, and the findings it fixes.
    public struct Accepted: Sendable, Hashable, Codable {
        public var cue: CandidateCue
        public var requestIDs: [String]

        /// Explicit, so the snake-case encoder writes `request_ids` (not `request_i_ds`).
        enum CodingKeys: String, CodingKey {
            case cue
            case requestIDs = "request_ids"
        }
    }

    /// A cue the proposal refused, and why.
    public struct Rejected: Sendable, Hashable, Codable {
        public var cue: CandidateCue
        public var requestID: String
        public var reason: String
    }

    /// One request whose decision the candidate changes.
    public struct Change: Sendable, Hashable, Codable {
        public var id: String
        public var excerpt: String
        public var from: String
        public var to: String
    }

    public struct Proposal: Sendable, Hashable {
        public var policy: PolicyDocument
        public var accepted: [Accepted]
        public var rejected: [Rejected]
        /// Findings no cue could be proposed for (no candidate, or every candidate rejected).
        public var unresolved: [String]
        public var corpusRows: Int
        public var corpusAccuracyBefore: Double
        public var corpusAccuracyAfter: Double
        /// Corpus rows whose decision the candidate changes (always empty for an accepted proposal).
        public var corpusChanges: [Change]
        /// Requests in the audited window that the candidate would detach / keep inline, unlike the current policy.
        public var windowNewlyDetach: [Change]
        public var windowNewlyInline: [Change]
    }

    /// Builds the candidate from `findings` (only `trigger_wording_gap` ones are used) and
    /// evaluates it on the corpus and on `window` (the audited requests).
    public func propose(findings: [Finding], window: [AuditRequest], version: String) -> Proposal {
        let before = PolicyEvaluation(engine: current, requests: corpus)
        let baseline = before.rows.map(\.result.decision)
        var accepted: [Accepted] = []
        var rejected: [Rejected] = []
        var unresolved: [String] = []
        var document = current.policy
        document.version = version

        for finding in findings where finding.findingClass == .triggerWordingGap {
            let request = window.first { $0.id == finding.requestID }
            let admission = AdmissionRequest(text: request?.text ?? finding.excerpt, hints: Auditor.hints(request?.hintsJSON))
            // Already fixed by a cue accepted for an earlier finding?
            if let engine = try? PolicyEngine(policy: document), engine.decide(admission).decision == .detach,
                let index = accepted.firstIndex(where: {
                    (try? PolicyEngine(policy: CueSuggester.adding([$0.cue], to: current.policy, version: version)))?.decide(admission)
                        .decision == .detach
                })
            {
                accepted[index].requestIDs.append(finding.requestID)
                continue
            }
            var done = false
            for cue in finding.candidateCues {
                guard cue.catchesRequest else {
                    rejected.append(
                        Rejected(cue: cue, requestID: finding.requestID, reason: "does not detach the missed request on its own"))
                    continue
                }
                let trial = CueSuggester.adding([cue], to: document, version: version)
                let engine: PolicyEngine
                do { engine = try PolicyEngine(policy: trial) } catch {
                    rejected.append(Rejected(cue: cue, requestID: finding.requestID, reason: "the policy refuses it: \(error)"))
                    continue
                }
                let changed = zip(corpus, baseline).filter { engine.decide($0.0.request).decision != $0.1 }
                if !changed.isEmpty {
                    let rows = changed.prefix(5).map { "\($0.0.id) (\(Finding.excerpt($0.0.request.text, limit: 60)))" }
                    rejected.append(
                        Rejected(
                            cue: cue, requestID: finding.requestID,
                            reason: "changes \(changed.count) corpus decision(s): \(rows.joined(separator: "; "))"))
                    continue
                }
                let verb = CueSuggester.verbAndObject(admission.text)?.verb
                let short = Self.shortUnrelated(verb: verb)
                let before = (try? PolicyEngine(policy: document)) ?? current
                let flipped = short.filter { engine.decide($0).decision != before.decide($0).decision }
                if !flipped.isEmpty {
                    let examples = flipped.prefix(3).map { "\"\($0.text)\"" }.joined(separator: ", ")
                    rejected.append(
                        Rejected(
                            cue: cue, requestID: finding.requestID,
                            reason:
                                "changes the decision of \(flipped.count) of \(short.count) generated short unrelated request(s), e.g. \(examples)"
                        ))
                    continue
                }
                document = trial
                accepted.append(Accepted(cue: cue, requestIDs: [finding.requestID]))
                done = true
                break
            }
            if !done { unresolved.append(finding.requestID) }
        }

        let candidate = (try? PolicyEngine(policy: document)) ?? current
        let after = PolicyEvaluation(engine: candidate, requests: corpus)
        let corpusChanges = zip(before.rows, after.rows).compactMap { old, new -> Change? in
            guard old.result.decision != new.result.decision else { return nil }
            return Change(
                id: old.labelled.id, excerpt: Finding.excerpt(old.labelled.request.text, limit: 80), from: old.result.decision.rawValue,
                to: new.result.decision.rawValue)
        }
        var detach: [Change] = []
        var inline: [Change] = []
        for request in window where !request.replay {
            let admission = AdmissionRequest(text: request.text, hints: Auditor.hints(request.hintsJSON))
            let old = current.decide(admission).decision
            let new = candidate.decide(admission).decision
            guard old != new else { continue }
            let change = Change(id: request.id, excerpt: Finding.excerpt(request.text, limit: 80), from: old.rawValue, to: new.rawValue)
            if new == .detach { detach.append(change) } else { inline.append(change) }
        }
        return Proposal(
            policy: document, accepted: accepted, rejected: rejected, unresolved: unresolved, corpusRows: corpus.count,
            corpusAccuracyBefore: before.accuracy, corpusAccuracyAfter: after.accuracy, corpusChanges: corpusChanges,
            windowNewlyDetach: detach, windowNewlyInline: inline)
    }

    /// Short requests that have nothing to do with long work, some using the missed request's
    /// verb in everyday senses ("get the door", "open a tab"): a proposed cue must leave every
    /// one decided as before, so a bare verb cannot slip through just because the corpus
    /// happens not to use it.
    public static func shortUnrelated(verb: String?) -> [AdmissionRequest] {
        var texts = [
            "thanks, that helps", "what time is it in Tokyo?", "translate 'good morning' into Spanish", "give me a synonym for quick",
            "is 17 a prime number?", "rename this variable to total", "write a haiku about autumn", "convert 5 miles to km",
            "what's the capital of Australia?", "fix the typo in this sentence", "sort these names alphabetically",
            "how do I undo the last commit?", "hi!", "ok, sounds good",
        ]
        if let verb {
            for object in [
                "the door", "it", "me a coffee", "this", "that word", "lunch", "a name for the cat", "the link for me", "my umbrella",
                "a seat",
            ] {
                texts.append("\(verb) \(object)")
            }
            texts += [
                "can you \(verb) this?", "please \(verb) it now", "\(verb) the first one", "just \(verb) it", "I'll \(verb) it later",
            ]
        }
        return texts.map { AdmissionRequest(text: $0) }
    }

    /// The candidate's version: the current one with an audit suffix and the date, so every
    /// decision made under it says where it came from.
    public static func version(after current: String, on date: Date) -> String {
        "\(current)+audit.\(AuditReport.day(date).replacingOccurrences(of: "-", with: ""))"
    }

    /// The candidate policy as pretty, key-sorted JSON, checked to load as a policy.
    public static func encode(_ policy: PolicyDocument) throws(AuditError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(policy) } catch {
            throw AuditError(.invalidPolicy, "cannot encode the candidate policy: \(error)")
        }
        do { _ = try PolicyDocument.parse(data) } catch {
            throw AuditError(.invalidPolicy, "the candidate policy does not load: \(error)")
        }
        return data
    }
}
