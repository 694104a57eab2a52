public import GRDB
import GRDBSQLite

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The row a statement stands on, read column by column through SQLite's C API.
///
/// Why not GRDB's `Row`: `Row.fetchOne` builds a dictionary of lowercased column names for the
/// statement's row and then copies every column into a new row, to be read back through
/// `DatabaseValue`s. For the coordinator's per-job reads that was ~4 % of its instructions
/// (#12, fifteenth session). The values read here are the ones GRDB's conversions give for the
/// same storage classes (`ColumnReaderTests` compares them); where GRDB's subscript would stop
/// the process on a value it cannot convert, these throw.
///
/// Valid only inside the closure of `Statement.readFirstRow(_:)`: it reads the statement in place,
/// and the statement moves on once the closure returns (like a row of a GRDB cursor).
public struct SQLColumns {
    let sqliteStatement: SQLiteStatement
    /// For an error's SQL only: GRDB's `Statement.sql` builds its text anew (trimmed) on each call.
    let statement: Statement

    public func isNull(_ index: Int) -> Bool {
        sqlite3_column_type(sqliteStatement, CInt(index)) == SQLITE_NULL
    }

    /// TEXT as it is (up to its first NUL, as GRDB reads it), a BLOB if it is UTF-8, nil for NULL.
    public func text(_ index: Int) throws(DatabaseError) -> String? {
        let column = CInt(index)
        switch sqlite3_column_type(sqliteStatement, column) {
        case SQLITE_NULL: return nil
        case SQLITE_TEXT: return String(cString: sqlite3_column_text(sqliteStatement, column))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(sqliteStatement, column))
            guard count > 0, let bytes = sqlite3_column_blob(sqliteStatement, column) else { return "" }
            let buffer = UnsafeRawBufferPointer(start: bytes, count: count)
            if let text = String(validating: buffer.bindMemory(to: UInt8.self), as: UTF8.self) { return text }
            throw mismatch(index, "a BLOB that is not UTF-8", wanted: "text")
        default: throw mismatch(index, "a number", wanted: "text")
        }
    }

    /// Whether the column is TEXT with exactly the UTF-8 bytes of `text`, without making a string of it.
    public func text(_ index: Int, equals text: String) -> Bool {
        let column = CInt(index)
        guard sqlite3_column_type(sqliteStatement, column) == SQLITE_TEXT, let stored = sqlite3_column_text(sqliteStatement, column)
        else { return false }
        let count = Int(sqlite3_column_bytes(sqliteStatement, column))
        var text = text
        return text.withUTF8 { utf8 in
            // Up to the first NUL, as `text(_:)` reads it: a stored NUL makes the two differ.
            utf8.count == count && (count == 0 || memcmp(utf8.baseAddress!, stored, count) == 0)
                && !utf8.contains(0)
        }
    }

    /// An INTEGER, or a REAL in `Int64`'s range rounded toward zero (as GRDB converts them); nil for NULL.
    public func integer(_ index: Int) throws(DatabaseError) -> Int64? {
        let column = CInt(index)
        switch sqlite3_column_type(sqliteStatement, column) {
        case SQLITE_NULL: return nil
        case SQLITE_INTEGER: return sqlite3_column_int64(sqliteStatement, column)
        case SQLITE_FLOAT:
            let value = sqlite3_column_double(sqliteStatement, column)
            guard value >= Double(Int64.min), value < Double(Int64.max) else {
                throw mismatch(index, "a REAL outside the integers' range", wanted: "an integer")
            }
            return Int64(value)
        default: throw mismatch(index, "text or a BLOB", wanted: "an integer")
        }
    }

    /// A REAL, or an INTEGER as a `Double` (as GRDB converts them); nil for NULL.
    public func real(_ index: Int) throws(DatabaseError) -> Double? {
        let column = CInt(index)
        switch sqlite3_column_type(sqliteStatement, column) {
        case SQLITE_NULL: return nil
        case SQLITE_FLOAT: return sqlite3_column_double(sqliteStatement, column)
        case SQLITE_INTEGER: return Double(sqlite3_column_int64(sqliteStatement, column))
        default: throw mismatch(index, "text or a BLOB", wanted: "a number")
        }
    }

    private func mismatch(_ index: Int, _ found: String, wanted: String) -> DatabaseError {
        DatabaseError(resultCode: .SQLITE_MISMATCH, message: "column \(index) holds \(found), not \(wanted)", sql: statement.sql)
    }
}

extension Statement {
    /// Steps the statement to its first row and hands `read` its columns; nil when there is no row.
    ///
    /// The step is GRDB's own (a cursor's): its checks before a statement runs, its error mapping
    /// and its reset afterwards, with the arguments bound by `bind(_:)`. Only the reading of the
    /// row steps around it.
    public func readFirstRow<T>(_ read: (SQLColumns) throws -> T) throws -> T? {
        // A cursor of the first column as a nullable integer (GRDB's cursor without a value is
        // internal): reading it converts nothing in place (`sqlite3_column_int64` only reads a
        // TEXT or BLOB value), and it never fails.
        let cursor = try Int64?.fetchCursor(self)
        // The cursor resets the statement when it goes: it must outlive the read.
        return try withExtendedLifetime(cursor) {
            guard try cursor.next() != nil else { return nil }
            let columns = SQLColumns(sqliteStatement: sqliteStatement, statement: self)
            return try read(columns)
        }
    }
}
