/* feed_format.h - provider message formats for `ws` feeds (SPEC §3 `format`).
 *
 * Each format is one file (src/feeds/format_<name>.c) implementing one
 * tg_format_ops_t; src/feeds/format.c holds the registry. A parser turns one
 * received message into sink callbacks, one per element of the message (a
 * batched array gives one callback per element):
 *   on_tick     a trade and/or quote, normalized (tick.h); numbers go straight
 *               from the JSON text to fixed-point, never through double;
 *   on_control  a provider control message (heartbeat, status, subscription
 *               reply, error) or an element of a type the format does not know:
 *               a breaker "neutral" event (liveness only);
 *   on_error    one malformed element inside an otherwise well-formed batch:
 *               a breaker failure, counted as `parse_error`.
 * A message that is malformed as a whole makes parse() return a negative
 * errno with no callback at all: also one `parse_error`.
 *
 * Ticks are not validated here (tickgate/validate.h does that); in particular a
 * symbol that is not a plain string of 1..31 printable bytes arrives with
 * sym_len 0 so validation rejects it as `bad_symbol`.
 *
 * Thread: a sink and the ticks it sees belong to the feed thread; the ops
 * tables are immutable and shared.
 */
#ifndef TICKGATE_FEED_FORMAT_H
#define TICKGATE_FEED_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/json.h"
#include "tickgate/tick.h"

typedef enum tg_format_ctl {
    TG_FORMAT_CTL_HEARTBEAT = 1, /* ping / heartbeat / pong */
    TG_FORMAT_CTL_STATUS,        /* connection or auth status, snapshot-like replays */
    TG_FORMAT_CTL_SUBSCRIPTION,  /* subscription confirmation */
    TG_FORMAT_CTL_ERROR,         /* provider-reported error (still liveness) */
    TG_FORMAT_CTL_UNKNOWN,       /* well-formed, but not a message this format knows */
} tg_format_ctl_t;

typedef struct tg_format_sink tg_format_sink_t;

struct tg_format_sink {
    /** A normalized tick; `t` is valid only during the call (copy it). */
    void (*on_tick)(tg_format_sink_t *s, const tg_tick_t *t);
    /** A control/unknown element. text = the provider's message or type
     * (raw JSON string contents, still escaped; not NUL-terminated; may be
     * NULL). May be NULL. */
    void (*on_control)(tg_format_sink_t *s, tg_format_ctl_t kind, const char *text, size_t len);
    /** A malformed element of a batch (negative errno). May be NULL. */
    void (*on_error)(tg_format_sink_t *s, int err);
    void *arg; /* caller's context */
    /* Scratch JSON parser reused across messages so steady-state parsing does
     * not allocate; zero it with the sink, release it with tg_format_sink_fini. */
    tg_json_t _json;
};

typedef struct tg_format_ops {
    const char *name; /* the `format` config value */
    /**
     * Parse one message of `len` bytes (need not be NUL-terminated) received
     * at `now_ns` (wall clock ns, becomes each tick's `ts`). Returns the number
     * of callbacks made (0 for an empty batch), or -EINVAL / -E2BIG / -EDOM /
     * -ERANGE / -ENOMEM when the message as a whole is malformed (no callbacks).
     */
    int (*parse)(const char *msg, size_t len, int64_t now_ns, tg_format_sink_t *sink);
    /** The provider's src_seq increases per symbol (and message kind), so a
     * repeated or older one is a duplicate; false when src_seq is an id that
     * is only unique (Alpaca's trade id). */
    bool seq_monotonic;
} tg_format_ops_t;

/** The format called `name`, or NULL. */
const tg_format_ops_t *tg_format_lookup(const char *name);

/** The i-th registered format (0-based), NULL past the end: for listings and fuzzing. */
const tg_format_ops_t *tg_format_at(size_t i);

/** Release the sink's scratch parser; the sink may be reused afterwards. NULL is fine. */
void tg_format_sink_fini(tg_format_sink_t *s);

extern const tg_format_ops_t tg_format_finnhub;
extern const tg_format_ops_t tg_format_alpaca;
extern const tg_format_ops_t tg_format_polygon;
extern const tg_format_ops_t tg_format_coinbase;
extern const tg_format_ops_t tg_format_binance;
extern const tg_format_ops_t tg_format_tickgate;

#endif
