/* format_coinbase.c - Coinbase Exchange WebSocket feed (ws-feed.exchange.coinbase.com).
 *
 *   {"type":"ticker","sequence":37475248783,"product_id":"ETH-USD","price":"1285.22",
 *    "best_bid":"1285.04","best_ask":"1285.27","last_size":"11.4396987",
 *    "time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,...}
 *   {"type":"match","trade_id":10,"sequence":50,"time":"2014-11-07T08:19:27.028459Z",
 *    "product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell",...}
 *   {"type":"subscriptions",...} {"type":"heartbeat",...} {"type":"error","message":".."}
 * Decimals are strings; `time` is RFC 3339 (µs); `sequence` increases per product.
 * A ticker carries the last trade and the top of book, so it becomes one tick
 * with both flags. `last_match` (the replay of the latest trade on subscribe)
 * is liveness only: it was, or will be, seen as a `match`.
 */
#include "format_internal.h"

#include <errno.h>

static int ticker(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now)
{
    tg_json_ref_t price = tg_json_get(j, r, "price"), size = tg_json_get(j, r, "last_size");
    tg_json_ref_t bid = tg_json_get(j, r, "best_bid"), ask = tg_json_get(j, r, "best_ask");
    tg_tick_t t;
    int rc;
    tg__fmt_tick_init(&t, now);
    if ((rc = tg__fmt_symbol(j, tg_json_get(j, r, "product_id"), &t, false)) < 0 ||
        (rc = tg__fmt_rfc3339_ts(j, tg_json_get(j, r, "time"), &t.src_ts)) < 0 ||
        (rc = tg__fmt_seq(j, tg_json_get(j, r, "sequence"), &t.src_seq)) < 0)
        return rc;
    return tg__fmt_trade_quote(s, j, &t, price, size, bid, ask);
}

static int match(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now)
{
    tg_tick_t t;
    int rc;
    tg__fmt_tick_init(&t, now);
    if ((rc = tg__fmt_symbol(j, tg_json_get(j, r, "product_id"), &t, false)) < 0 ||
        (rc = tg__fmt_dec(j, tg_json_get(j, r, "price"), &t.price)) < 0 ||
        (rc = tg__fmt_dec(j, tg_json_get(j, r, "size"), &t.size)) < 0 ||
        (rc = tg__fmt_rfc3339_ts(j, tg_json_get(j, r, "time"), &t.src_ts)) < 0 ||
        (rc = tg__fmt_seq(j, tg_json_get(j, r, "sequence"), &t.src_seq)) < 0)
        return rc;
    t.flags = TG_TICK_TRADE;
    return tg__fmt_emit(s, &t);
}

static const tg__fmt_type_t types[] = {
    TG_FMT_TICK("ticker", ticker),
    TG_FMT_TICK("match", match),
    TG_FMT_CTL("heartbeat", TG_FORMAT_CTL_HEARTBEAT, NULL),
    TG_FMT_CTL("subscriptions", TG_FORMAT_CTL_SUBSCRIPTION, NULL),
    TG_FMT_CTL("error", TG_FORMAT_CTL_ERROR, "message"),
    TG_FMT_CTL("last_match", TG_FORMAT_CTL_STATUS, NULL),
    TG_FMT_CTL("status", TG_FORMAT_CTL_STATUS, NULL),
};

static int element(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now)
{
    return tg__fmt_by_type(s, j, r, now, "type", types, sizeof types / sizeof types[0]);
}

static int coinbase_parse(const char *msg, size_t len, int64_t now_ns, tg_format_sink_t *s)
{
    int rc = tg__fmt_doc(s, msg, len);
    if (rc < 0)
        return rc;
    if (tg_json_type(&s->_json, 0) != TG_JSON_OBJECT)
        return -EINVAL; /* Coinbase never batches */
    return tg__fmt_batch(s, &s->_json, 0, element, now_ns);
}

const tg_format_ops_t tg_format_coinbase = {
    .name = "coinbase",
    .parse = coinbase_parse,
    .seq_monotonic = true,
};
