/* journal_writer.h - the journal's own thread, fed by the engine through a ring.
 *
 * The engine pushes every accepted tick into the writer's SPSC ring (the
 * engine thread is the only producer); the writer thread appends them to the
 * journal (io_uring), runs its timers and flushes on stop. The engine thread
 * does no file I/O.
 */
#ifndef TICKGATE_JOURNAL_WRITER_H
#define TICKGATE_JOURNAL_WRITER_H

#include "tickgate/config.h"
#include "tickgate/metrics.h"
#include "tickgate/ring.h"
#include "tickgate/tick.h"

typedef struct tg_journal_writer tg_journal_writer_t;

/**
 * Open the journal in cfg->journal.dir and start its thread. Main thread;
 * caller owns *out (tg_journal_writer_stop). -errno when the directory cannot
 * be used (the message is logged).
 */
int tg_journal_writer_start(tg_journal_writer_t **out, const tg_config_t *cfg,
                            tg_metrics_t *metrics);

/** Engine thread: append ticks (waits while the ring is full: no tick is lost). */
void tg_journal_writer_push(tg_journal_writer_t *w, const tg_tick_t *ticks, size_t n);

/** Drain the ring, flush and close the journal, join the thread. NULL is fine. */
void tg_journal_writer_stop(tg_journal_writer_t *w);

#endif
