// Preloaded by scripts/bench-instructions only, into the one fleet process it runs under valgrind.
//
// A Swift `async` main ends in libdispatch's dispatch_main(), which parks the main thread with pthread_exit() and
// leaves the main queue to the thread pool. Debian 12's valgrind (3.19) dies with an internal SIGSEGV at the next
// thread creation after that. This dispatch_main() keeps the main thread and drains the main queue on it instead,
// as a run loop does: wait on the queue's wake-up descriptor, clear it, run what is queued. The process exits as
// before (its async main returns and calls exit()).
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

extern int _dispatch_get_main_queue_handle_4CF(void);
extern void _dispatch_main_queue_callback_4CF(void *message);

void dispatch_main(void) {
    int fd = _dispatch_get_main_queue_handle_4CF();
    for (;;) {
        struct pollfd wake = {fd, POLLIN, 0};
        poll(&wake, 1, -1);
        uint64_t count;
        (void)read(fd, &count, sizeof count);
        _dispatch_main_queue_callback_4CF(0);
    }
}
