/* format_tickgate.c - another tickgate's WebSocket stream (SPEC §5), e.g. a
 * downstream node reading an upstream one.
 *
 * A frame is JSON Lines: one message per '\n'-separated line. Only `quote`
 * becomes a tick:
 *   {"type":"quote","symbol":"AAPL","price":189.53,"bid":189.52,"ask":189.54,"size":100,
 *    "source":"primary","ts":1763800000123000000,"seq":88121,...}
 * The upstream `ts` (ns) becomes src_ts and its per-symbol `seq` src_seq.
 * A quote with `price` sets the trade fields (size 0 when absent), one with
 * bid/ask the quote fields. Upstream quotes are state, not trades, so a
 * downstream volume counts `size` once per quote received: conflated or
 * bid/ask-only upstream updates make it approximate.
 */
#include "format_internal.h"

#include <errno.h>
#include <string.h>

static int quote(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now)
{
    tg_json_ref_t price = tg_json_get(j, r, "price");
    tg_json_ref_t bid = tg_json_get(j, r, "bid"), ask = tg_json_get(j, r, "ask");
    tg_tick_t t;
    int rc;
    tg__fmt_tick_init(&t, now);
    if ((rc = tg__fmt_symbol(j, tg_json_get(j, r, "symbol"), &t, false)) < 0 ||
        (rc = tg__fmt_int_ts(j, tg_json_get(j, r, "ts"), 1, &t.src_ts)) < 0 ||
        (rc = tg__fmt_seq(j, tg_json_get(j, r, "seq"), &t.src_seq)) < 0)
        return rc;
    return tg__fmt_trade_quote(s, j, &t, price, tg_json_get(j, r, "size"), bid, ask);
}

static const tg__fmt_type_t types[] = {
    TG_FMT_TICK("quote", quote),
    TG_FMT_CTL("pong", TG_FORMAT_CTL_HEARTBEAT, NULL),
    TG_FMT_CTL("connection_established", TG_FORMAT_CTL_STATUS, NULL),
    TG_FMT_CTL("feed_status", TG_FORMAT_CTL_STATUS, NULL),
    TG_FMT_CTL("recovered", TG_FORMAT_CTL_STATUS, NULL),
    TG_FMT_CTL("snapshot", TG_FORMAT_CTL_STATUS, NULL),
    TG_FMT_CTL("subscription_confirmed", TG_FORMAT_CTL_SUBSCRIPTION, NULL),
    TG_FMT_CTL("unsubscription_confirmed", TG_FORMAT_CTL_SUBSCRIPTION, NULL),
    TG_FMT_CTL("error", TG_FORMAT_CTL_ERROR, "code"),
};

static int element(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now)
{
    return tg__fmt_by_type(s, j, r, now, "type", types, sizeof types / sizeof types[0]);
}

static int line(tg_format_sink_t *s, const char *p, size_t n, int64_t now)
{
    int rc = tg__fmt_doc(s, p, n);
    if (rc < 0)
        return rc;
    if (tg_json_type(&s->_json, 0) != TG_JSON_OBJECT)
        return -EINVAL;
    return element(s, &s->_json, 0, now);
}

static int tickgate_parse(const char *msg, size_t len, int64_t now_ns, tg_format_sink_t *s)
{
    const char *nl = len ? memchr(msg, '\n', len) : NULL;
    if (!nl) {
        int rc = line(s, msg, len, now_ns);
        return rc < 0 ? rc : 1;
    }
    /* a batched frame: each line is its own message, a bad one is skipped;
     * empty lines (a stray trailing '\n') are not messages at all */
    int n = 0;
    size_t pos = 0;
    for (;;) {
        const char *q = memchr(msg + pos, '\n', len - pos);
        size_t e = q ? (size_t)(q - msg) : len;
        if (e > pos) {
            int rc = line(s, msg + pos, e - pos, now_ns);
            if (rc < 0 && s->on_error)
                s->on_error(s, rc);
            n++;
        }
        if (!q)
            break;
        pos = e + 1;
    }
    return n;
}

const tg_format_ops_t tg_format_tickgate = {
    .name = "tickgate",
    .parse = tickgate_parse,
    .seq_monotonic = true,
};
