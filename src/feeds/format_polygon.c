/* format_polygon.c - Polygon.io stocks WebSocket.
 *
 * Every message is an array of objects keyed by "ev":
 *   {"ev":"T","sym":"MSFT","x":4,"i":"12345","p":114.125,"s":100,"t":1536036818784,"q":3681328}
 *   {"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,"t":1536036818784,"q":50385480}
 *   {"ev":"status","status":"auth_success","message":"authenticated"}
 * `t` is Unix ms; `q` is the per-symbol sequence number (increasing).
 */
#include "format_internal.h"

#include <errno.h>

static int element(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now)
{
    tg_json_ref_t ev = tg_json_get(j, r, "ev");
    tg_tick_t t;
    int rc;
    if (tg_json_type(j, ev) != TG_JSON_STRING)
        return -EINVAL;
    if (tg_json_str_eq(j, ev, "T")) {
        tg__fmt_tick_init(&t, now);
        if ((rc = tg__fmt_symbol(j, tg_json_get(j, r, "sym"), &t, false)) < 0 ||
            (rc = tg__fmt_dec(j, tg_json_get(j, r, "p"), &t.price)) < 0 ||
            (rc = tg__fmt_dec_opt(j, tg_json_get(j, r, "s"), &t.size)) < 0 ||
            (rc = tg__fmt_int_ts(j, tg_json_get(j, r, "t"), 1000000, &t.src_ts)) < 0 ||
            (rc = tg__fmt_seq(j, tg_json_get(j, r, "q"), &t.src_seq)) < 0)
            return rc;
        t.flags = TG_TICK_TRADE;
        return tg__fmt_emit(s, &t);
    }
    if (tg_json_str_eq(j, ev, "Q")) {
        tg_json_ref_t bp = tg_json_get(j, r, "bp"), ap = tg_json_get(j, r, "ap");
        tg__fmt_tick_init(&t, now);
        if (bp < 0 && ap < 0)
            return -EINVAL;
        if ((rc = tg__fmt_symbol(j, tg_json_get(j, r, "sym"), &t, false)) < 0 ||
            (rc = tg__fmt_dec_opt(j, bp, &t.bid)) < 0 ||
            (rc = tg__fmt_dec_opt(j, ap, &t.ask)) < 0 ||
            (rc = tg__fmt_int_ts(j, tg_json_get(j, r, "t"), 1000000, &t.src_ts)) < 0 ||
            (rc = tg__fmt_seq(j, tg_json_get(j, r, "q"), &t.src_seq)) < 0)
            return rc;
        t.flags = TG_TICK_QUOTE;
        return tg__fmt_emit(s, &t);
    }
    if (tg_json_str_eq(j, ev, "status")) {
        tg_json_ref_t st = tg_json_get(j, r, "status");
        tg_format_ctl_t kind = TG_FORMAT_CTL_STATUS;
        if (tg_json_str_eq(j, st, "auth_failed") || tg_json_str_eq(j, st, "error") ||
            tg_json_str_eq(j, st, "max_connections"))
            kind = TG_FORMAT_CTL_ERROR;
        else if (tg_json_str_eq(j, st, "success"))
            kind = TG_FORMAT_CTL_SUBSCRIPTION; /* "subscribed to: T.MSFT" */
        return tg__fmt_control(s, kind, j, tg_json_get(j, r, "message"));
    }
    return tg__fmt_control(s, TG_FORMAT_CTL_UNKNOWN, j, ev); /* aggregates, LULD, ... */
}

static int polygon_parse(const char *msg, size_t len, int64_t now_ns, tg_format_sink_t *s)
{
    int rc = tg__fmt_doc(s, msg, len);
    if (rc < 0)
        return rc;
    return tg__fmt_batch(s, &s->_json, 0, element, now_ns);
}

const tg_format_ops_t tg_format_polygon = {
    .name = "polygon",
    .parse = polygon_parse,
    .seq_monotonic = true,
};
