/* portfolio_json.c - portfolio specs: JSON reading, validation, copy, free.
 *
 * Everything here is pure (no book, no global state), so the HTTP thread can
 * parse a PUT body and hand the engine thread a ready, validated spec. Every
 * error names the portfolio and the field ("portfolio p-1:
 * holdings[2].target_weight: negative") because operators fix these files by
 * hand. Decimals go through tg_json_dec: exact, never through double.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/json.h"
#include "tickgate/portfolio.h"

#define MAX_THRESHOLD TG_DEC(1000) /* keeps every cross-multiplication inside __int128 */

/* ---- spec helpers ----------------------------------------------------------- */

void tg_alert_settings_defaults(tg_alert_settings_t *a, const tg_config_t *cfg)
{
    memset(a, 0, sizeof *a);
    if (cfg) {
        a->rebalance_drift = cfg->alerts.rebalance_drift;
        a->drift_relative = cfg->alerts.drift_relative;
        a->loss_limit = cfg->alerts.loss_limit;
        a->gain_target = cfg->alerts.gain_target;
        a->hysteresis = cfg->alerts.hysteresis;
        a->price_hysteresis = cfg->alerts.price_hysteresis;
        a->concentration = cfg->alerts.concentration;
        a->volatility = cfg->alerts.volatility;
        a->volatility_window_s = cfg->alerts.volatility_window_s;
    } else {
        /* SPEC §2 `alerts` defaults */
        a->rebalance_drift = 5000000;   /* 0.05 */
        a->drift_relative = 0;
        a->loss_limit = 10000000;       /* 0.10 */
        a->gain_target = 20000000;      /* 0.20 */
        a->hysteresis = 10000000;       /* 0.10 */
        a->price_hysteresis = 100000;   /* 0.001 */
        a->volatility_window_s = 300;
    }
}

void tg_portfolio_spec_free(tg_portfolio_spec_t *s)
{
    if (!s)
        return;
    free(s->id);
    free(s->owner);
    for (size_t i = 0; i < s->n_shared_with; i++)
        free(s->shared_with[i]);
    free(s->shared_with);
    free(s->holdings);
    free(s->alerts.price_above);
    free(s->alerts.price_below);
    free(s->alerts.move);
    memset(s, 0, sizeof *s);
}

void tg_portfolio_specs_free(tg_portfolio_spec_t *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        tg_portfolio_spec_free(&v[i]);
    free(v);
}

static void *dup_mem(const void *p, size_t n)
{
    if (!n)
        return NULL;
    void *d = malloc(n);
    if (d)
        memcpy(d, p, n);
    return d;
}

int tg_portfolio_spec_copy(tg_portfolio_spec_t *dst, const tg_portfolio_spec_t *src)
{
    if (!dst || !src)
        return -EINVAL;
    memset(dst, 0, sizeof *dst);
    dst->cash = src->cash;
    dst->alerts = src->alerts;
    dst->alerts.price_above = NULL;
    dst->alerts.price_below = NULL;
    dst->alerts.n_price_above = dst->alerts.n_price_below = 0;
    dst->alerts.move = NULL;
    dst->alerts.n_move = 0;
    if (src->id && !(dst->id = strdup(src->id)))
        goto fail;
    if (src->owner && !(dst->owner = strdup(src->owner)))
        goto fail;
    if (src->n_shared_with) {
        dst->shared_with = calloc(src->n_shared_with, sizeof *dst->shared_with);
        if (!dst->shared_with)
            goto fail;
        for (size_t i = 0; i < src->n_shared_with; i++) {
            if (!(dst->shared_with[i] = strdup(src->shared_with[i])))
                goto fail;
            dst->n_shared_with = i + 1;
        }
    }
    if (src->n_holdings) {
        if (!(dst->holdings = dup_mem(src->holdings, src->n_holdings * sizeof *src->holdings)))
            goto fail;
        dst->n_holdings = src->n_holdings;
    }
    if (src->alerts.n_price_above) {
        dst->alerts.price_above = dup_mem(src->alerts.price_above,
                                          src->alerts.n_price_above * sizeof(tg_price_level_t));
        if (!dst->alerts.price_above)
            goto fail;
        dst->alerts.n_price_above = src->alerts.n_price_above;
    }
    if (src->alerts.n_price_below) {
        dst->alerts.price_below = dup_mem(src->alerts.price_below,
                                          src->alerts.n_price_below * sizeof(tg_price_level_t));
        if (!dst->alerts.price_below)
            goto fail;
        dst->alerts.n_price_below = src->alerts.n_price_below;
    }
    if (src->alerts.n_move) {
        dst->alerts.move = dup_mem(src->alerts.move, src->alerts.n_move * sizeof(tg_move_spec_t));
        if (!dst->alerts.move)
            goto fail;
        dst->alerts.n_move = src->alerts.n_move;
    }
    return 0;

fail:
    tg_portfolio_spec_free(dst);
    return -ENOMEM;
}

