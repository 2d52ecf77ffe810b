/* pg_int.h - the PostgreSQL thread's internal state, shared by pg*.c. */
#ifndef TG_PG_INT_H
#define TG_PG_INT_H

#include "tickgate/pg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tickgate/backoff.h"
#include "tickgate/clock.h"
#include "tickgate/embed.h"
#include "tickgate/buf.h"
#include "tickgate/json.h"
#include "tickgate/log.h"
#include "tickgate/ring.h"

#define RING_CAP 16384            /* rows; ~8 MiB. Full ring: the engine keeps rows */
#define SEG_MAX_ROWS 8192         /* rows per backlog segment */
#define SEG_MAX_BYTES (4u << 20)  /* bytes per backlog segment */
#define BATCH_MAX_ROWS 100000     /* rows per transaction */
#define WRITE_GAP_NS 50000000LL   /* alerts reach the table within ~50 ms */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define DAY_NS (86400LL * 1000000000LL)

/* ---- backlog segments ------------------------------------------------------- */

typedef struct seg {
    struct seg *next;
    char *data; /* NULL while spilled */
    size_t len, cap;
    uint32_t rows, alert_rows;
    uint64_t file_id; /* != 0: it has a spill file */
} seg_t;

/* kinds before T_A are snapshot-like rows (dropped past the buffer without
 * journal.dir); T_A and later are alert rows, never dropped */
enum { T_Q, T_P, T_B, T_D, T_A, T_R, T_K, T_COUNT };
static const char tags[T_COUNT] = {'Q', 'P', 'B', 'D', 'A', 'R', 'K'};
static const char *const table_names[T_COUNT] = {"quote_snapshots", "portfolio_snapshots", "bars",
                                                 "day_state", "portfolio_alerts",
                                                 "portfolio_alerts", "portfolio_alerts"};

struct tg_store_pg {
    const tg_config_t *cfg;
    tg_portfolio_sink_t portfolios; /* where loaded portfolios go (main.c: the engine) */
    tg_ring_t *ring;
    pthread_t thread;
    bool started;
    _Atomic int stop;
    _Atomic int up;
    _Atomic int attempted; /* the first connection attempt (and load) is over */
    int grace_ms;

    PGconn *conn;
    PGconn *api_conn;         /* PUT/DELETE portfolio writes (pg_portfolio_write.c) */
    pthread_mutex_t api_lock; /* serializes them */
    int64_t next_connect_ns;
    tg_backoff_t backoff; /* reconnect waits */
    bool ever_up, alerts_restored, down_logged;
    int64_t last_write_ns, next_retention_ns;

    seg_t *head, *tail; /* sealed backlog, FIFO */
    seg_t cur;          /* open segment (in memory) */
    uint64_t mem_rows, total_rows;
    uint64_t next_file_id;
    char spill_dir[4096];

    char **known; /* portfolio ids last loaded from PostgreSQL */
    size_t nknown, capknown;

    tg_snap_row_t batch[256];

    tg_counter_t *m_rows[T_COUNT];
    tg_counter_t *m_dropped;
    tg_gauge_t *m_backlog;
    tg_gauge_t *m_up;
};

/* ---- shared between the pg_*.c files ---- */

PGconn *tg__pg_connect(const char *url);
bool tg__pg_exec_ok(PGconn *c, const char *sql, char *err, size_t errlen);
void tg__pg_conn_lost(tg_store_pg_t *pg, const char *why);
void tg__pg_update_backlog(tg_store_pg_t *pg);
int tg__pg_tag_index(char c);
void tg__pg_add_row(tg_store_pg_t *pg, tg_snap_row_t *r);
int tg__pg_spill_write(tg_store_pg_t *pg, seg_t *s);
int tg__pg_spill_load(tg_store_pg_t *pg, seg_t *s);
void tg__pg_spill_unlink(tg_store_pg_t *pg, seg_t *s);
void tg__pg_seal(tg_store_pg_t *pg);
void tg__pg_seg_free(seg_t *s);
void tg__pg_spill_scan(tg_store_pg_t *pg);
int tg__pg_sync_portfolios(tg_store_pg_t *pg);
void tg__pg_on_notify(tg_store_pg_t *pg, const char *id);
void tg__pg_restore_alerts(tg_store_pg_t *pg);
int tg__pg_write_batch(tg_store_pg_t *pg);
void tg__pg_retention(tg_store_pg_t *pg, int64_t now);

/* The calling thread's own reading connection (API requests, pg_bars.c):
 * opened on first use, closed at thread exit; drop it after a failed query.
 * NULL with err "cannot connect" when it cannot be opened (-ECONNREFUSED). */
PGconn *tg__pg_reader_conn(const char *url, char *err, size_t errlen);
void tg__pg_reader_drop(void);

#endif
