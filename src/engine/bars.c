/* bars.c - OHLCV bars from trades, incrementally (see bars.h, SPEC §12).
 *
 * Per symbol and interval a series holds the open bar, the end of the newest
 * final bar (trades before it are late) and a ring of kept final bars. Two
 * kinds of lists make the timers O(work) instead of O(symbols):
 *   - per interval, the series with an open bar, roughly in order of their
 *     end (bars are aligned, and trades arrive in accept-time order): the
 *     poll finalizes from the head while end + grace has passed;
 *   - the series whose open bar changed since its last partial publication.
 * A series sits in each list at most once, so the lists never outgrow the
 * capacity reserved with the symbols and a trade never allocates.
 */
#include "tickgate/bars.h"
#include "tickgate/buf.h"
#include "tickgate/deque.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/trading_day.h"
#include "tickgate/symtab.h"

#define NS_PER_S 1000000000LL
#define POLL_GAP_NS 5000000LL /* the poll does its work at most every 5 ms */

typedef struct series {
    tg_bar_t cur;          /* cur.trades == 0: no open bar */
    int64_t final_end;     /* end of the newest final bar */
    int64_t pub_ns;        /* wall time of the last partial bar */
    uint64_t seq;          /* seq of the last message of this series */
    uint8_t dirty;         /* open bar changed since its last publication */
    uint8_t in_dirty;      /* listed in b->dirty */
    uint8_t in_open;       /* listed in b->open[iv] */
    TG_DEQUE(tg_bar_t) keep; /* final bars, oldest first (written under b->lock); grows
                              * by doubling up to o.keep, so a symbol that traded once
                              * (a hostile flood of names, say) costs a few hundred
                              * bytes, not bars_keep bars per interval */
} series_t;

typedef struct fent {
    uint64_t x;  /* open lists: symbol id; dirty list: sym * IV_COUNT + iv */
    int64_t end; /* open lists: the bar's end when it was listed */
} fent_t;

/* A FIFO of fixed capacity, grown only by tg_bars_reserve. */
typedef TG_DEQUE(fent_t) fifo_t;

struct tg_bars {
    tg_bars_options_t o;
    char *session_open, *session_tz, *tzdir;
    pthread_mutex_t lock;  /* series array growth and kept bars (readers) */
    series_t *s;           /* cap * TG_BAR_IV_COUNT */
    uint32_t cap;
    fifo_t open[TG_BAR_IV_COUNT];
    fifo_t dirty;
    char (*names)[TG_SYMBOL_MAX + 1]; /* by symbol id, cap entries ("" = unnamed) */
    tg_symtab_t byname;    /* name -> index into ids[] (under lock: readers) */
    uint32_t *ids;         /* byname index -> symbol id */
    uint32_t capids;
    int64_t day_start, day_end; /* cached session day (1d bars) */
    int64_t next_poll;
    _Atomic uint64_t late;
};

static const char *const iv_names[TG_BAR_IV_COUNT] = {"1s", "1m", "5m", "1h", "1d"};
static const int64_t iv_len[TG_BAR_IV_COUNT] = {NS_PER_S, 60 * NS_PER_S, 300 * NS_PER_S,
                                                3600 * NS_PER_S, 86400 * NS_PER_S};

const char *tg_bar_iv_name(tg_bar_iv_t iv)
{
    return (unsigned)iv < TG_BAR_IV_COUNT ? iv_names[iv] : "?";
}

int tg_bar_iv_parse(const char *s, size_t len, tg_bar_iv_t *out)
{
    if (!s || len != 2)
        return -EINVAL;
    for (int i = 0; i < TG_BAR_IV_COUNT; i++)
        if (memcmp(s, iv_names[i], 2) == 0) {
            *out = (tg_bar_iv_t)i;
            return 0;
        }
    return -EINVAL;
}

int64_t tg_bar_iv_ns(tg_bar_iv_t iv)
{
    return (unsigned)iv < TG_BAR_IV_COUNT ? iv_len[iv] : 0;
}

