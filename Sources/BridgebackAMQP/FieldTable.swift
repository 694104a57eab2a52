/// A value in an AMQP field table (message headers, queue and exchange arguments).
public enum FieldValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case double(Double)
    case timestamp(UInt64)
    case bytes([UInt8])
    case table(FieldTable)
    case array([FieldValue])

    public var description: String {
        switch self {
        case .string(let s): "\"\(s)\""
        case .int(let i): "\(i)"
        case .bool(let b): "\(b)"
        case .double(let d): "\(d)"
        case .timestamp(let t): "timestamp(\(t))"
        case .bytes(let b): "bytes(\(b.count))"
        case .table(let t): "\(t)"
        case .array(let a): "\(a)"
        }
    }

    /// The value as an integer when it is any integer kind.
    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}

/// Field tables are unordered maps in AMQP; keys are encoded sorted so equal tables encode equally.
public typealias FieldTable = [String: FieldValue]

extension FieldValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
