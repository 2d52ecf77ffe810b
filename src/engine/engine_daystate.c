/* engine_daystate.c - day state across restarts (SPEC §13): each quote's
 * day_open and volume and each portfolio's day baseline, kept in
 * journal.dir/daystate and restored at start-up when the file belongs to the
 * current session day (engine.session_open in engine.session_tz). Without
 * journal.dir but with PostgreSQL, the same figures (and each quote's last
 * trade price, which the journal tail gives otherwise) go to the day_state
 * table as rows through the snapshot sink, and come back through a
 * tg_daystate_source_t before the engine starts; see the end of this file.
 *
 * The file is small text (format and parser: tickgate/daystate.h), rewritten
 * whole (temp file + rename) every DAYSTATE_EVERY_NS by the engine thread and
 * once more after it stopped.
 * A crash loses at most the last interval; a file from another session day
 * (or none) means the day starts now. Start-up order: this file's quotes,
 * then the journal tail's last quotes (which do not count as trades of the
 * day: they were counted before), then the portfolio baselines, so the
 * restored prices do not move them.
 */
#include <stdio.h>

#include "engine_int.h"
#include "tickgate/buf.h"
#include "tickgate/daystate.h"

#define DAYSTATE_EVERY_NS (10LL * 1000000000LL)
#define DAYSTATE_MAX_BYTES (512u << 20)
#define DAYSTATE_RETRY_NS (100LL * 1000000LL)

/* Start of the session day containing now: the last engine.session_open at
 * or before now (tg_session_next_open gives the first one after an instant). */
int tg__engine_session_start(const tg_engine_t *e, int64_t now, int64_t *out)
{
    const char *hhmm = e->cfg->engine.session_open, *tz = e->cfg->engine.session_tz;
    int64_t t = now - 50LL * 3600 * 1000000000LL, next, last = 0;
    for (int i = 0; i < 8; i++) {
        if (tg_session_next_open(e->cfg->engine.tzdir, hhmm, tz, t, &next) != 0)
            return -EINVAL;
        if (next > now)
            break;
        last = next;
        t = next;
    }
    if (!last)
        return -ENOENT;
    *out = last;
    return 0;
}

static void path_of(const tg_engine_t *e, char *buf, size_t cap, const char *suffix)
{
    snprintf(buf, cap, "%s/daystate%s", e->cfg->journal.dir, suffix);
}

void tg__engine_daystate_save(tg_engine_t *e)
{
    char path[4096], tmp[4096], a[TG_DEC_STRLEN], b[TG_DEC_STRLEN], c[TG_DEC_STRLEN],
        d[TG_DEC_STRLEN];
    int64_t start = e->session_ns; /* as for the rows: the day the figures are of */
    if (!e->cfg->journal.dir[0] || !start)
        return;
    path_of(e, path, sizeof path, "");
    path_of(e, tmp, sizeof tmp, ".tmp");
    FILE *f = fopen(tmp, "w");
    if (!f) {
        TG_WARN("daystate_write_failed", "path", TG_S(tmp), "error", TG_S(strerror(errno)));
        return;
    }
    fprintf(f, "tickgate-daystate 1 %lld\n", (long long)start);
    uint32_t nsym = tg_symtab_count(&e->syms);
    for (uint32_t i = 0; i < nsym && i < e->capquotes; i++) {
        const quote_t *q = &e->quotes[i];
        if (!q->sym_len || (!q->day_open && !q->volume))
            continue;
        tg_dec_format(q->day_open, a);
        tg_dec_format(q->volume, b);
        fprintf(f, "q %s %s %s\n", a, b, q->symbol);
    }
    for (int32_t s = tg_book_next(e->book, -1); s >= 0; s = tg_book_next(e->book, s)) {
        tg_book_day_t day;
        const tg_portfolio_spec_t *sp = tg_book_spec(e->book, (uint32_t)s);
        if (!sp || tg_book_day_state(e->book, (uint32_t)s, &day) != 0 || strchr(sp->id, '\n'))
            continue;
        tg_dec_format(day.open, a);
        tg_dec_format(day.cash, c);
        tg_dec_format(day.cost, d);
        fprintf(f, "p %d %s %s %s %u %s\n", day.pending ? 1 : 0, a, c, d, day.n_holdings, sp->id);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        TG_WARN("daystate_write_failed", "path", TG_S(path), "error", TG_S(strerror(errno)));
        unlink(tmp);
    }
}

/* Keep a saved portfolio baseline until the portfolio is there and priced
 * as before: after the journal restore, or at its first put (with
 * PostgreSQL, portfolios arrive after start-up). */
