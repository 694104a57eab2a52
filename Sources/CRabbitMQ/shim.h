// The thin C boundary between rabbitmq-c 0.11 and Swift.
// Everything here is `static inline` and prefixed `bb_`: it only exists for what Swift
// cannot call directly (variadic amqp_login, method-id macros with casts, building
// field tables with owned memory).
#ifndef BRIDGEBACK_CRABBITMQ_SHIM_H
#define BRIDGEBACK_CRABBITMQ_SHIM_H

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

// Method ids (the header defines them as casts, which Swift does not import).
static const uint32_t BB_CONNECTION_CLOSE = AMQP_CONNECTION_CLOSE_METHOD;
static const uint32_t BB_CONNECTION_CLOSE_OK = AMQP_CONNECTION_CLOSE_OK_METHOD;
static const uint32_t BB_CONNECTION_BLOCKED = AMQP_CONNECTION_BLOCKED_METHOD;
static const uint32_t BB_CONNECTION_UNBLOCKED = AMQP_CONNECTION_UNBLOCKED_METHOD;
static const uint32_t BB_CHANNEL_CLOSE = AMQP_CHANNEL_CLOSE_METHOD;
static const uint32_t BB_CHANNEL_CLOSE_OK = AMQP_CHANNEL_CLOSE_OK_METHOD;
static const uint32_t BB_BASIC_DELIVER = AMQP_BASIC_DELIVER_METHOD;
static const uint32_t BB_BASIC_ACK = AMQP_BASIC_ACK_METHOD;
static const uint32_t BB_BASIC_NACK = AMQP_BASIC_NACK_METHOD;
static const uint32_t BB_BASIC_RETURN = AMQP_BASIC_RETURN_METHOD;
static const uint32_t BB_BASIC_CANCEL = AMQP_BASIC_CANCEL_METHOD;
static const uint32_t BB_BASIC_CANCEL_OK = AMQP_BASIC_CANCEL_OK_METHOD;

/// A non-blocking, close-on-exec eventfd: how other threads wake a connection thread.
static inline int bb_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

/// SASL PLAIN login with client properties; amqp_login itself is variadic.
static inline amqp_rpc_reply_t bb_login_plain(amqp_connection_state_t state, const char *vhost,
                                              int channel_max, int frame_max, int heartbeat,
                                              const amqp_table_t *client_properties,
                                              const char *user, const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat,
                                      client_properties, AMQP_SASL_METHOD_PLAIN, user, password);
}

/// A field table whose keys and values are owned by the table (malloc'd copies),
/// so Swift can build one without keeping buffers alive. Free with bb_table_free.
typedef struct bb_table {
    amqp_table_t table;
    int capacity;
} bb_table;

static inline bb_table *bb_table_new(int capacity) {
    bb_table *t = (bb_table *)calloc(1, sizeof(bb_table));
    if (!t) return NULL;
    if (capacity < 1) capacity = 1;
    t->table.entries = (amqp_table_entry_t *)calloc((size_t)capacity, sizeof(amqp_table_entry_t));
    t->capacity = capacity;
    t->table.num_entries = 0;
    return t;
}

static inline amqp_bytes_t bb_bytes_copy_raw(const void *bytes, size_t len) {
    amqp_bytes_t out;
    out.len = len;
    out.bytes = malloc(len > 0 ? len : 1);
    if (out.bytes && len > 0) memcpy(out.bytes, bytes, len);
    return out;
}

static inline amqp_table_entry_t *bb_table_next(bb_table *t, const char *key) {
    if (t->table.num_entries >= t->capacity) return NULL;
    amqp_table_entry_t *e = &t->table.entries[t->table.num_entries++];
    e->key = bb_bytes_copy_raw(key, strlen(key));
    return e;
}

static inline int bb_table_add_string(bb_table *t, const char *key, const void *bytes, size_t len) {
    amqp_table_entry_t *e = bb_table_next(t, key);
    if (!e) return -1;
    e->value.kind = AMQP_FIELD_KIND_UTF8;
    e->value.value.bytes = bb_bytes_copy_raw(bytes, len);
    return 0;
}

static inline int bb_table_add_i64(bb_table *t, const char *key, int64_t value) {
    amqp_table_entry_t *e = bb_table_next(t, key);
    if (!e) return -1;
    e->value.kind = AMQP_FIELD_KIND_I64;
    e->value.value.i64 = value;
    return 0;
}

static inline int bb_table_add_bool(bb_table *t, const char *key, int value) {
    amqp_table_entry_t *e = bb_table_next(t, key);
    if (!e) return -1;
    e->value.kind = AMQP_FIELD_KIND_BOOLEAN;
    e->value.value.boolean = value ? 1 : 0;
    return 0;
}