/* ---- validation ------------------------------------------------------------- */

static int fail_at(char *err, size_t errlen, const tg_portfolio_spec_t *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(char *err, size_t errlen, const tg_portfolio_spec_t *s, const char *fmt, ...)
{
    if (err && errlen) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(err, errlen, "portfolio %s: %s", s->id && *s->id ? s->id : "?", msg);
    }
    return -EINVAL;
}

static bool symbol_ok(const char *sym)
{
    size_t n = strnlen(sym, TG_SYMBOL_MAX + 1);
    if (n == 0 || n > TG_SYMBOL_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)sym[i] <= ' ' || sym[i] == 0x7f || sym[i] == '"' || sym[i] == '\\')
            return false;
    return true;
}

static int check_threshold(char *err, size_t errlen, const tg_portfolio_spec_t *s,
                           const char *name, tg_dec_t v, tg_dec_t max)
{
    char buf[TG_DEC_STRLEN + 1];
    if (v < 0)
        return fail_at(err, errlen, s, "alerts.%s: negative", name);
    if (v > max) {
        tg_dec_format(max, buf);
        return fail_at(err, errlen, s, "alerts.%s: more than %s", name, buf);
    }
    return 0;
}

static int check_levels(char *err, size_t errlen, const tg_portfolio_spec_t *s, const char *name,
                        const tg_price_level_t *lv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!symbol_ok(lv[i].symbol))
            return fail_at(err, errlen, s, "alerts.%s: bad symbol \"%s\"", name, lv[i].symbol);
        for (size_t k = 0; k < i; k++)
            if (strcmp(lv[k].symbol, lv[i].symbol) == 0)
                return fail_at(err, errlen, s, "alerts.%s.%s: duplicate symbol", name,
                               lv[i].symbol);
    }
    return 0;
}

