/* bus.h - the cluster bus (SPEC §14): one stream of engine output, any node.
 *
 * An `ingest` node publishes every message its engine produces (already
 * encoded, with channel key, seq, ts, ACL and the ingest epoch) on the Redis
 * stream (XADD … MAXLEN ~ redis.bus_maxlen) or pub/sub channel
 * redis.bus_channel. A `gateway` node runs no engine: its bus consumer reads
 * that stream and hands the same immutable tg_msg_t to every service thread,
 * exactly as the engine would, so every node sends the same messages with the
 * same seq, ts and epoch.
 *
 * Three pieces:
 *   - the entry codec (wire/bus_codec.c): one MessagePack map per message;
 *   - the publisher (store/bus_pub.c): its own thread, fed through an engine output
 *     ring like a gateway thread; never blocks the engine; pipelined XADDs;
 *     buffers while Redis is down and resends what was not acknowledged;
 *   - the consumer (store/bus_sub.c): its own thread, XREAD BLOCK from the last
 *     entry ID it read (no gap across a Redis outage), dropping duplicates by
 *     the publisher's entry number.
 */
#ifndef TICKGATE_BUS_H
#define TICKGATE_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/config.h"
#include "tickgate/metrics.h"
#include "tickgate/msg.h"
#include "tickgate/ring.h"

#define TG_BUS_EPOCH_MAX 23        /* epoch text, e.g. "e-18c2f3a9b07" (gateway.h) */
#define TG_BUS_ENTRY_MAX (8u << 20) /* an entry larger than this is hostile */
#define TG_BUS_KEY_MAX 63           /* tg_msg_t.key_name without its NUL */

/* ---- entry codec ---------------------------------------------------------- */

/** A decoded entry: the message plus what the bus adds around it. */
typedef struct tg_bus_entry {
    char epoch[TG_BUS_EPOCH_MAX + 1];
    uint64_t no;  /* publisher's entry number within the epoch: 1, 2, 3, … */
    tg_msg_t *msg; /* refs = 1, owned by the caller */
} tg_bus_entry_t;

struct msgpack_sbuffer;

/**
 * Append message m as bus entry number `no` of `epoch` to sb (a growable
 * buffer the caller owns and clears). 0, -EINVAL (a message the bus does not
 * carry, or an epoch too long) or -ENOMEM.
 */
int tg_bus_entry_encode(const tg_msg_t *m, const char *epoch, uint64_t no,
                        struct msgpack_sbuffer *sb);

/**
 * Decode one entry (untrusted bytes). On success fills *out (out->msg is a
 * new message, refs 1) and returns 0; -EINVAL for anything malformed,
 * truncated, oversized or out of range, -ENOMEM. Never reads past len.
 */
int tg_bus_entry_decode(const void *data, size_t len, tg_bus_entry_t *out);

/* ---- publisher (ingest node) ---------------------------------------------- */

typedef struct tg_bus_pub tg_bus_pub_t;

/**
 * Create the publisher for cfg->redis (url non-empty). The caller registers
 * it as an engine output: tg_engine_add_output(e, tg_bus_pub_ring(p),
 * tg_bus_pub_wake, p). Main thread; caller owns *out (tg_bus_pub_stop).
 */
int tg_bus_pub_create(tg_bus_pub_t **out, const tg_config_t *cfg, tg_metrics_t *metrics);
/** Where the engine output ring goes (pass to tg_engine_add_output). */
tg_ring_t **tg_bus_pub_ring(tg_bus_pub_t *p);
/** Wake callback for that engine output. Any thread. */
void tg_bus_pub_wake(void *pub);
/** Start publishing as ingest epoch `epoch` (copied; the node's own, gateway.h). */
int tg_bus_pub_start(tg_bus_pub_t *p, const char *epoch);
/** After tg_engine_stop: publish what is buffered for up to grace_ms, join, free
 * (the output ring too). NULL is fine. Main thread. */
void tg_bus_pub_stop(tg_bus_pub_t *p, int grace_ms);
/** Any thread: connected and publishing within the deadline. */
bool tg_bus_pub_up(const tg_bus_pub_t *p);

/* ---- consumer (gateway node) ---------------------------------------------- */

typedef struct tg_bus_sub tg_bus_sub_t;

/** Wake a consumer of an output ring (same contract as the engine's). */
typedef void (*tg_bus_wake_fn)(void *arg);

/** Create the consumer for cfg->redis. Main thread; caller owns *out. */
int tg_bus_sub_create(tg_bus_sub_t **out, const tg_config_t *cfg, tg_metrics_t *metrics);
/**
 * Before tg_bus_sub_start: one output per gateway service thread, like
 * tg_engine_add_output (ring created here; the consumer of *ring owns one
 * reference of every pointer it pops).
 */
int tg_bus_sub_add_output(tg_bus_sub_t *b, tg_ring_t **ring, tg_bus_wake_fn wake, void *arg);
int tg_bus_sub_start(tg_bus_sub_t *b);
/** Stop and join; messages still in the output rings stay there. */
void tg_bus_sub_stop(tg_bus_sub_t *b);
/** Free after the output rings' consumers are gone. NULL is fine. */
void tg_bus_sub_destroy(tg_bus_sub_t *b);
/** Any thread: connected to Redis and reading the bus. */
bool tg_bus_sub_up(const tg_bus_sub_t *b);
/** Any thread: the ingest epoch is known and, on a stream, the entries already in it
 * have been read (until then the node is not ready for clients). */
bool tg_bus_sub_synced(const tg_bus_sub_t *b);

#endif
