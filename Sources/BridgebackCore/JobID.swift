public import Foundation

/// A globally unique, time-ordered job identifier: `job_` + a 26-character ULID.
///
/// 48 bits of Unix milliseconds then 80 random bits, in Crockford base32, so ids sort
/// lexicographically by creation time (across hosts, to the clock's accuracy) and can be
/// generated without coordination. The canonical text form is upper case; parsing accepts
/// lower case and normalises it.
public struct JobID: Sendable, Hashable, Comparable, WireStringIdentifier, LosslessStringConvertible {
    /// The `job_` prefix that makes ids self-describing in logs and URLs.
    public static let prefix = "job_"

    /// High 64 bits: 48-bit timestamp then the first 16 random bits.
    let high: UInt64
    /// Low 64 bits: the remaining 64 random bits.
    let low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Builds an id from its parts; `random` keeps only its low 80 bits.
    public init(milliseconds: UInt64, randomHigh: UInt16, randomLow: UInt64) {
        self.init(high: (milliseconds & 0xFFFF_FFFF_FFFF) << 16 | UInt64(randomHigh), low: randomLow)
    }

    /// `date` in the unit of an id's time: whole Unix milliseconds, rounded down (0 before 1970).
    public static func milliseconds(of date: Date) -> UInt64 {
        UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// A fresh id for `date`, with randomness from `generator` (inject a seeded one in tests).
    public static func make(at date: Date = Date(), using generator: inout some RandomNumberGenerator) -> JobID {
        JobID(
            milliseconds: milliseconds(of: date),
            randomHigh: UInt16.random(in: .min ... .max, using: &generator),
            randomLow: UInt64.random(in: .min ... .max, using: &generator)
        )
    }

    /// A fresh id for now, using the system's secure random generator.
    public static func make(at date: Date = Date()) -> JobID {
        var generator = SystemRandomNumberGenerator()
        return make(at: date, using: &generator)
    }

    /// Parses `job_<26 Crockford base32>`; throws `invalidJobID` with what is wrong.
    public init(parsing text: some StringProtocol) throws(BridgebackError) {
        guard text.hasPrefix(Self.prefix) else {
            throw BridgebackError(.invalidJobID, "job id '\(text)' must start with 'job_'")
        }
        let (high, low) = try Crockford.decode128(text.dropFirst(Self.prefix.count), what: "job id '\(text)'")
        self.init(high: high, low: low)
    }

    public init?(_ description: String) {
        guard let id = try? JobID(parsing: description) else { return nil }
        self = id
    }

    /// The 26-character ULID without the prefix (used inside delivery ids).
    public var ulid: String { Crockford.encode128(high: high, low: low) }

    /// The canonical text form, e.g. `job_01JD3Z6Q8R0000000000000000`.
    public var description: String { Crockford.encode128(high: high, low: low, prefix: Self.prefix) }

    /// Creation time to the millisecond, as encoded in the id.
    public var milliseconds: UInt64 { high >> 16 }

    /// Creation time, as encoded in the id.
    public var createdAt: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    public static func < (lhs: JobID, rhs: JobID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    public init(wireString: String) throws(BridgebackError) { try self.init(parsing: wireString) }
}

/// Generates strictly increasing ids even within one millisecond (ULID's monotonic mode).
///
/// Admission uses one per process so ids it issues sort in issue order; ids from different
/// processes still sort by millisecond.
public struct JobIDGenerator: Sendable {
    private var last: JobID?

    public init() {}

    /// The next id: a fresh random one, or the previous one plus one if the clock has not advanced.
    public mutating func next(at date: Date = Date(), using generator: inout some RandomNumberGenerator) -> JobID {
        var candidate = JobID.make(at: date, using: &generator)
        if let last, candidate <= last {
            let (low, overflow) = last.low.addingReportingOverflow(1)
            candidate = JobID(high: overflow ? last.high &+ 1 : last.high, low: low)
        }
        last = candidate
        return candidate
    }

    public mutating func next(at date: Date = Date()) -> JobID {
        var generator = SystemRandomNumberGenerator()
        return next(at: date, using: &generator)
    }
}

/// Crockford base32 for 128-bit values (26 characters, the first carrying 3 bits).
enum Crockford {
    static let alphabet: [UInt8] = alphabetDigits.withUTF8Buffer { Array($0) }

    /// `prefix`, the 26 characters of `high:low`, then `suffix`, written into one string's storage.
    /// An id's text is made several times per job in every process (ledger keys, routing keys, log
    /// lines); building it as an array, a string and a concatenation was three allocations.
    static func encode128(high: UInt64, low: UInt64, prefix: String = "", suffix: String = "") -> String {
        var prefix = prefix
        var suffix = suffix
        return prefix.withUTF8 { head in
            suffix.withUTF8 { tail in
                String(unsafeUninitializedCapacity: head.count + 26 + tail.count) { out in
                    let start = out.baseAddress!
                    if let bytes = head.baseAddress { start.initialize(from: bytes, count: head.count) }
                    alphabetDigits.withUTF8Buffer { digits in
                        // The last digit from the lowest five bits, then five bits further up each.
                        var value = UInt128(high) << 64 | UInt128(low)
                        for index in (0..<26).reversed() {
                            start[head.count + index] = digits[Int(truncatingIfNeeded: value & 31)]
                            value >>= 5
                        }
                    }
                    if let bytes = tail.baseAddress { (start + head.count + 26).initialize(from: bytes, count: tail.count) }
                    return head.count + 26 + tail.count
                }
            }
        }
    }

    /// The 32 digits; read by pointer in `encode128`'s loop, where an array's accesses cost more.
    private static let alphabetDigits: StaticString = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

    static func value(of byte: UInt8) -> UInt64? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return value(of: byte - 32)
        default:
            guard let index = alphabet.firstIndex(of: byte) else { return nil }
            return UInt64(index)
        }
    }

    static func decode128(_ text: some StringProtocol, what: String) throws(BridgebackError) -> (UInt64, UInt64) {
        let bytes = Array(text.utf8)
        guard bytes.count == 26 else {
            throw BridgebackError(.invalidJobID, "\(what) must have 26 base32 characters after the prefix, found \(bytes.count)")
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            guard let digit = value(of: byte) else {
                throw BridgebackError(
                    .invalidJobID,
                    "\(what) has '\(Character(Unicode.Scalar(byte)))' at position \(index + 1), which is not Crockford base32 (0-9, A-Z without I, L, O, U)"
                )
            }
            if index == 0 && digit > 7 {
                throw BridgebackError(.invalidJobID, "\(what) is larger than 128 bits (its first character must be 0-7)")
            }
            high = (high << 5) | (low >> 59)
            low = (low << 5) | digit
        }
        return (high, low)
    }
}
