/* pg.c - the PostgreSQL thread: migrate, portfolios in, snapshots and alerts out.
 *
 * See store.h for the contract. Internals:
 *
 *   engine --ring (tg_snap_row_t)--> this thread --> backlog --> COPY batches
 *
 * The backlog is a FIFO of segments, each a block of COPY text lines tagged
 * with their table ('Q' quote_snapshots, 'P' portfolio_snapshots, 'A'
 * portfolio_alerts insert, 'R' alert resolution). A segment is in memory or,
 * past postgres.max_buffer_rows with journal.dir set, in a spill file under
 * journal.dir/pg-spill/; either way it keeps its place in the FIFO, so the
 * backlog is written in order when PostgreSQL comes back. A batch (one
 * transaction) COPYs the head segments into temporary staging tables and
 * moves them with INSERT ... SELECT ... ON CONFLICT DO NOTHING: a batch
 * retried after a failure (lost COMMIT reply, restart) never duplicates.
 *
 * Everything below runs on the writer thread except tg_store_pg_push
 * (engine thread), tg_store_pg_up (any thread) and the pure helpers.
 */
#include "tickgate/store.h"

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

#include "tickgate/clock.h"
#include "tickgate/embed.h"
#include "tickgate/engine.h"
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

/* ---- growable byte buffer ------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf_t;

static bool sb_reserve(sbuf_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return true;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->len + more)
        nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = nc;
    return true;
}

static void sb_put(sbuf_t *b, const void *s, size_t n)
{
    if (sb_reserve(b, n + 1)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = 0;
    }
}

static void sb_puts(sbuf_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* JSON string with quotes */
static void sb_json_str(sbuf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (!sb_reserve(b, n * 6 + 3))
        return;
    b->p[b->len++] = '"';
    int w = tg_json_escape(s, n, b->p + b->len, b->cap - b->len - 2);
    if (w > 0)
        b->len += (size_t)w;
    b->p[b->len++] = '"';
    b->p[b->len] = 0;
}

/* ---- pure helpers ----------------------------------------------------------- */

size_t tg_store_format_ts(int64_t ns, char *buf, size_t cap)
{
    int64_t sec = ns / 1000000000LL, frac = ns % 1000000000LL;
    if (frac < 0) {
        frac += 1000000000LL;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return 0;
    int n = snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long long)(frac / 1000));
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Line writer over a fixed buffer; overflow sticks. */
typedef struct lw {
    char *p;
    size_t len, cap;
    bool full;
} lw_t;

static void lw_raw(lw_t *w, const char *s, size_t n)
{
    if (w->full || w->len + n > w->cap) {
        w->full = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

/* COPY text format: backslash, tab, newline and CR must be escaped. */
static void lw_text(lw_t *w, const char *s, size_t n)
{
    for (size_t i = 0; i < n && !w->full; i++) {
        char c = s[i];
        switch (c) {
        case '\\':
            lw_raw(w, "\\\\", 2);
            break;
        case '\t':
            lw_raw(w, "\\t", 2);
            break;
        case '\n':
            lw_raw(w, "\\n", 2);
            break;
        case '\r':
            lw_raw(w, "\\r", 2);
            break;
        default:
            lw_raw(w, &c, 1);
        }
    }
}

static void lw_str(lw_t *w, const char *s)
{
    lw_text(w, s, strlen(s));
}

static void lw_tab(lw_t *w)
{
    lw_raw(w, "\t", 1);
}

static void lw_null(lw_t *w)
{
    lw_raw(w, "\\N", 2);
}

static void lw_dec(lw_t *w, tg_dec_t v)
{
    char b[TG_DEC_STRLEN + 1];
    lw_raw(w, b, tg_dec_format(v, b));
}

static void lw_ts(lw_t *w, int64_t ns)
{
    char b[64];
    size_t n = tg_store_format_ts(ns, b, sizeof b);
    if (n)
        lw_raw(w, b, n);
    else
        lw_null(w);
}

int tg_store_holdings_json(const char *json, size_t len, size_t *start, size_t *out_len)
{
    static const char key[] = "\"holdings\":";
    const size_t kl = sizeof key - 1;
    /* keys and string values are escaped JSON, so the key text cannot occur
     * inside a string except as a value equal to it - skip strings properly */
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c != '"')
            continue;
        if (i + kl < len && memcmp(json + i, key, kl) == 0 && json[i + kl] == '[') {
            size_t s = i + kl, depth = 0;
            bool str = false;
            for (size_t k = s; k < len; k++) {
                char d = json[k];
                if (str) {
                    if (d == '\\')
                        k++;
                    else if (d == '"')
                        str = false;
                } else if (d == '"') {
                    str = true;
                } else if (d == '[' || d == '{') {
                    depth++;
                } else if (d == ']' || d == '}') {
                    if (--depth == 0) {
                        *start = s;
                        *out_len = k - s + 1;
                        return 0;
                    }
                }
            }
            return -ENOENT;
        }
        in_str = true;
    }
    return -ENOENT;
}