static void free_day_pf(tg_engine_t *e)
{
    for (size_t i = 0; i < e->n_day_pf; i++)
        free(e->day_pf[i].id);
    e->n_day_pf = 0;
}

void tg__engine_daystate_session(tg_engine_t *e, int64_t start)
{
    e->session_ns = start;
    if (e->n_day_pf && e->day_pf_session != start) {
        /* a portfolio first put today must not take yesterday's baseline */
        TG_INFO("daystate_dropped", "portfolios", TG_I(e->n_day_pf));
        free_day_pf(e);
    }
}

static void keep_pf(tg_engine_t *e, const char *id, const tg_book_day_t *d)
{
    if (tg_vec_reserve(&e->day_pf, sizeof *e->day_pf, &e->cap_day_pf, e->n_day_pf + 1, 16) < 0)
        return;
    tg__engine_day_pf_t *k = &e->day_pf[e->n_day_pf];
    k->id = strdup(id);
    if (!k->id)
        return;
    k->day = *d;
    e->n_day_pf++;
}

static void on_quote_line(void *arg, const char *symbol, tg_dec_t day_open, tg_dec_t volume)
{
    tg_engine_t *e = arg;
    quote_t *q = tg__engine_quote_for(e, symbol, strlen(symbol));
    if (!q)
        return;
    q->day_open = day_open;
    q->volume = volume;
}

/* A PostgreSQL row's last trade price: kept for tg__engine_daystate_start. */
static void on_last_price(void *arg, const char *symbol, tg_dec_t price, int64_t ts)
{
    tg_engine_t *e = arg;
    size_t len = strlen(symbol);
    quote_t *q = len <= TG_SYMBOL_MAX ? tg__engine_quote_for(e, symbol, len) : NULL;
    if (!q || tg_vec_reserve(&e->day_last, sizeof *e->day_last, &e->cap_day_last,
                             e->n_day_last + 1, 64) < 0)
        return;
    e->day_last[e->n_day_last++] =
        (tg__engine_day_last_t){.id = (uint32_t)(q - e->quotes), .price = price, .ts = ts};
}

static void on_portfolio_line(void *arg, const char *id, bool pending, tg_dec_t open,
                              tg_dec_t cash, tg_dec_t cost, uint32_t n_holdings)
{
    tg_book_day_t d = {.pending = pending, .open = open, .cash = cash, .cost = cost,
                       .n_holdings = n_holdings};
    keep_pf(arg, id, &d);
}

void tg__engine_daystate_load(tg_engine_t *e)
{
    char path[4096], *text = NULL;
    size_t len = 0;
    int64_t start;
    path_of(e, path, sizeof path, "");
    if (tg__engine_session_start(e, tg_now_ns(), &start) != 0 ||
        tg_file_read(path, DAYSTATE_MAX_BYTES, &text, &len) != 0)
        return;
    tg_daystate_cb_t cb = {.on_quote = on_quote_line, .on_portfolio = on_portfolio_line,
                           .arg = e};
    e->day_pf_session = start;
    int n = tg_daystate_parse(text, len, start, &cb);
    free(text);
    if (n < 0)
        TG_INFO("daystate_ignored", "reason", TG_S("another session day"));
    else
        TG_INFO("daystate_restored", "lines", TG_I(n), "portfolios", TG_I(e->n_day_pf));
}

void tg__engine_daystate_apply(tg_engine_t *e)
{
    for (size_t i = 0; i < e->n_day_pf;) {
        if (tg_book_find(e->book, e->day_pf[i].id) < 0) {
            i++;
            continue;
        }
        tg_book_restore_day(e->book, e->day_pf[i].id, &e->day_pf[i].day, tg_now_ns());
        free(e->day_pf[i].id);
        e->day_pf[i] = e->day_pf[--e->n_day_pf];
    }
}

void tg__engine_daystate_on_put(tg_engine_t *e, const char *id)
{
    if (e->day_deferred)
        return; /* tg__engine_daystate_start applies it once the prices are back */
    for (size_t i = 0; i < e->n_day_pf; i++)
        if (strcmp(e->day_pf[i].id, id) == 0) {
            tg_book_restore_day(e->book, id, &e->day_pf[i].day, tg_now_ns());
            free(e->day_pf[i].id);
            e->day_pf[i] = e->day_pf[--e->n_day_pf];
            return;
        }
}

