/* engine_int.h - the engine's internal state, shared by engine*.c. */
#ifndef TG_ENGINE_INT_H
#define TG_ENGINE_INT_H

#include "tickgate/engine.h"

#include <errno.h>
#include <openssl/rand.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tickgate/buf.h"
#include "tickgate/clock.h"
#include "tickgate/encode.h"
#include "tickgate/log.h"
#include "tickgate/embed.h"
#include "tickgate/file.h"
#include "tickgate/journal.h"
#include "tickgate/book.h"
#include "tickgate/trading_day.h"
#include "tickgate/symtab.h"

#include "engine_bars.h"

/* Each user's notifications seq (readers.c). */
typedef struct tg__reader {
    uint64_t h; /* 0: empty slot */
    char *name;
    uint64_t seq;
} tg__reader_t;
typedef struct tg__readers {
    tg__reader_t *slots;
    uint32_t mask, count;
} tg__readers_t;
/** The next seq of user's notifications stream (1, 2, …); 0 on ENOMEM. */
uint64_t tg__readers_next(tg__readers_t *r, const char *user);
/** Number one alert for each reader of acl (NUL-terminated ids) into out, in
 * ACL order; how many were numbered (0 on ENOMEM, at most cap). */
size_t tg__readers_number(tg__readers_t *r, const char *acl, size_t acl_len, uint64_t *out,
                          size_t cap);
void tg__readers_free(tg__readers_t *r);

/* Ticks popped from a feed ring at once; every per-batch array is this long. */
#define TG_ENGINE_BATCH 512

#define TG__DAY_UNSAVED INT64_MIN

typedef struct quote {
    char symbol[TG_SYMBOL_MAX + 1];
    uint8_t sym_len;
    bool has_price;
    uint16_t source;   /* feed index of the last accepted tick */
    tg_dec_t price, bid, ask, size, volume, day_open;
    int64_t ts, src_ts;
    int64_t trade_ts;  /* ts of the last trade (ts follows bid/ask too): price's time */
    uint64_t seq;      /* seq of the last quote message for this symbol */
    uint32_t served;   /* bit per feed index (< 32) that has delivered this symbol */
    bool snap_dirty;   /* changed since the last PostgreSQL snapshot */
    /* with PostgreSQL and no journal.dir: what its last day_state row holds
     * (day_saved_open TG__DAY_UNSAVED: no row of this session day yet) */
    tg_dec_t day_saved_open, day_saved_vol, day_saved_price;
} quote_t;

typedef struct pf_pub {
    uint64_t seq;         /* seq of the last portfolio message of this slot */
    int64_t last_pub_ns;  /* mono time of the last publication (rate limit) */
    bool dirty;           /* figures changed since the last publication */
    bool live;
    bool snap_dirty;      /* changed since the last PostgreSQL snapshot */
    int64_t holdings_ns;  /* mono time holdings were last written to PostgreSQL */
    tg_msg_t *last;       /* with PostgreSQL: ref of the last `portfolio` message */
    bool day_saved_ok;    /* day_saved is its day_state row of this session day */
    tg_book_day_t day_saved;
} pf_pub_t;

typedef struct tg__engine_day_pf {
    char *id;
    tg_book_day_t day;
} tg__engine_day_pf_t;

typedef struct tg__engine_day_last {
    uint32_t id; /* symbol id */
    tg_dec_t price;
    int64_t ts;
} tg__engine_day_last_t;

typedef struct cmd {
    struct cmd *next;
    tg_engine_cmd_type_t type;
    tg_portfolio_spec_t *spec;
    char id[TG_PORTFOLIO_ID_MAX + 1];
    char rule[32];
    char symbol[TG_SYMBOL_MAX + 1];
    char alert_id[TG_ALERT_ID_LEN + 1];
    char by[TG_PORTFOLIO_ID_MAX + 1]; /* ACK_ALERT: the user */
    char *text;   /* RELOAD: the portfolio file, read by the caller (heap) */
    size_t len;
    bool has_conf; /* RELOAD: new alerts thresholds and portfolio_max_hz */
    tg_dec_t alerts[6];
    int portfolio_max_hz;
} cmd_t;

