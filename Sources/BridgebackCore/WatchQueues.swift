/// Names of the queues a watcher (`bridgeback watch`, `bridgeback mcp`) declares on the broker.
///
/// Scoped watching (issue 10, item 6): a person's watch credential is the broker user
/// `bb-watch-<name>`, whose configure/write/read permissions cover only `bb.watch.<name>.…`
/// queues and whose topic permissions on `bb.progress` and `bb.inbox` cover only that person's
/// work surfaces and inbox keys (`deploy/local/broker.sh watcher add`). The client derives the
/// prefix from the user it connects as, so nothing else needs configuring. Any other user (the
/// operator's `bb-watch`, `bb-admin`) keeps the unscoped `bb.watch.` prefix.
public enum WatchQueues {
    /// Broker users of scoped watchers start with this.
    public static let userPrefix = "bb-watch-"
    /// Names that would make a scoped prefix cover the unscoped queues
    /// (`bb.watch.inbox.<parent>`, `bb.watch.mcp.<random>`).
    public static let reservedNames: Set<String> = ["inbox", "mcp"]

    /// The watcher name of a scoped broker user (`bb-watch-alice` → `alice`); nil for any other user.
    public static func watcherName(brokerUser user: String) -> String? {
        guard user.hasPrefix(userPrefix) else { return nil }
        let name = String(user.dropFirst(userPrefix.count))
        return isValidName(name) ? name : nil
    }

    /// 1–32 characters from `[a-z0-9-]`, starting with a letter or digit, not reserved: no dot,
    /// so one watcher's `bb.watch.<name>.` prefix never covers another's.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 32, !reservedNames.contains(name) else { return false }
        guard first != "-" else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// `bb.watch.<name>.` for a scoped watcher user, `bb.watch.` for any other.
    public static func prefix(brokerUser user: String) -> String {
        watcherName(brokerUser: user).map { "bb.watch.\($0)." } ?? "bb.watch."
    }
}