size_t tg_store_copy_line(const tg_snap_row_t *r, const char *source, char *buf, size_t cap)
{
    lw_t w = {.p = buf, .cap = cap};
    switch (r->kind) {
    case TG_SNAP_QUOTE:
        lw_str(&w, r->q.symbol);
        lw_tab(&w);
        lw_ts(&w, r->ts);
        lw_tab(&w);
        lw_dec(&w, r->q.price);
        lw_tab(&w);
        if (r->q.bid)
            lw_dec(&w, r->q.bid);
        else
            lw_null(&w);
        lw_tab(&w);
        if (r->q.ask)
            lw_dec(&w, r->q.ask);
        else
            lw_null(&w);
        lw_tab(&w);
        lw_dec(&w, r->q.volume);
        lw_tab(&w);
        if (source)
            lw_str(&w, source);
        else
            lw_null(&w);
        break;
    case TG_SNAP_PORTFOLIO: {
        lw_str(&w, r->p.id);
        lw_tab(&w);
        lw_ts(&w, r->ts);
        const tg_dec_t v[] = {r->p.value, r->p.cost_basis, r->p.pnl, r->p.day_change,
                              r->p.max_drift};
        for (size_t i = 0; i < 5; i++) {
            lw_tab(&w);
            lw_dec(&w, v[i]);
        }
        lw_tab(&w);
        size_t s, n;
        if (r->p.holdings &&
            tg_store_holdings_json((const char *)r->p.holdings->json, r->p.holdings->json_len,
                                   &s, &n) == 0)
            lw_text(&w, (const char *)r->p.holdings->json + s, n);
        else
            lw_null(&w);
        break;
    }
    case TG_SNAP_ALERT_FIRING: {
        const char *rule = tg_alert_rule_name((tg_alert_rule_t)r->a.rule);
        lw_str(&w, r->a.alert_id);
        lw_tab(&w);
        lw_str(&w, r->a.owner);
        lw_tab(&w);
        lw_str(&w, r->a.portfolio_id);
        lw_tab(&w);
        lw_str(&w, rule);
        lw_tab(&w);
        lw_str(&w, tg_alert_severity_name((tg_alert_severity_t)r->a.severity));
        lw_tab(&w);
        char title[256];
        snprintf(title, sizeof title, "%s %s", rule, r->a.portfolio_id);
        lw_str(&w, title);
        lw_tab(&w);
        lw_str(&w, r->a.message);
        lw_tab(&w);
        /* metadata: what the alert message carries besides the columns */
        char meta[512], vb[TG_DEC_STRLEN + 1], tb[TG_DEC_STRLEN + 1];
        tg_dec_format(r->a.value, vb);
        tg_dec_format(r->a.threshold, tb);
        char sym[3 * TG_SYMBOL_MAX + 8] = "";
        if (r->a.symbol[0]) {
            char esc[6 * TG_SYMBOL_MAX + 1];
            int el = tg_json_escape(r->a.symbol, strlen(r->a.symbol), esc, sizeof esc - 1);
            esc[el > 0 ? el : 0] = 0;
            snprintf(sym, sizeof sym, ",\"symbol\":\"%.*s\"", (int)(sizeof sym - 16), esc);
        }
        snprintf(meta, sizeof meta, "{\"rule\":\"%s\",\"value\":%s,\"threshold\":%s%s}", rule, vb,
                 tb, sym);
        lw_str(&w, meta);
        lw_tab(&w);
        lw_ts(&w, r->ts);
        break;
    }
    case TG_SNAP_ALERT_RESOLVED:
        lw_str(&w, r->a.alert_id);
        lw_tab(&w);
        lw_ts(&w, r->ts);
        break;
    default:
        return 0;
    }
    lw_raw(&w, "\n", 1);
    return w.full ? 0 : w.len;
}

/* ---- backlog segments ------------------------------------------------------- */

typedef struct seg {
    struct seg *next;
    char *data; /* NULL while spilled */
    size_t len, cap;
    uint32_t rows, alert_rows;
    uint64_t file_id; /* != 0: it has a spill file */
} seg_t;

enum { T_Q, T_P, T_A, T_R, T_COUNT };
static const char tags[T_COUNT] = {'Q', 'P', 'A', 'R'};
static const char *const table_names[T_COUNT] = {"quote_snapshots", "portfolio_snapshots",
                                                 "portfolio_alerts", "portfolio_alerts"};

struct tg_store_pg {
    const tg_config_t *cfg;
    tg_engine_t *engine;
    tg_ring_t *ring;
    pthread_t thread;
    bool started;
    _Atomic int stop;
    _Atomic int up;
    _Atomic int attempted; /* the first connection attempt (and load) is over */
    int grace_ms;

    PGconn *conn;
    int64_t next_connect_ns;
    int backoff_ms;
    bool ever_up, alerts_restored, down_logged;
    int64_t last_write_ns, next_retention_ns;

    seg_t *head, *tail; /* sealed backlog, FIFO */
    seg_t cur;          /* open segment (in memory) */
    uint64_t mem_rows, total_rows;
    uint64_t next_file_id;
    char spill_dir[4096];

    char **known; /* portfolio ids last loaded from PostgreSQL */
    size_t nknown, capknown;

    sbuf_t line;
    tg_snap_row_t batch[256];

    tg_counter_t *m_rows[T_COUNT];
    tg_counter_t *m_dropped;
    tg_gauge_t *m_backlog;
    tg_gauge_t *m_up;
};

static void update_backlog(tg_store_pg_t *pg)
{
    tg_gauge_set(pg->m_backlog, (int64_t)(pg->total_rows + pg->cur.rows));
}

static int tag_index(char c)
{
    for (int i = 0; i < T_COUNT; i++)
        if (tags[i] == c)
            return i;
    return -1;
}

/* Append a ring row to the open segment as "<tag><COPY line>". */
static void add_row(tg_store_pg_t *pg, tg_snap_row_t *r)
{
    int t = r->kind == TG_SNAP_QUOTE       ? T_Q
            : r->kind == TG_SNAP_PORTFOLIO ? T_P
            : r->kind == TG_SNAP_ALERT_FIRING ? T_A
                                              : T_R;
    const char *source = NULL;
    if (r->kind == TG_SNAP_QUOTE && r->q.source < pg->cfg->n_feeds)
        source = pg->cfg->feeds[r->q.source].name;
    size_t need = 1024;
    if (r->kind == TG_SNAP_PORTFOLIO && r->p.holdings)
        need += (size_t)r->p.holdings->json_len * 2;
    seg_t *s = &pg->cur;
    if (s->len + need + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 65536;
        while (nc < s->len + need + 1)
            nc *= 2;
        char *nd = realloc(s->data, nc);
        if (!nd) {
            TG_ERROR("snapshot_row_lost", "error", TG_S("out of memory"));
            goto out;
        }
        s->data = nd;
        s->cap = nc;
    }
    s->data[s->len] = tags[t];
    size_t n = tg_store_copy_line(r, source, s->data + s->len + 1, s->cap - s->len - 1);
    if (n) {
        s->len += n + 1;
        s->rows++;
        if (t >= T_A)
            s->alert_rows++;
    }
out:
    if (r->kind == TG_SNAP_PORTFOLIO)
        tg_msg_unref(r->p.holdings);
}

