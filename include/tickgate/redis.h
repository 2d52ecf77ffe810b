/* redis.h - Redis: last-quote cache, alert stream, cross-node ticks, and the
 * revocation / rate-limit lookups the gateway asks for (SPEC §7).
 *
 * tg_redis_t owns one thread with its own event loop (poll(2) driving the
 * hiredis 0.14 async API) and one connection. Nothing that talks to it ever
 * waits for Redis:
 *   - the engine hands accepted ticks and alert rows over through SPSC rings
 *     (drop-oldest: a stalled Redis costs cache freshness, never market data);
 *   - the gateway asks tg_redis_revoked() / tg_redis_rate_check(), which answer
 *     from a local cache at once and queue the Redis round trip.
 * Every command has a redis.command_timeout_ms deadline; a missed deadline or
 * a connection error means "down": `redis_down` is logged, tickgate_redis_up
 * goes 0, the connection is dropped and re-established with backoff.
 *
 * Writes: tickgate:quote:<SYMBOL> hashes (HSET + EXPIRE 60, once per second
 * per changed symbol, not per tick), XADD tickgate:alerts MAXLEN ~ 10000 per
 * alert, and with redis.publish one PUBLISH per accepted tick on
 * redis.publish_channel (pipelined), carrying the tick codec below.
 */
#ifndef TICKGATE_REDIS_H
#define TICKGATE_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/config.h"
#include "tickgate/metrics.h"
#include "tickgate/pg.h"
#include "tickgate/tick.h"

typedef struct tg_redis tg_redis_t;

/** Start the Redis thread for cfg->redis.url (non-empty). Connects in the
 * background. Main thread; caller owns *out (tg_redis_stop). */
int tg_redis_start(tg_redis_t **out, const tg_config_t *cfg, tg_metrics_t *metrics);
/** Stop and join the thread, free everything. NULL is fine. Main thread. */
void tg_redis_stop(tg_redis_t *r);
/** Any thread: true while connected and answering within the deadline. */
bool tg_redis_up(const tg_redis_t *r);

/** Engine thread: accepted ticks (quote cache, redis.publish). Never blocks. */
void tg_redis_push_ticks(tg_redis_t *r, const tg_tick_t *ticks, size_t n);
/** Engine thread: an alert row (TG_SNAP_ALERT_*) for the tickgate:alerts stream. */
void tg_redis_push_alert(tg_redis_t *r, const tg_snap_row_t *alert);

typedef enum tg_redis_verdict {
    TG_REDIS_UNKNOWN = -1, /* no answer yet, or Redis down and nothing cached */
    TG_REDIS_NO = 0,
    TG_REDIS_YES = 1,
} tg_redis_verdict_t;

/**
 * Any thread, never blocks. Is the token whose SHA-256 is `sha256hex` (64 hex
 * digits) revoked (Redis key `revoked_token:<hex>`)? Returns the cached
 * verdict; when there is none or it is older than 30 s, a lookup is queued
 * and the next call after the reply sees it. A revoked verdict is kept even
 * while Redis is down (the local cache of revoked tokens); a "not revoked"
 * verdict older than 30 s becomes UNKNOWN while Redis is down.
 */
tg_redis_verdict_t tg_redis_revoked(tg_redis_t *r, const char *sha256hex);

/**
 * Same, for a new connection or a re-auth: a "not revoked" verdict older
 * than max_age_ns is no verdict (UNKNOWN, lookup queued), so the caller waits
 * for Redis - up to its own deadline, after which the last known state applies.
 */
tg_redis_verdict_t tg_redis_revoked_fresh(tg_redis_t *r, const char *sha256hex,
                                          int64_t max_age_ns);

/**
 * Any thread, never blocks. Sliding-window rate limit shared by every node:
 * records one hit for `user` in the sorted set `tickgate:rl:<user>` (ZADD now,
 * ZREMRANGEBYSCORE older than window_s, ZCARD, EXPIRE, in one MULTI) - queued,
 * not waited for - and returns whether the window held more than `limit` hits
 * (the recorded one included) at the last answer Redis gave for this user
 * (YES = limited). The answer thus lags one call behind. UNKNOWN when Redis
 * has not answered for this user within the last window (or is down): the
 * caller then applies its in-process limiter.
 */
tg_redis_verdict_t tg_redis_rate_check(tg_redis_t *r, const char *user, int limit, int window_s);

/**
 * Revocation (POST /api/v1/tokens/revoke). Any thread, never blocks: queues
 * SET revoked_token:<hash> "1" EX ttl_s (sub == false; key = SHA-256 hex) or
 * SET revoked_sub:<sub> <at_s> (sub == true), then XADD to the stream
 * tickgate:revocations (MAXLEN ~ 10000; every node reads it) and PUBLISH on
 * the channel tickgate:revocations ({"token_sha256"|"sub":…,"at":…}). Dropped
 * with a warning while Redis is down (the caller has applied it locally).
 */
int tg_redis_revoke(tg_redis_t *r, bool sub, const char *key, int64_t at_s, int64_t ttl_s);

/** Called on the Redis thread for each revocation read from the stream (any node's). */
typedef void (*tg_redis_revocation_fn)(void *ud, bool sub, const char *key, int64_t at_s);

/**
 * Any thread: receive every node's revocations. The Redis thread reads the
 * stream tickgate:revocations every 500 ms from its start (so a node that
 * (re)starts learns past revocations of subs) and calls fn for each entry.
 */
void tg_redis_on_revocation(tg_redis_t *r, tg_redis_revocation_fn fn, void *ud);

/* ---- pure helpers (unit-tested) --------------------------------------------- */

typedef struct tg_redis_url {
    bool is_unix;
    char host[256];
    int port;          /* 6379 */
    char path[256];    /* unix socket */
    char user[128];    /* "" = none (AUTH pass only) */
    char pass[256];    /* "" = no AUTH */
    int db;            /* 0 = no SELECT */
} tg_redis_url_t;

/**
 * Parse redis://[user:pass@]host[:port][/db] (user may be empty: ":pass@";
 * user and pass are %-decoded; IPv6 hosts in brackets) or unix:///path
 * [?db=N]. -EINVAL otherwise (also for rediss://: hiredis 0.14 has no TLS).
 */
int tg_redis_url_parse(const char *url, tg_redis_url_t *out);

/** Longest encoded tick (the map with every field and a 64-byte source). */
#define TG_REDIS_TICK_MAX 320

/**
 * Encode a tick as the SPEC §3 MessagePack map {symbol, price, size, bid, ask,
 * ts, src_ts, source}: decimals as strings (nil when absent: no trade / no
 * bid / no ask), ts/src_ts as integers. Returns the length, 0 if cap is too small.
 */
size_t tg_redis_tick_encode(const tg_tick_t *t, const char *source, void *buf, size_t cap);

/**
 * Decode one such map into *out (zeroed first; flags from which fields are
 * present; ts and src_ts as sent). Unknown keys are ignored; source is copied
 * into source[source_cap] when not NULL. -EINVAL for anything malformed:
 * not a map, wrong types, bad decimals, no symbol, neither price nor bid/ask.
 */
int tg_redis_tick_decode(const void *data, size_t len, tg_tick_t *out, char *source,
                         size_t source_cap);

#endif