typedef struct output {
    tg_ring_t *ring;
    tg_engine_wake_fn wake;
    void *arg;
    bool dirty; /* pushed since the last wake */
} output_t;

struct tg_engine {
    const tg_config_t *cfg;  /* &own: what SIGHUP changes is changed on the engine thread */
    tg_config_t own;         /* shallow copy of the app's config (strings shared) */
    tg_feed_t *feeds;
    size_t nfeeds;
    output_t out[TG_ENGINE_MAX_OUTPUTS];
    size_t nout;

    tg_symtab_t syms; /* symbol -> id, indexes quotes[] and the book's positions */
    quote_t *quotes;
    size_t capquotes;
    uint32_t *batch_last; /* per symbol: index+1 of its newest tick in the batch (conflation) */
    size_t cap_batch_last;

    tg_book_t *book;
    pf_pub_t *pf;         /* per portfolio slot: publication state */
    size_t cap_pf;
    uint32_t *pf_dirty;   /* slots with unpublished changes */
    size_t n_pf_dirty, cap_pf_dirty;
    int64_t pf_min_gap_ns; /* 1 / portfolio_max_hz */
    int64_t next_session_ns;

    /* growable encode scratch (portfolio messages can be large) */
    char *ejson;
    unsigned char *emp;
    size_t ecap;
    tg_holding_view_t *hviews;
    size_t cap_hviews;

    pthread_mutex_t cmd_lock; /* control commands only, never ticks */
    cmd_t *cmd_head, **cmd_tail;
    _Atomic int cmd_pending;

    _Atomic uint32_t degraded_symbols; /* symbols with no closed feed serving them */
    int64_t next_degraded_check_ns;
    int64_t next_risk_ns; /* once a second: concentration, volatility (book_risk.c) */

    pthread_t thread;
    bool started;
    _Atomic int stop;
    _Atomic int running;
    _Atomic uint32_t bell;     /* futex word, bumped by wakers */
    _Atomic int sleeping;

    tg_tick_t batch[TG_ENGINE_BATCH]; /* one ring pop */
    char jbuf[4096];
    unsigned char mbuf[4096];

    uint64_t system_seq;  /* seq of the `system` channel key */
    uint64_t alert_no;    /* portfolio alerts published so far (tg_msg_t.seq of alerts) */
    tg__readers_t readers; /* each user's notifications seq (tg_msg_t.rseq of alerts) */
    char feed_alert[TG_MAX_FEEDS][TG_ALERT_ID_LEN + 1]; /* firing breaker/stale alert per feed */
    tg_alert_rule_t feed_alert_rule[TG_MAX_FEEDS];      /* its rule: the resolution repeats it */
    tg_alert_ids_t alert_ids;

    tg_msg_t **early;     /* published before the gateways exist (load, journal restore) */
    size_t nearly, capearly;

    tg_ebars_t *bars;             /* OHLCV bars (SPEC §12) */
    tg_tick_t jbatch[TG_ENGINE_BATCH]; /* accepted ticks of the current batch, for the tick sinks */
    size_t njbatch;

    /* persistence (push == NULL when not configured); see tg__engine_take_snapshot() */
    tg_engine_sinks_t sinks;
    uint32_t *snap_q;      /* symbol ids with snap_dirty, capacity = capquotes */
    size_t n_snap_q, cap_snap_q;
    uint32_t *snap_p;      /* portfolio slots with snap_dirty, capacity = cap_pf */
    size_t n_snap_p, cap_snap_p;
    tg_snap_row_t *alert_q; /* alert rows the snapshot ring had no room for, in order */
    size_t n_alert_q, cap_alert_q;
    int64_t next_snap_ns;
    int64_t snap_ts;       /* time of the snapshot being pushed */
    bool snap_pending;     /* rows of that snapshot still to push */
    tg_snap_row_t snap_rows[64];