static int spill_write(tg_store_pg_t *pg, seg_t *s)
{
    char path[4200], tmp[4210];
    if (!s->file_id)
        s->file_id = ++pg->next_file_id;
    snprintf(path, sizeof path, "%s/%016llu.rows", pg->spill_dir, (unsigned long long)s->file_id);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    while (off < s->len) {
        ssize_t w = write(fd, s->data + off, s->len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            unlink(tmp);
            return e;
        }
        off += (size_t)w;
    }
    /* the spill exists so rows survive: make it durable before dropping memory */
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    return 0;
}

static int spill_load(tg_store_pg_t *pg, seg_t *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%016llu.rows", pg->spill_dir, (unsigned long long)s->file_id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -errno;
    }
    char *d = malloc((size_t)st.st_size + 1);
    if (!d) {
        close(fd);
        return -ENOMEM;
    }
    size_t off = 0;
    while (off < (size_t)st.st_size) {
        ssize_t r = read(fd, d + off, (size_t)st.st_size - off);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        off += (size_t)r;
    }
    close(fd);
    /* a torn tail (crash while writing is impossible: tmp + rename) - keep whole lines */
    while (off > 0 && d[off - 1] != '\n')
        off--;
    s->data = d;
    s->len = off;
    s->cap = (size_t)st.st_size + 1;
    return 0;
}

static void spill_unlink(tg_store_pg_t *pg, seg_t *s)
{
    if (!s->file_id)
        return;
    char path[4200];
    snprintf(path, sizeof path, "%s/%016llu.rows", pg->spill_dir, (unsigned long long)s->file_id);
    unlink(path);
    s->file_id = 0;
}

/* Without journal.dir: drop snapshot lines of the oldest segments, keep alert lines. */
static void drop_oldest(tg_store_pg_t *pg, uint64_t limit)
{
    for (seg_t *s = pg->head; s && pg->mem_rows > limit; s = s->next) {
        if (!s->data || s->rows == s->alert_rows)
            continue;
        size_t w = 0;
        uint32_t dropped = 0;
        for (size_t i = 0; i < s->len;) {
            char *nl = memchr(s->data + i, '\n', s->len - i);
            size_t l = nl ? (size_t)(nl - (s->data + i)) + 1 : s->len - i;
            int t = tag_index(s->data[i]);
            if (t == T_A || t == T_R) {
                memmove(s->data + w, s->data + i, l);
                w += l;
            } else {
                dropped++;
            }
            i += l;
        }
        s->len = w;
        s->rows -= dropped;
        pg->mem_rows -= dropped;
        pg->total_rows -= dropped;
        tg_counter_add(pg->m_dropped, dropped);
    }
}

/* Close the open segment and append it to the FIFO (spilling when over budget). */
static void seal(tg_store_pg_t *pg)
{
    if (!pg->cur.rows)
        return;
    seg_t *s = malloc(sizeof *s);
    if (!s)
        return; /* keep it open; retried next time */
    *s = pg->cur;
    s->next = NULL;
    memset(&pg->cur, 0, sizeof pg->cur);
    uint64_t max = (uint64_t)pg->cfg->postgres.max_buffer_rows;
    pg->total_rows += s->rows;
    if (pg->mem_rows + s->rows > max && pg->spill_dir[0] && spill_write(pg, s) == 0) {
        free(s->data);
        s->data = NULL;
        s->cap = 0;
    } else {
        pg->mem_rows += s->rows;
    }
    if (pg->tail)
        pg->tail->next = s;
    else
        pg->head = s;
    pg->tail = s;
    if (pg->mem_rows > max)
        drop_oldest(pg, max);
    update_backlog(pg);
}

static void seg_free(seg_t *s)
{
    free(s->data);
    free(s);
}

/* Existing spill files (an outage that outlived the previous run) go first. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void spill_scan(tg_store_pg_t *pg)
{
    DIR *d = opendir(pg->spill_dir);
    if (!d)
        return;
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned long long id;
        char tail[16];
        if (sscanf(de->d_name, "%llu.%15s", &id, tail) != 2 || strcmp(tail, "rows") != 0 || !id)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            uint64_t *ni = realloc(ids, cap * sizeof *ni);
            if (!ni)
                break;
            ids = ni;
        }
        ids[n++] = id;
    }
    closedir(d);
    if (n)
        qsort(ids, n, sizeof *ids, cmp_u64);
    for (size_t i = 0; i < n; i++) {
        seg_t *s = calloc(1, sizeof *s);
        if (!s)
            break;
        s->file_id = ids[i];
        if (spill_load(pg, s) != 0) {
            free(s);
            continue;
        }
        for (size_t k = 0; k < s->len; k++)
            if (s->data[k] == '\n')
                s->rows++;
        free(s->data); /* counted; read again when its turn comes */
        s->data = NULL;
        s->len = s->cap = 0;
        pg->total_rows += s->rows;
        if (pg->tail)
            pg->tail->next = s;
        else
            pg->head = s;
        pg->tail = s;
        if (ids[i] > pg->next_file_id)
            pg->next_file_id = ids[i];
    }
    if (n)
        TG_INFO("snapshot_spill_found", "files", TG_I(n), "rows", TG_I(pg->total_rows));
    free(ids);
    update_backlog(pg);
}

