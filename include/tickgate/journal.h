/* journal.h - the tick journal: size-rotated segment files of CRC'd records.
 *
 * Writer: one owner thread appends ticks; records are packed into large
 * aligned buffers and written through io_uring (plain pwrite/fdatasync when
 * io_uring is unavailable or TICKGATE_DISABLE_IO_URING=1). Reader: iterates all
 * segments oldest -> newest, detecting, reporting (`journal_corrupt`) and
 * skipping torn or corrupt records. Both sides are single-threaded objects:
 * one handle, one thread at a time.
 *
 * On disk (all integers little-endian):
 *   <dir>/journal-<20 digits>.tgj   the number is the first record's ts, or the
 *                                   previous segment's number + 1 if larger,
 *                                   so names sort oldest -> newest.
 *   segment header (32 bytes): "TGJOURNL", u16 version (1), u16 header length
 *     (32), u32 CRC32C of bytes 0..31 with this field zero, u64 segment number,
 *     8 reserved zero bytes.
 *   record: u16 magic 0x4A54 ("TJ"), u16 payload length, u32 CRC32C(payload),
 *     payload: u8 type (1 = tick), u8 flags, u16 feed, i64 ts, i64 src_ts,
 *     i64 price, i64 size, i64 bid, i64 ask (tg_dec_t), u8 sym_len, symbol.
 *
 * Durability (what a crash can lose):
 *   none      whatever the kernel had not written back (up to ~30 s by default).
 *   interval  at most ~fsync_interval_ms of ticks plus the unsubmitted buffer
 *             (at most TG_JOURNAL_MAX_DELAY_MS old when the owner calls
 *             tg_journal_poll() or appends regularly).
 *   always    nothing that tg_journal_flush() returned 0 for.
 * tg_journal_close() (graceful stop) fdatasyncs under `interval` and `always`.
 * In every mode a torn tail is detected and skipped on the next read.
 */
#ifndef TICKGATE_JOURNAL_H
#define TICKGATE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/tick.h"

typedef enum tg_journal_fsync {
    TG_JOURNAL_FSYNC_NONE = 0, /* the OS decides when data reaches the disk */
    TG_JOURNAL_FSYNC_INTERVAL, /* fdatasync at most every fsync_interval_ms */
    TG_JOURNAL_FSYNC_ALWAYS,   /* tg_journal_flush() returns after fdatasync */
} tg_journal_fsync_t;

/** Buffered data is submitted once it is this old (checked on append/poll). */
#define TG_JOURNAL_MAX_DELAY_MS 5
/** tg_journal_last_quotes() reads at most about this many bytes of the tail. */
#define TG_JOURNAL_TAIL_SCAN_BYTES (128LL * 1024 * 1024)
/** Smallest segment_bytes accepted (a header plus a few records). */
#define TG_JOURNAL_MIN_SEGMENT 256

typedef struct tg_journal tg_journal_t;
typedef struct tg_journal_reader tg_journal_reader_t;

/** Parse "none|interval|always" (the config value); -EINVAL otherwise. */
int tg_journal_fsync_parse(const char *s, tg_journal_fsync_t *out);

/**
 * Open a writer on `dir` (created if missing, mode 0755). A new segment is
 * started at the first append, never appended to an existing file (whose tail
 * may be torn). `max_bytes` 0 keeps all segments, else the oldest are deleted
 * once the total exceeds it. On success *out is owned by the caller (free with
 * tg_journal_close()) and may be used only from one thread at a time.
 * Returns 0 or a negative errno. `io_uring` false (server.disable_io_uring)
 * forces the pwrite()/fdatasync() fallback, which writes the same bytes.
 */
int tg_journal_open(tg_journal_t **out, const char *dir, long long segment_bytes,
                    long long max_bytes, tg_journal_fsync_t fsync_policy, int fsync_interval_ms,
                    bool io_uring);

