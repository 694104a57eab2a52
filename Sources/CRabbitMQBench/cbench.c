// The plain C reference loop over rabbitmq-c used by `bridgeback bench amqp`.
// It is deliberately the straightforward loop a C programmer would write: one thread,
// a confirm window read with amqp_simple_wait_frame (0.11 has no confirm-wait helper).
#include "CRabbitMQBench.h"
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int reply_failed(amqp_rpc_reply_t r, bb_cbench_result *res, const char *what) {
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return 0;
    res->status = 1;
    snprintf(res->error, sizeof(res->error), "%s failed (reply type %d, library error %d)", what,
             (int)r.reply_type, r.library_error);
    return 1;
}

bb_cbench_result bb_cbench_run(const char *host, int port, const char *vhost, const char *user,
                               const char *password, const char *queue, long count, int size,
                               int window, int prefetch) {
    bb_cbench_result res;
    memset(&res, 0, sizeof(res));
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(conn);
    int st = amqp_socket_open(sock, host, port);
    if (st != AMQP_STATUS_OK) {
        res.status = st;
        snprintf(res.error, sizeof(res.error), "socket open: %s", amqp_error_string2(st));
        amqp_destroy_connection(conn);
        return res;
    }
    if (reply_failed(amqp_login(conn, vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, user, password), &res, "login")) goto done;
    amqp_channel_open(conn, 1);
    if (reply_failed(amqp_get_rpc_reply(conn), &res, "channel.open")) goto done;
    amqp_confirm_select(conn, 1);
    if (reply_failed(amqp_get_rpc_reply(conn), &res, "confirm.select")) goto done;

    char *payload = malloc((size_t)size);
    memset(payload, 'x', (size_t)size);
    amqp_bytes_t body = {.len = (size_t)size, .bytes = payload};
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof(props));
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.delivery_mode = 2;

    double t0 = now_seconds();
    uint64_t next_tag = 1;
    uint64_t confirmed_up_to = 0;
    long outstanding = 0;
    while (res.confirmed < count) {
        while (res.published < count && outstanding < window) {
            st = amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 0, 0, &props, body);
            if (st != AMQP_STATUS_OK) {
                res.status = st;
                snprintf(res.error, sizeof(res.error), "publish: %s", amqp_error_string2(st));
                goto done_payload;
            }
            res.published++;
            outstanding++;
            next_tag++;
        }
        amqp_frame_t frame;
        st = amqp_simple_wait_frame(conn, &frame);
        if (st != AMQP_STATUS_OK) {
            res.status = st;
            snprintf(res.error, sizeof(res.error), "wait frame: %s", amqp_error_string2(st));
            goto done_payload;
        }
        if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *ack = (amqp_basic_ack_t *)frame.payload.method.decoded;
            uint64_t upto = ack->delivery_tag;
            long n = ack->multiple ? (long)(upto - confirmed_up_to) : 1;
            if (upto > confirmed_up_to) confirmed_up_to = upto;
            res.confirmed += n;
            outstanding -= n;
        } else if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            res.status = 1;
            snprintf(res.error, sizeof(res.error), "broker nacked a publish");
            goto done_payload;
        }
        amqp_maybe_release_buffers(conn);
    }
    res.publish_seconds = now_seconds() - t0;

    amqp_basic_qos(conn, 1, 0, (uint16_t)prefetch, 0);
    if (reply_failed(amqp_get_rpc_reply(conn), &res, "basic.qos")) goto done_payload;
    double t1 = now_seconds();
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    if (reply_failed(amqp_get_rpc_reply(conn), &res, "basic.consume")) goto done_payload;
    int ack_every = prefetch / 2 > 0 ? prefetch / 2 : 1;
    while (res.consumed < count) {
        amqp_envelope_t env;
        amqp_maybe_release_buffers(conn);
        amqp_rpc_reply_t r = amqp_consume_message(conn, &env, NULL, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            reply_failed(r, &res, "consume");
            goto done_payload;
        }
        res.consumed++;
        if (res.consumed % ack_every == 0 || res.consumed == count) {
            amqp_basic_ack(conn, 1, env.delivery_tag, 1);
        }
        amqp_destroy_envelope(&env);
    }
    res.consume_seconds = now_seconds() - t1;

done_payload:
    free(payload);
done:
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return res;
}