    /* day state across restarts (engine_daystate.c) */
    tg__engine_day_pf_t *day_pf; /* saved baselines of portfolios not put yet */
    size_t n_day_pf, cap_day_pf;
    int64_t next_daystate_ns;
    int64_t day_rows_session;    /* session start of the last day_state rows pushed */
    int64_t day_rows_held;       /* a session whose PostgreSQL load failed: no rows of it */
    int64_t session_ns;          /* start of the session day check_session last opened */
    int64_t day_pf_session;      /* the session day the baselines in day_pf are of */
    tg__engine_day_last_t *day_last; /* PostgreSQL: last prices to put back at thread start */
    size_t n_day_last, cap_day_last;
    bool day_deferred;           /* PostgreSQL: prices and baselines wait for the thread */
    bool restoring;              /* journal restore: last quotes are not new trades */

    tg_counter_t *m_accepted;
    tg_counter_t *m_conflated;
    tg_counter_t *m_alerts[TG_ALERT_RULE_COUNT][2];
    tg_histogram_t *m_tick_seconds;
    tg_gauge_t *m_symbols;
};

/* ---- shared between the engine_*.c files ---- */

quote_t *tg__engine_quote_for(tg_engine_t *e, const char *sym, size_t len);
void tg__engine_publish(tg_engine_t *e, tg_msg_t *m);
void tg__engine_publish_ack(tg_engine_t *e, const char *portfolio_id, const char *alert_id,
                            const char *by);
/* portfolio_alerts row and tickgate:alerts entry; feed alerts: sp NULL, feed named */
void tg__engine_persist_alert(tg_engine_t *e, const tg_portfolio_spec_t *sp,
                              const tg_alert_event_t *a, const char *feed);
void tg__engine_flush_wakes(tg_engine_t *e);
tg_msg_t *tg__engine_encode_quote(tg_engine_t *e, const quote_t *q);
void tg__engine_publish_portfolio(tg_engine_t *e, uint32_t slot);
void tg__engine_portfolio_changed(tg_engine_t *e, uint32_t slot);
void tg__engine_flush_portfolios(tg_engine_t *e);
void tg__engine_flush_alert_rows(tg_engine_t *e);
void tg__engine_on_book_event(void *ud, const tg_book_event_t *ev);
int tg__engine_load_portfolios(tg_engine_t *e, char *err, size_t errlen);
void tg__engine_run_commands(tg_engine_t *e);
void tg__engine_on_quote(tg_engine_t *e, const tg_tick_t *t, quote_t *q);
void tg__engine_on_batch(tg_engine_t *e, const tg_tick_t *ticks, size_t n);
bool tg__engine_take_snapshot(tg_engine_t *e, int64_t ts);
void tg__engine_daystate_load(tg_engine_t *e);
void tg__engine_daystate_apply(tg_engine_t *e);
void tg__engine_daystate_save(tg_engine_t *e);
void tg__engine_daystate_on_put(tg_engine_t *e, const char *id);
void tg__engine_daystate_tick(tg_engine_t *e, int64_t mono);
/* with PostgreSQL and no journal.dir: day_state rows of what changed; true when all went */
bool tg__engine_daystate_rows(tg_engine_t *e);
/* engine thread, first thing: the day state loaded from PostgreSQL, in order */
void tg__engine_daystate_start(tg_engine_t *e);
void tg__engine_daystate_free(tg_engine_t *e);
/* start of the session day containing now (engine.session_open in session_tz) */
int tg__engine_session_start(const tg_engine_t *e, int64_t now, int64_t *out);
/* check_session: a new session day opened at start; baselines of another day go */
void tg__engine_daystate_session(tg_engine_t *e, int64_t start);

#endif
