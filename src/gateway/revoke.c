/* revoke.c - revocations this process knows, shared by the service threads
 * (SPEC §13 "Revocation API"): tokens by SHA-256 and subs with the time of
 * their revocation. Fed by POST /api/v1/tokens/revoke on this node and by the
 * Redis stream tickgate:revocations (every node's); every service thread
 * checks new connections against it and, when its generation moves, closes
 * the affected open sessions (token_revoked, 4001) on its next 100 ms timer.
 *
 * A mutex guards the list: control traffic (revocations, connects), never
 * the tick path. Bounded: past GW_REVOKE_MAX entries the oldest are forgotten
 * (Redis keys still answer the 30 s re-check for tokens).
 */
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "tickgate/buf.h"
#include "tickgate/log.h"

#define GW_REVOKE_MAX 65536

int gw_revoke_init(gw_revocations_t *rv)
{
    memset(rv, 0, sizeof *rv);
    return -pthread_mutex_init(&rv->lock, NULL);
}

void gw_revoke_free(gw_revocations_t *rv)
{
    free(rv->v);
    pthread_mutex_destroy(&rv->lock);
}

void gw_revoke_add(gw_revocations_t *rv, bool sub, const char *key, int64_t at_s)
{
    pthread_mutex_lock(&rv->lock);
    for (uint32_t i = 0; i < rv->n; i++)
        if (rv->v[i].sub == sub && !strcmp(rv->v[i].key, key)) {
            if (at_s > rv->v[i].at_s) /* a later revocation of a sub covers more tokens */
                rv->v[i].at_s = at_s;
            goto bump;
        }
    if (rv->n == GW_REVOKE_MAX) {
        memmove(rv->v, rv->v + 1, (rv->n - 1) * sizeof *rv->v);
        rv->n--;
    }
    if (tg_vec_reserve32(&rv->v, sizeof *rv->v, &rv->cap, (size_t)rv->n + 1, 64) < 0) {
        pthread_mutex_unlock(&rv->lock);
        TG_ERROR("revocation_lost", "reason", TG_S("out of memory"));
        return;
    }
    gw_revocation_t *e = &rv->v[rv->n++];
    memset(e, 0, sizeof *e);
    e->sub = sub;
    e->at_s = at_s;
    snprintf(e->key, sizeof e->key, "%s", key);
bump:
    atomic_fetch_add(&rv->gen, 1);
    pthread_mutex_unlock(&rv->lock);
}

bool gw_revoke_match(gw_revocations_t *rv, const char *token_hash, const tg_jwt_claims_t *c)
{
    bool hit = false;
    pthread_mutex_lock(&rv->lock);
    for (uint32_t i = 0; i < rv->n && !hit; i++) {
        const gw_revocation_t *e = &rv->v[i];
        if (!e->sub)
            hit = !strcmp(e->key, token_hash);
        /* every token of the sub issued at or before the revocation second
         * (a token without iat counts as issued before) */
        else if (c->sub && !strcmp(e->key, c->sub))
            hit = !c->has_iat || c->iat <= e->at_s;
    }
    pthread_mutex_unlock(&rv->lock);
    return hit;
}

void gw_revoke_from_redis(void *ud, bool sub, const char *key, int64_t at_s)
{
    tg_gateway_t *g = ud;
    gw_revoke_add(&g->revocations, sub, key, at_s);
}
