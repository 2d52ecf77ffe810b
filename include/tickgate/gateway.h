/* gateway.h - the WebSocket + HTTP gateway (SPEC §5, §6).
 *
 * server.threads service threads, each with its own libwebsockets context,
 * its own engine output ring and its own fan-out hub. The gateway owns its
 * threads; tg_gateway_shutdown() closes every client with 1001 and joins them.
 */
#ifndef TICKGATE_GATEWAY_H
#define TICKGATE_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "tickgate/config.h"
#include "tickgate/engine.h"
#include "tickgate/feed.h"
#include "tickgate/jwt.h"
#include "tickgate/metrics.h"

typedef struct tg_store_pg tg_store_pg_t; /* tickgate/pg.h */
typedef struct tg_redis tg_redis_t;       /* tickgate/redis.h */

typedef struct tg_gateway tg_gateway_t;

/** What the gateway needs from the rest of the process (all borrowed). */
typedef struct tg_gateway_deps {
    const tg_config_t *cfg;
    tg_engine_t *engine;
    tg_feed_t *feeds;
    size_t nfeeds;
    tg_metrics_t *metrics;
    const tg_jwt_verifier_t *jwt;
    const char *demo_token; /* embedded default only: served to loopback clients; else NULL */
    const struct tg_store_pg *pg; /* NULL without postgres.url; tg_store_pg_up() any thread */
    struct tg_redis *redis;       /* NULL without redis.url; tg_redis_* lookups any thread */
} tg_gateway_deps_t;

/** Create contexts and listeners, register engine outputs. Main thread. */
int tg_gateway_create(tg_gateway_t **out, const tg_gateway_deps_t *deps);
/** Start the service threads. */
int tg_gateway_start(tg_gateway_t *g);
/**
 * Graceful stop: refuse new connections, close clients with 1001, flush what
 * can be flushed within `grace_ms`, then join the threads.
 */
void tg_gateway_shutdown(tg_gateway_t *g, int grace_ms);
void tg_gateway_destroy(tg_gateway_t *g);

/** The port actually bound (useful with port 0). */
int tg_gateway_port(const tg_gateway_t *g);

/**
 * SIGHUP: new `limits` for the running gateway (main thread). Each service
 * thread takes them at its next wake-up; clients stay connected.
 */
struct tg_limits;
void tg_gateway_set_limits(tg_gateway_t *g, const struct tg_limits *l);

#endif