void tg__engine_daystate_tick(tg_engine_t *e, int64_t mono)
{
    bool rows = !e->cfg->journal.dir[0] && e->sinks.snapshots.push;
    if ((!e->cfg->journal.dir[0] && !rows) || mono < e->next_daystate_ns)
        return;
    e->next_daystate_ns = mono + DAYSTATE_EVERY_NS;
    if (!rows)
        tg__engine_daystate_save(e);
    else if (!tg__engine_daystate_rows(e))
        e->next_daystate_ns = mono + DAYSTATE_RETRY_NS; /* the ring was full: the rest soon */
}

void tg__engine_daystate_free(tg_engine_t *e)
{
    free_day_pf(e);
    free(e->day_pf);
    e->day_pf = NULL;
    free(e->day_last);
    e->day_last = NULL;
    e->n_day_last = e->cap_day_last = 0;
    e->n_day_pf = e->cap_day_pf = 0;
}

/* ---- PostgreSQL: day_state rows out, and back at start-up ---- */

/* Push the quote rows in rows[0..k) (symbol ids in ids); false when the sink
 * took fewer (the rest stay unsaved for the next pass). */
static bool push_quotes(tg_engine_t *e, const uint32_t *ids, size_t k)
{
    size_t taken = e->sinks.snapshots.push(e->sinks.snapshots.ctx, e->snap_rows, k);
    for (size_t i = 0; i < taken; i++) {
        quote_t *q = &e->quotes[ids[i]];
        q->day_saved_open = e->snap_rows[i].d.day_open;
        q->day_saved_vol = e->snap_rows[i].d.volume;
        q->day_saved_price = e->snap_rows[i].d.price;
    }
    return taken == k;
}

static bool push_portfolios(tg_engine_t *e, const uint32_t *slots, size_t k)
{
    size_t taken = e->sinks.snapshots.push(e->sinks.snapshots.ctx, e->snap_rows, k);
    for (size_t i = 0; i < taken; i++) {
        const tg_snap_row_t *r = &e->snap_rows[i];
        pf_pub_t *pp = &e->pf[slots[i]];
        pp->day_saved = (tg_book_day_t){.pending = r->d.pending, .open = r->d.open,
                                        .cash = r->d.cash, .cost = r->d.cost,
                                        .n_holdings = r->d.n_holdings};
        pp->day_saved_ok = true;
    }
    return taken == k;
}

static bool same_day(const tg_book_day_t *a, const tg_book_day_t *b)
{
    return a->pending == b->pending && a->open == b->open && a->cash == b->cash &&
           a->cost == b->cost && a->n_holdings == b->n_holdings;
}

/*
 * One day_state row for each quote and portfolio whose day figures changed
 * since its last row (all of them on a new session day), through the snapshot
 * sink: never waits; what the sink cannot take goes on a later pass. Uses
 * snap_rows as scratch (engine thread, or after it stopped).
 */
