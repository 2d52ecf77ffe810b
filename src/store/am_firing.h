/* am_firing.h - the Alertmanager firing set on disk (am_firing.c). Webhook thread only. */
#ifndef TICKGATE_AM_FIRING_H
#define TICKGATE_AM_FIRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tg_am_firing {
    const char *body; /* the firing alert event (JSON, one line) */
    size_t len;
    int64_t starts_ns;
} tg_am_firing_t;

/** Replace dir/am_firing.log with these alerts (temp file, fsync, rename). 0 or -errno. */
int tg_am_firing_save(const char *dir, const tg_am_firing_t *v, size_t n);

/** One alert read back; nonzero stops the load and is returned. */
typedef int (*tg_am_firing_cb)(void *arg, int64_t starts_ns, const char *body, size_t len);

/**
 * Read dir/am_firing.log (absent = empty). Lines that do not parse (a torn
 * write, foreign text) are skipped and counted in *skipped. 0, -errno from
 * reading, or the callback's nonzero.
 */
int tg_am_firing_load(const char *dir, tg_am_firing_cb cb, void *arg, size_t *skipped);

#endif
