/* log.c - JSON-lines / text logger behind TG_LOG (see log.h). */
#include "tickgate/log.h"

#include "tickgate/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Atomic int tg__log_level = TG_LOG_INFO;
_Atomic int tg__log_json = 1;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int tg_log_set_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, level_names[i]) == 0) {
            atomic_store(&tg__log_level, i);
            return 0;
        }
    return -EINVAL;
}

int tg_log_set_format(const char *name)
{
    if (name && strcmp(name, "json") == 0)
        atomic_store(&tg__log_json, 1);
    else if (name && strcmp(name, "text") == 0)
        atomic_store(&tg__log_json, 0);
    else
        return -EINVAL;
    return 0;
}

typedef struct {
    char buf[4096];
    size_t len;
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
    if (n > sizeof(l->buf) - 2 - l->len) /* keep room for '\n' */
        n = sizeof(l->buf) - 2 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void putf(line_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(line_t *l, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(l, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string through the one escaper (tg_json_escape): a hostile feed
 * name or client string cannot break the line. A value longer than the room
 * left is cut (its escaped prefix still fits), never dropped. */
static void put_json_str(line_t *l, const char *s)
{
    put(l, "\"", 1);
    /* keep room for the closing quote, the newline and a NUL */
    size_t room = l->len + 3 < sizeof l->buf ? sizeof l->buf - 3 - l->len : 0;
    size_t n = s ? strlen(s) : 0;
    int w = n ? tg_json_escape(s, n, l->buf + l->len, room) : 0;
    if (w < 0) /* -ENOSPC: 6 output bytes per input byte at most */
        w = tg_json_escape(s, room / 6, l->buf + l->len, room);
    if (w > 0)
        l->len += (size_t)w;
    put(l, "\"", 1);
}

void tg__log_write(int level, const char *event, ...)
{
    line_t l;
    l.len = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tbuf[64];
    snprintf(tbuf, sizeof tbuf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
    int json = atomic_load_explicit(&tg__log_json, memory_order_relaxed);
    const char *lv = level_names[level < 0 ? 0 : level > 3 ? 3 : level];
    if (json) {
        putf(&l, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", tbuf, lv);
        put_json_str(&l, event);
    } else {
        putf(&l, "%s %-5s %s", tbuf, lv, event);
    }
    va_list ap;
    va_start(ap, event);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        int type = va_arg(ap, int);
        if (json) {
            put(&l, ",", 1);
            put_json_str(&l, key);
            put(&l, ":", 1);
        } else {
            putf(&l, " %s=", key);
        }
        switch (type) {
        case TG__LF_STR: {
            const char *v = va_arg(ap, const char *);
            if (json)
                put_json_str(&l, v ? v : "");
            else
                put(&l, v ? v : "", v ? strlen(v) : 0);
            break;
        }
        case TG__LF_INT:
            putf(&l, "%lld", va_arg(ap, long long));
            break;
        case TG__LF_DBL:
            putf(&l, "%.6g", va_arg(ap, double));
            break;
        case TG__LF_BOOL:
            putf(&l, "%s", va_arg(ap, int) ? "true" : "false");
            break;
        default:
            goto done;
        }
    }
done:
    va_end(ap);
    if (json)
        put(&l, "}", 1);
    l.buf[l.len++] = '\n';
    ssize_t w = write(STDERR_FILENO, l.buf, l.len);
    (void)w;
}
