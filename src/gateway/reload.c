/* reload.c - SIGHUP: new limits for the running service threads.
 *
 * Each service thread reads only its own copy of the limits (t->lim), so a
 * reload never writes memory another thread is reading: the main thread
 * leaves the new values in the thread's mailbox (under a mutex) and wakes the
 * thread, which takes them at its next engine drain. Connected clients stay;
 * each limit applies from its next check (history_size to channel keys
 * created after the reload: the rings of existing keys keep their size).
 */
#include <string.h>

#include "gw.h"
#include "tickgate/log.h"

void tg_gateway_set_limits(tg_gateway_t *g, const struct tg_limits *l)
{
    if (!g)
        return;
    for (int i = 0; i < g->nthreads; i++) {
        gw_thread_t *t = &g->threads[i];
        pthread_mutex_lock(&t->lim_lock);
        t->lim_next = *l;
        atomic_store_explicit(&t->lim_waiting, 1, memory_order_release);
        pthread_mutex_unlock(&t->lim_lock);
        if (t->started)
            lws_cancel_service(t->ctx);
    }
}

void gw_thread_take_limits(gw_thread_t *t)
{
    pthread_mutex_lock(&t->lim_lock);
    t->lim = t->lim_next;
    atomic_store_explicit(&t->lim_waiting, 0, memory_order_relaxed);
    pthread_mutex_unlock(&t->lim_lock);
    t->hub.history_size = (uint32_t)t->lim.history_size;
    t->hub.hist_max_bytes = (uint64_t)t->lim.history_max_bytes;
    if (t->idx == 0)
        TG_INFO("limits_reloaded", "msgs_per_s", TG_I(t->lim.msgs_per_s), "burst",
                TG_I(t->lim.burst), "max_subscriptions", TG_I(t->lim.max_subscriptions));
}
