import BridgebackCore

/// The limits every request field is checked against before anything else looks at it
/// (docs/admission-service.md has the same table). A value outside them is a 400 that names
/// the field; nothing is written. Strings that later become routing keys, ids, headers or
/// paths get a character set as well as a length, so no value can break the broker
/// connection (routing keys are at most 255 bytes) or a process argument (no NUL).
enum InputLimits {
    /// Characters of a surface id or parent id: letters, digits and `: . _ / @ -`.
    static func isIdentifierScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ":", ".", "_", "/", "@", "-": true
        default: false
        }
    }

    /// Printable ASCII without space (0x21-0x7E).
    static func isVisibleASCII(_ scalar: Unicode.Scalar) -> Bool { (0x21...0x7E).contains(scalar.value) }

    /// Recipe and parameter names: letters, digits and `_ . -`.
    static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "-": true
        default: false
        }
    }

    /// Anything but control characters (C0, DEL, C1): one line of human text.
    static func isLineScalar(_ scalar: Unicode.Scalar) -> Bool {
        !(scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value))
    }

    /// Request text may hold line breaks and tabs but no other control character.
    static func isTextScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\n" || scalar == "\r" || scalar == "\t" || !(scalar.value < 0x20 || scalar.value == 0x7F)
    }

    /// `text`: 1-60,000 bytes (UTF-8), not only whitespace.
    static let textBytes = 60_000
    /// `summary`: at most 1,000 bytes, one line.
    static let summaryBytes = 1_000
    /// `idempotency_key`: 1-200 bytes of visible ASCII.
    static let idempotencyKeyBytes = 200
    /// `contract.parent_id`: 1-200 bytes (the inbox routing key; the broker's limit is 255).
    static let parentIDBytes = 200
    /// `recipe.name`: 1-64 bytes.
    static let recipeNameBytes = 64
    /// `recipe.params`: at most this many keys, each a name of 1-64 bytes.
    static let paramCount = 64
    static let paramNameBytes = 64
    /// `hints.sources`, `hints.steps`, `hints.tools`: whole-ish numbers 0-1,000,000 (rounded).
    static let countHintMaximum = 1_000_000.0
    /// `hints.expected_wait_s`: 0 to one year.
    static let expectedWaitMaximum = 365.0 * 24 * 3600
    /// Nesting of the whole body (objects and arrays).
    static let maxDepth = 16

    /// The alphabets above, with the words a refusal uses for them.
    static let identifier = Alphabet("letters, digits and : . _ / @ -", allows: isIdentifierScalar)
    static let visibleASCII = Alphabet("visible ASCII characters (no spaces)", allows: isVisibleASCII)
    static let name = Alphabet("letters, digits and _ . -", allows: isNameScalar)
    static let line = Alphabet("one line of text without control characters", allows: isLineScalar)
    static let text = Alphabet("any text without control characters other than line breaks and tabs", allows: isTextScalar)

}