int tg_portfolio_spec_validate(const tg_portfolio_spec_t *s, char *err, size_t errlen)
{
    int rc;
    __int128 wsum = 0, csum = 0;

    if (!s)
        return -EINVAL;
    if (!s->id || !*s->id)
        return fail_at(err, errlen, s, "id: missing");
    if (strlen(s->id) >= TG_PORTFOLIO_ID_MAX)
        return fail_at(err, errlen, s, "id: longer than %d bytes", TG_PORTFOLIO_ID_MAX - 1);
    if (!s->owner || !*s->owner)
        return fail_at(err, errlen, s, "owner: missing");
    if (strlen(s->owner) >= TG_PORTFOLIO_ID_MAX)
        return fail_at(err, errlen, s, "owner: longer than %d bytes", TG_PORTFOLIO_ID_MAX - 1);
    for (size_t i = 0; i < s->n_shared_with; i++)
        if (!s->shared_with[i] || !*s->shared_with[i] ||
            strlen(s->shared_with[i]) >= TG_PORTFOLIO_ID_MAX)
            return fail_at(err, errlen, s, "shared_with[%zu]: empty or too long", i);
    if (s->n_holdings > TG_PORTFOLIO_MAX_HOLDINGS)
        return fail_at(err, errlen, s, "holdings: more than %d", TG_PORTFOLIO_MAX_HOLDINGS);
    for (size_t i = 0; i < s->n_holdings; i++) {
        const tg_holding_spec_t *h = &s->holdings[i];
        if (!symbol_ok(h->symbol))
            return fail_at(err, errlen, s, "holdings[%zu].symbol: invalid \"%s\"", i, h->symbol);
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->holdings[k].symbol, h->symbol) == 0)
                return fail_at(err, errlen, s, "holdings[%zu].symbol: duplicate \"%s\"", i,
                               h->symbol);
        if (h->target_weight < 0)
            return fail_at(err, errlen, s, "holdings[%zu].target_weight: negative", i);
        if (h->target_weight > TG_DEC_SCALE)
            return fail_at(err, errlen, s, "holdings[%zu].target_weight: greater than 1", i);
        wsum += h->target_weight;
        csum += h->cost_basis;
    }
    if (wsum > TG_DEC_SCALE) {
        char buf[TG_DEC_STRLEN + 1];
        tg_dec_format((tg_dec_t)wsum, buf);
        return fail_at(err, errlen, s, "holdings: target weights sum to %s (more than 1)", buf);
    }
    if (csum > TG_DEC_MAX || csum < TG_DEC_MIN)
        return fail_at(err, errlen, s, "holdings: cost_basis sum out of range");
    const tg_alert_settings_t *a = &s->alerts;
    if ((rc = check_threshold(err, errlen, s, "rebalance_drift", a->rebalance_drift,
                              MAX_THRESHOLD)) < 0 ||
        (rc = check_threshold(err, errlen, s, "drift_relative", a->drift_relative,
                              MAX_THRESHOLD)) < 0 ||
        (rc = check_threshold(err, errlen, s, "loss_limit", a->loss_limit, MAX_THRESHOLD)) < 0 ||
        (rc = check_threshold(err, errlen, s, "gain_target", a->gain_target, MAX_THRESHOLD)) < 0 ||
        (rc = check_threshold(err, errlen, s, "hysteresis", a->hysteresis, TG_DEC_SCALE)) < 0 ||
        (rc = check_threshold(err, errlen, s, "price_hysteresis", a->price_hysteresis,
                              TG_DEC_SCALE)) < 0 ||
        (rc = check_threshold(err, errlen, s, "concentration", a->concentration,
                              MAX_THRESHOLD)) < 0 ||
        (rc = check_threshold(err, errlen, s, "volatility", a->volatility, MAX_THRESHOLD)) < 0)
        return rc;
    if ((a->volatility > 0 || a->volatility_window_s) &&
        (a->volatility_window_s < 30 || a->volatility_window_s > 86400))
        return fail_at(err, errlen, s, "alerts.volatility_window_s: must be 30..86400");
    for (size_t i = 0; i < a->n_move; i++) {
        const tg_move_spec_t *m = &a->move[i];
        if (!symbol_ok(m->symbol))
            return fail_at(err, errlen, s, "alerts.move: invalid symbol \"%s\"", m->symbol);
        for (size_t k = 0; k < i; k++)
            if (strcmp(a->move[k].symbol, m->symbol) == 0)
                return fail_at(err, errlen, s, "alerts.move.%s: duplicate", m->symbol);
        if (m->pct <= 0 || m->pct > MAX_THRESHOLD)
            return fail_at(err, errlen, s, "alerts.move.%s.pct: must be > 0", m->symbol);
        if (m->window_s < 1 || m->window_s > 86400)
            return fail_at(err, errlen, s, "alerts.move.%s.window_s: must be 1..86400",
                           m->symbol);
    }
    if ((rc = check_levels(err, errlen, s, "price_above", a->price_above, a->n_price_above)) < 0 ||
        (rc = check_levels(err, errlen, s, "price_below", a->price_below, a->n_price_below)) < 0)
        return rc;
    return 0;
}

/* ---- JSON ------------------------------------------------------------------- */

typedef struct ctx {
    const tg_json_t *j;
    char *err;
    size_t errlen;
    char label[TG_PORTFOLIO_ID_MAX + 32]; /* "portfolio p-1" or "portfolios[3]" */
} ctx_t;

static int jfail(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jfail(ctx_t *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(c->err, c->errlen, "%s: %s", c->label, msg);
    }
    return -EINVAL;
}

static const char *dec_reason(int rc)
{
    return rc == -EDOM ? "bad decimal (more than 8 decimal places)"
           : rc == -ERANGE ? "bad decimal (out of range: at most +-92233720368.54775807)"
                           : "bad decimal";
}

static int get_dec(ctx_t *c, tg_json_ref_t r, const char *field, tg_dec_t *out)
{
    int rc = tg_json_dec(c->j, r, out);
    if (rc < 0)
        return jfail(c, "%s: %s", field, dec_reason(rc));
    return 0;
}

