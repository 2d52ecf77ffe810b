/* engine_bars.h - the engine's bars: trades in, `bar` messages and rows out (SPEC §12).
 *
 * Wraps a tg_bars_t for the engine thread: names symbols as they first
 * trade, encodes every emitted bar once (JSON + MessagePack) as a `bar`
 * message on channel key SYMBOL@INTERVAL, hands it to the engine's publish
 * function, queues final bars for PostgreSQL, exports
 * tickgate_bars_late_ticks_total, and rebuilds the open bars from the journal
 * at start. Everything here runs on the engine thread (or before it starts).
 */
#ifndef TG_ENGINE_BARS_H
#define TG_ENGINE_BARS_H

#include "tickgate/bars.h"
#include "tickgate/config.h"
#include "tickgate/metrics.h"
#include "tickgate/msg.h"
#include "tickgate/tick.h"

#include "tickgate/sink.h"

typedef struct tg_ebars tg_ebars_t;

/** Publishes one message (takes its reference): the engine's fan-out. */
typedef void (*tg_ebars_publish_fn)(void *engine, tg_msg_t *m);
/** Symbol id of a journaled tick (the engine interns it), or < 0 to skip it. */
typedef int32_t (*tg_ebars_sym_fn)(void *engine, const tg_tick_t *t);

int tg__ebars_create(tg_ebars_t **out, const tg_config_t *cfg, tg_metrics_t *metrics,
                     tg_ebars_publish_fn publish, void *engine);
void tg__ebars_destroy(tg_ebars_t *eb);

/** Where final bars go as rows (PostgreSQL; push NULL: none). Before the engine thread starts. */
void tg__ebars_set_rows(tg_ebars_t *eb, tg_row_sink_t rows);

/** An accepted tick of symbol id `sym`: trades (size > 0) update the bars. */
void tg__ebars_on_tick(tg_ebars_t *eb, uint32_t sym, const tg_tick_t *t);

/** Every loop turn: finalization, partial bars, pending rows, the late counter. */
void tg__ebars_poll(tg_ebars_t *eb, int64_t now);

/**
 * Start-up with journal.dir: replay the journal's trades since the earliest
 * open interval (the session day) so the current bars continue where they
 * were; bars that became final meanwhile are kept, not republished. Returns
 * the trades applied (>= 0) or a negative errno.
 */
long tg__ebars_rebuild(tg_ebars_t *eb, const char *dir, tg_ebars_sym_fn sym_of, void *engine);

/** The aggregator (its query functions are thread-safe). */
tg_bars_t *tg__ebars_bars(tg_ebars_t *eb);

#endif
