import Foundation
import Testing

@testable import BridgebackWorker

/// Children of concurrent jobs must not hold each other's output pipes.
@Suite("Child processes")
struct ChildProcessTests {
    @Test func pipeEndsAreCloseOnExecFromTheStart() throws {
        let pipe = try ExecSafePipe()
        for fd in [pipe.reading.fileDescriptor, pipe.writing.fileDescriptor] {
            #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0, "fd \(fd) would leak into children of other jobs")
        }
    }

    /// Regression: with inheritable pipes, a long child spawned for one job kept another job's
    /// write end open, so the short job's output reached EOF only when the long child died.
    /// A child lists its open descriptors: another job's pipe must not be among them, while a
    /// Foundation `Pipe` (the control) is inherited, which shows the check can see a leak.
    @Test func aChildDoesNotInheritAnotherJobsPipe() async throws {
        let other = try ExecSafePipe()
        let control = Pipe()
        let output = try await CommandRunner.run(
            argv: ["/bin/ls", "/proc/self/fd"], environment: [:], workingDirectory: nil, timeout: .seconds(30), outputCap: 4096)
        let open = Set(output.stdout.split(separator: "\n").compactMap { Int32($0) })
        #expect(!open.contains(other.reading.fileDescriptor))
        #expect(!open.contains(other.writing.fileDescriptor))
        #expect(open.contains(control.fileHandleForWriting.fileDescriptor), "the control pipe should leak; the check cannot see leaks")
    }
}
