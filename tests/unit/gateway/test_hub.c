/* test_hub.c - the gateway's keys (hub.c): find/create, the notifications
 * list, history with `since` recovery (complete or not), a gap resetting the
 * history, the history_size ring, the byte budget evicting the globally oldest
 * first, forget, subscribers and "*" subscribers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw.h"
#include "tg_test.h"

static tg_msg_t *quote(const char *sym, uint64_t seq, size_t pad)
{
    char j[2048];
    int n = snprintf(j, sizeof j, "{\"type\":\"quote\",\"symbol\":\"%s\",\"seq\":%llu,\"p\":\"%*s\"}",
                     sym, (unsigned long long)seq, (int)pad, "");
    tg_msg_t *m = tg_msg_new(j, (size_t)n, "\x80", 1);
    m->type = TG_MSG_QUOTE;
    m->channel = TG_CH_MARKET_DATA;
    m->seq = seq;
    snprintf(m->key_name, sizeof m->key_name, "%s", sym);
    return m;
}

/* seqs of a replay, "3,4,5"; "-" when incomplete */
static void replay_str(gw_key_t *k, uint64_t since, char *out, size_t cap)
{
    tg_msg_t **v;
    uint32_t n;
    if (gw_hub_replay(k, since, &v, &n) != 0) {
        snprintf(out, cap, "-");
        return;
    }
    size_t o = 0;
    out[0] = 0;
    for (uint32_t i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%llu", i ? "," : "",
                              (unsigned long long)v[i]->seq);
    free(v);
}

TG_TEST(keys_found_created_and_listed)
{
    gw_hub_t h;
    TG_CHECK_EQ_INT(gw_hub_init(&h, 10, 1 << 20), 0);
    bool created = false;
    gw_key_t *a = gw_hub_get(&h, TG_CH_MARKET_DATA, "AAPL", &created);
    TG_CHECK(a && created);
    TG_CHECK(gw_hub_get(&h, TG_CH_MARKET_DATA, "AAPL", &created) == a && !created);
    TG_CHECK(gw_hub_find(&h, TG_CH_MARKET_DATA, "AAPL") == a);
    TG_CHECK(gw_hub_find(&h, TG_CH_PORTFOLIO, "AAPL") == NULL); /* keyed by channel too */
    gw_key_t *u = gw_hub_get(&h, TG_CH_NOTIFICATIONS, "u-1", NULL);
    TG_CHECK(u && h.nnotif == 1 && h.notif[0] == u);
    char big[TG_KEY_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    TG_CHECK(gw_hub_get(&h, TG_CH_MARKET_DATA, big, NULL) == NULL); /* too long */
    /* many keys: the table grows and every key is still found */
    char name[16];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "S%04d", i);
        TG_CHECK(gw_hub_get(&h, TG_CH_MARKET_DATA, name, NULL) != NULL);
    }
    for (int i = 0; i < 5000; i += 499) {
        snprintf(name, sizeof name, "S%04d", i);
        gw_key_t *k = gw_hub_find(&h, TG_CH_MARKET_DATA, name);
        TG_CHECK(k && strcmp(k->name, name) == 0);
    }
    TG_CHECK_EQ_INT(h.nkeys, 5002);
    gw_hub_free(&h);
}

TG_TEST(history_since_complete_or_not)
{
    gw_hub_t h;
    TG_CHECK_EQ_INT(gw_hub_init(&h, 5, 1 << 20), 0);
    gw_key_t *k = gw_hub_get(&h, TG_CH_MARKET_DATA, "A", NULL);
    char got[128];
    replay_str(k, 0, got, sizeof got);
    TG_CHECK_EQ_STR(got, ""); /* nothing yet, nothing missed */
    replay_str(k, 3, got, sizeof got);
    TG_CHECK_EQ_STR(got, "-"); /* a seq from before: cannot say */
    for (uint64_t s = 1; s <= 8; s++)
        gw_hub_record(&h, k, quote("A", s, 0));
    TG_CHECK(k->last && k->last->seq == 8);
    TG_CHECK_EQ_INT(k->hist.len, 5); /* history_size */
    replay_str(k, 5, got, sizeof got);
    TG_CHECK_EQ_STR(got, "6,7,8");
    replay_str(k, 3, got, sizeof got);
    TG_CHECK_EQ_STR(got, "4,5,6,7,8"); /* the oldest kept is 4 */
    replay_str(k, 2, got, sizeof got);
    TG_CHECK_EQ_STR(got, "-"); /* 3 is gone */
    replay_str(k, 8, got, sizeof got);
    TG_CHECK_EQ_STR(got, "");
    replay_str(k, 99, got, sizeof got);
    TG_CHECK_EQ_STR(got, ""); /* ahead of us: nothing to send */
    /* a gap: the history restarts (it must stay contiguous) */
    gw_hub_record(&h, k, quote("A", 20, 0));
    TG_CHECK_EQ_INT(k->hist.len, 1);
    replay_str(k, 8, got, sizeof got);
    TG_CHECK_EQ_STR(got, "-");
    replay_str(k, 19, got, sizeof got);
    TG_CHECK_EQ_STR(got, "20");
    /* forget: history gone (complete:false), the state kept unless asked */
    gw_hub_forget(&h, false);
    TG_CHECK(k->last && k->last->seq == 20);
    replay_str(k, 19, got, sizeof got);
    TG_CHECK_EQ_STR(got, "-");
    gw_hub_forget(&h, true);
    TG_CHECK(k->last == NULL);
    gw_hub_free(&h);
}

