/* format.c - registry of provider message formats and the helpers the
 * format_<name>.c parsers share (field extraction, time conversion, batching).
 */
#include "format_internal.h"

#include "tickgate/clock.h"

#include <errno.h>
#include <string.h>

/* Messages are small; a Polygon/Alpaca batch of a few thousand ticks is the
 * biggest legitimate one. Depth 8 covers every documented shape with room. */
#define FMT_MAX_TOKENS 65536
#define FMT_MAX_DEPTH 8

static const tg_format_ops_t *const formats[] = {
    &tg_format_finnhub,  &tg_format_alpaca,  &tg_format_polygon,
    &tg_format_coinbase, &tg_format_binance, &tg_format_tickgate,
};

const tg_format_ops_t *tg_format_lookup(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i]->name, name) == 0)
            return formats[i];
    return NULL;
}

const tg_format_ops_t *tg_format_at(size_t i)
{
    return i < sizeof formats / sizeof formats[0] ? formats[i] : NULL;
}

void tg_format_sink_fini(tg_format_sink_t *s)
{
    if (s)
        tg_json_free(&s->_json);
}

int tg__fmt_doc(tg_format_sink_t *s, const char *msg, size_t len)
{
    return tg_json_parse(&s->_json, msg, len, FMT_MAX_TOKENS, FMT_MAX_DEPTH);
}

int tg__fmt_batch(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, tg__fmt_elem_fn fn,
                  int64_t now_ns)
{
    tg_json_type_t ty = tg_json_type(j, r);
    if (ty == TG_JSON_OBJECT) {
        int rc = fn(s, j, r, now_ns);
        return rc < 0 ? rc : 1;
    }
    if (ty != TG_JSON_ARRAY)
        return -EINVAL;
    int it = 0, n = 0;
    tg_json_ref_t e;
    while ((e = tg_json_next_elem(j, r, &it)) >= 0) {
        /* one bad element must not cost the good ones next to it */
        int rc = tg_json_type(j, e) == TG_JSON_OBJECT ? fn(s, j, e, now_ns) : -EINVAL;
        if (rc < 0 && s->on_error)
            s->on_error(s, rc);
        n++;
    }
    return n;
}

void tg__fmt_tick_init(tg_tick_t *t, int64_t now_ns)
{
    memset(t, 0, sizeof(*t));
    t->ts = now_ns;
}

int tg__fmt_symbol(const tg_json_t *j, tg_json_ref_t r, tg_tick_t *t, bool upper)
{
    size_t n = 0;
    if (tg_json_type(j, r) != TG_JSON_STRING)
        return -EINVAL;
    t->sym_len = 0;
    if (tg_json_str(j, r, t->symbol, sizeof t->symbol, &n) < 0) {
        t->symbol[0] = '\0'; /* too long: validation reports bad_symbol */
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t->symbol[i];
        if (c <= 0x20 || c == 0x7F) { /* spaces, controls, an escaped NUL */
            t->symbol[0] = '\0';
            return 0;
        }
        if (upper && c >= 'a' && c <= 'z')
            t->symbol[i] = (char)(c - 'a' + 'A');
    }
    t->sym_len = (uint8_t)n;
    return 0;
}

int tg__fmt_dec(const tg_json_t *j, tg_json_ref_t r, tg_dec_t *out)
{
    if (r < 0)
        return -EINVAL;
    return tg_json_dec(j, r, out);
}

int tg__fmt_dec_opt(const tg_json_t *j, tg_json_ref_t r, tg_dec_t *out)
{
    *out = 0;
    if (r < 0 || tg_json_type(j, r) == TG_JSON_NULL)
        return 0;
    return tg_json_dec(j, r, out);
}

static bool present(const tg_json_t *j, tg_json_ref_t r)
{
    return r >= 0 && tg_json_type(j, r) != TG_JSON_NULL;
}

int tg__fmt_trade_quote(tg_format_sink_t *s, const tg_json_t *j, tg_tick_t *t, tg_json_ref_t price,
                        tg_json_ref_t size, tg_json_ref_t bid, tg_json_ref_t ask)
{
    int rc;
    if (present(j, price)) {
        if ((rc = tg__fmt_dec(j, price, &t->price)) < 0 ||
            (rc = tg__fmt_dec_opt(j, size, &t->size)) < 0)
            return rc;
        t->flags |= TG_TICK_TRADE;
    }
    if (present(j, bid) || present(j, ask)) {
        if ((rc = tg__fmt_dec_opt(j, bid, &t->bid)) < 0 ||
            (rc = tg__fmt_dec_opt(j, ask, &t->ask)) < 0)
            return rc;
        t->flags |= TG_TICK_QUOTE;
    }
    if (!t->flags)
        return -EINVAL;
    return tg__fmt_emit(s, t);
}

