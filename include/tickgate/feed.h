/* feed.h - provider feed adapters behind one ops table.
 *
 * Each configured feed becomes a tg_feed_t running on its own thread. The
 * adapter produces normalized ticks and hands each to tg_feed_emit(), which
 * validates it, counts it and pushes it into the feed's SPSC ring towards the
 * engine (the feed thread is that ring's only producer). Adding a feed type =
 * one file implementing tg_feed_ops_t plus one line in the registry (feed.c).
 */
#ifndef TICKGATE_FEED_H
#define TICKGATE_FEED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tickgate/breaker.h"
#include "tickgate/config.h"
#include "tickgate/symtab.h"
#include "tickgate/validate.h"
#include "tickgate/metrics.h"
#include "tickgate/ring.h"
#include "tickgate/tick.h"

typedef struct tg_feed tg_feed_t;

typedef struct tg_feed_ops {
    const char *type;
    /** Allocate adapter state into f->priv from f->conf. Main thread. 0 or -errno. */
    int (*init)(tg_feed_t *f);
    /** Thread body: produce ticks until tg_feed_stopping(f). Returns 0 or -errno. */
    int (*run)(tg_feed_t *f);
    /** Free f->priv; called after run returned (or if it never started). */
    void (*destroy)(tg_feed_t *f);
} tg_feed_ops_t;

/** Called by the feed thread after pushing ticks, to wake the engine. */
typedef void (*tg_feed_wake_fn)(void *arg);

struct tg_feed {
    const tg_feed_conf_t *conf; /* owned by the config */
    const tg_config_t *cfg;     /* the whole configuration (process switches) */
    const tg_feed_ops_t *ops;
    uint16_t index;             /* position in config, = tg_tick_t.feed */
    tg_ring_t *ring;            /* feed -> engine, this thread produces */
    tg_feed_wake_fn wake;
    void *wake_arg;
    _Atomic int stop;
    _Atomic int finished;       /* replay reached its end: "finished", not failed */
    _Atomic int64_t last_tick_ns; /* mono time of the last accepted tick (any thread reads) */
    void *priv;                 /* adapter state */
    pthread_t thread;
    bool started;
    /* resilience, owned by the feed thread (engine reads breaker_state) */
    tg_validator_t validator;
    tg_breaker_t breaker;
    _Atomic int breaker_state;  /* tg_breaker_state_t, for failover and health */
    tg_symtab_t filter;         /* conf symbols: ticks of other symbols are neutral */
    tg_symtab_t map;            /* symbol_map from -> index into conf->map_to */
    bool has_filter, has_map;
    _Atomic int symbol_limit_logged; /* the first symbol_limit refusal is logged, the rest counted */
    /* metrics (cached series pointers) */
    tg_counter_t *m_received;
    tg_counter_t *m_skipped;    /* synthetic: ticks skipped when > 100 ms late */
    tg_counter_t *m_rejected[TG_REJECT__COUNT];
    tg_gauge_t *m_state;
    tg_counter_t *m_transitions[3];
    tg_metrics_t *metrics;
};

/** Look up the ops for a feed type; NULL if unknown. */
const tg_feed_ops_t *tg_feed_ops_for(tg_feed_type_t type);

/**
 * Prepare feed `index` of `cfg`: ring of `ring_capacity` ticks, metrics, the
 * adapter's init. Main thread. Caller owns f (tg_feed_destroy).
 */
int tg_feed_init(tg_feed_t *f, const tg_config_t *cfg, uint16_t index, size_t ring_capacity,
                 tg_metrics_t *metrics, tg_feed_wake_fn wake, void *wake_arg);
int tg_feed_start(tg_feed_t *f);
/** Ask the thread to stop and join it. */
void tg_feed_stop(tg_feed_t *f);
void tg_feed_destroy(tg_feed_t *f);

static inline bool tg_feed_stopping(tg_feed_t *f)
{
    return atomic_load_explicit(&f->stop, memory_order_relaxed) != 0;
}

/**
 * Feed thread: hand n normalized ticks to the engine. Each tick gets its
 * accept time (ts) and feed index, is renamed by symbol_map, filtered by the
 * feed's `symbols` (neutral), validated (rejections counted by reason, a
 * breaker failure), and the valid ones are pushed (waiting while the ring is
 * full: feed rings use backpressure) and the engine woken. The array is
 * modified in place.
 */
void tg_feed_emit(tg_feed_t *f, tg_tick_t *ticks, size_t n);

/** Feed thread: a message that is no tick (status, heartbeat, reply): liveness. */
void tg_feed_neutral(tg_feed_t *f);
/** Feed thread: a message that could not be parsed: counted, a breaker failure. */
void tg_feed_parse_error(tg_feed_t *f);
/** Feed thread: a well-formed message of a type the format does not know:
 * counted as `unknown_message`, liveness only. */
void tg_feed_unknown_message(tg_feed_t *f);
/**
 * A tick of a new symbol refused because engine.max_symbols are known
 * (validator on the feed thread, or the engine's table): counted as
 * `symbol_limit`; the first one per feed is logged. Any thread.
 */
void tg_feed_symbol_limit(tg_feed_t *f, const char *symbol);
/** Feed thread: connection events (breaker failures; disconnect opens at once). */
void tg_feed_connect_error(tg_feed_t *f);
void tg_feed_disconnected(tg_feed_t *f);

/**
 * Feed thread: timers (staleness, open -> half_open). Adapters call it at
 * least every 10 ms, also while waiting for I/O.
 */
void tg_feed_poll(tg_feed_t *f);

/** Any thread: the feed's breaker state as last published. */
static inline tg_breaker_state_t tg_feed_state(const tg_feed_t *f)
{
    return (tg_breaker_state_t)atomic_load_explicit(&f->breaker_state, memory_order_relaxed);
}

extern const tg_feed_ops_t tg_feed_synthetic_ops;
extern const tg_feed_ops_t tg_feed_replay_ops;
extern const tg_feed_ops_t tg_feed_ws_ops;
extern const tg_feed_ops_t tg_feed_tcp_ops;
extern const tg_feed_ops_t tg_feed_redis_ops;

#endif
