#ifndef BRIDGEBACK_CRABBITMQ_BENCH_H
#define BRIDGEBACK_CRABBITMQ_BENCH_H
#include <stdint.h>

/// Result of the plain-C reference loop: a windowed-confirm publisher and a prefetching consumer.
typedef struct bb_cbench_result {
    int status;              /* 0 on success, otherwise a negative rabbitmq-c status or 1 for a broker error */
    double publish_seconds;  /* from first publish to last confirm */
    double consume_seconds;  /* from basic.consume to the last message received */
    long published;
    long confirmed;
    long consumed;
    char error[256];
} bb_cbench_result;

/// Publishes `count` persistent messages of `size` bytes with publisher confirms (at most `window`
/// unconfirmed) to `queue` (which must exist) through the default exchange, then consumes them with
/// `prefetch` and multiple acks. This is the baseline the Swift layer is compared against.
bb_cbench_result bb_cbench_run(const char *host, int port, const char *vhost, const char *user,
                               const char *password, const char *queue, long count, int size,
                               int window, int prefetch);
#endif
