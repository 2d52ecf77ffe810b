/* engine_daystate.c - day state across restarts (SPEC §13): each quote's
 * day_open and volume and each portfolio's day baseline, kept in
 * journal.dir/daystate and restored at start-up when the file belongs to the
 * current session day (engine.session_open in engine.session_tz).
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

/* Start of the session day containing now: the last engine.session_open at
 * or before now (tg_session_next_open gives the first one after an instant). */
static int session_start(const tg_engine_t *e, int64_t now, int64_t *out)
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
    int64_t start;
    if (!e->cfg->journal.dir[0] || session_start(e, tg_now_ns(), &start) != 0)
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
    if (session_start(e, tg_now_ns(), &start) != 0 ||
        tg_file_read(path, DAYSTATE_MAX_BYTES, &text, &len) != 0)
        return;
    tg_daystate_cb_t cb = {.on_quote = on_quote_line, .on_portfolio = on_portfolio_line,
                           .arg = e};
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
    if (!e->cfg->journal.dir[0] || mono < e->next_daystate_ns)
        return;
    e->next_daystate_ns = mono + DAYSTATE_EVERY_NS;
    tg__engine_daystate_save(e);
}

void tg__engine_daystate_free(tg_engine_t *e)
{
    for (size_t i = 0; i < e->n_day_pf; i++)
        free(e->day_pf[i].id);
    free(e->day_pf);
    e->day_pf = NULL;
    e->n_day_pf = e->cap_day_pf = 0;
}
