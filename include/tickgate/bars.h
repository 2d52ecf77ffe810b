/* bars.h - OHLCV bars built incrementally from trades (SPEC §12).
 *
 * A tg_bars_t aggregates the trades (size > 0) of every symbol into bars of
 * five intervals (1s, 1m, 5m, 1h aligned to the Unix epoch in UTC; 1d aligned
 * to the session day of engine.session_open/session_tz). Each trade costs O(1)
 * per interval and never allocates: storage is reserved per symbol when the
 * engine first sees it (tg_bars_reserve). Prices, volume and VWAP are exact
 * fixed-point; Sum price*size is kept in 128 bits.
 *
 * Publication goes through the caller's emit callback: a bar is final when a
 * trade of a later interval arrives, or when the interval's end plus grace has
 * passed (tg_bars_poll); changed open bars are emitted as partial bars at
 * most once a second per symbol and interval (tg_bars_poll). Final bars are
 * also kept, the last `keep` per symbol and interval, for the REST API and the
 * subscribe `history` option.
 *
 * Threads: everything is the owner's (engine) thread except tg_bars_query()
 * and tg_bars_keep_count(), which any thread may call: the kept bars sit
 * behind a mutex taken only when a bar becomes final (at most once per
 * interval per symbol) and by readers, never per trade.
 */
#ifndef TICKGATE_BARS_H
#define TICKGATE_BARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/encode.h"
#include "tickgate/fixed.h"

typedef enum tg_bar_iv {
    TG_BAR_1S = 0,
    TG_BAR_1M,
    TG_BAR_5M,
    TG_BAR_1H,
    TG_BAR_1D,
    TG_BAR_IV_COUNT
} tg_bar_iv_t;

/** One bar. `vwap` is filled for kept and emitted bars (tg_bar_vwap otherwise). */
typedef struct tg_bar {
    int64_t start, end;      /* [start, end) in ns since the epoch */
    tg_dec_t open, high, low, close;
    tg_dec_t volume;         /* Sum size (saturates at TG_DEC_MAX) */
    tg_dec_t vwap;
    __int128 notional;       /* Sum price*size, scale 10^16 */
    uint64_t trades;         /* 0 = no bar */
    uint64_t seq;            /* seq of the message that carried this state */
} tg_bar_t;

/** "1s", "1m", "5m", "1h", "1d". */
const char *tg_bar_iv_name(tg_bar_iv_t iv);

/** Parse an interval name (exactly one of the above, `len` bytes). 0 or -EINVAL. */
int tg_bar_iv_parse(const char *s, size_t len, tg_bar_iv_t *out);

/** Length of a fixed interval in ns (1d: 86400 s, its nominal length). */
int64_t tg_bar_iv_ns(tg_bar_iv_t iv);

/** VWAP of a bar: notional / volume, half-even to 8 places (0 without volume). */
tg_dec_t tg_bar_vwap(const tg_bar_t *b);

/**
 * Write the `bar` message (SPEC §12) for `symbol` into enc: type, symbol,
 * interval, start, open, high, low, close, volume, trades, vwap, final, seq.
 * `with_type` false leaves out "type", "final" and "seq" (the REST form).
 */
void tg_bar_encode(tg_enc_t *enc, const char *symbol, tg_bar_iv_t iv, const tg_bar_t *b,
                   bool final, bool with_type);

/** Emit callback: a bar of symbol id `sym` is published (final or partial). */
typedef void (*tg_bars_emit_fn)(void *ud, uint32_t sym, tg_bar_iv_t iv, const tg_bar_t *bar,
                                bool final);

typedef struct tg_bars_options {
    uint32_t keep;            /* final bars kept per symbol and interval (engine.bars_keep) */
    int64_t grace_ns;         /* engine.bar_grace_ms */
    int64_t partial_gap_ns;   /* min gap between partial bars of one series (1 s) */
    const char *session_open; /* "HH:MM" (1d bars) */
    const char *session_tz;   /* IANA zone */
    const char *tzdir;        /* engine.tzdir (NULL or "": /usr/share/zoneinfo) */
    tg_bars_emit_fn emit;     /* may be NULL (rebuilds, tests) */
    void *ud;
} tg_bars_options_t;

