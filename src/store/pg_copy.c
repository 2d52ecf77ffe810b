/* pg_copy.c - pure helpers: COPY text lines for snapshot and alert rows,
 * timestamps, the holdings JSON of a portfolio row.
 */
#include "pg_int.h"

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
        /* feed alerts belong to no user and no portfolio: NULL, and the
         * feed's name goes into the title and the metadata */
        bool sys = !r->a.portfolio_id[0];
        if (sys)
            lw_null(&w);
        else
            lw_str(&w, r->a.owner);
        lw_tab(&w);
        if (sys)
            lw_null(&w);
        else
            lw_str(&w, r->a.portfolio_id);
        lw_tab(&w);
        lw_str(&w, rule);
        lw_tab(&w);
        lw_str(&w, tg_alert_severity_name((tg_alert_severity_t)r->a.severity));
        lw_tab(&w);
        char title[256];
        snprintf(title, sizeof title, "%s %s", rule, sys ? r->a.feed : r->a.portfolio_id);
        lw_str(&w, title);
        lw_tab(&w);
        lw_str(&w, r->a.message);
        lw_tab(&w);
        /* metadata: what the alert message carries besides the columns */
        char meta[768], vb[TG_DEC_STRLEN + 1], tb[TG_DEC_STRLEN + 1];
        tg_dec_format(r->a.value, vb);
        tg_dec_format(r->a.threshold, tb);
        char sym[6 * 64 + 24] = ""; /* room for the whole escaped name: never cut an escape */
        /* price rules name their symbol; feed alerts their feed */
        const char *mk = r->a.symbol[0] ? "symbol" : sys ? "feed" : NULL;
        const char *mv = r->a.symbol[0] ? r->a.symbol : r->a.feed;
        if (mk) {
            char esc[6 * 64 + 1];
            int el = tg_json_escape(mv, strlen(mv), esc, sizeof esc - 1);
            esc[el > 0 ? el : 0] = 0;
            snprintf(sym, sizeof sym, ",\"%s\":\"%s\"", mk, esc);
        }
        snprintf(meta, sizeof meta, "{\"rule\":\"%s\",\"value\":%s,\"threshold\":%s%s}", rule, vb,
                 tb, sym);
        lw_str(&w, meta);
        lw_tab(&w);
        lw_ts(&w, r->ts);
        break;
    }
    case TG_SNAP_BAR: {
        lw_str(&w, r->b.symbol);
        lw_tab(&w);
        lw_str(&w, r->b.interval);
        lw_tab(&w);
        lw_ts(&w, r->ts);
        const tg_dec_t v[] = {r->b.open, r->b.high, r->b.low, r->b.close, r->b.volume};
        for (size_t i = 0; i < 5; i++) {
            lw_tab(&w);
            lw_dec(&w, v[i]);
        }
        lw_tab(&w);
        char tr[24];
        int tl = snprintf(tr, sizeof tr, "%llu", (unsigned long long)r->b.trades);
        lw_raw(&w, tr, (size_t)tl);
        lw_tab(&w);
        lw_dec(&w, r->b.vwap);
        break;
    }
    case TG_SNAP_DAY_QUOTE:
    case TG_SNAP_DAY_PORTFOLIO: {
        /* kind key session_start day_open volume price price_ts pending open cash
         * cost n_holdings ts; the other kind's columns NULL, and a quote's price
         * and price_ts without a trade price */
        bool q = r->kind == TG_SNAP_DAY_QUOTE;
        char num[24];
        lw_str(&w, q ? "q" : "p");
        lw_tab(&w);
        lw_str(&w, r->d.key);
        lw_tab(&w);
        lw_raw(&w, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)r->d.session_start));
        const tg_dec_t v[] = {r->d.day_open, r->d.volume};
        for (size_t i = 0; i < 2; i++) {
            lw_tab(&w);
            if (q)
                lw_dec(&w, v[i]);
            else
                lw_null(&w);
        }
        lw_tab(&w);
        if (q && r->d.price > 0)
            lw_dec(&w, r->d.price);
        else
            lw_null(&w);
        lw_tab(&w);
        if (q && r->d.price > 0)
            lw_raw(&w, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)r->d.price_ts));
        else
            lw_null(&w);
        lw_tab(&w);
        if (q)
            lw_null(&w);
        else
            lw_str(&w, r->d.pending ? "t" : "f");
        const tg_dec_t b[] = {r->d.open, r->d.cash, r->d.cost};
        for (size_t i = 0; i < 3; i++) {
            lw_tab(&w);
            if (q)
                lw_null(&w);
            else
                lw_dec(&w, b[i]);
        }
        lw_tab(&w);
        if (q)
            lw_null(&w);
        else
            lw_raw(&w, num, (size_t)snprintf(num, sizeof num, "%u", r->d.n_holdings));
        lw_tab(&w);
        lw_ts(&w, r->ts);
        break;
    }
    case TG_SNAP_ALERT_ACK:
        lw_str(&w, r->a.alert_id);
        break;
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
