import BridgebackCore
import Testing

@Suite("ProcessTimeZone: TZ pinned to /etc/localtime only when the operator left it unset")
struct ProcessTimeZoneTests {
    @Test("an unset TZ is pinned to the file glibc reads for it anyway")
    func unsetIsPinned() {
        #expect(ProcessTimeZone.pinnedValue(current: nil) == ":/etc/localtime")
    }

    @Test(
        "a TZ the operator set, empty (UTC to glibc) included, is left alone", arguments: ["", "UTC", "Europe/Berlin", ":/etc/localtime"])
    func setIsKept(_ value: String) {
        #expect(ProcessTimeZone.pinnedValue(current: value) == nil)
    }
}
