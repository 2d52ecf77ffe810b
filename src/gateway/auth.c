/* auth.c - authentication of a client: the JWT at the upgrade or in the first
 * message, re-authentication, and revocation (Redis) at connect and every 30 s.
 * A verified token makes the client active unless Redis says it is revoked. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gw.h"
#include "tickgate/clock.h"
#include "tickgate/log.h"
#include "tickgate/redis.h"

int gw_auth_verify(gw_client_t *s, const char *token, size_t len, bool reauth)
{
    gw_thread_t *t = s->t;
    tg_jwt_claims_t c;
    int rc = tg_jwt_verify(t->g->d.jwt, token, len, time(NULL), &c);
    if (rc != 0) {
        const char *reason = tg_jwt_reason(rc);
        gw_count_auth_failure(t, reason);
        TG_DEBUG("auth_failed", "client", TG_S(s->client_id), "reason", TG_S(reason));
        tg_jwt_claims_free(&c);
        return rc == TG_JWT_EEXPIRED ? -ETIMEDOUT : -EPERM;
    }
    if (reauth && strcmp(c.sub, s->claims.sub) != 0) {
        tg_jwt_claims_free(&c);
        return -EACCES;
    }
    tg_jwt_claims_free(&s->claims);
    s->claims = c;
    s->deadline_s = tg_jwt_deadline(t->g->d.jwt, &s->claims);
    tg_jwt_sha256_hex(token, len, s->token_hash);
    return 0;
}


/* SPEC §5: re-checked every 30 s. The next lookup starts 29 s after the last
 * one was asked, so that with the lookup's own time and the 100 ms timer a
 * token revoked just after a check is acted on within 30 s. */
#define REVOCATION_RECHECK_NS (29LL * 1000000000LL)

/*
 * Verified token -> active, unless Redis says it is revoked. Without Redis
 * there is nothing to ask. With Redis, the cached verdict answers at once;
 * when there is none yet the client waits (GW_AWAIT_REVOCATION, nothing sent)
 * for the lookup, at most command_timeout_ms: then Redis counts as down and
 * the last known state (not revoked) applies, with a warning.
 */
void gw_auth_activate(gw_client_t *s, bool reauth)
{
    gw_thread_t *t = s->t;
    tg_redis_t *redis = t->g->d.redis;
    int64_t now = tg_mono_ns();
    /* revoked through POST /api/v1/tokens/revoke (this node or, via Redis, another) */
    if (gw_revoke_match(&t->g->revocations, s->token_hash, &s->claims)) {
        gw_count_auth_failure(t, "revoked");
        gw_send_error(s, "token_revoked", "token revoked", NULL);
        gw_client_close(s, reauth ? 4001 : 1008, "token revoked");
        return;
    }
    /* at connect and re-auth: only a verdict from now on counts (ask Redis) */
    s->revocation_asked_ns = now;
    tg_redis_verdict_t v = redis ? tg_redis_revoked_fresh(redis, s->token_hash, 0) : TG_REDIS_NO;
    if (v == TG_REDIS_UNKNOWN && reauth) {
        /* re-auth keeps the connection; the timer re-checks in 200 ms */
        s->next_revocation_check_ns = now + 200000000LL;
        return;
    }
    if (v == TG_REDIS_YES) {
        gw_count_auth_failure(t, "revoked");
        gw_send_error(s, "token_revoked", "token revoked", NULL);
        gw_client_close(s, reauth ? 4001 : 1008, "token revoked");
        return;
    }
    s->next_revocation_check_ns = now + REVOCATION_RECHECK_NS;
    if (v == TG_REDIS_UNKNOWN && !reauth) {
        s->state = GW_AWAIT_REVOCATION;
        s->revocation_deadline_ns =
            now + (int64_t)t->g->cfg->redis.command_timeout_ms * 1000000LL + 20000000LL;
        t->revoke_poll_wanted = true; /* server.c polls for the answer every 2 ms */
        return;
    }
    if (!reauth) {
        s->state = GW_ACTIVE;
        gw_send_established(s);
    }
}

/* Timer: clients waiting for a verdict, and the 30 s re-check of open ones. */
bool gw_auth_check_revocation(gw_client_t *s, int64_t now)
{
    tg_redis_t *redis = s->t->g->d.redis;
    if (!redis)
        return false;
    if (s->state == GW_AWAIT_REVOCATION) {
        tg_redis_verdict_t v =
            tg_redis_revoked_fresh(redis, s->token_hash, now - s->revocation_asked_ns + 1);
        if (v == TG_REDIS_YES) {
            gw_count_auth_failure(s->t, "revoked");
            gw_send_error(s, "token_revoked", "token revoked", NULL);
            gw_client_close(s, 1008, "token revoked");
        } else if (v == TG_REDIS_NO || now > s->revocation_deadline_ns) {
            if (v != TG_REDIS_NO)
                TG_WARN("revocation_unknown", "client", TG_S(s->client_id), "reason",
                        TG_S("redis did not answer in time; last known state applies"));
            s->state = GW_ACTIVE;
            gw_send_established(s);
            return true; /* the caller handles the messages held meanwhile */
        }
        return false;
    }
    if (s->state == GW_ACTIVE && now >= s->next_revocation_check_ns) {
        gw_thread_t *t = s->t;
        if (!s->revocation_rechecking) {
            /* a new round: only a verdict Redis gives from now on counts (a
             * cached "not revoked" may be up to 30 s old) */
            s->revocation_rechecking = true;
            s->revocation_asked_ns = now;
            s->revocation_deadline_ns =
                now + (int64_t)t->g->cfg->redis.command_timeout_ms * 1000000LL + 20000000LL;
        }
        tg_redis_verdict_t v =
            tg_redis_revoked_fresh(redis, s->token_hash, now - s->revocation_asked_ns + 1);
        if (v == TG_REDIS_YES) {
            s->revocation_rechecking = false;
            gw_count_auth_failure(t, "revoked");
            gw_send_error(s, "token_revoked", "token revoked", NULL);
            gw_client_close(s, 4001, "token revoked");
        } else if (v == TG_REDIS_NO || now > s->revocation_deadline_ns) {
            /* answered, or Redis did not answer in time: the last known state
             * (a revoked verdict is kept while Redis is down) until the next round */
            s->revocation_rechecking = false;
            s->next_revocation_check_ns = s->revocation_asked_ns + REVOCATION_RECHECK_NS;
        } else {
            /* the lookup is queued: act on its answer when it arrives (server.c
             * polls every 2 ms) */
            t->revoke_poll_wanted = true;
        }
    }
    return false;
}

int gw_auth_find_token(struct lws *wsi, char *buf, size_t cap)
{
    const char *v = lws_get_urlarg_by_name(wsi, "token=", buf, (int)cap);
    if (v && *v) {
        memmove(buf, v, strlen(v) + 1);
        return (int)strlen(buf);
    }
    int n = lws_hdr_copy(wsi, buf, (int)cap, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0) {
        memmove(buf, buf + 7, (size_t)n - 6);
        return n - 7;
    }
    return 0;
}
