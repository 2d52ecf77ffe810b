/* redis_int.h - the Redis thread's internal state, shared by redis*.c. */
#ifndef TG_REDIS_INT_H
#define TG_REDIS_INT_H

#include "tickgate/redis.h"

#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <msgpack.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tickgate/buf.h"
#include "tickgate/backoff.h"
#include "tickgate/clock.h"
#include "tickgate/log.h"
#include "tickgate/ring.h"
#include "tickgate/symtab.h"

#define TICK_RING_CAP 65536
#define ALERT_RING_CAP 4096
#define QUOTE_FLUSH_NS 1000000000LL  /* quote hashes once per second (TTL 60 s) */
#define QUOTE_TTL_S "60"
#define MAX_OUTSTANDING 200000       /* past this, ticks are not published (Redis too slow) */
#define CACHE_SLOTS 4096             /* per lookup cache; power of two */
#define CACHE_PROBE 16
#define REVOKE_TTL_NS (30LL * 1000000000LL)
#define REQ_CAP 4096
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

typedef struct revoke_entry {
    char hex[65];
    int8_t verdict;      /* tg_redis_verdict_t */
    bool pending;
    int64_t checked_ns;  /* mono time of the last answer */
    int64_t used_ns;
} revoke_entry_t;

typedef struct rate_entry {
    char user[TG_PORTFOLIO_ID_MAX + 1];
    int8_t verdict;
    int limit;
    int64_t answered_ns;
    int64_t used_ns;
} rate_entry_t;

typedef struct req {
    uint8_t kind; /* 1 revoke lookup, 2 rate hit, 3 revoke (store + announce) */
    int limit, window_s;
    char key[TG_PORTFOLIO_ID_MAX + 1];
    bool sub;             /* kind 3: key is a sub, else a token hash */
    int64_t at_s, ttl_s;  /* kind 3 */
} req_t;

typedef struct qentry {
    tg_tick_t last;
    bool dirty;
} qentry_t;

struct tg_redis {
    const tg_config_t *cfg;
    tg_redis_url_t url;
    tg_ring_t *ticks, *alerts;
    pthread_t thread;
    bool started;
    _Atomic int stop;
    _Atomic int up;
    int wake_fd;

    redisAsyncContext *ac;
    bool want_read, want_write, connected;
    int64_t connect_started_ns, next_connect_ns;
    tg_backoff_t backoff; /* reconnect waits */
    bool down_logged;
    uint64_t outstanding;
    int64_t progress_ns;
    int64_t timeout_ns;

    tg_symtab_t syms;
    qentry_t *q;
    size_t capq;
    uint32_t *dirty;       /* symbol ids with a quote to flush, each at most once */
    size_t capdirty;
    size_t ndirty;
    int64_t next_quote_ns;

    pthread_mutex_t lock; /* caches and request queue */
    revoke_entry_t *revoke;
    rate_entry_t *rate;
    req_t *reqs;
    size_t req_head, req_len;
    uint64_t rate_seq;

    tg_tick_t batch[512];
    tg_snap_row_t abatch[64];
    /* revocations from every node (redis_revoke.c), under `lock` */
    tg_redis_revocation_fn on_revocation;
    void *revocation_ud;
    char revocations_last[64]; /* stream id read up to ("0" = from the start) */
    int64_t next_revocations_ns;
    bool revocations_inflight;
    tg_gauge_t *m_up;
    tg_counter_t *m_skipped;
};

typedef struct cb {
    uint8_t kind; /* 0 plain, 1 revoke, 2 rate (EXEC), 3 auth/select, 4 hello ping */
    int limit;
    char key[TG_PORTFOLIO_ID_MAX + 1];
} cb_t;

/* Lookup cache probe: the entry for keyv in table (created when absent). */
static inline uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static inline void copy_trunc(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* Slot for key in a cache of CACHE_SLOTS entries (found, free, or the least recently used). */
#define CACHE_FIND(table, field, keyv, now, created)                                              \
    ({                                                                                             \
        uint64_t h_ = hash_str(keyv);                                                              \
        __typeof__(&(table)[0]) best_ = NULL;                                                      \
        *(created) = false;                                                                        \
        for (int i_ = 0; i_ < CACHE_PROBE; i_++) {                                                 \
            __typeof__(&(table)[0]) e_ = &(table)[(h_ + (uint64_t)i_) & (CACHE_SLOTS - 1)];        \
            if (strcmp(e_->field, keyv) == 0) {                                                    \
                best_ = e_;                                                                        \
                break;                                                                             \
            }                                                                                      \
            if (!best_ || (best_->field[0] && (!e_->field[0] || e_->used_ns < best_->used_ns)))    \
                best_ = e_;                                                                        \
        }                                                                                          \
        if (strcmp(best_->field, keyv) != 0) {                                                     \
            memset(best_, 0, sizeof *best_);                                                       \
            copy_trunc(best_->field, sizeof best_->field, keyv);                                   \
            best_->verdict = TG_REDIS_UNKNOWN;                                                     \
            *(created) = true;                                                                     \
        }                                                                                          \
        best_->used_ns = (now);                                                                    \
        best_;                                                                                     \
    })

/* ---- shared between the redis_*.c files ---- */

void tg__redis_wake(tg_redis_t *r);
tg_redis_verdict_t tg__redis_revoked(tg_redis_t *r, const char *hex, int64_t max_age_ns, bool fresh);
int tg__redis_send_argv(tg_redis_t *r, cb_t *c, int argc, const char **argv, const size_t *lens);
cb_t *tg__redis_cb_new(uint8_t kind);
void tg__redis_publish_tick(tg_redis_t *r, const tg_tick_t *t);
void tg__redis_cache_quote(tg_redis_t *r, const tg_tick_t *t);
void tg__redis_flush_quotes(tg_redis_t *r);
void tg__redis_xadd_alert(tg_redis_t *r, const tg_snap_row_t *a);
void tg__redis_run_requests(tg_redis_t *r);
bool tg__redis_enqueue(tg_redis_t *r, const req_t *q);
void tg__redis_send_revoke(tg_redis_t *r, const req_t *q);
void tg__redis_poll_revocations(tg_redis_t *r, int64_t now);
void tg__redis_on_revocations(tg_redis_t *r, redisReply *rep);

#endif