tg_dec_t tg_bar_vwap(const tg_bar_t *b)
{
    tg_dec_t v = 0;
    if (b->volume > 0 && tg_dec_div_prod(b->notional, b->volume, &v) != 0)
        v = 0;
    return v;
}

void tg_bar_encode(tg_enc_t *enc, const char *symbol, tg_bar_iv_t iv, const tg_bar_t *b,
                   bool final, bool with_type)
{
    tg_enc_map(enc, with_type ? 13 : 10);
    if (with_type)
        tg_enc_kv_str(enc, "type", "bar");
    tg_enc_kv_str(enc, "symbol", symbol);
    tg_enc_kv_str(enc, "interval", tg_bar_iv_name(iv));
    tg_enc_kv_i64(enc, "start", b->start);
    tg_enc_kv_dec(enc, "open", b->open);
    tg_enc_kv_dec(enc, "high", b->high);
    tg_enc_kv_dec(enc, "low", b->low);
    tg_enc_kv_dec(enc, "close", b->close);
    tg_enc_kv_dec(enc, "volume", b->volume);
    tg_enc_kv_u64(enc, "trades", b->trades);
    tg_enc_kv_dec(enc, "vwap", b->vwap);
    if (with_type) {
        tg_enc_key(enc, "final");
        tg_enc_bool(enc, final);
        tg_enc_kv_u64(enc, "seq", b->seq);
    }
    tg_enc_map_end(enc);
}

static inline void fifo_push(fifo_t *f, uint64_t x, int64_t end)
{
    /* capacity covers every series once: cannot overflow (checked anyway) */
    if (!tg_deque_full(f))
        tg_deque_push(f, ((fent_t){x, end}));
}

static inline fent_t fifo_pop(fifo_t *f)
{
    fent_t x = tg_deque_front(f);
    tg_deque_pop_front(f);
    return x;
}

int tg_bars_create(tg_bars_t **out, const tg_bars_options_t *o)
{
    if (!out || !o || o->keep == 0)
        return -EINVAL;
    tg_bars_t *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    pthread_mutex_init(&b->lock, NULL);
    if (tg_symtab_init(&b->byname, 0) != 0) {
        pthread_mutex_destroy(&b->lock);
        free(b);
        return -ENOMEM;
    }
    b->o = *o;
    b->session_open = strdup(o->session_open ? o->session_open : "00:00");
    b->session_tz = strdup(o->session_tz ? o->session_tz : "UTC");
    b->tzdir = strdup(o->tzdir ? o->tzdir : "");
    if (!b->session_open || !b->session_tz || !b->tzdir) {
        tg_bars_destroy(b);
        return -ENOMEM;
    }
    b->o.session_open = b->session_open;
    b->o.session_tz = b->session_tz;
    b->o.tzdir = b->tzdir;
    if (b->o.partial_gap_ns <= 0)
        b->o.partial_gap_ns = NS_PER_S;
    if (b->o.grace_ns < 0)
        b->o.grace_ns = 0;
    *out = b;
    return 0;
}

void tg_bars_destroy(tg_bars_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < (size_t)b->cap * TG_BAR_IV_COUNT; i++)
        tg_deque_free(&b->s[i].keep);
    free(b->s);
    for (int i = 0; i < TG_BAR_IV_COUNT; i++)
        tg_deque_free(&b->open[i]);
    tg_deque_free(&b->dirty);
    free(b->session_open);
    free(b->session_tz);
    free(b->tzdir);
    free(b->names);
    free(b->ids);
    tg_symtab_free(&b->byname);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