/* ---- connection ----------------------------------------------------------- */

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* NOTICEs ("... already exists, skipping") are not operator news */
}

static PGconn *pg_connect(const char *url)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {url, "3", "tickgate", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c)
        PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
}

static bool exec_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok && err)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

static void conn_lost(tg_store_pg_t *pg, const char *why)
{
    /* `why` may be PQerrorMessage(pg->conn): copy it before PQfinish frees it */
    char msg[256];
    snprintf(msg, sizeof msg, "%s", why ? why : "");
    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    if (atomic_load(&pg->up) || !pg->down_logged) {
        size_t l = strlen(msg);
        while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
            msg[--l] = 0;
        TG_WARN("postgres_down", "error", TG_S(msg));
        pg->down_logged = true;
    }
    atomic_store(&pg->up, 0);
    tg_gauge_set(pg->m_up, 0);
    pg->backoff_ms = pg->backoff_ms ? pg->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (pg->backoff_ms > BACKOFF_MAX_MS)
        pg->backoff_ms = BACKOFF_MAX_MS;
    pg->next_connect_ns = tg_mono_ns() + (int64_t)pg->backoff_ms * 1000000LL;
}

/* ---- portfolios ----------------------------------------------------------- */

static bool known_has(tg_store_pg_t *pg, const char *id, size_t *at)
{
    for (size_t i = 0; i < pg->nknown; i++)
        if (strcmp(pg->known[i], id) == 0) {
            if (at)
                *at = i;
            return true;
        }
    return false;
}

static void known_add(tg_store_pg_t *pg, const char *id)
{
    if (known_has(pg, id, NULL))
        return;
    if (pg->nknown == pg->capknown) {
        size_t nc = pg->capknown ? pg->capknown * 2 : 64;
        char **nk = realloc(pg->known, nc * sizeof *nk);
        if (!nk)
            return;
        pg->known = nk;
        pg->capknown = nc;
    }
    char *d = strdup(id);
    if (d)
        pg->known[pg->nknown++] = d;
}

static void known_del(tg_store_pg_t *pg, const char *id)
{
    size_t at;
    if (!known_has(pg, id, &at))
        return;
    free(pg->known[at]);
    pg->known[at] = pg->known[--pg->nknown];
}

static PGresult *query(PGconn *c, const char *sql, const char *id)
{
    const char *params[1] = {id};
    PGresult *r = PQexecParams(c, sql, id ? 1 : 0, NULL, id ? params : NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        TG_WARN("postgres_query_failed", "error", TG_S(PQresultErrorMessage(r)));
        PQclear(r);
        return NULL;
    }
    return r;
}

/*
 * Read portfolios (one id, or all with id NULL) and put each into the engine;
 * the rows become portfolio JSON parsed by the same code as the portfolio file,
 * so the same validation applies. Fills `seen` with the ids loaded. 0 or -EIO.
 */
static int load_portfolios(tg_store_pg_t *pg, const char *id, char ***seen, size_t *nseen)
{
    const char *w1 = id ? " WHERE id = $1" : "";
    const char *w2 = id ? " WHERE portfolio_id = $1" : "";
    char q1[256], q2[256], q3[256];
    snprintf(q1, sizeof q1,
             "SELECT id, owner, cash::text, alerts::text FROM portfolios%s ORDER BY id COLLATE \"C\"",
             w1);
    snprintf(q2, sizeof q2,
             "SELECT portfolio_id, symbol, quantity::text, cost_basis::text, target_weight::text "
             "FROM holdings%s ORDER BY portfolio_id COLLATE \"C\", symbol COLLATE \"C\"",
             w2);
    snprintf(q3, sizeof q3,
             "SELECT portfolio_id, user_id FROM portfolio_shares%s "
             "ORDER BY portfolio_id COLLATE \"C\", user_id COLLATE \"C\"",
             w2);
    PGresult *rp = query(pg->conn, q1, id), *rh = NULL, *rs = NULL;
    if (rp)
        rh = query(pg->conn, q2, id);
    if (rh)
        rs = query(pg->conn, q3, id);
    if (!rs) {
        PQclear(rp);
        PQclear(rh);
        return -EIO;
    }
    int np = PQntuples(rp), nh = PQntuples(rh), ns = PQntuples(rs);
    int ih = 0, is = 0;
    sbuf_t b = {0};
    for (int i = 0; i < np; i++) {
        const char *pid = PQgetvalue(rp, i, 0);
        b.len = 0;
        sb_puts(&b, "{\"id\":");
        sb_json_str(&b, pid);
        sb_puts(&b, ",\"owner\":");
        sb_json_str(&b, PQgetvalue(rp, i, 1));
        sb_puts(&b, ",\"cash\":");
        sb_json_str(&b, PQgetisnull(rp, i, 2) ? "0" : PQgetvalue(rp, i, 2));
        if (!PQgetisnull(rp, i, 3)) {
            sb_puts(&b, ",\"alerts\":");
            sb_puts(&b, PQgetvalue(rp, i, 3));
        }
        while (is < ns && strcmp(PQgetvalue(rs, is, 0), pid) < 0)
            is++;
        sb_puts(&b, ",\"shared_with\":[");
        for (bool first = true; is < ns && strcmp(PQgetvalue(rs, is, 0), pid) == 0; is++) {
            if (!first)
                sb_puts(&b, ",");
            first = false;
            sb_json_str(&b, PQgetvalue(rs, is, 1));
        }
        while (ih < nh && strcmp(PQgetvalue(rh, ih, 0), pid) < 0)
            ih++;
        sb_puts(&b, "],\"holdings\":[");
        for (bool first = true; ih < nh && strcmp(PQgetvalue(rh, ih, 0), pid) == 0; ih++) {
            if (!first)
                sb_puts(&b, ",");
            first = false;
            sb_puts(&b, "{\"symbol\":");
            sb_json_str(&b, PQgetvalue(rh, ih, 1));
            sb_puts(&b, ",\"quantity\":");
            sb_json_str(&b, PQgetvalue(rh, ih, 2));
            sb_puts(&b, ",\"cost_basis\":");
            sb_json_str(&b, PQgetisnull(rh, ih, 3) ? "0" : PQgetvalue(rh, ih, 3));
            sb_puts(&b, ",\"target_weight\":");
            sb_json_str(&b, PQgetisnull(rh, ih, 4) ? "0" : PQgetvalue(rh, ih, 4));
            sb_puts(&b, "}");
        }
        sb_puts(&b, "]}");
        if (b.oom)
            break;
        tg_portfolio_spec_t *spec = calloc(1, sizeof *spec);
        char err[256];
        if (!spec)
            break;
        int rc = tg_portfolio_parse_json(b.p, b.len, NULL, pg->cfg, spec, err, sizeof err);
        if (rc) {
            TG_WARN("portfolio_rejected", "portfolio", TG_S(pid), "error", TG_S(err));
            free(spec);
            continue;
        }
        tg_engine_put_portfolio(pg->engine, spec); /* takes spec */
        if (seen) {
            char **ns2 = realloc(*seen, (*nseen + 1) * sizeof **seen);
            if (ns2) {
                *seen = ns2;
                (*seen)[*nseen] = strdup(pid);
                if ((*seen)[*nseen])
                    (*nseen)++;
            }
        }
    }
    free(b.p);
    PQclear(rp);
    PQclear(rh);
    PQclear(rs);
    return 0;
}

