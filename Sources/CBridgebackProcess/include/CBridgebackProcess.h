// The thin C boundary for starting and supervising child processes (the worker's command
// recipes). Everything is prefixed `bb_`. The functions in process.c exist because Swift sees
// glibc without _GNU_SOURCE (no pipe2, posix_spawn_file_actions_addchdir_np, pidfd_open,
// pthread_setname_np); the inline ones because the wait-status macros do not import.
#ifndef BRIDGEBACK_CPROCESS_H
#define BRIDGEBACK_CPROCESS_H

#include <sys/types.h>
#include <sys/wait.h>

/// A pipe whose two ends are close-on-exec from the moment they exist. 0, or an errno value.
int bb_pipe2_cloexec(int fds[2]);

/// Starts `argv[0]` (searched in PATH like execvp) with `envp`, standard input from /dev/null,
/// standard output and error on `stdout_fd` and `stderr_fd`, in `cwd` when it is not NULL.
/// The child gets an empty signal mask, default signal dispositions and a process group of its
/// own (its pid), so that one signal to the group stops its children too.
/// Returns 0 and sets `*pid`, or an errno value (ENOSYS: this C library cannot set `cwd`).
int bb_spawn(pid_t *pid, char *const argv[], char *const envp[], const char *cwd, int stdout_fd, int stderr_fd);

/// A close-on-exec descriptor that polls readable once `pid` has exited (Linux 5.3+),
/// or -1 with errno set (ENOSYS on older kernels: the caller falls back to polling waitpid).
int bb_pidfd_open(pid_t pid);

/// A non-blocking, close-on-exec eventfd: how another thread wakes a supervising thread's poll().
int bb_eventfd_cloexec(void);

/// Names the calling thread (at most 15 bytes are kept), so it shows in /proc/self/task/*/comm.
int bb_thread_set_name(const char *name);

/// The decoded form of a waitpid status.
static inline int bb_wait_exited(int status) { return WIFEXITED(status); }
static inline int bb_wait_exit_code(int status) { return WEXITSTATUS(status); }
static inline int bb_wait_signaled(int status) { return WIFSIGNALED(status); }
static inline int bb_wait_term_signal(int status) { return WTERMSIG(status); }

#endif