int tg_bars_reserve(tg_bars_t *b, uint32_t n_syms)
{
    if (n_syms <= b->cap)
        return 0;
    uint32_t nc = b->cap ? b->cap : 64;
    while (nc < n_syms)
        nc *= 2;
    size_t n_old = (size_t)b->cap * TG_BAR_IV_COUNT, n_new = (size_t)nc * TG_BAR_IV_COUNT;
    /* the lists first: they must hold every series before any can be listed */
    for (int i = 0; i < TG_BAR_IV_COUNT; i++)
        if (tg_deque_reserve(&b->open[i], nc) != 0)
            return -ENOMEM;
    if (tg_deque_reserve(&b->dirty, n_new) != 0)
        return -ENOMEM;
    series_t *ns = calloc(n_new, sizeof *ns);
    if (!ns)
        return -ENOMEM;
    char(*nn)[TG_SYMBOL_MAX + 1] = calloc(nc, sizeof *nn);
    if (!nn) {
        free(ns);
        return -ENOMEM;
    }
    pthread_mutex_lock(&b->lock);
    if (n_old) {
        memcpy(ns, b->s, n_old * sizeof *ns);
        memcpy(nn, b->names, (size_t)b->cap * sizeof *nn);
    }
    free(b->s);
    free(b->names);
    b->s = ns;
    b->names = nn;
    b->cap = nc;
    pthread_mutex_unlock(&b->lock);
    return 0;
}

int tg_bars_add_symbol(tg_bars_t *b, uint32_t sym, const char *name, size_t len)
{
    if (!b || !name || len == 0 || len > TG_SYMBOL_MAX || sym == UINT32_MAX)
        return -EINVAL;
    int rc = tg_bars_reserve(b, sym + 1);
    if (rc)
        return rc;
    if (b->names[sym][0])
        return 0;
    pthread_mutex_lock(&b->lock);
    int32_t k = tg_symtab_intern(&b->byname, name, len);
    if (k >= 0 && tg_vec_reserve32(&b->ids, sizeof *b->ids, &b->capids, (size_t)k + 1, 64) < 0)
        k = -ENOMEM;
    if (k >= 0) {
        b->ids[k] = sym;
        memcpy(b->names[sym], name, len);
        b->names[sym][len] = 0;
    }
    pthread_mutex_unlock(&b->lock);
    return k < 0 ? k : 0;
}

const char *tg_bars_symbol(const tg_bars_t *b, uint32_t sym)
{
    return b && sym < b->cap && b->names[sym][0] ? b->names[sym] : NULL;
}

int32_t tg_bars_find(tg_bars_t *b, const char *name, size_t len)
{
    if (!b || !name)
        return -ENOENT;
    pthread_mutex_lock(&b->lock);
    int32_t k = tg_symtab_find(&b->byname, name, len);
    int32_t id = k >= 0 ? (int32_t)b->ids[k] : -ENOENT;
    pthread_mutex_unlock(&b->lock);
    return id;
}

static inline series_t *series_of(tg_bars_t *b, uint32_t sym, int iv)
{
    return &b->s[(size_t)sym * TG_BAR_IV_COUNT + (size_t)iv];
}

static inline int64_t floor_div(int64_t a, int64_t d)
{
    int64_t q = a / d;
    return (a % d != 0 && a < 0) ? q - 1 : q;
}

/* The session day holding ts: [start, end). Cached; recomputed once a day. */
static void day_window(tg_bars_t *b, int64_t ts, int64_t *start, int64_t *end)
{
    if (ts >= b->day_start && ts < b->day_end) {
        *start = b->day_start;
        *end = b->day_end;
        return;
    }
    int64_t e, s;
    /* opens are 23..25 h apart: the first open after end - 26 h is the one before end */
    if (tg_session_next_open(b->tzdir, b->session_open, b->session_tz, ts, &e) != 0 ||
        tg_session_next_open(b->tzdir, b->session_open, b->session_tz, e - 26 * 3600 * NS_PER_S,
                             &s) != 0 ||
        s > ts) {
        s = floor_div(ts, iv_len[TG_BAR_1D]) * iv_len[TG_BAR_1D]; /* UTC days */
        e = s + iv_len[TG_BAR_1D];
    }
    *start = s;
    *end = e;
    if (ts >= b->day_start) { /* only move forward: a late trade must not thrash it */
        b->day_start = s;
        b->day_end = e;
    }
}

