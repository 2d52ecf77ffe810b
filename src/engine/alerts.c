/* alerts.c - shared alert machinery: ids, hysteresis, message text (names: wire/alert_names.c).
 *
 * Rule evaluation is in book_rules.c next to the figures it compares; here is
 * what makes every rule behave the same: a firing episode gets one id from
 * tg_alert_ids_next() and keeps it until resolved, and resolution waits for
 * the hysteresis level so a value hovering at the threshold does not flap.
 */
#include "tickgate/alerts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool tg_alert_rule_is_above(tg_alert_rule_t r)
{
    return r == TG_ALERT_REBALANCE_DRIFT || r == TG_ALERT_GAIN_TARGET || r == TG_ALERT_PRICE_ABOVE ||
           r == TG_ALERT_CONCENTRATION || r == TG_ALERT_VOLATILITY || r == TG_ALERT_MOVE;
}

int tg_alert_resolve_level(tg_alert_rule_t r, tg_dec_t threshold, tg_dec_t h, tg_dec_t *out)
{
    tg_dec_t band;
    int rc;

    if (!out)
        return -EINVAL;
    /* threshold is never INT64_MIN (TG_DEC_MIN = -INT64_MAX), so |threshold| is safe */
    rc = tg_dec_mul(h, threshold < 0 ? -threshold : threshold, &band);
    if (rc < 0)
        return rc;
    return tg_alert_rule_is_above(r) ? tg_dec_sub(threshold, band, out)
                                     : tg_dec_add(threshold, band, out);
}

void tg_alert_ids_init(tg_alert_ids_t *g, uint64_t seed)
{
    g->seed = seed;
    g->counter = 0;
}

void tg_alert_ids_next(tg_alert_ids_t *g, char *out)
{
    /* splitmix64 of seed + counter: a bijection of the counter, so ids never
     * repeat within a process, and look unrelated across processes */
    uint64_t z = g->seed + (++g->counter) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    snprintf(out, TG_ALERT_ID_LEN + 1, "a-%016llx", (unsigned long long)z);
}

int tg_alert_fsm_step(tg_alert_fsm_t *f, bool beyond, bool cleared, tg_alert_ids_t *ids)
{
    if (!f->firing) {
        if (!beyond)
            return 0;
        f->firing = true;
        tg_alert_ids_next(ids, f->id);
        return TG_ALERT_FIRING;
    }
    if (!cleared)
        return 0;
    f->firing = false;
    return TG_ALERT_RESOLVED;
}

/* Percent with two decimals, rounded half-to-even: 0.0512 -> "5.12". Ratios
 * are in 1e-8 units, so one hundredth of a percent is 10^4 units. */
static void fmt_pct(tg_dec_t v, char *buf, size_t cap)
{
    int neg = v < 0;
    unsigned long long a = neg ? (unsigned long long)(-v) : (unsigned long long)v;
    unsigned long long q = a / 10000, r = a % 10000;
    if (r > 5000 || (r == 5000 && (q & 1)))
        q++;
    snprintf(buf, cap, "%s%llu.%02llu", neg && q ? "-" : "", q / 100, q % 100);
}

void tg_alert_format_message(tg_alert_event_t *ev, tg_dec_t level, bool relative)
{
    char v[32], t[32];
    bool firing = ev->state == TG_ALERT_FIRING;
    tg_dec_t cmp = firing ? ev->threshold : level;
    bool above = tg_alert_rule_is_above(ev->rule);
    /* firing: value is at or beyond the threshold; resolved: back past the level */
    const char *op = firing ? (above ? "≥" : "≤") : (above ? "≤" : "≥");
    const char *tail = firing ? "" : ", resolved";

    /* value and threshold as text: percentages for the ratio rules, prices for
     * the price rules (the unpriced rule words its counts itself) */
    switch (ev->rule) {
    case TG_ALERT_PRICE_ABOVE:
    case TG_ALERT_PRICE_BELOW:
        tg_dec_format(ev->value, v);
        tg_dec_format(cmp, t);
        break;
    default:
        fmt_pct(ev->value, v, sizeof v);
        fmt_pct(cmp, t, sizeof t);
        break;
    }
    switch (ev->rule) {
    case TG_ALERT_REBALANCE_DRIFT:
        if (relative)
            snprintf(ev->message, sizeof ev->message, "%s drift %s%% of target %s %s%%%s",
                     ev->symbol, v, op, t, tail);
        else
            snprintf(ev->message, sizeof ev->message, "max drift %s%% %s %s%%%s", v, op, t, tail);
        break;
    case TG_ALERT_LOSS_LIMIT:
        snprintf(ev->message, sizeof ev->message, "day change %s%% %s %s%%%s", v, op, t, tail);
        break;
    case TG_ALERT_GAIN_TARGET:
        snprintf(ev->message, sizeof ev->message, "P&L %s%% %s %s%%%s", v, op, t, tail);
        break;
    case TG_ALERT_PRICE_ABOVE:
    case TG_ALERT_PRICE_BELOW:
        snprintf(ev->message, sizeof ev->message, "%s %s %s %s%s", ev->symbol, v, op, t, tail);
        break;
    case TG_ALERT_UNPRICED: {
        long long n = (long long)(ev->value / TG_DEC_SCALE);
        if (firing)
            snprintf(ev->message, sizeof ev->message, "%lld holding%s without a quote for %lld s%s%s",
                     n, n == 1 ? "" : "s", (long long)(ev->threshold / TG_DEC_SCALE),
                     ev->symbol[0] ? ": " : "", ev->symbol);
        else
            snprintf(ev->message, sizeof ev->message, "every holding priced, resolved");
        break;
    }
    case TG_ALERT_CONCENTRATION:
        snprintf(ev->message, sizeof ev->message, "%s weight %s%% %s %s%%%s", ev->symbol, v, op,
                 t, tail);
        break;
    case TG_ALERT_VOLATILITY:
        snprintf(ev->message, sizeof ev->message, "volatility %s%% %s %s%%%s", v, op, t, tail);
        break;
    case TG_ALERT_MOVE:
        /* the move is signed (a fall is negative); the rule compares its size */
        snprintf(ev->message, sizeof ev->message, "%s moved %s%s%% in %d s, |move| %s %s%%%s",
                 ev->symbol, ev->value > 0 ? "+" : "", v, ev->window_s, op, t, tail);
        break;
    default:
        snprintf(ev->message, sizeof ev->message, "%s %s", tg_alert_rule_name(ev->rule),
                 tg_alert_state_name(ev->state));
        break;
    }
}
