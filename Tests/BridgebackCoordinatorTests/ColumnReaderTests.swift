import BridgebackSQLite
import Foundation
import GRDB
import Testing

/// `Statement.readFirstRow(_:)` and `SQLColumns` (BridgebackSQLite) read the coordinator's job
/// rows in place instead of through GRDB's `Row`: every value must be the one GRDB's conversions
/// give for the same stored value, and where GRDB cannot convert, the reader must refuse.
@Suite("Columns read in place are what GRDB reads")
struct ColumnReaderTests {
    /// What a read gave: a value (nil for NULL), or a refusal.
    enum Read<Value: Equatable>: Equatable {
        case value(Value?)
        case refused
    }

    static func read<Value: Equatable>(_ body: () throws(DatabaseError) -> Value?) -> Read<Value> {
        do { return .value(try body()) } catch { return .refused }
    }

    /// GRDB's conversion of a stored value, without the trap its subscript would hit.
    static func grdb<Value: DatabaseValueConvertible & Equatable>(_ value: DatabaseValue, as: Value.Type) -> Read<Value> {
        if value.isNull { return .value(nil) }
        return Value.fromDatabaseValue(value).map { .value($0) } ?? .refused
    }

    @Test("random rows of every storage class: text, integer and real reads agree with GRDB's, and so does the text comparison")
    func sameValuesAsGRDB() throws {
        var generator = SystemRandomNumberGenerator()
        let values: [DatabaseValue] = [
            DatabaseValue.null, "".databaseValue, "awaiting_completion".databaseValue, "é 日本語 😀".databaseValue,
            "nul\u{0}inside".databaseValue, String(repeating: "x", count: 5000).databaseValue, "42".databaseValue,
            0.databaseValue, 1.databaseValue, Int64.min.databaseValue, Int64.max.databaseValue, 1.5.databaseValue,
            2.0.databaseValue, (-0.0).databaseValue, 9.3e18.databaseValue, 1_760_000_000_123.0.databaseValue,
            Data().databaseValue, Data("utf8 blob".utf8).databaseValue, Data([0xFF, 0xFE]).databaseValue,
        ]
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (n INTEGER PRIMARY KEY, a, b, c)")
            let insert = try db.cachedStatement(sql: "INSERT INTO t (n, a, b, c) VALUES (?, ?, ?, ?)")
            for n in 0..<300 {
                try insert.execute(arguments: [
                    n, values.randomElement(using: &generator)!, values.randomElement(using: &generator)!,
                    values.randomElement(using: &generator)!,
                ])
            }
            let select = try db.cachedStatement(sql: "SELECT a, b, c FROM t WHERE n = ?")
            for n in 0..<300 {
                let expected = try #require(try Row.fetchOne(db, sql: "SELECT a, b, c FROM t WHERE n = ?", arguments: [n]))
                try select.bind([.integer(n)])
                let matched = try select.readFirstRow { columns in
                    for index in 0..<3 {
                        let stored: DatabaseValue = expected[index]
                        #expect(Self.read { () throws(DatabaseError) in try columns.text(index) } == Self.grdb(stored, as: String.self))
                        #expect(Self.read { () throws(DatabaseError) in try columns.integer(index) } == Self.grdb(stored, as: Int64.self))
                        #expect(Self.read { () throws(DatabaseError) in try columns.real(index) } == Self.grdb(stored, as: Double.self))
                        #expect(columns.isNull(index) == stored.isNull)
                        for candidate in ["", "awaiting_completion", "nul\u{0}inside", "nul", "42", String(repeating: "x", count: 5000)] {
                            // Equal exactly when the column is TEXT and reads back as this string.
                            let isText: Bool
                            if case .string = stored.storage { isText = true } else { isText = false }
                            let same = isText && (try? columns.text(index)) == candidate
                            #expect(columns.text(index, equals: candidate) == same, "\(stored) against \(candidate.prefix(20))")
                        }
                    }
                    return true
                }
                #expect(matched == true)
            }
        }
    }

    @Test("no row reads as nil, and the statement is ready for its next use; a bound statement read twice gives the same row")
    func noRowAndReuse() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (n INTEGER PRIMARY KEY, s TEXT)")
            try db.execute(sql: "INSERT INTO t (n, s) VALUES (1, 'one'), (2, 'two')")
            let select = try db.cachedStatement(sql: "SELECT s FROM t WHERE n = ?")
            try select.bind([.integer(3)])
            #expect(try select.readFirstRow { try $0.text(0) } == nil)
            try select.bind([.integer(2)])
            #expect(try select.readFirstRow { try $0.text(0) } == "two")
            #expect(try select.readFirstRow { try $0.text(0) } == "two")
            // GRDB's own fetch on the same cached statement still works after the reader used it.
            #expect(try String.fetchOne(select, arguments: [1]) == "one")
            try select.bind([.integer(1)])
            #expect(try select.readFirstRow { try $0.text(0) } == "one")
            // A statement that fails at its step throws GRDB's error (here, the type check of a STRICT table).
            try db.execute(sql: "CREATE TABLE f (x INTEGER) STRICT")
            let failing = try db.makeStatement(sql: "INSERT INTO f (x) VALUES ('not a number') RETURNING x")
            #expect(throws: DatabaseError.self) { try failing.readFirstRow { _ in true } }
        }
    }
}