bool tg__engine_daystate_rows(tg_engine_t *e)
{
    /* the session check_session opened, not the clock's: past the open
     * instant but before check_session ran, the figures are still of the day
     * before */
    int64_t now = tg_now_ns(), start = e->session_ns;
    if (!e->sinks.snapshots.push || !start || start == e->day_rows_held)
        return true;
    /* no feeds: no trade changes a quote here, and its rows (without the
     * last prices, not replayed) would only overwrite good ones */
    uint32_t nsym = e->nfeeds ? tg_symtab_count(&e->syms) : 0;
    if (nsym > e->capquotes)
        nsym = (uint32_t)e->capquotes;
    if (start != e->day_rows_session) {
        /* a new session day (or the first pass): every row is to be of it */
        for (uint32_t i = 0; i < nsym; i++)
            e->quotes[i].day_saved_open = TG__DAY_UNSAVED;
        for (size_t s = 0; s < e->cap_pf; s++)
            e->pf[s].day_saved_ok = false;
        e->day_rows_session = start;
    }
    const size_t cap = sizeof e->snap_rows / sizeof e->snap_rows[0];
    uint32_t ids[sizeof e->snap_rows / sizeof e->snap_rows[0]];
    size_t k = 0;
    for (uint32_t i = 0; i < nsym; i++) {
        quote_t *q = &e->quotes[i];
        tg_dec_t price = q->has_price ? q->price : 0;
        if (!q->sym_len || (q->day_saved_open == q->day_open && q->day_saved_vol == q->volume &&
                            q->day_saved_price == price))
            continue;
        if (q->day_saved_open == TG__DAY_UNSAVED && !q->day_open && !q->volume && !price) {
            q->day_saved_open = q->day_saved_vol = q->day_saved_price = 0; /* nothing to keep */
            continue;
        }
        tg_snap_row_t *r = &e->snap_rows[k];
        memset(r, 0, sizeof *r);
        r->kind = TG_SNAP_DAY_QUOTE;
        r->ts = now;
        memcpy(r->d.key, q->symbol, (size_t)q->sym_len + 1);
        r->d.session_start = start;
        r->d.day_open = q->day_open;
        r->d.volume = q->volume;
        r->d.price = price;
        r->d.price_ts = q->trade_ts > 0 ? q->trade_ts : now;
        ids[k++] = i;
        if (k == cap) {
            if (!push_quotes(e, ids, k))
                return false;
            k = 0;
        }
    }
    if (k && !push_quotes(e, ids, k))
        return false;
    k = 0;
    for (int32_t s = tg_book_next(e->book, -1); s >= 0; s = tg_book_next(e->book, s)) {
        tg_book_day_t day;
        const tg_portfolio_spec_t *sp = tg_book_spec(e->book, (uint32_t)s);
        if ((size_t)s >= e->cap_pf || !sp || tg_book_day_state(e->book, (uint32_t)s, &day) != 0)
            continue;
        pf_pub_t *pp = &e->pf[s];
        if (pp->day_saved_ok && same_day(&pp->day_saved, &day))
            continue;
        tg_snap_row_t *r = &e->snap_rows[k];
        memset(r, 0, sizeof *r);
        r->kind = TG_SNAP_DAY_PORTFOLIO;
        r->ts = now;
        snprintf(r->d.key, sizeof r->d.key, "%s", sp->id);
        r->d.session_start = start;
        r->d.pending = day.pending;
        r->d.open = day.open;
        r->d.cash = day.cash;
        r->d.cost = day.cost;
        r->d.n_holdings = day.n_holdings;
        ids[k++] = (uint32_t)s;
        if (k == cap) {
            if (!push_portfolios(e, ids, k))
                return false;
            k = 0;
        }
    }
    return !k || push_portfolios(e, ids, k);
}

void tg_engine_load_daystate(tg_engine_t *e, const tg_daystate_source_t *src)
{
    int64_t start;
    if (!e || !src || !src->load || e->started || e->cfg->journal.dir[0] ||
        tg__engine_session_start(e, tg_now_ns(), &start) != 0)
        return;
    tg_daystate_cb_t cb = {.on_quote = on_quote_line, .on_portfolio = on_portfolio_line,
                           .on_last = on_last_price, .arg = e};
    e->day_pf_session = start;
    int n = src->load(src->ctx, start, &cb);
    if (n < 0) {
        /* the source logged why; the day starts now. The rows of today stay
         * as they are (they hold more than this restart): rows of the
         * restarted figures would replace them, the newest row winning. */
        e->day_rows_held = start;
        TG_WARN("daystate_rows_held", "reason", TG_S("load failed"), "until", TG_S("next session"));
        return;
    }
    TG_INFO("daystate_restored", "source", TG_S("postgres"), "lines", TG_I(n), "portfolios",
            TG_I(e->n_day_pf));
    e->day_deferred = true;
}

/*
 * Engine thread, before its first batch. The order matters: first the
 * portfolios and firing alerts PostgreSQL queued at start-up (unpriced
 * still: no rule fires on a placeholder, so a restored alert is not fired a
 * second time under a new id), then the last prices as the journal tail puts
 * them back (e->restoring: neither a trade of the day nor its open), then the
 * baselines, taken for portfolios valued on those prices.
 */
void tg__engine_daystate_start(tg_engine_t *e)
{
    if (!e->day_deferred)
        return;
    if (atomic_load_explicit(&e->cmd_pending, memory_order_relaxed))
        tg__engine_run_commands(e);
    e->restoring = true;
    /* no feeds: nothing to publish a quote under (engine_publish.c names
     * e->feeds[q->source]); the journal path skips its replay alike */
    for (size_t i = 0; i < e->n_day_last && e->nfeeds; i++) {
        const tg__engine_day_last_t *l = &e->day_last[i];
        quote_t *q = &e->quotes[l->id];
        tg_tick_t t = {.ts = l->ts, .price = l->price, .flags = TG_TICK_TRADE,
                       .sym_len = q->sym_len};
        memcpy(t.symbol, q->symbol, q->sym_len);
        tg__engine_on_quote(e, &t, q);
        tg_book_on_price(e->book, l->id, q->price, l->ts);
    }
    e->restoring = false;
    free(e->day_last);
    e->day_last = NULL;
    e->n_day_last = e->cap_day_last = 0;
    e->day_deferred = false;
    tg__engine_daystate_apply(e);
}