static int get_str(ctx_t *c, tg_json_ref_t r, const char *field, char **out)
{
    char buf[TG_PORTFOLIO_ID_MAX];
    size_t n;
    if (tg_json_type(c->j, r) != TG_JSON_STRING)
        return jfail(c, "%s: not a string", field);
    int rc = tg_json_str(c->j, r, buf, sizeof buf, &n);
    if (rc == -ENOSPC)
        return jfail(c, "%s: longer than %d bytes", field, TG_PORTFOLIO_ID_MAX - 1);
    if (rc < 0 || memchr(buf, '\0', n))
        return jfail(c, "%s: bad string", field);
    free(*out);
    if (!(*out = strdup(buf)))
        return -ENOMEM;
    return 0;
}

static int get_symbol(ctx_t *c, tg_json_ref_t r, const char *field, char *out)
{
    size_t n;
    if (tg_json_type(c->j, r) != TG_JSON_STRING)
        return jfail(c, "%s: not a string", field);
    int rc = tg_json_str(c->j, r, out, TG_SYMBOL_MAX + 1, &n);
    if (rc == -ENOSPC)
        return jfail(c, "%s: longer than %d bytes", field, TG_SYMBOL_MAX);
    if (rc < 0 || n == 0 || memchr(out, '\0', n))
        return jfail(c, "%s: bad symbol", field);
    return 0;
}

/* Object members must be known and appear once: `names` lists them; the bit
 * of each seen member is set in *seen. Returns the member index or an error. */
static int member_index(ctx_t *c, tg_json_ref_t key, const char *const *names, int n,
                        unsigned *seen, const char *prefix)
{
    char k[64];
    if (tg_json_str(c->j, key, k, sizeof k, NULL) < 0)
        return jfail(c, "%sfield name too long: unknown field", prefix);
    for (int i = 0; i < n; i++)
        if (strcmp(k, names[i]) == 0) {
            if (*seen & (1u << i))
                return jfail(c, "%s%s: duplicate field", prefix, k);
            *seen |= 1u << i;
            return i;
        }
    return jfail(c, "%s%s: unknown field", prefix, k);
}

static int parse_levels(ctx_t *c, tg_json_ref_t obj, const char *name, tg_price_level_t **out,
                        size_t *n)
{
    char field[64];
    if (tg_json_type(c->j, obj) == TG_JSON_NULL)
        return 0;
    if (tg_json_type(c->j, obj) != TG_JSON_OBJECT)
        return jfail(c, "alerts.%s: not an object", name);
    int cnt = tg_json_size(c->j, obj);
    if (cnt == 0)
        return 0;
    *out = calloc((size_t)cnt, sizeof **out);
    if (!*out)
        return -ENOMEM;
    int it = 0;
    tg_json_ref_t k, v;
    while ((k = tg_json_next_member(c->j, obj, &it, &v)) >= 0) {
        tg_price_level_t *lv = &(*out)[*n];
        snprintf(field, sizeof field, "alerts.%s", name);
        int rc = get_symbol(c, k, field, lv->symbol);
        if (rc < 0)
            return rc;
        snprintf(field, sizeof field, "alerts.%s.%s", name, lv->symbol);
        if ((rc = get_dec(c, v, field, &lv->level)) < 0)
            return rc;
        (*n)++;
    }
    return 0;
}