/* A series' ring doubles (8 bars first) up to o.keep: a handful of
 * allocations over a series' life, none once it holds o.keep bars. */
static void keep_push(tg_bars_t *b, series_t *s, const tg_bar_t *bar)
{
    pthread_mutex_lock(&b->lock);
    int rc = tg_deque_grow(&s->keep, 8, b->o.keep);
    if (rc == -ENOMEM && s->keep.cap == 0) {
        pthread_mutex_unlock(&b->lock); /* no memory: the bar is published, not kept */
        return;
    }
    if (rc) /* full at o.keep (or no memory to grow): the oldest goes */
        tg_deque_pop_front(&s->keep);
    tg_deque_push(&s->keep, *bar);
    pthread_mutex_unlock(&b->lock);
}

static void finalize(tg_bars_t *b, uint32_t sym, int iv, series_t *s)
{
    tg_bar_t bar = s->cur;
    bar.vwap = tg_bar_vwap(&bar);
    bar.seq = ++s->seq;
    keep_push(b, s, &bar);
    s->final_end = bar.end;
    s->cur.trades = 0;
    s->dirty = 0; /* the final bar supersedes any pending partial */
    if (b->o.emit)
        b->o.emit(b->o.ud, sym, (tg_bar_iv_t)iv, &bar, true);
}

int tg_bars_on_trade(tg_bars_t *b, uint32_t sym, int64_t ts, tg_dec_t price, tg_dec_t size)
{
    if (!b || sym >= b->cap || size <= 0 || price <= 0)
        return -EINVAL;
    int late = 0;
    const __int128 pv = (__int128)price * size;
    for (int iv = 0; iv < TG_BAR_IV_COUNT; iv++) {
        series_t *s = series_of(b, sym, iv);
        /* late: before the newest final bar's end, or before the open bar
         * (its interval would come out of order) */
        if (ts < s->final_end || (s->cur.trades && ts < s->cur.start)) {
            late++;
            continue;
        }
        if (s->cur.trades && ts >= s->cur.end)
            finalize(b, sym, iv, s);
        tg_bar_t *c = &s->cur;
        if (!c->trades) {
            int64_t start, end;
            if (iv == TG_BAR_1D) {
                day_window(b, ts, &start, &end);
            } else {
                start = floor_div(ts, iv_len[iv]) * iv_len[iv];
                end = start + iv_len[iv];
            }
            c->start = start;
            c->end = end;
            c->open = c->high = c->low = c->close = price;
            c->volume = size;
            c->notional = pv;
            c->trades = 1;
            if (!s->in_open) {
                fifo_t *f = &b->open[iv];
                if (f->len < f->cap) {
                    fifo_push(f, sym, end);
                    s->in_open = 1;
                }
            }
        } else {
            if (price > c->high)
                c->high = price;
            if (price < c->low)
                c->low = price;
            c->close = price;
            if (__builtin_add_overflow(c->volume, size, &c->volume))
                c->volume = TG_DEC_MAX; /* inline: this runs five times per trade */
            /* 2^127 / (2^63)^2 = 2: overflow needs absurd sums; saturate then */
            if (__builtin_add_overflow(c->notional, pv, &c->notional))
                c->notional = (((__int128)1) << 126);
            c->trades++;
        }
        if (!s->dirty) {
            s->dirty = 1;
            if (!s->in_dirty) {
                fifo_push(&b->dirty, (uint64_t)sym * TG_BAR_IV_COUNT + (uint64_t)iv, 0);
                s->in_dirty = 1;
            }
        }
    }
    if (late)
        atomic_fetch_add_explicit(&b->late, (uint64_t)late, memory_order_relaxed);
    return late;
}

