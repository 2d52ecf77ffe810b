/* format_binance.c - Binance spot WebSocket streams (raw and combined).
 *
 *   {"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true}
 *   {"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21","a":"25.36520000","A":"40.66"}
 *        (bookTicker: no "e" field, no timestamp)
 *   {"stream":"bnbusdt@trade","data":{...}}   (combined streams)
 *   {"result":null,"id":1}   {"error":{"code":2,"msg":".."},"id":1}   {"code":2,"msg":".."}
 * Decimals are strings, `T` is Unix ms; src_seq is the trade id `t` or the
 * book update id `u` (both increase per symbol). Symbols are upper-cased.
 */
#include "format_internal.h"

#include <errno.h>

static int trade(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now)
{
    tg_tick_t t;
    int rc;
    tg__fmt_tick_init(&t, now);
    if ((rc = tg__fmt_symbol(j, tg_json_get(j, r, "s"), &t, true)) < 0 ||
        (rc = tg__fmt_dec(j, tg_json_get(j, r, "p"), &t.price)) < 0 ||
        (rc = tg__fmt_dec_opt(j, tg_json_get(j, r, "q"), &t.size)) < 0 ||
        (rc = tg__fmt_int_ts(j, tg_json_get(j, r, "T"), 1000000, &t.src_ts)) < 0 ||
        (rc = tg__fmt_seq(j, tg_json_get(j, r, "t"), &t.src_seq)) < 0)
        return rc;
    t.flags = TG_TICK_TRADE;
    return tg__fmt_emit(s, &t);
}

static int book_ticker(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now)
{
    tg_tick_t t;
    int rc;
    tg__fmt_tick_init(&t, now);
    if ((rc = tg__fmt_symbol(j, tg_json_get(j, r, "s"), &t, true)) < 0 ||
        (rc = tg__fmt_dec(j, tg_json_get(j, r, "b"), &t.bid)) < 0 ||
        (rc = tg__fmt_dec(j, tg_json_get(j, r, "a"), &t.ask)) < 0 ||
        (rc = tg__fmt_seq(j, tg_json_get(j, r, "u"), &t.src_seq)) < 0)
        return rc;
    t.flags = TG_TICK_QUOTE;
    return tg__fmt_emit(s, &t);
}

static int element(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now)
{
    tg_json_ref_t data = tg_json_get(j, r, "data");
    if (data >= 0 && tg_json_get(j, r, "stream") >= 0) {
        /* combined stream: the payload is one level down */
        if (tg_json_type(j, data) != TG_JSON_OBJECT)
            return -EINVAL;
        r = data;
    }
    tg_json_ref_t e = tg_json_get(j, r, "e");
    if (e >= 0) {
        if (tg_json_type(j, e) != TG_JSON_STRING)
            return -EINVAL;
        if (tg_json_str_eq(j, e, "trade"))
            return trade(s, j, r, now);
        return tg__fmt_control(s, TG_FORMAT_CTL_UNKNOWN, j, e); /* aggTrade, kline, ... */
    }
    if (tg_json_get(j, r, "u") >= 0 && tg_json_get(j, r, "b") >= 0 && tg_json_get(j, r, "a") >= 0)
        return book_ticker(s, j, r, now);
    if (tg_json_get(j, r, "result") >= 0 && tg_json_get(j, r, "id") >= 0)
        return tg__fmt_control(s, TG_FORMAT_CTL_SUBSCRIPTION, j, -1);
    tg_json_ref_t err = tg_json_get(j, r, "error");
    if (tg_json_type(j, err) == TG_JSON_OBJECT)
        return tg__fmt_control(s, TG_FORMAT_CTL_ERROR, j, tg_json_get(j, err, "msg"));
    if (tg_json_get(j, r, "code") >= 0 && tg_json_get(j, r, "msg") >= 0)
        return tg__fmt_control(s, TG_FORMAT_CTL_ERROR, j, tg_json_get(j, r, "msg"));
    return tg__fmt_control(s, TG_FORMAT_CTL_UNKNOWN, j, -1);
}

static int binance_parse(const char *msg, size_t len, int64_t now_ns, tg_format_sink_t *s)
{
    int rc = tg__fmt_doc(s, msg, len);
    if (rc < 0)
        return rc;
    return tg__fmt_batch(s, &s->_json, 0, element, now_ns);
}

const tg_format_ops_t tg_format_binance = {
    .name = "binance",
    .parse = binance_parse,
    .seq_monotonic = true,
};
