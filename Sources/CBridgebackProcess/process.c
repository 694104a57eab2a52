// See include/CBridgebackProcess.h. _GNU_SOURCE is why this file exists.
#define _GNU_SOURCE
#include "CBridgebackProcess.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

int bb_pipe2_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno; }

int bb_spawn(pid_t *pid, char *const argv[], char *const envp[], const char *cwd, int stdout_fd, int stderr_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int status = posix_spawn_file_actions_init(&actions);
    if (status != 0) return status;
    status = posix_spawnattr_init(&attributes);
    if (status != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return status;
    }
    if (status == 0) status = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (status == 0) status = posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    if (status == 0) status = posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
    if (status == 0 && cwd != NULL) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
        status = posix_spawn_file_actions_addchdir_np(&actions, cwd);
#else
        status = ENOSYS;
#endif
    }
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    if (status == 0) status = posix_spawnattr_setsigmask(&attributes, &empty);
    if (status == 0) status = posix_spawnattr_setsigdefault(&attributes, &all);
    if (status == 0) status = posix_spawnattr_setpgroup(&attributes, 0);
    if (status == 0) {
        status = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    }
    if (status == 0) status = posix_spawnp(pid, argv[0], &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return status;
}

int bb_pidfd_open(pid_t pid) {
#if defined(SYS_pidfd_open)
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int bb_eventfd_cloexec(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int bb_thread_set_name(const char *name) {
    char buffer[16];
    size_t i = 0;
    for (; name[i] != '\0' && i < sizeof(buffer) - 1; i++) buffer[i] = name[i];
    buffer[i] = '\0';
    return pthread_setname_np(pthread_self(), buffer);
}
