/* daystate.h - the day-state format (journal.dir/daystate and the PostgreSQL
 * day_state table, SPEC §13).
 *
 *   tickgate-daystate 1 <session start ns>
 *   q <day_open> <volume> <symbol>
 *   p <pending 0|1> <open> <cash> <cost> <n_holdings> <portfolio id>
 *
 * Written by the engine (engine_daystate.c); this parser is pure so it can
 * be fuzzed. Ids and symbols come last on their line and may hold any byte
 * but '\n'; a malformed line is skipped, never fatal. A row of the
 * PostgreSQL table goes through tg_daystate_record, the same checks as a
 * line. Any thread.
 */
#ifndef TICKGATE_DAYSTATE_H
#define TICKGATE_DAYSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/fixed.h"

typedef struct tg_daystate_cb {
    /** A quote line; `symbol` is NUL-terminated, valid during the call. */
    void (*on_quote)(void *arg, const char *symbol, tg_dec_t day_open, tg_dec_t volume);
    /** A portfolio line; `id` is NUL-terminated, valid during the call. */
    void (*on_portfolio)(void *arg, const char *id, bool pending, tg_dec_t open, tg_dec_t cash,
                         tg_dec_t cost, uint32_t n_holdings);
    /** A record's last trade price (> 0) and its time (ns, > 0), right after
     * its on_quote: PostgreSQL rows carry it (the file leaves it to the
     * journal tail). May be NULL. */
    void (*on_last)(void *arg, const char *symbol, tg_dec_t price, int64_t ts);
    void *arg;
} tg_daystate_cb_t;

/**
 * Parse `len` bytes of `text` (modified in place; NUL bytes allowed, they
 * spoil only their line). Returns the number of lines delivered, or -ESTALE
 * when the header is missing or names another session start than
 * `session_start`, in which case no callback is made.
 */
int tg_daystate_parse(char *text, size_t len, int64_t session_start, const tg_daystate_cb_t *cb);

/**
 * One record given as text fields (a line's, or a PostgreSQL row's columns):
 * kind 'q' with vals {day_open, volume} or {day_open, volume, price, ts},
 * key = the symbol (price and ts both NULL: no last price); kind 'p' with
 * vals {pending "0"|"1", open, cash, cost, n_holdings}, key = the portfolio
 * id. Any other NULL (an SQL NULL) makes the record malformed.
 * Returns 0 after the callback, or -EINVAL (no callback) for a wrong kind or
 * count, an empty key, or a field that is not an exact decimal / count.
 */
int tg_daystate_record(char kind, const char *key, const char *const *vals, size_t nvals,
                       const tg_daystate_cb_t *cb);

#endif
