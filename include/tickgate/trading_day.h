/* trading_day.h - when the next trading session opens (engine.session_open). */
#ifndef TICKGATE_TRADING_DAY_H
#define TICKGATE_TRADING_DAY_H

#include <stdint.h>

/**
 * The first instant strictly after `now_ns` at which the local wall clock in
 * IANA zone `tz` reads `hhmm` ("HH:MM", engine.session_open), in ns since the
 * epoch. Reads the zone's TZif file under `tzdir` (engine.tzdir; NULL or "" =
 * /usr/share/zoneinfo) itself,
 * so it never touches the process TZ and is thread-safe; call it once per
 * session. A wall time skipped by a DST gap maps to the instant the offset
 * in force before it would give. -EINVAL (bad hhmm/tz), -ENOENT (unknown zone).
 */
int tg_session_next_open(const char *tzdir, const char *hhmm, const char *tz, int64_t now_ns,
                         int64_t *out_ns);

#endif
