/* http_tokens.c - POST /api/v1/tokens/revoke (admin, SPEC §13). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_api.h"
#include "tickgate/json.h"
#include "tickgate/log.h"
#include "tickgate/redis.h"

/*
 * POST /api/v1/tokens/revoke (admin), {"token":"<jwt>"} or {"sub":"u-1"}:
 * applied here at once (this node's sessions close on the next timer), and
 * with Redis stored and announced to every node (SPEC §13).
 */
void gw_api_revoke(http_req_t *r, gw_thread_t *t)
{
    tg_gateway_t *g = t->g;
    tg_json_t j = {0};
    char sub[TG_PORTFOLIO_ID_MAX + 1] = "", hash[65] = "";
    int64_t now = time(NULL), ttl = 0;
    if (!r->body || tg_json_parse(&j, r->body, r->blen, 64, 4) != 0 ||
        tg_json_type(&j, 0) != TG_JSON_OBJECT) {
        tg_json_free(&j);
        gw_api_error(r, t, 400, "bad_request", "body must be {\"token\":…} or {\"sub\":…}");
        return;
    }
    tg_json_ref_t tok = tg_json_get(&j, 0, "token"), sb = tg_json_get(&j, 0, "sub");
    const char *bad = NULL;
    if ((tok >= 0) == (sb >= 0) || tg_json_size(&j, 0) != 1)
        bad = "give exactly one of token and sub";
    else if (sb >= 0 && (tg_json_str(&j, sb, sub, sizeof sub, NULL) != 0 || !sub[0]))
        bad = "sub must be a non-empty string of at most 128 bytes";
    else if (tok >= 0) {
        size_t n;
        const char *p = tg_json_type(&j, tok) == TG_JSON_STRING ? tg_json_raw(&j, tok, &n) : NULL;
        tg_jwt_claims_t c;
        int rc = p ? tg_jwt_verify(g->d.jwt, p, n, now, &c) : -EINVAL;
        if (rc == 0) {
            ttl = tg_jwt_deadline(g->d.jwt, &c) - now; /* the key lives as long as the token */
            tg_jwt_claims_free(&c);
        }
        if (rc == 0 || rc == TG_JWT_EEXPIRED)
            tg_jwt_sha256_hex(p, n, hash);
        else
            bad = "token is not one of ours (malformed or bad signature)";
    }
    tg_json_free(&j);
    if (bad) {
        gw_api_error(r, t, 400, "bad_request", bad);
        return;
    }
    bool is_sub = sub[0] != 0;
    const char *key = is_sub ? sub : hash;
    gw_revoke_add(&g->revocations, is_sub, key, now);
    bool shared = g->d.redis && tg_redis_revoke(g->d.redis, is_sub, key, now, ttl) == 0;
    TG_INFO("token_revoked", "kind", TG_S(is_sub ? "sub" : "token"), "sub",
            TG_S(is_sub ? sub : ""), "shared", TG_B(shared));
    tg_buf_t b = {0};
    gw_api_ok_begin(&b);
    tg_buf_printf(&b, "{\"revoked\":\"%s\",\"%s\":", is_sub ? "sub" : "token",
              is_sub ? "sub" : "token_sha256");
    tg_json_put_cstr(&b, key);
    tg_buf_printf(&b, ",\"at\":%lld,\"shared\":%s}", (long long)now, shared ? "true" : "false");
    gw_api_ok_end(r, t, &b);
}
