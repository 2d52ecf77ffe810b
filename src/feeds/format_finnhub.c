/* format_finnhub.c - Finnhub WebSocket trades (wss://ws.finnhub.io).
 *
 *   {"type":"trade","data":[{"s":"AAPL","p":189.53,"t":1700000000123,"v":100,"c":["1"]}]}
 *   {"type":"ping"}   {"type":"error","msg":"..."}
 * `t` is Unix ms; Finnhub sends no sequence number.
 */
#include "format_internal.h"

#include <errno.h>

static int trade(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now)
{
    tg_tick_t t;
    int rc;
    tg__fmt_tick_init(&t, now);
    if ((rc = tg__fmt_symbol(j, tg_json_get(j, r, "s"), &t, false)) < 0 ||
        (rc = tg__fmt_dec(j, tg_json_get(j, r, "p"), &t.price)) < 0 ||
        (rc = tg__fmt_dec_opt(j, tg_json_get(j, r, "v"), &t.size)) < 0 ||
        (rc = tg__fmt_int_ts(j, tg_json_get(j, r, "t"), 1000000, &t.src_ts)) < 0)
        return rc;
    t.flags = TG_TICK_TRADE;
    return tg__fmt_emit(s, &t);
}

static int finnhub_parse(const char *msg, size_t len, int64_t now_ns, tg_format_sink_t *s)
{
    int rc = tg__fmt_doc(s, msg, len);
    if (rc < 0)
        return rc;
    const tg_json_t *j = &s->_json;
    tg_json_ref_t type = tg_json_get(j, 0, "type");
    if (tg_json_type(j, type) != TG_JSON_STRING)
        return -EINVAL;
    if (tg_json_str_eq(j, type, "trade")) {
        tg_json_ref_t data = tg_json_get(j, 0, "data");
        if (tg_json_type(j, data) != TG_JSON_ARRAY)
            return -EINVAL;
        return tg__fmt_batch(s, j, data, trade, now_ns);
    }
    if (tg_json_str_eq(j, type, "ping"))
        return tg__fmt_control(s, TG_FORMAT_CTL_HEARTBEAT, j, type), 1;
    if (tg_json_str_eq(j, type, "error"))
        return tg__fmt_control(s, TG_FORMAT_CTL_ERROR, j, tg_json_get(j, 0, "msg")), 1;
    return tg__fmt_control(s, TG_FORMAT_CTL_UNKNOWN, j, type), 1;
}

const tg_format_ops_t tg_format_finnhub = {
    .name = "finnhub",
    .parse = finnhub_parse,
    .seq_monotonic = false,
};