/* Full sync at (re)connect: put all, remove what disappeared meanwhile. */
static int sync_portfolios(tg_store_pg_t *pg)
{
    char **seen = NULL;
    size_t nseen = 0;
    int rc = load_portfolios(pg, NULL, &seen, &nseen);
    if (rc == 0) {
        for (size_t i = 0; i < pg->nknown;) {
            bool still = false;
            for (size_t k = 0; k < nseen && !still; k++)
                still = strcmp(seen[k], pg->known[i]) == 0;
            if (!still) {
                tg_engine_remove_portfolio(pg->engine, pg->known[i]);
                free(pg->known[i]);
                pg->known[i] = pg->known[--pg->nknown];
            } else {
                i++;
            }
        }
        for (size_t k = 0; k < nseen; k++)
            known_add(pg, seen[k]);
        TG_INFO("portfolios_loaded", "source", TG_S("postgres"), "count", TG_I(nseen));
    }
    for (size_t k = 0; k < nseen; k++)
        free(seen[k]);
    free(seen);
    return rc;
}

static void on_notify(tg_store_pg_t *pg, const char *id)
{
    char **seen = NULL;
    size_t nseen = 0;
    if (load_portfolios(pg, id, &seen, &nseen) != 0)
        return;
    if (nseen == 0) {
        if (known_has(pg, id, NULL)) {
            tg_engine_remove_portfolio(pg->engine, id);
            known_del(pg, id);
        }
    } else {
        known_add(pg, id);
    }
    for (size_t k = 0; k < nseen; k++)
        free(seen[k]);
    free(seen);
}

/* Firing alerts of the previous run (SPEC §4): once, after the first load. */
static void restore_alerts(tg_store_pg_t *pg)
{
    PGresult *r = query(pg->conn,
                        "SELECT id, portfolio_id, alert_type, coalesce(metadata->>'symbol', '') "
                        "FROM portfolio_alerts WHERE resolved_at IS NULL AND portfolio_id IS NOT "
                        "NULL ORDER BY created_at",
                        NULL);
    if (!r)
        return;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        tg_engine_restore_alert(pg->engine, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                                PQgetvalue(r, i, 3), PQgetvalue(r, i, 0));
    if (n)
        TG_INFO("alerts_restored", "count", TG_I(n));
    PQclear(r);
    pg->alerts_restored = true;
}

static const char staging_sql[] =
    "CREATE TEMP TABLE IF NOT EXISTS tg_stage_q (symbol text, ts timestamptz, price numeric, "
    "bid numeric, ask numeric, volume numeric, source text) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS tg_stage_p (portfolio_id text, ts timestamptz, value numeric, "
    "cost_basis numeric, pnl numeric, day_change numeric, max_drift numeric, holdings jsonb) "
    "ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS tg_stage_a (id text, user_id text, portfolio_id text, "
    "alert_type text, severity text, title text, message text, metadata jsonb, "
    "created_at timestamptz) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS tg_stage_r (id text, resolved_at timestamptz) "
    "ON COMMIT DELETE ROWS;";

static void try_connect(tg_store_pg_t *pg)
{
    PGconn *c = pg_connect(pg->cfg->postgres.url);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        pg->conn = c;
        conn_lost(pg, c ? PQerrorMessage(c) : "out of memory");
        return;
    }
    pg->conn = c;
    char err[512];
    PGresult *r = PQexec(c, "SELECT to_regclass('portfolio_alerts') IS NOT NULL AND "
                            "to_regclass('quote_snapshots') IS NOT NULL");
    bool schema = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                  PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!schema) {
        conn_lost(pg, "schema missing: run `tickgate migrate`");
        return;
    }
    if (!exec_ok(c, "SET TIME ZONE 'UTC'", err, sizeof err) ||
        !exec_ok(c, staging_sql, err, sizeof err) ||
        !exec_ok(c, "LISTEN tickgate_portfolios", err, sizeof err) || sync_portfolios(pg) != 0) {
        conn_lost(pg, PQerrorMessage(c));
        return;
    }
    if (!pg->alerts_restored)
        restore_alerts(pg);
    pg->backoff_ms = 0;
    pg->down_logged = false;
    atomic_store(&pg->up, 1);
    tg_gauge_set(pg->m_up, 1);
    TG_INFO("postgres_up", "backlog", TG_I(pg->total_rows + pg->cur.rows));
    pg->ever_up = true;
}

