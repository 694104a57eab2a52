/// The delivery tags handed out on a consumer's channel and not yet settled (the prefetch in use).
///
/// The broker numbers a channel's deliveries upward, so they are kept in ascending order: a delivery
/// appends, a multiple settlement drops a prefix, a single one is found by binary search. Nothing is
/// hashed per delivery, and a multiple settlement does not rebuild the collection.
struct UnsettledTags {
    private var tags: [UInt64] = []
    /// `tags[..<head]` are settled.
    private var head = 0

    var count: Int { tags.count - head }
    var isEmpty: Bool { head == tags.count }

    func contains(_ tag: UInt64) -> Bool {
        let index = position(of: tag)
        return index < tags.count && tags[index] == tag
    }

    /// Adds `tag` (kept in order even if it is not the highest; a tag already held is not added twice).
    mutating func insert(_ tag: UInt64) {
        if isEmpty || tag > tags[tags.count - 1] {
            tags.append(tag)
            return
        }
        let index = position(of: tag)
        if index < tags.count, tags[index] == tag { return }
        tags.insert(tag, at: index)
    }

    /// Settles one tag (`basic.ack`/`nack`/`reject` without `multiple`).
    mutating func remove(_ tag: UInt64) {
        let index = position(of: tag)
        guard index < tags.count, tags[index] == tag else { return }
        if index == head { head += 1 } else { tags.remove(at: index) }
        compact()
    }

    /// Settles every tag up to and including `tag` (`multiple`).
    mutating func removeUpTo(_ tag: UInt64) {
        head = tag == .max ? tags.count : position(of: tag + 1)
        compact()
    }

    /// How many of `acked` (ascending) are the oldest unsettled tags, in order and without a gap:
    /// a `multiple` ack of `acked[k - 1]` then settles exactly `acked[..<k]`, since no other tag at or
    /// below it is unsettled. Stops at the first tag that is not the next unsettled one (a gap, a
    /// repeat, or a tag not held).
    func coveredPrefix(of acked: [UInt64]) -> Int {
        var covered = 0
        while covered < acked.count, head + covered < tags.count, tags[head + covered] == acked[covered] {
            covered += 1
        }
        return covered
    }

    mutating func removeAll() {
        tags.removeAll(keepingCapacity: true)
        head = 0
    }

    /// The index of the first unsettled tag >= `tag` (`tags.count` if none).
    private func position(of tag: UInt64) -> Int {
        var low = head
        var high = tags.count
        while low < high {
            let mid = (low + high) / 2
            if tags[mid] < tag { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private mutating func compact() {
        if head == tags.count {
            removeAll()
        } else if head >= 512, head * 2 >= tags.count {
            tags.removeFirst(head)
            head = 0
        }
    }
}
