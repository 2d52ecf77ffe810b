/* daystate_format.c - parser of journal.dir/daystate (include/tickgate/daystate.h). */
#include "tickgate/daystate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Next space-separated field of *p (advanced past it); NULL when none. */
static char *field(char **p)
{
    char *s = *p;
    if (!s || !*s)
        return NULL;
    char *sp = strchr(s, ' ');
    if (sp) {
        *sp = 0;
        *p = sp + 1;
    } else {
        *p = s + strlen(s);
    }
    return s;
}

static bool dec_text(const char *s, tg_dec_t *out)
{
    return s && tg_dec_parse(s, strlen(s), out) == 0;
}

static bool count_text(const char *s, uint32_t *out)
{
    char *end;
    if (!s || !*s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || errno || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool ns_text(const char *s, int64_t *out)
{
    char *end;
    if (!s || *s < '1' || *s > '9')
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno)
        return false;
    *out = v;
    return true;
}

int tg_daystate_record(char kind, const char *key, const char *const *vals, size_t nvals,
                       const tg_daystate_cb_t *cb)
{
    if (!key || !*key || !vals)
        return -EINVAL;
    if (kind == 'q') {
        tg_dec_t day_open, volume, price = 0;
        int64_t ts = 0;
        if ((nvals != 2 && nvals != 4) || !dec_text(vals[0], &day_open) ||
            !dec_text(vals[1], &volume))
            return -EINVAL;
        if (nvals == 4 && (vals[2] || vals[3]) &&
            (!dec_text(vals[2], &price) || price <= 0 || !ns_text(vals[3], &ts)))
            return -EINVAL;
        if (cb && cb->on_quote)
            cb->on_quote(cb->arg, key, day_open, volume);
        if (price && cb && cb->on_last)
            cb->on_last(cb->arg, key, price, ts);
        return 0;
    }
    if (kind == 'p') {
        tg_dec_t open, cash, cost;
        uint32_t nh;
        const char *pend = vals[0];
        if (nvals != 5 || !pend || (strcmp(pend, "0") && strcmp(pend, "1")) ||
            !dec_text(vals[1], &open) || !dec_text(vals[2], &cash) ||
            !dec_text(vals[3], &cost) || !count_text(vals[4], &nh))
            return -EINVAL;
        if (cb && cb->on_portfolio)
            cb->on_portfolio(cb->arg, key, pend[0] == '1', open, cash, cost, nh);
        return 0;
    }
    return -EINVAL;
}

int tg_daystate_parse(char *text, size_t len, int64_t session_start, const tg_daystate_cb_t *cb)
{
    static const char magic[] = "tickgate-daystate 1 ";
    char *end = text + len, *nl = memchr(text, '\n', len);
    size_t hl = nl ? (size_t)(nl - text) : len;
    char head[64];
    if (hl < sizeof magic - 1 || hl >= sizeof head || memcmp(text, magic, sizeof magic - 1) != 0)
        return -ESTALE;
    memcpy(head, text + sizeof magic - 1, hl - (sizeof magic - 1));
    head[hl - (sizeof magic - 1)] = 0;
    char *e;
    long long saved = strtoll(head, &e, 10);
    if (*e || e == head || saved != session_start)
        return -ESTALE;
    int n = 0;
    /* by length: a NUL byte inside the file only spoils its own line */
    for (char *line = nl ? nl + 1 : end, *next; line < end; line = next) {
        next = memchr(line, '\n', (size_t)(end - line));
        if (next)
            *next++ = 0;
        else
            next = end;
        /* a last line without '\n': bound it by a NUL we own (the buffer
         * may not have one past len) */
        size_t ll = strnlen(line, (size_t)(next - line));
        if (ll < 2 || line[1] != ' ' || (line[0] != 'q' && line[0] != 'p'))
            continue;
        char buf[4096 + 512];
        if (ll >= sizeof buf)
            continue; /* no id or symbol is that long */
        memcpy(buf, line, ll);
        buf[ll] = 0;
        char *p = buf + 2;
        const char *vals[5];
        size_t nv = buf[0] == 'q' ? 2 : 5, i = 0;
        while (i < nv && (vals[i] = field(&p)) != NULL)
            i++;
        /* the id or symbol is the rest of the line */
        if (i < nv || tg_daystate_record(buf[0], p, vals, nv, cb) != 0)
            continue;
        n++;
    }
    return n;
}