/* "move": {"AAPL": {"pct": 0.02, "window_s": 60}, ...} (SPEC §13) */
static int parse_moves(ctx_t *c, tg_json_ref_t obj, tg_alert_settings_t *a)
{
    static const char *const names[] = {"pct", "window_s"};
    char field[96];
    if (tg_json_type(c->j, obj) == TG_JSON_NULL)
        return 0;
    if (tg_json_type(c->j, obj) != TG_JSON_OBJECT)
        return jfail(c, "alerts.move: not an object");
    int cnt = tg_json_size(c->j, obj);
    if (cnt == 0)
        return 0;
    a->move = calloc((size_t)cnt, sizeof *a->move);
    if (!a->move)
        return -ENOMEM;
    int it = 0, rc;
    tg_json_ref_t k, v;
    while ((k = tg_json_next_member(c->j, obj, &it, &v)) >= 0) {
        tg_move_spec_t *m = &a->move[a->n_move];
        if ((rc = get_symbol(c, k, "alerts.move", m->symbol)) < 0)
            return rc;
        a->n_move++;
        if (tg_json_type(c->j, v) != TG_JSON_OBJECT)
            return jfail(c, "alerts.move.%s: not an object", m->symbol);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "alerts.move.%s.", m->symbol);
        unsigned seen = 0;
        int it2 = 0;
        tg_json_ref_t k2, v2;
        while ((k2 = tg_json_next_member(c->j, v, &it2, &v2)) >= 0) {
            int i = member_index(c, k2, names, 2, &seen, prefix);
            if (i < 0)
                return i;
            snprintf(field, sizeof field, "%s%s", prefix, names[i]);
            if (i == 0) {
                if ((rc = get_dec(c, v2, field, &m->pct)) < 0)
                    return rc;
            } else {
                int64_t w;
                if (tg_json_i64(c->j, v2, &w) < 0 || w < 1 || w > 86400)
                    return jfail(c, "%s: must be an integer 1..86400", field);
                m->window_s = (int)w;
            }
        }
        if (seen != 3)
            return jfail(c, "%s: needs pct and window_s", prefix);
    }
    return 0;
}

static int parse_alerts(ctx_t *c, tg_json_ref_t obj, tg_alert_settings_t *a)
{
    static const char *const names[] = {"rebalance_drift", "drift_relative", "loss_limit",
                                        "gain_target",     "hysteresis",     "price_hysteresis",
                                        "concentration",   "volatility",     "price_above",
                                        "price_below",     "move",           "volatility_window_s"};
    tg_dec_t *dst[] = {&a->rebalance_drift, &a->drift_relative, &a->loss_limit,
                       &a->gain_target,     &a->hysteresis,     &a->price_hysteresis,
                       &a->concentration,   &a->volatility};
    unsigned seen = 0;
    int it = 0, rc;
    tg_json_ref_t k, v;
    char field[64];

    if (tg_json_type(c->j, obj) == TG_JSON_NULL)
        return 0;
    if (tg_json_type(c->j, obj) != TG_JSON_OBJECT)
        return jfail(c, "alerts: not an object");
    while ((k = tg_json_next_member(c->j, obj, &it, &v)) >= 0) {
        int i = member_index(c, k, names, 12, &seen, "alerts.");
        if (i < 0)
            return i;
        if (i < 8) {
            snprintf(field, sizeof field, "alerts.%s", names[i]);
            if (tg_json_type(c->j, v) == TG_JSON_NULL)
                *dst[i] = 0; /* null turns the rule off for this portfolio */
            else if ((rc = get_dec(c, v, field, dst[i])) < 0)
                return rc;
        } else if (i == 8) {
            if ((rc = parse_levels(c, v, "price_above", &a->price_above, &a->n_price_above)) < 0)
                return rc;
        } else if (i == 9) {
            if ((rc = parse_levels(c, v, "price_below", &a->price_below, &a->n_price_below)) < 0)
                return rc;
        } else if (i == 10) {
            if ((rc = parse_moves(c, v, a)) < 0)
                return rc;
        } else {
            int64_t w;
            if (tg_json_i64(c->j, v, &w) < 0 || w < 30 || w > 86400)
                return jfail(c, "alerts.volatility_window_s: must be an integer 30..86400");
            a->volatility_window_s = (int)w;
        }
    }
    return 0;
}

static int parse_holding(ctx_t *c, tg_json_ref_t obj, size_t idx, tg_holding_spec_t *h)
{
    static const char *const names[] = {"symbol", "quantity", "cost_basis", "target_weight"};
    tg_dec_t *dst[] = {NULL, &h->quantity, &h->cost_basis, &h->target_weight};
    char prefix[48], field[64];
    unsigned seen = 0;
    int it = 0, rc;
    tg_json_ref_t k, v;

    snprintf(prefix, sizeof prefix, "holdings[%zu].", idx);
    if (tg_json_type(c->j, obj) != TG_JSON_OBJECT)
        return jfail(c, "holdings[%zu]: not an object", idx);
    while ((k = tg_json_next_member(c->j, obj, &it, &v)) >= 0) {
        int i = member_index(c, k, names, 4, &seen, prefix);
        if (i < 0)
            return i;
        snprintf(field, sizeof field, "%s%s", prefix, names[i]);
        rc = i == 0 ? get_symbol(c, v, field, h->symbol) : get_dec(c, v, field, dst[i]);
        if (rc < 0)
            return rc;
    }
    if (!(seen & 1))
        return jfail(c, "%ssymbol: missing", prefix);
    if (!(seen & 2))
        return jfail(c, "%squantity: missing", prefix);
    return 0;
}

