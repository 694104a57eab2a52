import BridgebackPolicy
import Foundation
import Testing

@Suite("Corpus and classify protocol")
struct CorpusTests {
    @Test("the labelled corpus scores at least 0.95 with every trap inline")
    func corpus() throws {
        let rows = try #require(loadCorpus())
        #expect(rows.count >= 60)
        let eval = PolicyEvaluation(engine: defaultEngine, requests: rows)
        #expect(eval.accuracy >= 0.95, "\n\(eval.report())")
        #expect(!eval.traps.isEmpty)
        #expect(eval.trapsInline == eval.traps.count, "\n\(eval.report())")
        #expect((eval.detachRecall ?? 0) >= 0.9)
        #expect((eval.inlinePrecision ?? 0) >= 0.9)
        for row in eval.rows where row.result.decision == .detach {
            #expect(!row.result.triggers.isEmpty, "\(row.labelled.id) detached without a trigger class: \(row.result.reason)")
        }
    }

    @Test("the keyword baseline does clearly worse on the corpus")
    func baselineIsWorse() throws {
        let rows = try #require(loadCorpus())
        let b = KeywordBaseline()
        let accuracy = Double(rows.filter { b.decide($0.request.text) == $0.expected }.count) / Double(rows.count)
        let eval = PolicyEvaluation(engine: defaultEngine, requests: rows)
        #expect(accuracy < eval.accuracy)
    }

    @Test("classify input lines: ids, hints, errors with line numbers")
    func parseLines() {
        guard
            case .success(let a)? = ClassifyLines.parse(
                #"{"id":"r1","text":"hi","hints":{"expected_wait_s":1800,"force":"detach"}}"#, number: 1)
        else { Issue.record("valid line rejected"); return }
        #expect(a.id == "r1")
        #expect(a.request.hints?.expectedWaitSeconds == 1800)
        #expect(a.request.hints?.force == .detach)

        guard case .success(let b)? = ClassifyLines.parse(#"{"id":7,"text":"x","expected":"inline","shape":"trap"}"#, number: 2)
        else { Issue.record("numeric id rejected"); return }
        #expect(b.id == "7" && b.expected == .inline && b.shape == "trap")

        #expect(ClassifyLines.parse("   ", number: 3) == nil)

        let bad: [(String, String)] = [
            ("not json", "not a JSON object"),
            (#"{"text":"x"}"#, "missing \"id\""),
            (#"{"id":"a"}"#, "\"text\""),
            (#"{"id":"a","text":"x","hints":{"force":"later"}}"#, "force"),
            (#"{"id":"a","text":"x","hints":{"wait":3}}"#, "unknown hint"),
            (#"{"id":"a","text":"x","hints":{"sources":"many"}}"#, "sources"),
            (#"{"id":"a","text":"x","expected":"maybe"}"#, "expected"),
        ]
        for (line, mention) in bad {
            guard case .failure(let e)? = ClassifyLines.parse(line, number: 9) else {
                Issue.record("accepted malformed line \(line)")
                continue
            }
            #expect(e.line == 9)
            #expect(e.reason.contains(mention), "\(line): \(e.reason)")
            #expect(e.description.hasPrefix("line 9:"))
        }
    }

    @Test("classify output lines carry the stable keys, in order")
    func renderLine() throws {
        let d = decide("Wait for the nightly build to finish and tell me whether it passed.")
        let line = ClassifyLines.render(id: "q\"1", d)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["id"] as? String == "q\"1")
        #expect(object["decision"] as? String == "detach")
        #expect((object["triggers"] as? [String])?.contains("wait") == true)
        #expect((object["cues"] as? [[String: Any]])?.isEmpty == false)
        #expect(object["confidence"] is Double || object["confidence"] is Int)
        #expect((object["reason"] as? String)?.isEmpty == false)
        #expect(object["policy_version"] as? String == defaultEngine.policy.version)
        #expect(object["forced"] as? Bool == false)
        let order = ["\"id\"", "\"decision\"", "\"triggers\"", "\"cues\"", "\"confidence\"", "\"reason\"", "\"policy_version\""]
        let positions = order.compactMap { line.range(of: $0)?.lowerBound }
        #expect(positions == positions.sorted() && positions.count == order.count)
        #expect(!line.contains("\n"))
    }

    @Test("eval report lists the figures and the misclassified rows")
    func report() {
        let rows = [
            LabelledRequest(id: "a", request: AdmissionRequest(text: "Audit all hosts."), expected: .detach, shape: "maintenance"),
            LabelledRequest(id: "b", request: AdmissionRequest(text: "What is DNS?"), expected: .detach, shape: "wait"),
            LabelledRequest(id: "c", request: AdmissionRequest(text: "What is a canary?"), expected: .inline, shape: "trap"),
        ]
        let eval = PolicyEvaluation(engine: defaultEngine, requests: rows)
        #expect(abs(eval.accuracy - 2.0 / 3.0) < 1e-9)
        #expect(eval.detachRecall == 0.5)
        #expect(eval.inlinePrecision == 0.5)
        #expect(eval.misclassified.map(\.labelled.id) == ["b"])
        let text = eval.report()
        for needle in ["accuracy", "detach recall", "inline precision", "traps inline      1/1", "b [wait] expected detach, got inline"] {
            #expect(text.contains(needle), "report lacks \(needle):\n\(text)")
        }
        let (parsed, errors) = ClassifyLines.labelled(
            from: "{\"id\":\"x\",\"text\":\"t\"}\n\n{\"id\":\"y\",\"text\":\"t\",\"expected\":\"inline\"}\n")
        #expect(parsed.count == 1 && errors.count == 1 && errors[0].line == 1)
    }

    @Test("benchmark helper measures both classifiers")
    func bench() {
        let corpus = [AdmissionRequest(text: "Audit all hosts."), AdmissionRequest(text: "What is DNS?")]
        let m = PolicyBenchmark.measure(name: "engine", corpus: corpus, count: 200) { defaultEngine.decide($0).decision }
        #expect(m.requests == 200 && m.detached == 100)
        #expect(m.requestsPerSecond > 0 && m.meanMicroseconds > 0)
        #expect(PolicyBenchmark.slowestMicroseconds(engine: defaultEngine, corpus: corpus) > 0)
    }
}
