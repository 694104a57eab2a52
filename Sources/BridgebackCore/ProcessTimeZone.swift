#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Pins the process's time zone for log timestamps.
///
/// glibc's `localtime`, when `TZ` is unset, stats `/etc/localtime` on every call to notice a
/// changed zone. swift-log's `StreamLogHandler` calls it for every line: one `newfstatat` per log
/// line in every process where it logs (`TextLogHandler`, which the commands bootstrap, formats
/// the time once a second). With
/// `TZ` naming that same file, glibc reads the zone once and keeps it. Nothing else changes: an
/// unset `TZ` means `/etc/localtime` already. A `TZ` the operator set is left alone.
public enum ProcessTimeZone {
    /// What `TZ` should become, given its current value: `nil` leaves it as it is.
    public static func pinnedValue(current: String?) -> String? {
        current == nil ? ":/etc/localtime" : nil
    }

    /// Sets `TZ` if it is unset. Call it at start-up, before other threads read the environment
    /// (`setenv` is not safe beside a concurrent `getenv`).
    public static func pin() {
        guard let value = pinnedValue(current: getenv("TZ").map { String(cString: $0) }) else { return }
        setenv("TZ", value, 0)
    }
}
