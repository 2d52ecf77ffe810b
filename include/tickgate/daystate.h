/* daystate.h - the day-state file format (journal.dir/daystate, SPEC §13).
 *
 *   tickgate-daystate 1 <session start ns>
 *   q <day_open> <volume> <symbol>
 *   p <pending 0|1> <open> <cash> <cost> <n_holdings> <portfolio id>
 *
 * Written by the engine (engine_daystate.c); this parser is pure so it can
 * be fuzzed. Ids and symbols come last on their line and may hold any byte
 * but '\n'; a malformed line is skipped, never fatal. Any thread.
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
    void *arg;
} tg_daystate_cb_t;

/**
 * Parse `len` bytes of `text` (modified in place; NUL bytes allowed, they
 * spoil only their line). Returns the number of lines delivered, or -ESTALE
 * when the header is missing or names another session start than
 * `session_start`, in which case no callback is made.
 */
int tg_daystate_parse(char *text, size_t len, int64_t session_start, const tg_daystate_cb_t *cb);

#endif