static void poll_notifies(tg_store_pg_t *pg)
{
    if (!PQconsumeInput(pg->conn)) {
        conn_lost(pg, PQerrorMessage(pg->conn));
        return;
    }
    PGnotify *n;
    while (pg->conn && (n = PQnotifies(pg->conn)) != NULL) {
        TG_DEBUG("portfolio_notify", "portfolio", TG_S(n->extra));
        on_notify(pg, n->extra);
        PQfreemem(n);
    }
}

/* ---- writing ---------------------------------------------------------------- */

static const char *const copy_sql[T_COUNT] = {
    "COPY tg_stage_q FROM STDIN",
    "COPY tg_stage_p FROM STDIN",
    "COPY tg_stage_a FROM STDIN",
    "COPY tg_stage_r FROM STDIN",
};

static const char *const move_sql[T_COUNT] = {
    "INSERT INTO quote_snapshots (symbol, ts, price, bid, ask, volume, source) "
    "SELECT symbol, ts, price, bid, ask, volume, source FROM tg_stage_q ON CONFLICT DO NOTHING",
    "INSERT INTO portfolio_snapshots (portfolio_id, ts, value, cost_basis, pnl, day_change, "
    "max_drift, holdings) SELECT portfolio_id, ts, value, cost_basis, pnl, day_change, max_drift, "
    "holdings FROM tg_stage_p ON CONFLICT DO NOTHING",
    "INSERT INTO portfolio_alerts (id, user_id, portfolio_id, alert_type, severity, title, "
    "message, metadata, created_at) SELECT id, user_id, portfolio_id, alert_type, severity, "
    "title, message, metadata, created_at FROM tg_stage_a ON CONFLICT DO NOTHING",
    "UPDATE portfolio_alerts a SET resolved_at = r.resolved_at FROM tg_stage_r r "
    "WHERE a.id = r.id AND a.resolved_at IS NULL",
};

/* COPY the lines of table t from segments [from, to) into its staging table. */
static int copy_table(tg_store_pg_t *pg, int t, seg_t *from, seg_t *to, uint64_t *count)
{
    PGconn *c = pg->conn;
    PGresult *r = PQexec(c, copy_sql[t]);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        PQclear(r);
        return -EIO;
    }
    PQclear(r);
    /* one call per line: libpq buffers and sends in 8 KiB chunks anyway */
    for (seg_t *s = from; s != to; s = s->next) {
        for (size_t i = 0; s->data && i < s->len;) {
            char *nl = memchr(s->data + i, '\n', s->len - i);
            size_t l = nl ? (size_t)(nl - (s->data + i)) + 1 : s->len - i;
            if (tag_index(s->data[i]) == t) {
                if (PQputCopyData(c, s->data + i + 1, (int)(l - 1)) != 1)
                    return -EIO;
                (*count)++;
            }
            i += l;
        }
    }
    if (PQputCopyEnd(c, NULL) != 1)
        return -EIO;
    r = PQgetResult(c);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    return ok ? 0 : -EIO;
}

/* Write the head of the backlog (up to BATCH_MAX_ROWS) in one transaction. */
static int write_batch(tg_store_pg_t *pg)
{
    seg_t *end = pg->head;
    uint64_t rows = 0;
    bool has[T_COUNT] = {0};
    while (end && (rows == 0 || rows + end->rows <= BATCH_MAX_ROWS)) {
        if (!end->data && spill_load(pg, end) != 0) {
            TG_ERROR("snapshot_spill_unreadable", "file", TG_I(end->file_id));
            end->rows = 0; /* skipped below */
        } else if (!end->data) {
            break;
        }
        for (size_t i = 0; end->data && i < end->len;) {
            int t = tag_index(end->data[i]);
            if (t >= 0)
                has[t] = true;
            char *nl = memchr(end->data + i, '\n', end->len - i);
            i = nl ? (size_t)(nl - end->data) + 1 : end->len;
        }
        rows += end->rows;
        end = end->next;
    }
    char err[512] = "";
    uint64_t counts[T_COUNT] = {0};
    int64_t t0 = tg_mono_ns();
    if (!exec_ok(pg->conn, "BEGIN", err, sizeof err))
        goto fail;
    for (int t = 0; t < T_COUNT; t++)
        if (has[t] && copy_table(pg, t, pg->head, end, &counts[t]) != 0)
            goto fail_rollback;
    for (int t = 0; t < T_COUNT; t++)
        if (has[t] && !exec_ok(pg->conn, move_sql[t], err, sizeof err))
            goto fail_rollback;
    if (!exec_ok(pg->conn, "COMMIT", err, sizeof err))
        goto fail;
    for (int t = 0; t < T_R; t++)
        if (counts[t])
            tg_counter_add(pg->m_rows[t], counts[t]);
    TG_DEBUG("snapshot_batch", "rows", TG_I(rows), "us", TG_I((tg_mono_ns() - t0) / 1000));
    while (pg->head != end) {
        seg_t *s = pg->head;
        pg->head = s->next;
        if (!pg->head)
            pg->tail = NULL;
        pg->total_rows -= s->rows;
        if (s->file_id)
            spill_unlink(pg, s);
        else
            pg->mem_rows -= s->rows;
        seg_free(s);
    }
    update_backlog(pg);
    return 0;
fail_rollback:
    if (!err[0])
        snprintf(err, sizeof err, "%s", PQerrorMessage(pg->conn));
    exec_ok(pg->conn, "ROLLBACK", NULL, 0);
fail:
    /* loaded spill segments go back to disk-only to keep memory bounded */
    for (seg_t *s = pg->head; s != end; s = s->next)
        if (s->file_id && s->data) {
            free(s->data);
            s->data = NULL;
            s->len = s->cap = 0;
        }
    if (PQstatus(pg->conn) != CONNECTION_OK)
        conn_lost(pg, err[0] ? err : PQerrorMessage(pg->conn));
    else
        TG_ERROR("snapshot_write_failed", "error", TG_S(err));
    return -EIO;
}

