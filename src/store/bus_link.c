/* bus_link.c - the cluster bus's Redis connection (see bus_link.h). */
#include "bus_link.h"

#include <stdio.h>

#include "tickgate/clock.h"

#define CONNECT_TIMEOUT_MS 500
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

int tg__bus_link_init(tg__bus_link_t *l, const tg_config_t *cfg, uint64_t seed)
{
    l->command_ms = cfg->redis.command_timeout_ms;
    tg_backoff_init(&l->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, seed);
    return tg_redis_url_parse(cfg->redis.url, &l->url);
}

bool tg__bus_link_connect(tg__bus_link_t *l, const char **why)
{
    *why = "connect failed";
    l->c = tg_redis_sync_connect(&l->url, CONNECT_TIMEOUT_MS, l->command_ms, why);
    if (!l->c)
        l->down_logged = true; /* quiet while it stays down */
    return l->c != NULL;
}

void tg__bus_link_up(tg__bus_link_t *l)
{
    tg_backoff_reset(&l->backoff);
    l->down_logged = false;
    atomic_store(&l->up, 1);
    tg_gauge_set(l->m_up, 1);
}

bool tg__bus_link_down(tg__bus_link_t *l, const char *why, char *reason, size_t reasonlen)
{
    snprintf(reason, reasonlen, "%s", why);
    tg__bus_link_close(l);
    l->next_connect_ns = tg_mono_ns() + tg_backoff_next(&l->backoff);
    atomic_store(&l->up, 0);
    tg_gauge_set(l->m_up, 0);
    if (l->down_logged)
        return false;
    l->down_logged = true;
    return true;
}

void tg__bus_link_close(tg__bus_link_t *l)
{
    if (l->c) {
        redisFree(l->c);
        l->c = NULL;
    }
}