/**
 * Append `n` ticks. Copies them into the write buffer; full (or
 * TG_JOURNAL_MAX_DELAY_MS old) buffers are submitted without waiting for the
 * write. Blocks only when every buffer is in flight, until one completes.
 * Returns 0, or a negative errno: an I/O error since the last report (the
 * ticks of this call are buffered, the failed write's are lost), or a failed
 * segment creation (the ticks of this call from that one on are dropped).
 */
int tg_journal_append(tg_journal_t *j, const tg_tick_t *ticks, size_t n);

/**
 * Housekeeping for an idle owner: reap completions, submit buffered data older
 * than TG_JOURNAL_MAX_DELAY_MS, start the interval fdatasync. Never blocks on
 * io_uring; call it from the owner's timer every few ms. 0 or negative errno.
 */
int tg_journal_poll(tg_journal_t *j);

/**
 * Submit everything buffered and wait for all writes; with `always`,
 * fdatasync before returning. 0 or negative errno.
 */
int tg_journal_flush(tg_journal_t *j);

/** Flush, close files and free. NULL is fine. Returns the flush result. */
int tg_journal_close(tg_journal_t *j);

/* The three getters below may be called from any thread (the metrics one)
 * while the owner appends; tg_journal_close() must not run concurrently. */

/** True when writes go through io_uring (the tickgate_io_uring_enabled gauge). */
bool tg_journal_uring_enabled(const tg_journal_t *j);

/** Record bytes appended so far (tickgate_journal_bytes_total). */
uint64_t tg_journal_bytes(const tg_journal_t *j);

/** Write errors seen so far (each also logged as journal_write_failed). */
uint64_t tg_journal_errors(const tg_journal_t *j);

/**
 * Open a reader over every segment in `dir`, oldest first. Files that do not
 * match journal-<20 digits>.tgj are ignored. *out is owned by the caller
 * (tg_journal_reader_close()). -ENOENT when `dir` does not exist.
 */
int tg_journal_reader_open(tg_journal_reader_t **out, const char *dir);

/**
 * Like tg_journal_reader_open() but skipping the leading segments that hold
 * only ticks before `from_ns`: a segment is skipped when the next one's number
 * (its first record's ts, or more) is at least 1 s before from_ns, the margin
 * covering feed threads' clock skew within journal order. The caller still
 * filters the first segments it reads by ts. from_ns <= 0 reads everything.
 */
int tg_journal_reader_open_from(tg_journal_reader_t **out, const char *dir, int64_t from_ns);

/**
 * Next tick into *out: 1 = a tick, 0 = end of journal, negative errno on an
 * I/O error. Corrupt or torn data is logged (`journal_corrupt`, with file,
 * offset and reason), counted and skipped by scanning forward to the next
 * valid record; it is never an error.
 */
int tg_journal_read(tg_journal_reader_t *r, tg_tick_t *out);

/** Corrupt regions skipped so far (each logged once). */
uint64_t tg_journal_reader_corrupt(const tg_journal_reader_t *r);

/** Close and free; NULL is fine. */
void tg_journal_reader_close(tg_journal_reader_t *r);

/** Called once per symbol with its last journaled tick; `t` is valid only during the call. */
typedef void (*tg_journal_quote_cb)(const tg_tick_t *t, void *arg);

/**
 * Rebuild the last tick per symbol from the journal tail, for the engine at
 * start. Reads only the newest segments, about TG_JOURNAL_TAIL_SCAN_BYTES
 * (and at least the two newest): quotes older than that are stale anyway, and
 * a start must not read a whole large journal. "Last" is journal order (what
 * the engine accepted last), not the largest ts. Calls `cb` once per symbol,
 * in no particular order. Returns the number of symbols (>= 0; 0 when `dir`
 * is missing or empty) or a negative errno.
 */
int tg_journal_last_quotes(const char *dir, tg_journal_quote_cb cb, void *arg);

#endif