static void retention(tg_store_pg_t *pg, int64_t now)
{
    int days = pg->cfg->postgres.retention_days;
    if (days <= 0 || now < pg->next_retention_ns)
        return;
    pg->next_retention_ns = now + DAY_NS;
    char sql[256], err[256];
    for (int i = 0; i < 2; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE ts < now() - interval '%d days'",
                 i ? "portfolio_snapshots" : "quote_snapshots", days);
        if (!exec_ok(pg->conn, sql, err, sizeof err))
            TG_WARN("snapshot_retention_failed", "error", TG_S(err));
    }
    TG_INFO("snapshot_retention", "days", TG_I(days));
}

static size_t drain_ring(tg_store_pg_t *pg)
{
    size_t total = 0, n;
    while ((n = tg_ring_pop(pg->ring, pg->batch, sizeof pg->batch / sizeof pg->batch[0])) > 0) {
        for (size_t i = 0; i < n; i++) {
            add_row(pg, &pg->batch[i]);
            if (pg->cur.rows >= SEG_MAX_ROWS || pg->cur.len >= SEG_MAX_BYTES)
                seal(pg);
        }
        total += n;
    }
    if (total)
        update_backlog(pg);
    return total;
}

static void *pg_thread(void *arg)
{
    tg_store_pg_t *pg = arg;
    pthread_setname_np(pthread_self(), "postgres");
    int64_t stop_deadline = 0;
    for (;;) {
        bool stopping = atomic_load(&pg->stop);
        int64_t now = tg_mono_ns();
        drain_ring(pg);
        if (stopping && !stop_deadline)
            stop_deadline = now + (int64_t)pg->grace_ms * 1000000LL;
        if (!pg->conn && now >= pg->next_connect_ns && !(stopping && !pg->ever_up)) {
            try_connect(pg);
            atomic_store(&pg->attempted, 1);
        }
        if (pg->conn)
            poll_notifies(pg);
        bool pending = pg->head || pg->cur.rows;
        if (pg->conn && pending && (now - pg->last_write_ns >= WRITE_GAP_NS || stopping)) {
            seal(pg);
            /* several batches per round while catching up, but keep notifies flowing */
            int64_t budget = now + 200000000LL;
            while (pg->conn && pg->head && tg_mono_ns() < budget)
                if (write_batch(pg) != 0)
                    break;
            pg->last_write_ns = tg_mono_ns();
        }
        if (pg->conn)
            retention(pg, tg_now_ns());
        if (stopping && (!(pg->head || pg->cur.rows) || now >= stop_deadline || !pg->conn))
            break;
        if (pg->conn) {
            struct pollfd pfd = {.fd = PQsocket(pg->conn), .events = POLLIN};
            poll(&pfd, 1, 5);
        } else {
            struct timespec ts = {0, 5000000};
            nanosleep(&ts, NULL);
        }
    }
    /* what could not be written survives in spill files when journal.dir is set */
    drain_ring(pg);
    seal(pg);
    uint64_t lost = 0;
    for (seg_t *s = pg->head; s; s = s->next)
        if (s->data && !s->file_id) {
            if (pg->spill_dir[0] && spill_write(pg, s) == 0)
                continue;
            lost += s->rows;
        }
    if (pg->total_rows)
        TG_WARN("snapshot_backlog_at_exit", "rows", TG_I(pg->total_rows), "lost", TG_I(lost));
    return NULL;
}

/* ---- public ----------------------------------------------------------------- */

int tg_store_pg_start(tg_store_pg_t **out, const tg_config_t *cfg, tg_engine_t *engine,
                      tg_metrics_t *metrics)
{
    if (!out || !cfg || !cfg->postgres.url[0] || !engine)
        return -EINVAL;
    tg_store_pg_t *pg = calloc(1, sizeof *pg);
    if (!pg)
        return -ENOMEM;
    pg->cfg = cfg;
    pg->engine = engine;
    int rc = tg_ring_create(&pg->ring, "snapshots", sizeof(tg_snap_row_t), RING_CAP,
                            TG_RING_BLOCK);
    if (rc)
        goto fail;
    for (int t = 0; t < T_R; t++) {
        char label[64];
        snprintf(label, sizeof label, "table=\"%s\"", table_names[t]);
        pg->m_rows[t] = tg_metrics_counter(metrics, "tickgate_snapshot_rows_total", label,
                                           "Rows written to PostgreSQL, by table");
    }
    pg->m_rows[T_R] = pg->m_rows[T_A];
    pg->m_dropped = tg_metrics_counter(metrics, "tickgate_snapshot_dropped_total", NULL,
                                       "Snapshot rows dropped past postgres.max_buffer_rows");
    pg->m_backlog = tg_metrics_gauge(metrics, "tickgate_snapshot_backlog", NULL,
                                     "Rows waiting to be written to PostgreSQL");
    pg->m_up = tg_metrics_gauge(metrics, "tickgate_postgres_up", NULL,
                                "1 while PostgreSQL is connected");
    if (!pg->m_rows[T_Q] || !pg->m_rows[T_P] || !pg->m_rows[T_A] || !pg->m_dropped ||
        !pg->m_backlog || !pg->m_up) {
        rc = -ENOMEM;
        goto fail_ring;
    }
    if (cfg->journal.dir[0]) {
        snprintf(pg->spill_dir, sizeof pg->spill_dir, "%s/pg-spill", cfg->journal.dir);
        mkdir(cfg->journal.dir, 0700);
        if (mkdir(pg->spill_dir, 0700) != 0 && errno != EEXIST) {
            TG_WARN("snapshot_spill_unavailable", "dir", TG_S(pg->spill_dir), "error",
                    TG_S(strerror(errno)));
            pg->spill_dir[0] = 0;
        } else {
            spill_scan(pg);
        }
    }
    rc = pthread_create(&pg->thread, NULL, pg_thread, pg);
    if (rc) {
        rc = -rc;
        goto fail_ring;
    }
    pg->started = true;
    *out = pg;
    return 0;
fail_ring:
    tg_ring_destroy(pg->ring);
fail:
    free(pg);
    return rc;
}

