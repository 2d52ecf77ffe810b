/* webhook_am.c - the set of firing alerts webhook.c re-sends to Alertmanager,
 * kept in journal.dir/webhook/am_firing so a restart goes on re-sending it
 * (issue 16). Runs on the webhook thread only.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tickgate/file.h"
#include "tickgate/json.h"
#include "tickgate/log.h"
#include "webhook_am.h"

/* Remember one firing alert (body copied). 0 or -ENOMEM. */
int tg__am_add(am_alert_t **am, size_t *n_am, size_t *cap_am, const char *id, const char *body,
               size_t len, int64_t starts)
{
    if (*n_am == *cap_am) {
        size_t nc = *cap_am ? *cap_am * 2 : 16;
        am_alert_t *na = realloc(*am, nc * sizeof *na);
        if (!na)
            return -ENOMEM;
        *am = na;
        *cap_am = nc;
    }
    am_alert_t *a = &(*am)[*n_am];
    a->body = malloc(len + 1);
    if (!a->body)
        return -ENOMEM;
    memcpy(a->body, body, len);
    a->body[len] = 0;
    a->len = len;
    a->starts_ns = starts;
    snprintf(a->id, sizeof a->id, "%s", id);
    (*n_am)++;
    return 0;
}

/*
 * The firing set on disk, rewritten whole (tmp + rename) on every change, so
 * a restart goes on re-sending what still fires (Alertmanager forgets an
 * alert not re-sent within its resolve_timeout). One line per alert:
 * "<startsAt ns> <alert JSON>"; the encoder escapes newlines, so a body never
 * holds one. The set is small (firing alerts), and changes are rare.
 */
void tg__am_save(const char *path, const am_alert_t *am, size_t n_am)
{
    if (!path[0])
        return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f != NULL;
    for (size_t i = 0; ok && i < n_am; i++)
        ok = fprintf(f, "%lld ", (long long)am[i].starts_ns) > 0 &&
             fwrite(am[i].body, 1, am[i].len, f) == am[i].len && fputc('\n', f) != EOF;
    if (f && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        ok = false;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        TG_WARN("alertmanager_state_write_failed", "path", TG_S(path), "error",
                TG_S(strerror(errno)));
        unlink(tmp);
    }
}

/* At start: the firing set of the previous run; a malformed line is skipped. */
void tg__am_load(const char *path, am_alert_t **am, size_t *n_am, size_t *cap_am)
{
    char *text;
    size_t len;
    if (tg_file_read(path, 64u << 20, &text, &len) != 0)
        return;
    for (char *line = text, *nl; line < text + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl)
            break; /* a torn last line (the rename makes it unlikely) */
        *nl = 0;
        char *sp = strchr(line, ' '), *end;
        long long starts = strtoll(line, &end, 10);
        if (!sp || end != sp || starts <= 0)
            continue;
        const char *body = sp + 1;
        size_t bl = (size_t)(nl - body);
        char id[64], state[16];
        tg_json_t j = {0};
        int rc = tg_json_parse(&j, body, bl, 256, 4);
        if (rc == 0)
            rc = tg_json_str(&j, tg_json_get(&j, 0, "alert_id"), id, sizeof id, NULL) ||
                 tg_json_str(&j, tg_json_get(&j, 0, "state"), state, sizeof state, NULL);
        tg_json_free(&j);
        if (rc || strcmp(state, "firing") != 0)
            continue;
        bool dup = false;
        for (size_t i = 0; i < *n_am && !dup; i++)
            dup = strcmp((*am)[i].id, id) == 0;
        if (!dup && tg__am_add(am, n_am, cap_am, id, body, bl, starts) != 0)
            break;
    }
    free(text);
    if (*n_am)
        TG_INFO("alertmanager_firing_restored", "count", TG_I((int64_t)*n_am));
}

/* The alert's condition: rule, portfolio, symbol, feed (what the Alertmanager labels name). */
void tg__am_key(const char *body, size_t len, char *out, size_t cap)
{
    static const char *const keys[] = {"rule", "portfolio_id", "symbol", "feed"};
    tg_json_t j = {0};
    size_t n = 0;
    out[0] = 0;
    if (tg_json_parse(&j, body, len, 256, 4) == 0)
        for (size_t k = 0; k < 4 && n < cap; k++) {
            char v[160] = "";
            (void)tg_json_str(&j, tg_json_get(&j, 0, keys[k]), v, sizeof v, NULL);
            n += (size_t)snprintf(out + n, cap - n, "%s\x1f", v);
        }
    tg_json_free(&j);
}


void tg__am_restore(am_alert_t *am, size_t *n_am, const tg_portfolio_sink_t *restore)
{
    if (!restore || !restore->restore_alert)
        return;
    for (size_t i = 0; i < *n_am;) {
        char pid[160] = "", rule[32] = "", sym[160] = "";
        tg_json_t j = {0};
        if (tg_json_parse(&j, am[i].body, am[i].len, 256, 4) == 0) {
            (void)tg_json_str(&j, tg_json_get(&j, 0, "portfolio_id"), pid, sizeof pid, NULL);
            (void)tg_json_str(&j, tg_json_get(&j, 0, "rule"), rule, sizeof rule, NULL);
            (void)tg_json_str(&j, tg_json_get(&j, 0, "symbol"), sym, sizeof sym, NULL);
        }
        tg_json_free(&j);
        if (pid[0] && rule[0] &&
            restore->restore_alert(restore->ctx, pid, rule, sym, am[i].id) == 0) {
            i++;
            continue;
        }
        TG_INFO("alertmanager_firing_dropped", "alert_id", TG_S(am[i].id));
        free(am[i].body);
        am[i] = am[--*n_am];
    }
}
