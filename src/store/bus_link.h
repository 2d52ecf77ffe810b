/* bus_link.h - the cluster bus's Redis connection, private to bus_pub.c and
 * bus_sub.c: both keep one on their own thread, reconnect it with backoff and
 * export whether it is up. What they send on it, and what they log, is theirs.
 */
#ifndef TG_STORE_BUS_LINK_H
#define TG_STORE_BUS_LINK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tickgate/backoff.h"
#include "tickgate/config.h"
#include "tickgate/metrics.h"
#include "tickgate/redis_sync.h"

typedef struct tg__bus_link {
    tg_redis_url_t url;
    int command_ms;
    redisContext *c; /* NULL while down */
    tg_backoff_t backoff;
    int64_t next_connect_ns; /* down: no connect before this */
    bool down_logged;        /* a failure while down is not news */
    _Atomic int up;          /* read by other threads (tg_bus_*_up) */
    tg_gauge_t *m_up;
} tg__bus_link_t;

/** Parse redis.url and seed the reconnect backoff. 0 or -EINVAL. The caller
 * registers m_up (its metrics, its labels). */
int tg__bus_link_init(tg__bus_link_t *l, const tg_config_t *cfg, uint64_t seed);

/** Try to connect (owner's thread). false when it failed, with *why a static
 * reason; the link then counts as already down (the caller goes down quietly). */
bool tg__bus_link_connect(tg__bus_link_t *l, const char **why);

/** Connected and ready: reset the backoff, mark it up. */
void tg__bus_link_up(tg__bus_link_t *l);

/**
 * Drop the connection and schedule the next attempt. why is copied into
 * reason first (it may point into the context's errstr). Returns true the first
 * time since it was last up: the caller logs bus_down with its own fields.
 */
bool tg__bus_link_down(tg__bus_link_t *l, const char *why, char *reason, size_t reasonlen);

/** Close the connection, if any (after the thread has stopped). */
void tg__bus_link_close(tg__bus_link_t *l);

#endif