size_t tg_store_pg_push(tg_store_pg_t *pg, const tg_snap_row_t *rows, size_t n)
{
    return tg_ring_push(pg->ring, rows, n);
}

bool tg_store_pg_wait_first(tg_store_pg_t *pg, int timeout_ms)
{
    int64_t end = tg_mono_ns() + (int64_t)timeout_ms * 1000000LL;
    while (!atomic_load(&pg->attempted) && tg_mono_ns() < end) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&pg->up) != 0;
}

bool tg_store_pg_up(const tg_store_pg_t *pg)
{
    return pg && atomic_load(&pg->up) != 0;
}

void tg_store_pg_stop(tg_store_pg_t *pg, int grace_ms)
{
    if (!pg)
        return;
    if (pg->started) {
        pg->grace_ms = grace_ms;
        atomic_store(&pg->stop, 1);
        pthread_join(pg->thread, NULL);
    }
    /* rows still in the ring were pushed after the thread's last drain */
    tg_snap_row_t r;
    while (tg_ring_pop(pg->ring, &r, 1))
        if (r.kind == TG_SNAP_PORTFOLIO)
            tg_msg_unref(r.p.holdings);
    if (pg->conn)
        PQfinish(pg->conn);
    for (seg_t *s = pg->head, *n; s; s = n) {
        n = s->next;
        seg_free(s);
    }
    free(pg->cur.data);
    for (size_t i = 0; i < pg->nknown; i++)
        free(pg->known[i]);
    free(pg->known);
    free(pg->line.p);
    tg_ring_destroy(pg->ring);
    free(pg);
}

/* ---- migrate ------------------------------------------------------------- */

static int cmp_files(const void *a, const void *b)
{
    const tg_embedded_file_t *x = *(const tg_embedded_file_t *const *)a;
    const tg_embedded_file_t *y = *(const tg_embedded_file_t *const *)b;
    return strcmp(x->path, y->path);
}

int tg_store_pg_migrate(const char *url, FILE *out, char *err, size_t errlen)
{
    if (!url || !url[0]) {
        snprintf(err, errlen, "postgres.url: empty (set it in the config or TICKGATE_POSTGRES_URL)");
        return -EINVAL;
    }
    const tg_embedded_file_t *files[64];
    size_t nf = 0;
    for (const tg_embedded_file_t *f = tg_embedded_files; f->path && nf < 64; f++) {
        size_t l = strlen(f->path);
        if (strncmp(f->path, "deploy/sql/", 11) == 0 && l > 15 && !strcmp(f->path + l - 4, ".sql"))
            files[nf++] = f;
    }
    qsort(files, nf, sizeof files[0], cmp_files);
    PGconn *c = pg_connect(url);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
        for (size_t l = strlen(msg); l && (msg[l - 1] == '\n' || msg[l - 1] == ' ');)
            msg[--l] = 0;
        for (char *p = msg; *p; p++)
            if (*p == '\n' || *p == '\t')
                *p = ' ';
        snprintf(err, errlen, "postgres.url: cannot connect: %s", msg);
        PQfinish(c);
        return -ECONNREFUSED;
    }
    int rc = -EIO;
    char e[1024] = "";
    if (!exec_ok(c, "SET client_min_messages = warning", e, sizeof e) ||
        !exec_ok(c, "BEGIN", e, sizeof e) ||
        /* two concurrent migrates serialize here instead of failing */
        !exec_ok(c, "SELECT pg_advisory_xact_lock(7431005)", e, sizeof e) ||
        !exec_ok(c,
                 "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                 "applied_at timestamptz NOT NULL DEFAULT now())",
                 e, sizeof e))
        goto fail;
    int applied = 0, latest = 0;
    for (size_t i = 0; i < nf; i++) {
        const char *name = files[i]->path + 11;
        int version = atoi(name);
        if (version <= 0)
            continue;
        latest = version;
        char vs[16];
        snprintf(vs, sizeof vs, "%d", version);
        const char *p[1] = {vs};
        PGresult *r = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE version = $1", 1,
                                   NULL, p, NULL, NULL, 0);
        bool done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
        bool okq = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        if (!okq) {
            snprintf(e, sizeof e, "%s", PQerrorMessage(c));
            goto fail;
        }
        if (done)
            continue;
        if (!exec_ok(c, (const char *)files[i]->data, e, sizeof e)) {
            char tmp[1024];
            snprintf(tmp, sizeof tmp, "%.100s: %.900s", name, e);
            snprintf(e, sizeof e, "%s", tmp);
            goto fail;
        }
        r = PQexecParams(c, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, NULL, p,
                         NULL, NULL, 0);
        okq = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!okq) {
            snprintf(e, sizeof e, "%s", PQerrorMessage(c));
            goto fail;
        }
        fprintf(out, "applied %s (version %d)\n", name, version);
        applied++;
    }
    if (!exec_ok(c, "COMMIT", e, sizeof e))
        goto fail;
    if (!applied)
        fprintf(out, "schema up to date (version %d)\n", latest);
    else
        fprintf(out, "schema at version %d\n", latest);
    PQfinish(c);
    return 0;
fail:
    for (size_t l = strlen(e); l && (e[l - 1] == '\n' || e[l - 1] == ' ');)
        e[--l] = 0;
    for (char *q = e; *q; q++)
        if (*q == '\n' || *q == '\t')
            *q = ' ';
    snprintf(err, errlen, "migrate failed, nothing applied: %s", e);
    PQfinish(c);
    return rc;
}
