/* tick.h - the normalized tick record that flows feed -> ring -> engine.
 *
 * Fixed size and plain data so rings copy it by value; 128 bytes = two cache
 * lines. Symbols are at most 31 bytes (SPEC §3) and stored NUL-terminated.
 */
#ifndef TICKGATE_TICK_H
#define TICKGATE_TICK_H

#include <stdint.h>

#include "tickgate/fixed.h"

#define TG_SYMBOL_MAX 31

enum {
    TG_TICK_TRADE = 1u << 0, /* price/size set: last trade, adds to volume */
    TG_TICK_QUOTE = 1u << 1, /* bid/ask set */
    /* Not a tick: a feed's breaker changed state. `price` holds the new
     * tg_breaker_state_t, `symbol` the reason. Travels in the feed's ring so the
     * engine publishes it in order with that feed's ticks. */
    TG_TICK_STATUS = 1u << 2,
};

typedef struct tg_tick {
    int64_t ts;      /* feed-accept time, ns since the Unix epoch (SPEC §5 `ts`) */
    int64_t src_ts;  /* provider's own timestamp in ns, 0 when it sent none */
    tg_dec_t price;  /* last trade price (TG_TICK_TRADE) */
    tg_dec_t size;   /* trade size (TG_TICK_TRADE), >= 0 */
    tg_dec_t bid;    /* 0 = none (TG_TICK_QUOTE) */
    tg_dec_t ask;    /* 0 = none (TG_TICK_QUOTE) */
    uint64_t src_seq; /* provider sequence number, 0 = none */
    uint16_t feed;   /* index of the feed in the configuration */
    uint8_t flags;   /* TG_TICK_* */
    uint8_t sym_len; /* strlen(symbol) */
    char symbol[TG_SYMBOL_MAX + 1];
    /* set by the engine on the copies it hands to the Redis writer: the
     * symbol's day volume after this tick (the quote hash's `volume`);
     * 0 everywhere else, and never journaled */
    tg_dec_t day_volume;
    uint8_t _pad[128 - 60 - (TG_SYMBOL_MAX + 1) - 4 - 8];
} tg_tick_t;

_Static_assert(sizeof(tg_tick_t) == 128, "tick record is two cache lines");

#endif
