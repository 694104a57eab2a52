import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// Headless Chromium (Debian's `chromium`) driven over the Chrome DevTools Protocol on a pipe
/// (`--remote-debugging-pipe`: commands in on fd 3, answers out on fd 4, each JSON message
/// ended by NUL), so no WebSocket client and no debugging port are needed.
///
/// The browser and its helpers run in a process group of their own; `close()` ends the group.
/// Every command waits at most `timeout` for its answer.
final class Chromium: Sendable {
    static let path = "/usr/bin/chromium"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: path) }

    struct Failure: Error, CustomStringConvertible { var description: String }

    let pid: pid_t
    private let toBrowser: Int32
    private let fromBrowser: Int32
    private let nextID = Atomic<Int>(0)
    /// Raw answers by command id (as bytes: Sendable) and the waiters for the rest.
    private let pending = Mutex<[Int: CheckedContinuation<Data, any Error>]>([:])
    private let closed = Atomic<Bool>(false)

    /// Starts the browser on `about:blank` with a fresh profile in `profile`; its output goes to `log`.
    init(profile: URL, log: URL) throws {
        func pipePair() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw Failure(description: "pipe: errno \(errno)") }
            // Above 4, so dup2 onto 3 and 4 in the child never meets the same number.
            let high = fds.map { fcntl($0, F_DUPFD_CLOEXEC, 10) }
            fds.forEach { Glibc.close($0) }
            return (high[0], high[1])
        }
        let commands = try pipePair()
        let answers = try pipePair()
        var arguments = [
            Self.path, "--headless", "--remote-debugging-pipe", "--user-data-dir=\(profile.path)", "--no-first-run",
            "--no-default-browser-check", "--disable-gpu", "--disable-dev-shm-usage", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio", "--hide-scrollbars",
            "--window-size=1280,900",
        ]
        if getuid() == 0 { arguments.append("--no-sandbox") }  // Chromium refuses to run as root with its sandbox
        arguments.append("about:blank")

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_adddup2(&actions, commands.read, 3)
        posix_spawn_file_actions_adddup2(&actions, answers.write, 4)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        let cArgs = arguments.map { strdup($0) } + [nil]
        let cEnv = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, Self.path, &actions, &attributes, cArgs, cEnv)
        Glibc.close(commands.read)
        Glibc.close(answers.write)
        guard status == 0 else {
            Glibc.close(commands.write)
            Glibc.close(answers.read)
            throw Failure(description: "cannot start \(Self.path): \(String(cString: strerror(status)))")
        }
        self.pid = pid
        toBrowser = commands.write
        fromBrowser = answers.read
        let reader = Thread { [self] in readAnswers() }
        reader.start()
    }

    /// Reads NUL-ended messages until the browser closes its end; answers go to their waiters,
    /// events are dropped.
    private func readAnswers() {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fromBrowser, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            buffer.append(contentsOf: chunk[0..<count])
            while let end = buffer.firstIndex(of: 0) {
                let message = Data(buffer[..<end])
                buffer.removeSubrange(...end)
                guard let object = try? JSONSerialization.jsonObject(with: message) as? [String: Any], let id = object["id"] as? Int else {
                    continue
                }
                pending.withLock { $0.removeValue(forKey: id) }?.resume(returning: message)
            }
        }
        Glibc.close(fromBrowser)
        let waiters = pending.withLock { table in
            defer { table.removeAll() }
            return Array(table.values)
        }
        for waiter in waiters { waiter.resume(throwing: Failure(description: "the browser closed the DevTools pipe")) }
    }

    /// Sends one command (to a page when `session` is given) and returns its `result`.
    @discardableResult
    func send(_ method: String, _ params: [String: Any] = [:], session: String? = nil, timeout: Duration = .seconds(20)) async throws
        -> [String: Any]
    {
        let id = nextID.add(1, ordering: .relaxed).newValue
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if let session { message["sessionId"] = session }
        var bytes = Array(try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if Task.isCancelled { return }
            self.pending.withLock { $0.removeValue(forKey: id) }?.resume(
                throwing: Failure(description: "\(method): no answer within \(timeout)"))
        }
        defer { timer.cancel() }
        let answer: Data = try await withCheckedThrowingContinuation { continuation in
            pending.withLock { $0[id] = continuation }
            let written = bytes.withUnsafeBytes { write(toBrowser, $0.baseAddress, $0.count) }
            if written != bytes.count {
                pending.withLock { $0.removeValue(forKey: id) }?.resume(throwing: Failure(description: "cannot write to the browser"))
            }
        }
        let object = try JSONSerialization.jsonObject(with: answer) as? [String: Any] ?? [:]
        if let error = object["error"] as? [String: Any] {
            throw Failure(description: "\(method) failed: \(error["message"] as? String ?? "\(error)")")
        }
        return object["result"] as? [String: Any] ?? [:]
    }

    /// A new tab, attached in flat mode: the session id its commands carry.
    func newPage() async throws -> String {
        let target = try await send("Target.createTarget", ["url": "about:blank"])
        guard let targetID = target["targetId"] as? String else { throw Failure(description: "no targetId: \(target)") }
        let attached = try await send("Target.attachToTarget", ["targetId": targetID, "flatten": true])
        guard let session = attached["sessionId"] as? String else { throw Failure(description: "no sessionId: \(attached)") }
        try await send("Page.enable", session: session)
        return session
    }

    /// Evaluates `expression` in the page and returns its value (JSON-compatible values only).
    func evaluate(_ expression: String, session: String) async throws -> Any? {
        let result = try await send("Runtime.evaluate", ["expression": expression, "returnByValue": true], session: session)
        if let exception = result["exceptionDetails"] as? [String: Any] {
            throw Failure(description: "script failed: \((exception["exception"] as? [String: Any])?["description"] ?? exception)")
        }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// A PNG of the page (the whole page, not just the viewport).
    func screenshot(session: String) async throws -> Data {
        let result = try await send("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true], session: session)
        guard let text = result["data"] as? String, let data = Data(base64Encoded: text) else {
            throw Failure(description: "no screenshot data")
        }
        return data
    }

    /// Ends the browser and its helper processes (its process group) and reaps it.
    func close() {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        Glibc.close(toBrowser)
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    }

    deinit { close() }
}