/* One portfolio object. `url_id` (PUT) may stand in for a missing id. */
static int parse_portfolio(ctx_t *c, tg_json_ref_t obj, const char *url_id,
                           const tg_config_t *cfg, tg_portfolio_spec_t *s)
{
    static const char *const names[] = {"id", "owner", "shared_with", "cash", "holdings", "alerts"};
    unsigned seen = 0;
    int it = 0, rc;
    tg_json_ref_t k, v;

    memset(s, 0, sizeof *s);
    tg_alert_settings_defaults(&s->alerts, cfg);
    if (tg_json_type(c->j, obj) != TG_JSON_OBJECT)
        return jfail(c, "not an object");
    /* name the portfolio in every later message */
    tg_json_ref_t idr = tg_json_get(c->j, obj, "id");
    if (idr >= 0) {
        if ((rc = get_str(c, idr, "id", &s->id)) < 0)
            return rc;
        if (url_id && strcmp(url_id, s->id) != 0)
            return jfail(c, "id: \"%s\" differs from the URL's \"%s\"", s->id, url_id);
    } else if (url_id) {
        if (!(s->id = strdup(url_id)))
            return -ENOMEM;
    }
    if (s->id && *s->id)
        snprintf(c->label, sizeof c->label, "portfolio %s", s->id);

    while ((k = tg_json_next_member(c->j, obj, &it, &v)) >= 0) {
        int i = member_index(c, k, names, 6, &seen, "");
        if (i < 0)
            return i;
        switch (i) {
        case 0:
            break; /* read above */
        case 1:
            if ((rc = get_str(c, v, "owner", &s->owner)) < 0)
                return rc;
            break;
        case 2: {
            if (tg_json_type(c->j, v) != TG_JSON_ARRAY)
                return jfail(c, "shared_with: not an array");
            int n = tg_json_size(c->j, v), eit = 0;
            tg_json_ref_t e;
            if (n && !(s->shared_with = calloc((size_t)n, sizeof *s->shared_with)))
                return -ENOMEM;
            while ((e = tg_json_next_elem(c->j, v, &eit)) >= 0) {
                char field[32];
                snprintf(field, sizeof field, "shared_with[%zu]", s->n_shared_with);
                if ((rc = get_str(c, e, field, &s->shared_with[s->n_shared_with])) < 0)
                    return rc;
                s->n_shared_with++;
            }
            break;
        }
        case 3:
            if ((rc = get_dec(c, v, "cash", &s->cash)) < 0)
                return rc;
            break;
        case 4: {
            if (tg_json_type(c->j, v) != TG_JSON_ARRAY)
                return jfail(c, "holdings: not an array");
            int n = tg_json_size(c->j, v), eit = 0;
            tg_json_ref_t e;
            if (n > TG_PORTFOLIO_MAX_HOLDINGS)
                return jfail(c, "holdings: more than %d", TG_PORTFOLIO_MAX_HOLDINGS);
            if (n && !(s->holdings = calloc((size_t)n, sizeof *s->holdings)))
                return -ENOMEM;
            while ((e = tg_json_next_elem(c->j, v, &eit)) >= 0) {
                if ((rc = parse_holding(c, e, s->n_holdings, &s->holdings[s->n_holdings])) < 0)
                    return rc;
                s->n_holdings++;
            }
            break;
        }
        default:
            if ((rc = parse_alerts(c, v, &s->alerts)) < 0)
                return rc;
            break;
        }
    }
    if (!s->id || !*s->id)
        return jfail(c, "id: missing");
    return tg_portfolio_spec_validate(s, c->err, c->errlen);
}

