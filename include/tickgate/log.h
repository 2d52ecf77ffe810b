/* log.h - structured JSON-lines (or text) logging to stderr.
 *
 * One macro, TG_LOG, checks the level before evaluating its arguments. Each
 * line has ts, level, event and key/value fields:
 *   TG_LOG(TG_LOG_INFO, "feed_connected", "feed", TG_S(name), "port", TG_I(port));
 * Fields are typed through TG_S/TG_I/TG_F/TG_B so strings are escaped. The
 * level may change at runtime (SIGHUP); writes are one write(2) per line, so
 * lines from several threads never interleave.
 */
#ifndef TICKGATE_LOG_H
#define TICKGATE_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum tg_log_level {
    TG_LOG_DEBUG = 0,
    TG_LOG_INFO = 1,
    TG_LOG_WARN = 2,
    TG_LOG_ERROR = 3,
} tg_log_level_t;

/* Process-wide log settings: the one piece of shared state, an atomic. */
extern _Atomic int tg__log_level;
extern _Atomic int tg__log_json;

/** Set level from "debug|info|warn|error"; -EINVAL otherwise. */
int tg_log_set_level(const char *name);
/** Set format from "json|text"; -EINVAL otherwise. */
int tg_log_set_format(const char *name);

typedef enum { TG__LF_END = 0, TG__LF_STR, TG__LF_INT, TG__LF_DBL, TG__LF_BOOL } tg__lf_type_t;

#define TG_S(v) TG__LF_STR, (const char *)(v)
#define TG_I(v) TG__LF_INT, (long long)(v)
#define TG_F(v) TG__LF_DBL, (double)(v)
#define TG_B(v) TG__LF_BOOL, (int)(v)

/** Internal: write one line. Fields are (name, type, value) triples then NULL. */
void tg__log_write(int level, const char *event, ...);

#define TG_LOG(level, event, ...)                                                                  \
    do {                                                                                           \
        if ((int)(level) >= atomic_load_explicit(&tg__log_level, memory_order_relaxed))            \
            tg__log_write((level), (event), ##__VA_ARGS__, (const char *)0);                       \
    } while (0)

#define TG_DEBUG(ev, ...) TG_LOG(TG_LOG_DEBUG, ev, ##__VA_ARGS__)
#define TG_INFO(ev, ...) TG_LOG(TG_LOG_INFO, ev, ##__VA_ARGS__)
#define TG_WARN(ev, ...) TG_LOG(TG_LOG_WARN, ev, ##__VA_ARGS__)
#define TG_ERROR(ev, ...) TG_LOG(TG_LOG_ERROR, ev, ##__VA_ARGS__)

#endif