static inline int bb_table_add_double(bb_table *t, const char *key, double value) {
    amqp_table_entry_t *e = bb_table_next(t, key);
    if (!e) return -1;
    e->value.kind = AMQP_FIELD_KIND_F64;
    e->value.value.f64 = value;
    return 0;
}

/// Adds a nested table; takes ownership of `nested` (it is freed with the parent).
static inline int bb_table_add_table(bb_table *t, const char *key, bb_table *nested) {
    amqp_table_entry_t *e = bb_table_next(t, key);
    if (!e) return -1;
    e->value.kind = AMQP_FIELD_KIND_TABLE;
    e->value.value.table = nested->table;
    free(nested); // the entries now belong to the parent
    return 0;
}

static inline void bb_table_release_entries(amqp_table_t *table) {
    for (int i = 0; i < table->num_entries; i++) {
        amqp_table_entry_t *e = &table->entries[i];
        free(e->key.bytes);
        if (e->value.kind == AMQP_FIELD_KIND_UTF8 || e->value.kind == AMQP_FIELD_KIND_BYTES) {
            free(e->value.value.bytes.bytes);
        } else if (e->value.kind == AMQP_FIELD_KIND_TABLE) {
            bb_table_release_entries(&e->value.value.table);
        }
    }
    free(table->entries);
    table->entries = NULL;
    table->num_entries = 0;
}

static inline void bb_table_free(bb_table *t) {
    if (!t) return;
    bb_table_release_entries(&t->table);
    free(t);
}

/// Returns the table inside a builder (NULL-safe: an empty table).
static inline amqp_table_t bb_table_value(const bb_table *t) {
    if (!t) return amqp_empty_table;
    return t->table;
}

/// The method id of a decoded frame's method payload.
static inline uint32_t bb_frame_method_id(const amqp_frame_t *frame) {
    return frame->payload.method.id;
}

/// Typed views of decoded methods, so Swift never casts `void *decoded` itself. Each returns NULL
/// unless the frame (or RPC reply) carries exactly that method. The memory is rabbitmq-c's frame
/// pool: read it before the next frame is read or the channel's buffers are released.
#define BB_METHOD_VIEW(name, type, method_number)                                                          \
    static inline const type *bb_frame_##name(amqp_frame_t frame) {                             \
        if (frame.frame_type != AMQP_FRAME_METHOD || frame.payload.method.id != (method_number)) return NULL; \
        return (const type *)frame.payload.method.decoded;                                      \
    }                                                                                           \
    static inline const type *bb_reply_##name(amqp_rpc_reply_t reply) {                         \
        if (reply.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION || reply.reply.id != (method_number)) return NULL; \
        return (const type *)reply.reply.decoded;                                               \
    }

BB_METHOD_VIEW(connection_close, amqp_connection_close_t, AMQP_CONNECTION_CLOSE_METHOD)
BB_METHOD_VIEW(channel_close, amqp_channel_close_t, AMQP_CHANNEL_CLOSE_METHOD)
BB_METHOD_VIEW(basic_deliver, amqp_basic_deliver_t, AMQP_BASIC_DELIVER_METHOD)
BB_METHOD_VIEW(basic_ack, amqp_basic_ack_t, AMQP_BASIC_ACK_METHOD)
BB_METHOD_VIEW(basic_nack, amqp_basic_nack_t, AMQP_BASIC_NACK_METHOD)
BB_METHOD_VIEW(basic_return, amqp_basic_return_t, AMQP_BASIC_RETURN_METHOD)
BB_METHOD_VIEW(basic_cancel, amqp_basic_cancel_t, AMQP_BASIC_CANCEL_METHOD)
#undef BB_METHOD_VIEW

/// The basic properties of a content header frame (NULL for any other frame or class).
static inline const amqp_basic_properties_t *bb_frame_basic_properties(amqp_frame_t frame) {
    if (frame.frame_type != AMQP_FRAME_HEADER || frame.payload.properties.class_id != AMQP_BASIC_CLASS) return NULL;
    return (const amqp_basic_properties_t *)frame.payload.properties.decoded;
}

/// Sends `channel.close` without waiting for `close-ok` (which then arrives as an ordinary frame),
/// so the connection thread can close a channel from inside frame dispatch without a blocking RPC.
static inline int bb_send_channel_close(amqp_connection_state_t state, amqp_channel_t channel) {
    amqp_channel_close_t close;
    close.reply_code = AMQP_REPLY_SUCCESS;
    close.reply_text = amqp_cstring_bytes("closed by the client");
    close.class_id = 0;
    close.method_id = 0;
    return amqp_send_method(state, channel, AMQP_CHANNEL_CLOSE_METHOD, &close);
}

#endif
