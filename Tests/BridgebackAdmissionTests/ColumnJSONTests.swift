import Foundation
import Testing

@testable import BridgebackAdmissionStore

/// The request log's `triggers` and a job's `defaults_applied` are written by hand; the rows must
/// hold the bytes a default `JSONEncoder` wrote before (slashes escaped), so old and new rows read
/// and compare alike.
@Suite("The admission store's JSON list columns")
struct ColumnJSONTests {
    static let awkward = [
        "", "work_surface", "a/b", "//", "\\/", #"say "hi""#, "back\\slash", "tab\tnew\nline\r\u{8}\u{C}", "\u{0}\u{1}\u{1F}\u{7F}",
        "é, 日本語, 🚀", "\u{2028}\u{2029}", "}{][,:",
    ]

    @Test("the hand-written list is JSONEncoder's bytes, for hand-picked and random lists")
    func sameBytesAsJSONEncoder() throws {
        let encoder = JSONEncoder()
        var lists: [[String]] = [[], [""], Self.awkward, ["deadline", "work_surface", "final_surface"]]
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab/\\\"\t\n\u{0}\u{1F} é🚀.-_")
        for _ in 0..<300 {
            let count = Int.random(in: 0...5, using: &generator)
            lists.append(
                (0..<count).map { _ in
                    String((0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
                })
        }
        for list in lists {
            let expected = String(decoding: try encoder.encode(list), as: UTF8.self)
            #expect(AdmissionStore.columnJSON(list) == expected, "\(list)")
        }
        // The case the escaping mode exists for: it fails if slashes are written as they are.
        #expect(AdmissionStore.columnJSON(["a/b"]) == #"["a\/b"]"#)
    }
}
