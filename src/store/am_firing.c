/* am_firing.c - the alerts firing at Alertmanager, kept across restarts.
 *
 * Alertmanager forgets an alert that is not re-sent within its resolve
 * timeout (5 min by default) and then shows it resolved. The engine restores
 * a firing alert's state after a restart without a new event, so without this
 * file a restart would end every firing alert at Alertmanager while it is still
 * firing. The webhook thread rewrites journal.dir/webhook/am_firing.log whole
 * (temp file + rename) whenever the set changes, and reads it back at start.
 *
 * Format, one alert per line: <startsAt ns> <space> <alert event JSON>. The
 * JSON is tickgate's own encoding (no newline inside). A line that does not
 * parse is skipped and counted, never fatal: the file is a cache of what the
 * engine will say again when the alert resolves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "am_firing.h"
#include "tickgate/file.h"
#include "tickgate/log.h"

#define AM_FIRING_MAX_BYTES (64u << 20)

static void path_of(const char *dir, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%s/am_firing.log%s", dir, suffix);
}

int tg_am_firing_save(const char *dir, const tg_am_firing_t *v, size_t n)
{
    char path[4200], tmp[4200];
    path_of(dir, "", path, sizeof path);
    path_of(dir, ".tmp", tmp, sizeof tmp);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    bool bad = false;
    for (size_t i = 0; i < n && !bad; i++) {
        if (memchr(v[i].body, '\n', v[i].len)) /* cannot happen with our encoder */
            continue;
        bad = fprintf(f, "%lld ", (long long)v[i].starts_ns) < 0 ||
              fwrite(v[i].body, 1, v[i].len, f) != v[i].len || fputc('\n', f) == EOF;
    }
    int rc = 0;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        bad = true;
    if (bad)
        rc = -(errno ? errno : EIO);
    if (fclose(f) != 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

int tg_am_firing_load(const char *dir, tg_am_firing_cb cb, void *arg, size_t *skipped)
{
    char path[4200];
    path_of(dir, "", path, sizeof path);
    char *text = NULL;
    size_t len = 0;
    *skipped = 0;
    int rc = tg_file_read(path, AM_FIRING_MAX_BYTES, &text, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char *sp = memchr(p, ' ', (size_t)(le - p));
        char *num_end = NULL;
        errno = 0;
        long long starts = sp ? strtoll(p, &num_end, 10) : 0;
        if (!nl || !sp || num_end != sp || errno || starts < 0 || sp + 1 >= le ||
            sp[1] != '{') {
            (*skipped)++; /* torn last line, or not ours */
        } else if ((rc = cb(arg, (int64_t)starts, sp + 1, (size_t)(le - sp - 1))) != 0) {
            break;
        }
        p = le + 1;
    }
    free(text);
    return rc;
}