int tg__fmt_int_ts(const tg_json_t *j, tg_json_ref_t r, int64_t unit_ns, int64_t *ns)
{
    int64_t v;
    int rc;
    *ns = 0;
    if (r < 0 || tg_json_type(j, r) == TG_JSON_NULL)
        return 0;
    if ((rc = tg_json_i64(j, r, &v)) < 0)
        return rc;
    if (v < 0)
        return -EINVAL;
    if (v > INT64_MAX / unit_ns)
        return -ERANGE;
    *ns = v * unit_ns;
    return 0;
}

int tg__fmt_seq(const tg_json_t *j, tg_json_ref_t r, uint64_t *seq)
{
    int64_t v; /* the same rules as an integer time in units of 1: >= 0 or null */
    int rc = tg__fmt_int_ts(j, r, 1, &v);
    *seq = rc ? 0 : (uint64_t)v;
    return rc;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, size_t n, size_t at, int count, int *out)
{
    int v = 0;
    if (at + (size_t)count > n)
        return -EINVAL;
    for (int i = 0; i < count; i++) {
        char c = s[at + (size_t)i];
        if (c < '0' || c > '9')
            return -EINVAL;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

int tg_rfc3339_parse(const char *s, size_t n, int64_t *ns)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int Y, M, D, h, mi, sec, oh = 0, om = 0;
    size_t i = 19;

    if (n < 20 || digits(s, n, 0, 4, &Y) || s[4] != '-' || digits(s, n, 5, 2, &M) ||
        s[7] != '-' || digits(s, n, 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
        digits(s, n, 11, 2, &h) || s[13] != ':' || digits(s, n, 14, 2, &mi) || s[16] != ':' ||
        digits(s, n, 17, 2, &sec))
        return -EINVAL;
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) || h > 23 ||
        mi > 59 || sec > 60) /* 60: a leap second, folded into the next second */
        return -EINVAL;
    int64_t frac = 0;
    if (s[i] == '.') {
        int nd = 0;
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (nd == 9)
                return -EINVAL; /* beyond ns: nobody sends it, refuse to guess */
            frac = frac * 10 + (s[i] - '0');
            nd++;
            i++;
        }
        if (nd == 0)
            return -EINVAL;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    int64_t off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
            digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59)
            return -EINVAL;
        off = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return -EINVAL;
    }
    if (i != n)
        return -EINVAL;
    int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - off;
    /* int64 ns covers 1677..2262; negative times are not market data */
    if (secs < 0 || secs > (INT64_MAX - frac) / 1000000000)
        return -ERANGE;
    *ns = secs * 1000000000 + frac;
    return 0;
}

int tg_time_parse(const char *s, size_t n, int64_t *ns)
{
    if (!s || n == 0 || n > 64)
        return -EINVAL;
    size_t i = 0;
    uint64_t v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (v > ((uint64_t)INT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return -ERANGE;
        v = v * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    if (i == n) {
        *ns = (int64_t)v;
        return 0;
    }
    return tg_rfc3339_parse(s, n, ns);
}

int tg__fmt_rfc3339_ts(const tg_json_t *j, tg_json_ref_t r, int64_t *ns)
{
    size_t n;
    *ns = 0;
    if (r < 0 || tg_json_type(j, r) == TG_JSON_NULL)
        return 0;
    if (tg_json_type(j, r) != TG_JSON_STRING)
        return -EINVAL;
    const char *p = tg_json_raw(j, r, &n);
    return tg_rfc3339_parse(p, n, ns);
}

int tg__fmt_control(tg_format_sink_t *s, tg_format_ctl_t kind, const tg_json_t *j,
                    tg_json_ref_t text)
{
    size_t n = 0;
    const char *p = NULL;
    if (tg_json_type(j, text) == TG_JSON_STRING)
        p = tg_json_raw(j, text, &n);
    if (s->on_control)
        s->on_control(s, kind, p, n);
    return 0;
}

int tg__fmt_by_type(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now_ns,
                    const char *field, const tg__fmt_type_t *types, size_t n)
{
    tg_json_ref_t type = tg_json_get(j, r, field);
    if (tg_json_type(j, type) != TG_JSON_STRING)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        const tg__fmt_type_t *t = &types[i];
        if (!tg_json_str_eq(j, type, t->type))
            continue;
        if (t->parse)
            return t->parse(s, j, r, now_ns);
        return tg__fmt_control(s, t->ctl, j, t->text ? tg_json_get(j, r, t->text) : type);
    }
    return tg__fmt_control(s, TG_FORMAT_CTL_UNKNOWN, j, type);
}
