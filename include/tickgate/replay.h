/* replay.h - replaying recorded ticks: sources, pacing, writers, `tickgate replay`.
 *
 * A source yields ticks from a replay CSV file (`ts_ns,symbol,price,size[,bid,ask]`,
 * SPEC §3; an optional header line is skipped) or from a journal directory,
 * filtered to from <= ts <= to. A pacer spaces them out at N x real time.
 * Writers format a tick as a replay CSV line or as a `tcp`-feed line.
 * tg_replay_run() is the whole `tickgate replay` subcommand (SPEC §2).
 * Used by the `replay` feed and by main.c; every object is single-threaded.
 *
 * CSV columns: price/size may both be empty for a quote-only tick, bid/ask
 * may both be empty (or absent) for a trade-only tick; decimals are parsed
 * exactly (tg_dec_parse: more than 8 fractional digits is an error, never
 * rounded). A parsed tick has ts = src_ts = ts_ns; a live feed restamps ts.
 */
#ifndef TICKGATE_REPLAY_H
#define TICKGATE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/fixed.h"
#include "tickgate/tick.h"

/** Longest CSV line accepted; longer ones are malformed. */
#define TG_REPLAY_LINE_MAX 1024
/** Room for any line written by tg_replay_format_csv()/_tcp(), with the '\n' and NUL. */
#define TG_REPLAY_FMT_MAX (20 + 1 + TG_SYMBOL_MAX + 4 * (TG_DEC_STRLEN + 1) + 2)
/** Bad CSV lines logged one by one (`replay_bad_line`); later ones are only counted. */
#define TG_REPLAY_BAD_LOG_MAX 20

typedef struct tg_replay_src tg_replay_src_t;

/**
 * Parse one CSV data line (without or with its trailing "\n"/"\r\n") into
 * *out. Returns 0, or -EINVAL (wrong field count, bad timestamp or symbol,
 * inconsistent empty fields), -EDOM/-ERANGE (decimal not exact/out of range).
 * *out is zeroed first. Pure; any thread.
 */
int tg_replay_parse_csv_line(const char *line, size_t len, tg_tick_t *out);

/**
 * Open a CSV file as a source ("-" = stdin), yielding ticks with
 * from <= ts <= to (to <= 0: no upper bound). Malformed lines are logged with
 * their line number (`replay_bad_line`, first TG_REPLAY_BAD_LOG_MAX), counted
 * and skipped. *out is owned by the caller (tg_replay_close()).
 */
int tg_replay_open_csv(tg_replay_src_t **out, const char *path, int64_t from, int64_t to);

/** Like tg_replay_open_csv() over a journal directory (oldest segment first). */
int tg_replay_open_journal(tg_replay_src_t **out, const char *dir, int64_t from, int64_t to);

/** Next tick: 1 = *out filled, 0 = end, negative errno on an I/O error. */
int tg_replay_next(tg_replay_src_t *s, tg_tick_t *out);

/** Malformed CSV lines skipped so far (journal: corrupt regions skipped). */
uint64_t tg_replay_bad_lines(const tg_replay_src_t *s);

/** Close and free; NULL is fine. */
void tg_replay_close(tg_replay_src_t *s);

/** Parse a speed: "max" -> 0, else a decimal > 0 (1 = real time). -EINVAL otherwise. */
int tg_replay_speed_parse(const char *s, tg_dec_t *out);

/** Paces ticks by their ts at `speed` x real time; speed 0 = as fast as possible. */
typedef struct tg_replay_pacer {
    tg_dec_t speed;
    bool started;
    int64_t first_ts;   /* ts of the first paced tick */
    int64_t start_mono; /* monotonic time it was emitted */
} tg_replay_pacer_t;

/** Initialize a pacer (caller-allocated, no resources). */
void tg_replay_pacer_init(tg_replay_pacer_t *p, tg_dec_t speed);

/**
 * Nanoseconds to wait before emitting a tick with `ts` when the monotonic
 * clock reads `now_mono`; <= 0 means now. The first call anchors the pacer.
 * Ticks earlier than the anchor (out of order) are due immediately.
 */
int64_t tg_replay_pacer_delay(tg_replay_pacer_t *p, int64_t ts, int64_t now_mono);

/** Sleep (clock_nanosleep, restarted on EINTR) until the tick with `ts` is due. */
void tg_replay_pacer_wait(tg_replay_pacer_t *p, int64_t ts);

/**
 * Write `t` as a replay CSV line "ts,symbol,price,size,bid,ask\n" (empty
 * price/size without TG_TICK_TRADE, bid/ask columns only with TG_TICK_QUOTE)
 * into buf. Returns the length (without NUL), 0 if `cap` is too small;
 * TG_REPLAY_FMT_MAX always suffices.
 */
size_t tg_replay_format_csv(const tg_tick_t *t, char *buf, size_t cap);

/**
 * Write `t` as a `tcp`-feed line "SYMBOL PRICE SIZE TS_NS\n". Returns the
 * length, or 0 when the tick has no trade (that line format carries trades
 * only) or `cap` is too small.
 */
size_t tg_replay_format_tcp(const tg_tick_t *t, char *buf, size_t cap);

/**
 * `tickgate replay`: read `csv_in` if not NULL, else `journal_dir`; keep
 * from <= ts <= to (to <= 0: no bound); pace at `speed` ("max" or N, NULL =
 * "max"); send tcp-feed lines to `send_hostport` ("host:port", "[v6]:port")
 * over a blocking TCP connection, or write CSV (with a header line) to
 * `csv_out` ("-" = stdout): exactly one of the two. Returns 0, -EINVAL for
 * bad usage, or another negative errno; on failure `err` holds a one-line
 * reason. Logs `replay_done` with the counts at the end. Main thread.
 */
int tg_replay_run(const char *journal_dir, const char *csv_in, const char *speed, int64_t from,
                  int64_t to, const char *send_hostport, const char *csv_out, char *err,
                  size_t errlen);

#endif
