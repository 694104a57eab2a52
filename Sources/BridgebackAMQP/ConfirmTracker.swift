/// Publisher-confirm bookkeeping for one channel, without I/O.
///
/// Delivery tags count up from 1 per channel in confirm mode. The broker answers each with
/// `basic.ack` or `basic.nack`, possibly `multiple` (everything up to and including the tag). A
/// `mandatory` message that routes nowhere gets `basic.return` *before* its ack; the return does
/// not carry the tag, so the publisher stamps the tag into a header and the tracker remembers it.
struct ConfirmTracker<Token> {
    enum Outcome: Sendable, Equatable {
        case confirmed
        case nacked
        case returned(replyCode: UInt16, replyText: String)
    }

    private struct Entry {
        var tag: UInt64
        var token: Token
        var returned: (UInt16, String)?
        var done: Bool
    }

    private var entries: [Entry] = []
    private var head = 0
    private(set) var nextTag: UInt64 = 1
    private(set) var outstandingCount = 0

    init() {}

    /// Registers a publish about to be sent; returns its delivery tag.
    mutating func willPublish(_ token: Token) -> UInt64 {
        let tag = nextTag
        nextTag += 1
        entries.append(Entry(tag: tag, token: token, returned: nil, done: false))
        outstandingCount += 1
        return tag
    }

    /// A `basic.return` for the message stamped with `tag`.
    mutating func returned(tag: UInt64, replyCode: UInt16, replyText: String) {
        guard let index = index(of: tag) else { return }
        entries[index].returned = (replyCode, replyText)
    }

    mutating func ack(tag: UInt64, multiple: Bool) -> [(Token, Outcome)] {
        resolve(tag: tag, multiple: multiple) { entry in
            entry.returned.map { .returned(replyCode: $0.0, replyText: $0.1) } ?? .confirmed
        }
    }

    mutating func nack(tag: UInt64, multiple: Bool) -> [(Token, Outcome)] {
        resolve(tag: tag, multiple: multiple) { _ in .nacked }
    }

    /// The channel or connection is gone: every outstanding publish has an unknown outcome.
    /// Tags restart at 1 on the next confirm-mode channel.
    mutating func failAll() -> [Token] {
        let tokens = entries[head...].filter { !$0.done }.map(\.token)
        entries.removeAll(keepingCapacity: true)
        head = 0
        nextTag = 1
        outstandingCount = 0
        return tokens
    }

    private func index(of tag: UInt64) -> Int? {
        // Tags are appended in increasing order: binary search the live range.
        var low = head
        var high = entries.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if entries[mid].tag == tag { return mid }
            if entries[mid].tag < tag { low = mid + 1 } else { high = mid - 1 }
        }
        return nil
    }

    private mutating func resolve(tag: UInt64, multiple: Bool, _ outcome: (Entry) -> Outcome) -> [(Token, Outcome)] {
        var resolved: [(Token, Outcome)] = []
        if multiple {
            var index = head
            while index < entries.count, entries[index].tag <= tag {
                if !entries[index].done {
                    entries[index].done = true
                    resolved.append((entries[index].token, outcome(entries[index])))
                }
                index += 1
            }
        } else if let index = index(of: tag), !entries[index].done {
            entries[index].done = true
            resolved.append((entries[index].token, outcome(entries[index])))
        }
        outstandingCount -= resolved.count
        while head < entries.count, entries[head].done { head += 1 }
        if head > 1024, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return resolved
    }
}
