import CSpawn
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts a program with `posix_spawn`, with a clean signal state (nothing blocked, default
/// handlers), in its own process group, stdin from /dev/null, stdout+stderr appended to a log
/// file and no other file descriptor of ours, and reaps it on a thread of its own, reporting how
/// it ended.
///
/// Foundation's `Process` is not used because its children inherit the spawning thread's blocked
/// signals (a Dispatch thread blocks almost all), so a llama-server started that way ignores SIGTERM.
enum ChildProcess {
    struct SpawnFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts `executable` and returns its pid; `onExit` is called once, from the reaper thread,
    /// with a description such as "exited with status 1" or "was killed by signal 9".
    static func spawn(
        _ executable: String, arguments: [String], environment: [String: String], logFile: String,
        onExit: @escaping @Sendable (String) -> Void
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the agent's: an inherited tunnel socket would outlive a killed agent, and
        // the Hub would not see it go.
        _ = porten_spawn_close_from(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var nothing = sigset_t()
        sigemptyset(&nothing)
        posix_spawnattr_setsigmask(&attributes, &nothing)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SpawnFailure(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        let child = pid
        let reaper = Thread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) == -1 && errno == EINTR {}
            onExit(describe(status))
        }
        reaper.name = "reaper \(child)"
        reaper.start()
        return child
    }

    /// `waitpid`'s status in words (the WIFEXITED/WTERMSIG macros are not visible to Swift).
    static func describe(_ status: Int32) -> String {
        let signal = status & 0x7f
        return signal == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(signal)"
    }
}
