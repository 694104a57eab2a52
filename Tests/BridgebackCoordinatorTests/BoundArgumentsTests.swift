import BridgebackSQLite
import Foundation
import GRDB
import Testing

/// `Statement.execute(binding:)` and `bind(_:)` (BridgebackSQLite) bind the hot statements'
/// arguments through SQLite's C API instead of GRDB's `StatementArguments`: the stored values must
/// be exactly those GRDB stores for the same Swift values, and a cached statement must keep working
/// when it is used both ways.
@Suite("Bound arguments store what GRDB stores")
struct BoundArgumentsTests {
    static func database() throws -> DatabaseQueue {
        let db = try DatabaseQueue()
        try db.write { db in
            for table in ["by_grdb", "by_binding"] {
                try db.execute(sql: "CREATE TABLE \(table) (n INTEGER PRIMARY KEY, t, i, r, b, o, f)")
            }
        }
        return db
    }

    /// Every stored value as SQLite sees it: its type, its bytes (`hex`, which reads text past a
    /// NUL, where `quote` stops) and its SQL literal; reals also to 17 digits.
    static func stored(_ db: Database, _ table: String) throws -> [[String]] {
        let columns = ["t", "i", "r", "b", "o", "f"].map { "typeof(\($0)), hex(\($0)), quote(\($0))" }.joined(separator: ", ")
        return try Row.fetchAll(
            db, sql: "SELECT n, \(columns), CASE WHEN typeof(r) = 'real' THEN printf('%!.17g', r) END FROM \(table) ORDER BY n"
        ).map { row in (0..<row.count).map { String(describing: row[$0] as DatabaseValue) } }
    }

    @Test("random rows of text, integers, reals, blobs, booleans and NULLs: the same type and bytes in both tables")
    func sameStoredValues() throws {
        var generator = SystemRandomNumberGenerator()
        let texts = [
            "", "a", "é", "日本語", "😀", "nul\u{0}inside", "\u{0}", "quote'\"", String(repeating: "x", count: 5000), "line\nbreak",
        ]
        let integers = [0, 1, -1, Int.max, Int.min, 42]
        let reals = [0.0, -0.0, 1.5, -2.25e300, .infinity, -.infinity, .nan, Double.leastNonzeroMagnitude, 1_760_000_000.123]
        let blobs = [Data(), Data([0]), Data([0, 1, 2, 255]), Data(repeating: 7, count: 3000)]
        let queue = try Self.database()
        try queue.write { db in
            let grdb = try db.cachedStatement(sql: "INSERT INTO by_grdb (n, t, i, r, b, o, f) VALUES (?, ?, ?, ?, ?, ?, ?)")
            let bound = try db.cachedStatement(sql: "INSERT INTO by_binding (n, t, i, r, b, o, f) VALUES (?, ?, ?, ?, ?, ?, ?)")
            for n in 0..<400 {
                let text = texts.randomElement(using: &generator)!
                let integer = integers.randomElement(using: &generator)!
                let real = reals.randomElement(using: &generator)!
                let blob = blobs.randomElement(using: &generator)!
                let optional: String? = Bool.random(using: &generator) ? nil : text
                let flag = Bool.random(using: &generator)
                try grdb.execute(arguments: [n, text, integer, real, blob, optional, flag])
                try bound.execute(binding: [
                    .integer(n), .text(text), .integer(integer), .real(real), .blob(blob), .orNull(optional), .bool(flag),
                ])
            }
            let expected = try Self.stored(db, "by_grdb")
            #expect(expected.count == 400)
            #expect(try Self.stored(db, "by_binding") == expected)
        }
    }

    @Test("optionals bind as NULL or as their value")
    func optionals() throws {
        let queue = try Self.database()
        try queue.write { db in
            let grdb = try db.cachedStatement(sql: "INSERT INTO by_grdb (n, t, i, r) VALUES (?, ?, ?, ?)")
            let bound = try db.cachedStatement(sql: "INSERT INTO by_binding (n, t, i, r) VALUES (?, ?, ?, ?)")
            for (n, present) in [(1, true), (2, false)] {
                let text: String? = present ? "x" : nil
                let integer: Int? = present ? 7 : nil
                let real: Double? = present ? 0.5 : nil
                try grdb.execute(arguments: [n, text, integer, real])
                try bound.execute(binding: [.integer(n), .orNull(text), .orNull(integer), .orNull(real)])
            }
            #expect(try Self.stored(db, "by_binding") == Self.stored(db, "by_grdb"))
        }
    }

    @Test("a wrong number of arguments is refused before anything runs, and the statement still works")
    func wrongCount() throws {
        let queue = try Self.database()
        try queue.write { db in
            let insert = try db.cachedStatement(sql: "INSERT INTO by_binding (n, t) VALUES (?, ?)")
            for arguments: [SQLArgument] in [[], [.integer(1)], [.integer(1), .text("a"), .text("b")]] {
                let error = #expect(throws: DatabaseError.self) { try insert.execute(binding: arguments) }
                #expect(error?.resultCode == .SQLITE_MISUSE)
            }
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM by_binding") == 0)
            try insert.execute(binding: [.integer(1), .text("a")])
            #expect(try String.fetchOne(db, sql: "SELECT t FROM by_binding WHERE n = 1") == "a")
        }
    }

    /// SQLite's reset after a failed step reports that step's error again, and GRDB resets with
    /// `try!` when told a statement is bound: binding must not trap on a statement whose last step failed.
    @Test("a statement whose last step failed (a UNIQUE violation) binds and runs again, without a trap")
    func afterAFailedStep() throws {
        let queue = try Self.database()
        try queue.write { db in
            let insert = try db.makeStatement(sql: "INSERT INTO by_binding (n, t) VALUES (?, ?)")
            try insert.execute(binding: [.integer(1), .text("first")])
            let error = #expect(throws: DatabaseError.self) { try insert.execute(binding: [.integer(1), .text("again")]) }
            #expect(error?.resultCode == .SQLITE_CONSTRAINT)
            try insert.execute(binding: [.integer(2), .text("second")])
            #expect(try String.fetchAll(db, sql: "SELECT t FROM by_binding ORDER BY n") == ["first", "second"])
        }
    }

    @Test("one cached statement used with GRDB's arguments and with bound ones, in turns, reads and writes the right rows")
    func interleavedWithGRDB() throws {
        let queue = try Self.database()
        try queue.write { db in
            let insert = try db.cachedStatement(sql: "INSERT INTO by_binding (n, t) VALUES (?, ?)")
            let select = try db.cachedStatement(sql: "SELECT t FROM by_binding WHERE n = ?")
            for n in 0..<20 {
                if n.isMultiple(of: 2) {
                    try insert.execute(binding: [.integer(n), .text("bound \(n)")])
                } else {
                    try insert.execute(arguments: [n, "grdb \(n)"])
                }
            }
            for n in (0..<20).reversed() {
                let expected = n.isMultiple(of: 2) ? "bound \(n)" : "grdb \(n)"
                if n.isMultiple(of: 3) {
                    #expect(try String.fetchOne(select, arguments: [n]) == expected)
                } else {
                    try select.bind([.integer(n)])
                    #expect(try String.fetchOne(select) == expected)
                    let row = try Row.fetchOne(select)
                    #expect(row?[0] == expected)
                }
            }
            // A fetch with no arguments of its own after a bind with no match: nothing, not a stale row.
            try select.bind([.integer(99)])
            #expect(try Row.fetchOne(select) == nil)
        }
    }
}
