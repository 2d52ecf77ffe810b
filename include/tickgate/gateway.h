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

#include "tickgate/alert_read.h"
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
    /**
     * The system of record for PUT/DELETE /api/v1/portfolios/{id} (SPEC §15),
     * NULL = memory only: write `spec` (NULL = delete) and return after the
     * commit, 0 / -ENOENT / -errno with a reason in err; its change notice
     * then updates the engine. Called on a service thread; may block briefly.
     */
    int (*portfolio_write)(void *ctx, const char *id, const tg_portfolio_spec_t *spec,
                           const char *body, size_t blen, char *err, size_t errlen);
    void *portfolio_write_ctx;
    /**
     * With PostgreSQL, GET /api/v1/alerts[/active] read the alert history
     * through this (tickgate/alert_read.h), NULL = memory only. Called on a
     * service thread; it bounds its own wait.
     */
    tg_alert_read_fn alerts_read;
    void *alerts_read_ctx;
    struct tg_bus_sub *bus;       /* node.role gateway: the source instead of `engine` (NULL) */
    struct tg_bus_pub *bus_pub;   /* node.role ingest: the publisher, for /health/ready */
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

/** This node's epoch (SPEC §5), set at create; the ingest node publishes it on the bus. */
const char *tg_gateway_epoch(const tg_gateway_t *g);

/**
 * SIGHUP: new `limits` for the running gateway (main thread). Each service
 * thread takes them at its next wake-up; clients stay connected.
 */
struct tg_limits;
void tg_gateway_set_limits(tg_gateway_t *g, const struct tg_limits *l);

#endif
