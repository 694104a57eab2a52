import NIOCore
import NIOPosix
import Synchronization

/// Where an HTTP server process runs its Swift tasks (`--task-executor`).
///
/// `eventLoops`: SwiftNIO's singleton event loop group (the one Hummingbird serves on) becomes Swift
/// Concurrency's global executor, so a request's handler runs on the event loop thread that read the
/// request and writes its answer there, instead of waking a thread of the cooperative pool for the
/// handler and an event loop thread again for the answer: each such hand-off to a sleeping thread costs
/// a wake-up (0.03–0.1 ms on a VM whose idle vCPUs halt; docs/performance.md, seventh pass). The event
/// loops are as many threads as the pool (one per core), and code here never blocks a task's thread
/// (rabbitmq-c has threads of its own; SQLite runs on GRDB's queues), so nothing else changes.
/// `pool`: the default global executor (the cooperative pool), as before.
public enum TaskExecutorChoice: String, Sendable, CaseIterable {
    case eventLoops = "event-loops"
    case pool

    /// nil until applied; then whether SwiftNIO installed itself.
    private static let installed = Mutex<Bool?>(nil)

    /// Applies the choice to this process; call once, at the start of a server command, before it
    /// starts its services. Returns whether tasks now run on the event loops (false for `pool`, and
    /// where SwiftNIO cannot install itself). Process-wide and permanent: a second call changes nothing.
    @discardableResult
    public func apply() -> Bool {
        guard self == .eventLoops else { return false }
        return Self.installed.withLock { installed in
            if let installed { return installed }
            let done = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
            installed = done
            return done
        }
    }
}
