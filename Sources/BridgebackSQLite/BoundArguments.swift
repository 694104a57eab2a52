public import Foundation
public import GRDB
import GRDBSQLite

/// One argument of a statement on a hot path, bound through SQLite's C API.
///
/// Why not GRDB's `StatementArguments`: it holds each value as an optional existential, turns it
/// into a `DatabaseValue`, validates the list against the statement and binds through a closure
/// per argument. For the coordinator's and admission's per-job statements that was ~8 % of the
/// coordinator's instructions (#12, fifteenth session). The values bind exactly as GRDB binds
/// them, through the same C calls: `Int` and `Bool` as integers, `Double` as a real, `String` as
/// UTF-8 text up to its first NUL, `Data` as a blob, nil as NULL
/// (`BoundArgumentsTests` compares the stored values with GRDB's).
public enum SQLArgument: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)

    public static func integer(_ value: Int) -> SQLArgument { .integer(Int64(value)) }
    public static func bool(_ value: Bool) -> SQLArgument { .integer(value ? 1 : 0) }
    public static func orNull(_ value: String?) -> SQLArgument { value.map(SQLArgument.text) ?? .null }
    public static func orNull(_ value: Int?) -> SQLArgument { value.map { .integer(Int64($0)) } ?? .null }
    public static func orNull(_ value: Double?) -> SQLArgument { value.map(SQLArgument.real) ?? .null }
}

extension Statement {
    /// Binds `arguments` (one per `?`, in order) and runs the statement to its end: what
    /// `execute(arguments:)` does, GRDB's bookkeeping (`statementWillExecute`, error mapping)
    /// included, without its argument machinery.
    ///
    /// - Throws: `DatabaseError` `SQLITE_MISUSE` when the count does not match the statement's
    ///   parameters, else what `execute()` throws.
    public func execute(binding arguments: [SQLArgument]) throws {
        try bind(arguments)
        try execute()
    }

    /// Binds `arguments` for a fetch that follows with no arguments of its own
    /// (`Row.fetchOne(statement)`), which then resets the statement and keeps these bindings.
    ///
    /// Text and blobs are copied by SQLite (`SQLITE_TRANSIENT`), so nothing bound points into
    /// memory Swift may free. GRDB is told the statement is bound (`setUncheckedArguments` with
    /// no values, which also resets it and clears what an earlier use bound), so its next
    /// `execute()` or fetch runs with these bindings instead of validating an empty list. GRDB
    /// then holds no copy of the values, so an error from the step names the SQL, not the values.
    public func bind(_ arguments: [SQLArgument]) throws {
        let expected = Int(sqlite3_bind_parameter_count(sqliteStatement))
        guard arguments.count == expected else {
            throw DatabaseError(
                resultCode: .SQLITE_MISUSE, message: "wrong number of statement arguments: \(arguments.count), expected \(expected)",
                sql: sql)
        }
        // A reset after a failed step returns that step's error again, and GRDB's
        // `setUncheckedArguments` resets with `try!`: reset here first, ignoring what it reports
        // about the past (as GRDB's cursors do), so that reset finds nothing to report. GRDB takes a
        // statement whose step failed out of its cache; one the caller made and kept stays usable.
        _ = sqlite3_reset(sqliteStatement)
        setUncheckedArguments(StatementArguments())
        for (offset, argument) in arguments.enumerated() {
            let index = CInt(offset + 1)
            let code: CInt
            switch argument {
            case .null: code = sqlite3_bind_null(sqliteStatement, index)
            case .integer(let value): code = sqlite3_bind_int64(sqliteStatement, index, value)
            case .real(let value): code = sqlite3_bind_double(sqliteStatement, index, value)
            case .text(let value):
                // NUL-terminated, as GRDB binds a `String` (its reads stop at a NUL as well).
                code = value.withCString { sqlite3_bind_text(sqliteStatement, index, $0, -1, transient) }
            case .blob(let value):
                // As GRDB binds `Data` (an empty one may have no address, which SQLite binds as NULL).
                code = value.withUnsafeBytes { sqlite3_bind_blob(sqliteStatement, index, $0.baseAddress, CInt($0.count), transient) }
            }
            guard code == SQLITE_OK else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "cannot bind argument \(index)", sql: sql)
            }
        }
    }
}

/// SQLite's `SQLITE_TRANSIENT` (a C macro Swift does not import): copy the bytes before returning.
private let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