int tg_portfolios_parse_json(const char *text, size_t len, const tg_config_t *cfg,
                             tg_portfolio_spec_t **out, size_t *n, char *err, size_t errlen)
{
    tg_json_t j = {0};
    ctx_t c = {.j = &j, .err = err, .errlen = errlen};
    tg_portfolio_spec_t *v = NULL;
    size_t cnt = 0;
    int rc;

    if (!text || !out || !n)
        return -EINVAL;
    *out = NULL;
    *n = 0;
    snprintf(c.label, sizeof c.label, "portfolios");
    rc = tg_json_parse(&j, text, len, 0, 0);
    if (rc < 0) {
        if (err && errlen)
            snprintf(err, errlen, "portfolios: %s",
                     rc == -E2BIG ? "JSON too large or too deep" : "malformed JSON");
        tg_json_free(&j);
        return rc == -ENOMEM ? rc : -EINVAL;
    }
    if (tg_json_type(&j, 0) != TG_JSON_OBJECT) {
        rc = jfail(&c, "the document is not an object");
        goto fail_free;
    }
    int it = 0;
    tg_json_ref_t k, arr = -1, val;
    while ((k = tg_json_next_member(&j, 0, &it, &val)) >= 0) {
        if (!tg_json_str_eq(&j, k, "portfolios") || arr >= 0) {
            char key[64] = "";
            tg_json_str(&j, k, key, sizeof key, NULL);
            rc = jfail(&c, "%s: %s", key, arr >= 0 ? "duplicate field" : "unknown field");
            goto fail_free;
        }
        arr = val;
    }
    if (arr < 0 || tg_json_type(&j, arr) != TG_JSON_ARRAY) {
        rc = jfail(&c, arr < 0 ? "missing" : "not an array");
        goto fail_free;
    }
    int total = tg_json_size(&j, arr);
    if (total && !(v = calloc((size_t)total, sizeof *v))) {
        rc = -ENOMEM;
        goto fail_free;
    }
    int eit = 0;
    tg_json_ref_t e;
    while ((e = tg_json_next_elem(&j, arr, &eit)) >= 0) {
        snprintf(c.label, sizeof c.label, "portfolios[%zu]", cnt);
        rc = parse_portfolio(&c, e, NULL, cfg, &v[cnt]);
        cnt++;
        if (rc < 0)
            goto fail_free;
    }
    /* duplicate ids: sort-free check through a small open-addressing set */
    if (cnt > 1) {
        size_t cap = 16;
        while (cap < cnt * 2)
            cap *= 2;
        size_t *set = calloc(cap, sizeof *set);
        if (!set) {
            rc = -ENOMEM;
            goto fail_free;
        }
        for (size_t i = 0; i < cnt; i++) {
            uint64_t h = 1469598103934665603ULL;
            for (const char *p = v[i].id; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
            size_t at = (size_t)h & (cap - 1);
            bool dup = false;
            while (set[at]) {
                if (strcmp(v[set[at] - 1].id, v[i].id) == 0) {
                    dup = true;
                    break;
                }
                at = (at + 1) & (cap - 1);
            }
            if (dup) {
                snprintf(c.label, sizeof c.label, "portfolio %s", v[i].id);
                rc = jfail(&c, "id: duplicate (portfolios[%zu] and [%zu])", set[at] - 1, i);
                free(set);
                goto fail_free;
            }
            set[at] = i + 1;
        }
        free(set);
    }
    tg_json_free(&j);
    *out = v;
    *n = cnt;
    return 0;

fail_free:
    tg_portfolio_specs_free(v, cnt);
    tg_json_free(&j);
    return rc;
}

int tg_portfolio_parse_json(const char *text, size_t len, const char *id, const tg_config_t *cfg,
                            tg_portfolio_spec_t *out, char *err, size_t errlen)
{
    tg_json_t j = {0};
    ctx_t c = {.j = &j, .err = err, .errlen = errlen};
    int rc;

    if (!text || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    snprintf(c.label, sizeof c.label, "portfolio %s", id && *id ? id : "?");
    rc = tg_json_parse(&j, text, len, 0, 0);
    if (rc < 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", c.label,
                     rc == -E2BIG ? "JSON too large or too deep" : "malformed JSON");
        tg_json_free(&j);
        return rc == -ENOMEM ? rc : -EINVAL;
    }
    rc = parse_portfolio(&c, 0, id, cfg, out);
    if (rc < 0)
        tg_portfolio_spec_free(out);
    tg_json_free(&j);
    return rc;
}
