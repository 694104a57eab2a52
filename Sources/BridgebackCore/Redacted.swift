/// A value that must never reach a log, an error message or CLI output: a password, a signing
/// key, a bearer token, a capability, a token hash, a process environment.
///
/// Interpolation (`"\(x)"`), `String(describing:)`, `String(reflecting:)`, `dump` and Mirror-based
/// printing (what swift-service-lifecycle does with a service it names) all show `<redacted>`
/// and nothing of the value, not even its length. Code that needs the value reads `.value`
/// explicitly, which is easy to find in review.
public struct Redacted<Value>: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret itself; read it only where it is used, never to print.
    public var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    /// What every printed form of a secret shows.
    public static var marker: String { "<redacted>" }

    public var description: String { Self.marker }
    public var debugDescription: String { Self.marker }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension Redacted: Sendable where Value: Sendable {}
extension Redacted: Equatable where Value: Equatable {}
extension Redacted: Hashable where Value: Hashable {}