void tg_bars_finalize_due(tg_bars_t *b, int64_t now)
{
    for (int iv = 0; iv < TG_BAR_IV_COUNT; iv++) {
        fifo_t *f = &b->open[iv];
        while (f->len) {
            int64_t end = tg_deque_front(f).end;
            if (end + b->o.grace_ns > now)
                break;
            uint32_t sym = (uint32_t)fifo_pop(f).x;
            series_t *s = series_of(b, sym, iv);
            if (s->cur.trades && s->cur.end == end) {
                finalize(b, sym, iv, s);
                s->in_open = 0;
            } else if (s->cur.trades) { /* rolled over to a newer bar by a trade */
                fifo_push(f, sym, s->cur.end);
            } else {
                s->in_open = 0;
            }
        }
    }
}

void tg_bars_poll(tg_bars_t *b, int64_t now)
{
    if (now < b->next_poll)
        return;
    b->next_poll = now + POLL_GAP_NS;
    tg_bars_finalize_due(b, now);
    fifo_t *f = &b->dirty;
    for (uint32_t n = f->len; n; n--) {
        uint64_t x = fifo_pop(f).x;
        uint32_t sym = (uint32_t)(x / TG_BAR_IV_COUNT);
        int iv = (int)(x % TG_BAR_IV_COUNT);
        series_t *s = series_of(b, sym, iv);
        if (!s->dirty || !s->cur.trades) {
            s->in_dirty = 0;
            continue;
        }
        if (now - s->pub_ns < b->o.partial_gap_ns) {
            fifo_push(f, x, 0); /* not yet: at most one partial per gap */
            continue;
        }
        s->in_dirty = 0;
        s->dirty = 0;
        s->pub_ns = now;
        tg_bar_t bar = s->cur;
        bar.vwap = tg_bar_vwap(&bar);
        bar.seq = ++s->seq;
        if (b->o.emit)
            b->o.emit(b->o.ud, sym, (tg_bar_iv_t)iv, &bar, false);
    }
}

bool tg_bars_current(const tg_bars_t *b, uint32_t sym, tg_bar_iv_t iv, tg_bar_t *out)
{
    if (!b || sym >= b->cap || (unsigned)iv >= TG_BAR_IV_COUNT)
        return false;
    const series_t *s = &b->s[(size_t)sym * TG_BAR_IV_COUNT + (size_t)iv];
    if (!s->cur.trades)
        return false;
    *out = s->cur;
    out->vwap = tg_bar_vwap(out);
    out->seq = s->seq;
    return true;
}

size_t tg_bars_query(tg_bars_t *b, uint32_t sym, tg_bar_iv_t iv, int64_t from, int64_t to,
                     tg_bar_t *out, size_t cap)
{
    if (!b || (unsigned)iv >= TG_BAR_IV_COUNT || cap == 0)
        return 0;
    size_t n = 0;
    pthread_mutex_lock(&b->lock);
    if (sym < b->cap) {
        const series_t *s = &b->s[(size_t)sym * TG_BAR_IV_COUNT + (size_t)iv];
        size_t match = 0;
        for (uint32_t i = 0; i < s->keep.len; i++) {
            const tg_bar_t *x = &tg_deque_at(&s->keep, i);
            match += (x->start >= from && (to <= 0 || x->start <= to));
        }
        /* without `from`, the newest `cap`; with it, the oldest `cap` from there */
        size_t skip = (from <= 0 && match > cap) ? match - cap : 0;
        for (uint32_t i = 0; i < s->keep.len && n < cap; i++) {
            const tg_bar_t *x = &tg_deque_at(&s->keep, i);
            if (x->start < from || (to > 0 && x->start > to))
                continue;
            if (skip) {
                skip--;
                continue;
            }
            out[n++] = *x;
        }
    }
    pthread_mutex_unlock(&b->lock);
    return n;
}

int64_t tg_bars_open_since(tg_bars_t *b, int64_t now)
{
    int64_t since, end;
    day_window(b, now, &since, &end);
    for (int iv = 0; iv < TG_BAR_1D; iv++) {
        int64_t s = floor_div(now, iv_len[iv]) * iv_len[iv];
        if (s < since)
            since = s;
    }
    return since;
}

uint64_t tg_bars_late(const tg_bars_t *b)
{
    return b ? atomic_load_explicit(&b->late, memory_order_relaxed) : 0;
}