TG_TEST(byte_budget_evicts_the_globally_oldest)
{
    gw_hub_t h;
    /* room for a handful of ~1 KiB messages over all keys */
    TG_CHECK_EQ_INT(gw_hub_init(&h, 1000, 8 * 1024), 0);
    gw_key_t *a = gw_hub_get(&h, TG_CH_MARKET_DATA, "A", NULL);
    gw_key_t *b = gw_hub_get(&h, TG_CH_MARKET_DATA, "B", NULL);
    for (uint64_t s = 1; s <= 20; s++) {
        gw_hub_record(&h, a, quote("A", s, 900));
        gw_hub_record(&h, b, quote("B", s, 900));
    }
    TG_CHECK(h.hist_bytes <= h.hist_max_bytes);
    TG_CHECK(a->hist.len >= 1 && b->hist.len >= 1);
    TG_CHECK(a->hist.len + b->hist.len < 20); /* the budget, not history_size, bounds it */
    /* the newest survive, the oldest went first, on both keys alike */
    TG_CHECK(tg_deque_back(&a->hist)->seq == 20);
    TG_CHECK(tg_deque_back(&b->hist)->seq == 20);
    int d = (int)a->hist.len - (int)b->hist.len;
    TG_CHECK(d >= -1 && d <= 1);
    char got[256];
    replay_str(a, 19, got, sizeof got);
    TG_CHECK_EQ_STR(got, "20");
    replay_str(a, 1, got, sizeof got);
    TG_CHECK_EQ_STR(got, "-");
    /* many rounds: the insertion FIFO compacts and stays bounded */
    for (uint64_t s = 21; s <= 20000; s++)
        gw_hub_record(&h, a, quote("A", s, 10));
    TG_CHECK(h.hist_bytes <= h.hist_max_bytes);
    TG_CHECK(h.ftail - h.fhead <= h.fcap);
    replay_str(a, 19999, got, sizeof got);
    TG_CHECK_EQ_STR(got, "20000");
    gw_hub_free(&h);
}

TG_TEST(subscribers_and_wildcards)
{
    gw_hub_t h;
    TG_CHECK_EQ_INT(gw_hub_init(&h, 10, 1 << 20), 0);
    gw_key_t *k = gw_hub_get(&h, TG_CH_MARKET_DATA, "A", NULL);
    gw_client_t c[3];
    gw_sub_t subs[3][4];
    memset(c, 0, sizeof c);
    memset(subs, 0, sizeof subs);
    for (int i = 0; i < 3; i++) {
        c[i].subs = subs[i];
        TG_CHECK_EQ_INT(gw_hub_add_sub(&h, k, &c[i], (uint32_t)i), 0);
        TG_CHECK_EQ_INT(c[i].subs[i].pos, i); /* the client knows where it is listed */
    }
    TG_CHECK_EQ_INT(k->nsubs, 3);
    TG_CHECK(k->subs[1].s == &c[1] && k->subs[1].sub == 1);
    gw_hub_del_sub(k, c[0].subs[0].pos); /* the last one moves into the hole... */
    TG_CHECK_EQ_INT(k->nsubs, 2);
    for (uint32_t i = 0; i < k->nsubs; i++)
        TG_CHECK(k->subs[i].s != &c[0]);
    TG_CHECK(k->subs[0].s == &c[2]);
    TG_CHECK_EQ_INT(c[2].subs[2].pos, 0); /* ...and its client is told */
    gw_hub_del_sub(k, c[2].subs[2].pos);
    TG_CHECK(k->nsubs == 1 && k->subs[0].s == &c[1] && c[1].subs[1].pos == 0);
    TG_CHECK_EQ_INT(gw_hub_add_wild(&h, &c[2]), 0);
    TG_CHECK_EQ_INT(gw_hub_add_wild(&h, &c[1]), 0);
    TG_CHECK_EQ_INT(h.nwild, 2);
    gw_hub_del_wild(&h, &c[2]);
    TG_CHECK(h.nwild == 1 && h.wild[0] == &c[1]);
    gw_hub_del_wild(&h, &c[2]); /* not there: nothing happens */
    TG_CHECK_EQ_INT(h.nwild, 1);
    gw_hub_free(&h);
}

int main(void)
{
    return tg_test_run();
}
