/* format_alpaca.c - Alpaca market data stream v2 (stocks and crypto).
 *
 * Every message is an array of objects keyed by "T":
 *   {"T":"t","S":"AAPL","i":96921,"x":"D","p":126.55,"s":1,"t":"2021-02-22T15:51:44.208Z"}
 *   {"T":"q","S":"AMD","bp":87.66,"bs":1,"ap":87.68,"as":4,"t":"2021-02-22T15:51:45.335689322Z"}
 *   {"T":"success","msg":"connected"} {"T":"subscription",...} {"T":"error","code":400,"msg":".."}
 * `t` is RFC 3339 with up to ns. The trade id `i` becomes src_seq; it is unique
 * but not ordered across exchanges, hence seq_monotonic = false.
 */
#include "format_internal.h"

#include <errno.h>

static int element(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now)
{
    tg_json_ref_t T = tg_json_get(j, r, "T");
    tg_tick_t t;
    int rc;
    if (tg_json_type(j, T) != TG_JSON_STRING)
        return -EINVAL;
    if (tg_json_str_eq(j, T, "t")) {
        tg__fmt_tick_init(&t, now);
        if ((rc = tg__fmt_symbol(j, tg_json_get(j, r, "S"), &t, false)) < 0 ||
            (rc = tg__fmt_dec(j, tg_json_get(j, r, "p"), &t.price)) < 0 ||
            (rc = tg__fmt_dec_opt(j, tg_json_get(j, r, "s"), &t.size)) < 0 ||
            (rc = tg__fmt_rfc3339_ts(j, tg_json_get(j, r, "t"), &t.src_ts)) < 0 ||
            (rc = tg__fmt_seq(j, tg_json_get(j, r, "i"), &t.src_seq)) < 0)
            return rc;
        t.flags = TG_TICK_TRADE;
        return tg__fmt_emit(s, &t);
    }
    if (tg_json_str_eq(j, T, "q")) {
        tg_json_ref_t bp = tg_json_get(j, r, "bp"), ap = tg_json_get(j, r, "ap");
        tg__fmt_tick_init(&t, now);
        if (bp < 0 && ap < 0)
            return -EINVAL;
        if ((rc = tg__fmt_symbol(j, tg_json_get(j, r, "S"), &t, false)) < 0 ||
            (rc = tg__fmt_dec_opt(j, bp, &t.bid)) < 0 ||
            (rc = tg__fmt_dec_opt(j, ap, &t.ask)) < 0 ||
            (rc = tg__fmt_rfc3339_ts(j, tg_json_get(j, r, "t"), &t.src_ts)) < 0)
            return rc;
        t.flags = TG_TICK_QUOTE;
        return tg__fmt_emit(s, &t);
    }
    if (tg_json_str_eq(j, T, "success"))
        return tg__fmt_control(s, TG_FORMAT_CTL_STATUS, j, tg_json_get(j, r, "msg"));
    if (tg_json_str_eq(j, T, "subscription"))
        return tg__fmt_control(s, TG_FORMAT_CTL_SUBSCRIPTION, j, T);
    if (tg_json_str_eq(j, T, "error"))
        return tg__fmt_control(s, TG_FORMAT_CTL_ERROR, j, tg_json_get(j, r, "msg"));
    return tg__fmt_control(s, TG_FORMAT_CTL_UNKNOWN, j, T); /* bars, statuses, ... */
}

static int alpaca_parse(const char *msg, size_t len, int64_t now_ns, tg_format_sink_t *s)
{
    int rc = tg__fmt_doc(s, msg, len);
    if (rc < 0)
        return rc;
    return tg__fmt_batch(s, &s->_json, 0, element, now_ns);
}

const tg_format_ops_t tg_format_alpaca = {
    .name = "alpaca",
    .parse = alpaca_parse,
    .seq_monotonic = false,
};