typedef struct tg_bars tg_bars_t;

/** Create; the option strings are copied. Caller owns *out. 0 or -errno. */
int tg_bars_create(tg_bars_t **out, const tg_bars_options_t *o);

/** Free; NULL is fine. */
void tg_bars_destroy(tg_bars_t *b);

/**
 * Make room for symbol ids < n_syms (allocation happens here, never per
 * trade). Owner thread. 0 or -ENOMEM.
 */
int tg_bars_reserve(tg_bars_t *b, uint32_t n_syms);

/**
 * Name symbol id `sym` (reserving room for it): REST readers find bars by
 * name (tg_bars_find), emitters read it back (tg_bars_symbol). Owner thread;
 * allocation happens here, once per symbol. 0, -EINVAL or -ENOMEM.
 */
int tg_bars_add_symbol(tg_bars_t *b, uint32_t sym, const char *name, size_t len);

/** Name of a symbol added with tg_bars_add_symbol, or NULL. Owner thread. */
const char *tg_bars_symbol(const tg_bars_t *b, uint32_t sym);

/** Symbol id of `name`, or -ENOENT (never traded). Any thread. */
int32_t tg_bars_find(tg_bars_t *b, const char *name, size_t len);

/**
 * One trade of symbol `sym` (reserved) at `ts`: updates the five bars; a bar
 * whose interval the trade leaves is emitted final first. Returns the number
 * of intervals for which the trade was late (before an already final or
 * newer bar) and therefore not applied, 0..5; -EINVAL for a size <= 0,
 * a price <= 0 or an unreserved symbol. Owner thread; O(1), no allocation.
 */
int tg_bars_on_trade(tg_bars_t *b, uint32_t sym, int64_t ts, tg_dec_t price, tg_dec_t size);

/**
 * Timers, at wall time `now` (call every loop turn; it does its work at most
 * every few ms): finalize bars whose end + grace <= now and emit partial bars
 * that changed and whose last partial is at least partial_gap old. Owner thread.
 */
void tg_bars_poll(tg_bars_t *b, int64_t now);

/** Finalize every open bar whose end + grace <= now without the poll's rate gate. */
void tg_bars_finalize_due(tg_bars_t *b, int64_t now);

/** The open bar of (sym, iv) into *out: true, or false when there is none. Owner thread. */
bool tg_bars_current(const tg_bars_t *b, uint32_t sym, tg_bar_iv_t iv, tg_bar_t *out);

/**
 * Kept final bars of (sym, iv), oldest first, into out[cap]: those with
 * from <= start <= to (to <= 0: no upper bound). With from <= 0 the newest
 * `cap` of them, else the oldest `cap` from `from`. Any thread.
 * Returns the count (0 for an unknown symbol).
 */
size_t tg_bars_query(tg_bars_t *b, uint32_t sym, tg_bar_iv_t iv, int64_t from, int64_t to,
                     tg_bar_t *out, size_t cap);

/** Earliest start of the intervals open at `now` (the journal rebuild starts there). */
int64_t tg_bars_open_since(tg_bars_t *b, int64_t now);

/** Late trades seen so far (all intervals: one per interval a trade missed). */
uint64_t tg_bars_late(const tg_bars_t *b);

/**
 * `tickgate replay --journal DIR --bars IV --csv FILE`: the exact bars of
 * interval `iv` built from the journal's trades with from <= ts <= to (to <= 0:
 * no bound), as CSV with a header line
 * "symbol,interval,start,open,high,low,close,volume,trades,vwap,final" ("-" =
 * stdout): every final bar as it closes (a later trade of its symbol), then
 * the bars still open at the journal's end with final=false. Returns 0 or a
 * negative errno with a one-line reason in err. Main thread.
 */
int tg_bars_replay_csv(const char *journal_dir, tg_bar_iv_t iv, int64_t from, int64_t to,
                       const char *tzdir, const char *session_open, const char *session_tz,
                       const char *csv_out,
                       char *err, size_t errlen);

#endif
