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

static bool dec_field(char **p, tg_dec_t *out)
{
    const char *s = field(p);
    return s && tg_dec_parse(s, strlen(s), out) == 0;
}

static bool count_field(char **p, uint32_t *out)
{
    const char *s = field(p);
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
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
        if (buf[0] == 'q') {
            tg_dec_t day_open, volume;
            if (!dec_field(&p, &day_open) || !dec_field(&p, &volume) || !*p)
                continue;
            if (cb && cb->on_quote)
                cb->on_quote(cb->arg, p, day_open, volume);
        } else {
            tg_dec_t open, cash, cost;
            uint32_t nh;
            const char *pend = field(&p);
            if (!pend || (strcmp(pend, "0") && strcmp(pend, "1")) || !dec_field(&p, &open) ||
                !dec_field(&p, &cash) || !dec_field(&p, &cost) || !count_field(&p, &nh) || !*p)
                continue;
            if (cb && cb->on_portfolio)
                cb->on_portfolio(cb->arg, p, pend[0] == '1', open, cash, cost, nh);
        }
        n++;
    }
    return n;
}
