/* bars_sub.c - subscribing to the bars channel (SPEC §12).
 *
 * Bars travel like every other key (SYMBOL@INTERVAL: seq, history, `since`);
 * what is special is the subscribe: "history": N sends the last N final bars
 * before the current partial bar. They come from the engine's kept bars
 * (engine.bars_keep per symbol and interval), not from the key's recovery
 * history, which also holds partial bars and is bounded by history_size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "tickgate/bars.h"
#include "tickgate/encode.h"

void gw_bars_key(const char *symbol, uint8_t iv, char *out, size_t cap)
{
    snprintf(out, cap, "%s@%s", symbol, tg_bar_iv_name((tg_bar_iv_t)iv));
}

/* One kept final bar as a `bar` message for this client (same bytes as live). */
static void push_bar(gw_client_t *s, const char *sym, tg_bar_iv_t iv, const tg_bar_t *b)
{
    char j[1024];
    unsigned char mp[1024];
    tg_enc_t e;
    tg_enc_init(&e, j, sizeof j, mp, sizeof mp);
    tg_bar_encode(&e, sym, iv, b, true, true);
    if (e.err)
        return;
    tg_msg_t *m = tg_msg_new(e.json, e.jlen, e.mp, e.mlen);
    if (!m) {
        gw_client_close(s, 1011, "out of memory");
        return;
    }
    m->type = TG_MSG_BAR;
    m->channel = TG_CH_BARS;
    m->aux = 1;
    m->seq = b->seq;
    gw_client_push_ctrl(s, m);
}

bool gw_bars_send_history(gw_client_t *s, gw_key_t *k, const tg_cmsg_t *m)
{
    for (size_t i = 0; m->has_since && i < m->nsince; i++)
        if (strcmp(m->since[i].key, k->name) == 0)
            return false; /* recovery: the generic path */
    tg_bar_iv_t iv = (tg_bar_iv_t)m->interval;
    char sym[TG_KEY_MAX + 1];
    snprintf(sym, sizeof sym, "%s", k->name);
    char *at = strrchr(sym, '@');
    if (at)
        *at = 0;
    tg_bars_t *bars = s->t->g->d.engine ? tg_engine_bars(s->t->g->d.engine) : NULL;
    int32_t id = bars ? tg_bars_find(bars, sym, strlen(sym)) : -1;
    if (m->history && id >= 0) {
        tg_bar_t *b = malloc(m->history * sizeof *b);
        size_t n = b ? tg_bars_query(bars, (uint32_t)id, iv, 0, 0, b, m->history) : 0;
        /* only what this thread has seen: a bar the engine finalized but whose
         * message is still on its way here arrives live, after these */
        uint64_t upto = k->last ? k->last->seq : UINT64_MAX;
        for (size_t i = 0; i < n; i++)
            if (b[i].seq <= upto)
                push_bar(s, sym, iv, &b[i]);
        free(b);
    }
    if (k->last && k->last->type == TG_MSG_BAR && k->last->aux == 0)
        gw_client_push_ctrl(s, tg_msg_ref(k->last)); /* the current partial bar */
    return true;
}
