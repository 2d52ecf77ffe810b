/* http_api.c - HTTP on the gateway port: dashboard, health, metrics, API (SPEC §6).
 *
 * Each request gets an http_req_t hung off the lws per-session pointer. The
 * full response (headers decided, body in memory) is built when the request
 * is complete, then written on HTTP_WRITEABLE in chunks. API answers use the
 * {"success":…,"data"|"error":…,"meta":…} envelope.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "wiretap.h"
#include "http_int.h"
#include "tickgate/bus.h"
#include "tickgate/clock.h"
#include "tickgate/bars.h"
#include "tickgate/embed.h"
#include "tickgate/feed_format.h"
#include "tickgate/file.h"
#include "tickgate/json.h"
#include "tickgate/log.h"
#include "tickgate/portfolio.h"
#include "tickgate/redis.h"
#include "tickgate/pg.h"

#define MAX_BODY (1024 * 1024)


static void meta(tg_buf_t *b, gw_thread_t *t)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    tg_buf_printf(b, ",\"meta\":{\"timestamp\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"requestId\":\"r-%d-%llu\"}}",
              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
              ts.tv_nsec / 1000000, t->idx, (unsigned long long)++t->next_client);
}

static void error_body(tg_buf_t *b, gw_thread_t *t, const char *code, const char *msg)
{
    tg_buf_printf(b, "{\"success\":false,\"error\":{\"code\":\"%s\",\"message\":", code);
    tg_json_put_cstr(b, msg);
    tg_buf_puts(b, "}");
    meta(b, t);
}

size_t gw_http_error_json(gw_thread_t *t, const char *code, const char *msg, char *out, size_t cap)
{
    tg_buf_t b = {0};
    error_body(&b, t, code, msg);
    size_t n = b.err || b.len >= cap ? 0 : b.len;
    if (n)
        memcpy(out, b.p, n);
    tg_buf_free(&b);
    return n;
}

/* One element of a JSON array: a message's JSON text, comma-separated. */
static void array_elem(tg_buf_t *b, bool *first, const tg_msg_t *m)
{
    if (!*first)
        tg_buf_putc(b, ',');
    *first = false;
    tg_buf_put(b, (const char *)m->json, m->json_len);
}

static void respond(http_req_t *r, int status, const char *ctype, tg_buf_t *b)
{
    r->status = status;
    r->ctype = ctype;
    if (b->err) {
        tg_buf_free(b);
        r->status = 500;
        r->resp = NULL;
        r->rlen = 0;
        return;
    }
    r->resp = b->p;
    r->rlen = b->len;
}

void gw_http_error(http_req_t *r, gw_thread_t *t, int status, const char *code, const char *msg)
{
    tg_buf_t b = {0};
    error_body(&b, t, code, msg);
    respond(r, status, "application/json", &b);
}

/* Start a success envelope; the caller appends data then calls api_ok_end. */
void gw_http_ok_begin(tg_buf_t *b)
{
    tg_buf_puts(b, "{\"success\":true,\"data\":");
}

void gw_http_ok_end(http_req_t *r, gw_thread_t *t, tg_buf_t *b)
{
    meta(b, t);
    respond(r, 200, "application/json", b);
}

static const char *feed_state_name(tg_feed_t *f)
{
    if (atomic_load(&f->finished))
        return "finished";
    return tg_breaker_state_name(tg_feed_state(f));
}

static void health_ready(http_req_t *r, gw_thread_t *t)
{
    tg_gateway_t *g = t->g;
    /* a gateway node's "engine" is the bus consumer (SPEC §14): ready once it
     * knows the ingest epoch, so clients never get a node-local one */
    bool engine_ok = g->d.engine ? tg_engine_running(g->d.engine) : tg_bus_sub_synced(g->d.bus);
    bool bus_ok = (!g->d.bus || tg_bus_sub_up(g->d.bus)) &&
                  (!g->d.bus_pub || tg_bus_pub_up(g->d.bus_pub));
    bool any_delivering = false;
    int64_t now = tg_mono_ns();
    for (size_t i = 0; i < g->d.nfeeds; i++) {
        int64_t last = atomic_load(&g->d.feeds[i].last_tick_ns);
        if (last && now - last < 10LL * 1000000000LL)
            any_delivering = true;
        if (atomic_load(&g->d.feeds[i].finished))
            any_delivering = true;
    }
    if (g->d.bus)
        any_delivering = true; /* a bus outage is degraded, clients stay (SPEC §14) */
    /* PostgreSQL or Redis down: still serving, but degraded (SPEC §6) */
    bool stores_ok = (!g->d.pg || tg_store_pg_up(g->d.pg)) &&
                     (!g->cfg->redis.url[0] || tg_redis_up(g->d.redis));
    /* some symbol without a closed feed (failover exhausted): degraded too */
    bool feeds_ok = !g->d.engine || tg_engine_degraded_symbols(g->d.engine) == 0;
    const char *status = !engine_ok || !any_delivering   ? "not_ready"
                         : !stores_ok || !feeds_ok || !bus_ok ? "degraded"
                                                       : "ready";
    tg_buf_t b = {0};
    tg_buf_printf(&b, "{\"status\":\"%s\",\"components\":{\"engine\":\"%s\",\"feeds\":{", status,
              engine_ok ? "ok" : "down");
    for (size_t i = 0; i < g->d.nfeeds; i++) {
        if (i)
            tg_buf_puts(&b, ",");
        tg_json_put_cstr(&b, g->d.feeds[i].conf->name);
        tg_buf_printf(&b, ":\"%s\"", feed_state_name(&g->d.feeds[i]));
    }
    tg_buf_printf(&b, "},\"role\":\"%s\",\"bus\":\"%s\"", g->cfg->node.role,
              !g->d.bus && !g->d.bus_pub ? "disabled" : bus_ok ? "ok" : "down");
    tg_buf_printf(&b, ",\"postgres\":\"%s\",\"redis\":\"%s\"}}",
              !g->d.pg ? "disabled" : tg_store_pg_up(g->d.pg) ? "ok" : "down",
              !g->cfg->redis.url[0] ? "disabled" : tg_redis_up(g->d.redis) ? "ok" : "down");
    respond(r, strcmp(status, "not_ready") == 0 ? 503 : 200, "application/json", &b);
}

static bool is_loopback(struct lws *wsi, gw_thread_t *t)
{
    char peer[64] = "", xff[1024] = "", ip[64];
    lws_get_peer_simple(wsi, peer, sizeof peer);
    if (lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) < 0)
        xff[0] = 0;
    gw_client_addr(&t->g->cfg->server.trusted_proxies, peer, xff, ip, sizeof ip);
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
           strncmp(ip, "::ffff:127.", 11) == 0;
}

/* Bearer token -> claims; on failure answers 401 and returns false. */
static bool http_auth(struct lws *wsi, http_req_t *r, gw_thread_t *t, tg_jwt_claims_t *c)
{
    char buf[TG_JWT_MAX_TOKEN + 16];
    int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION);
    memset(c, 0, sizeof *c);
    if (n <= 7 || strncasecmp(buf, "Bearer ", 7) != 0) {
        gw_http_error(r, t, 401, "unauthorized", "missing bearer token");
        return false;
    }
    int rc = tg_jwt_verify(t->g->d.jwt, buf + 7, (size_t)n - 7, time(NULL), c);
    if (rc != 0) {
        gw_http_error(r, t, 401, rc == TG_JWT_EEXPIRED ? "token_expired" : "unauthorized",
                  tg_jwt_reason(rc));
        return false;
    }
    return true;
}

/* The key's latest message, or NULL when it has none (not subscribed-to yet, or no such key). */
static gw_key_t *hub_last(gw_thread_t *t, int channel, const char *name)
{
    gw_key_t *k = gw_hub_find(&t->hub, channel, name);
    return k && k->last ? k : NULL;
}

/* 200 with one key's latest message, exactly as the WebSocket clients got it. */
static void send_last(http_req_t *r, gw_thread_t *t, const gw_key_t *k)
{
    tg_buf_t b = {0};
    gw_http_ok_begin(&b);
    tg_buf_put(&b, (const char *)k->last->json, k->last->json_len);
    gw_http_ok_end(r, t, &b);
}

static bool claims_may_read(const tg_jwt_claims_t *c, const gw_key_t *k)
{
    if (c->admin)
        return true;
    for (size_t i = 0; i < c->n_portfolios; i++)
        if (strcmp(c->portfolios[i], k->name) == 0)
            return true;
    return k->last && tg_msg_acl_has(k->last, c->sub);
}

/* 200 with a JSON array of the latest message of every key on channel (that
 * c may read; c NULL: all of them). */
static void send_all(http_req_t *r, gw_thread_t *t, int channel, const tg_jwt_claims_t *c)
{
    gw_hub_t *h = &t->hub;
    tg_buf_t b = {0};
    bool first = true;
    gw_http_ok_begin(&b);
    tg_buf_puts(&b, "[");
    for (uint32_t i = 0; i < h->nbuckets; i++)
        for (gw_key_t *k = h->buckets[i]; k; k = k->next)
            if (k->channel == channel && k->last && (!c || claims_may_read(c, k)))
                array_elem(&b, &first, k->last);
    tg_buf_puts(&b, "]");
    gw_http_ok_end(r, t, &b);
}

static void api_quotes(struct lws *wsi, http_req_t *r, gw_thread_t *t, const char *one)
{
    if (one) {
        gw_key_t *k = hub_last(t, TG_CH_MARKET_DATA, one);
        if (!k)
            gw_http_error(r, t, 404, "unknown_symbol", "no quote for that symbol");
        else
            send_last(r, t, k);
        return;
    }
    char list[4096];
    const char *arg = lws_get_urlarg_by_name(wsi, "symbols=", list, sizeof list);
    if (!arg) {
        send_all(r, t, TG_CH_MARKET_DATA, NULL);
        return;
    }
    tg_buf_t b = {0};
    bool first = true;
    gw_http_ok_begin(&b);
    tg_buf_puts(&b, "[");
    char *save = NULL;
    for (char *sym = strtok_r((char *)arg, ",", &save); sym; sym = strtok_r(NULL, ",", &save)) {
        gw_key_t *k = hub_last(t, TG_CH_MARKET_DATA, sym);
        if (k)
            array_elem(&b, &first, k->last);
    }
    tg_buf_puts(&b, "]");
    gw_http_ok_end(r, t, &b);
}

static void api_portfolios(http_req_t *r, gw_thread_t *t, const tg_jwt_claims_t *c,
                           const char *one)
{
    if (!one) {
        send_all(r, t, TG_CH_PORTFOLIO, c);
        return;
    }
    gw_key_t *k = hub_last(t, TG_CH_PORTFOLIO, one);
    if (!k)
        gw_http_error(r, t, 404, "not_found", "no such portfolio");
    else if (!claims_may_read(c, k))
        gw_http_error(r, t, 403, "forbidden", "portfolio is not yours");
    else
        send_last(r, t, k);
}

static bool time_arg(struct lws *wsi, const char *name, int64_t *out)
{
    char buf[96];
    const char *v = lws_get_urlarg_by_name(wsi, name, buf, sizeof buf);
    if (!v)
        return true;
    char t[80];
    size_t n = strlen(v);
    if (n >= sizeof t)
        return false;
    memcpy(t, v, n + 1);
    if (n > 6 && t[n - 6] == ' ')
        t[n - 6] = '+';
    return tg_time_parse(t, n, out) == 0;
}

/* GET /api/v1/bars/{symbol}?interval=&from=&to=&limit= (SPEC §12): final bars,
 * oldest first; from PostgreSQL when configured, else the engine's kept bars. */
static void api_bars(struct lws *wsi, http_req_t *r, gw_thread_t *t, const char *sym)
{
    char buf[32];
    const char *v;
    tg_bar_iv_t iv = TG_BAR_1M;
    int64_t from = 0, to = 0;
    long limit = 500;
    if (!tg_symbol_valid(sym, strlen(sym)) || strchr(sym, '*')) {
        gw_http_error(r, t, 400, "bad_request", "invalid symbol");
        return;
    }
    if ((v = lws_get_urlarg_by_name(wsi, "interval=", buf, sizeof buf)) &&
        tg_bar_iv_parse(v, strlen(v), &iv) != 0) {
        gw_http_error(r, t, 400, "bad_request", "interval must be one of 1s, 1m, 5m, 1h, 1d");
        return;
    }
    if (!time_arg(wsi, "from=", &from) || !time_arg(wsi, "to=", &to)) {
        gw_http_error(r, t, 400, "bad_request", "from/to must be ns since the epoch or RFC 3339");
        return;
    }
    if ((v = lws_get_urlarg_by_name(wsi, "limit=", buf, sizeof buf))) {
        char *end = NULL;
        limit = strtol(v, &end, 10);
        if (!*v || *end || limit < 1 || limit > 5000) {
            gw_http_error(r, t, 400, "bad_request", "limit must be 1..5000");
            return;
        }
    }
    if (to > 0 && from > to) {
        gw_http_error(r, t, 400, "bad_request", "from is after to");
        return;
    }
    tg_bar_t *bars = malloc((size_t)limit * sizeof *bars);
    if (!bars) {
        gw_http_error(r, t, 500, "internal", "out of memory");
        return;
    }
    size_t n = 0;
    if (t->g->cfg->postgres.url[0]) {
        char err[160];
        int rc = tg_store_pg_bars(t->g->cfg->postgres.url, sym, tg_bar_iv_name(iv), from, to,
                                  bars, (size_t)limit, err, sizeof err);
        if (rc < 0) {
            free(bars);
            gw_http_error(r, t, 503, "internal", "PostgreSQL unavailable");
            return;
        }
        n = (size_t)rc;
    } else {
        tg_bars_t *b = t->g->d.engine ? tg_engine_bars(t->g->d.engine) : NULL;
        int32_t id = b ? tg_bars_find(b, sym, strlen(sym)) : -1;
        if (id >= 0)
            n = tg_bars_query(b, (uint32_t)id, iv, from, to, bars, (size_t)limit);
    }
    tg_buf_t sb = {0};
    gw_http_ok_begin(&sb);
    tg_buf_putc(&sb, '[');
    char j[1024];
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        tg_enc_t e;
        tg_enc_init(&e, j, sizeof j, NULL, 0);
        tg_bar_encode(&e, sym, iv, &bars[i], true, false);
        if (e.err)
            continue;
        if (!first)
            tg_buf_putc(&sb, ',');
        first = false;
        tg_buf_put(&sb, e.json, e.jlen);
    }
    tg_buf_putc(&sb, ']');
    free(bars);
    gw_http_ok_end(r, t, &sb);
}

/*
 * POST /api/v1/tokens/revoke (admin), {"token":"<jwt>"} or {"sub":"u-1"}:
 * applied here at once (this node's sessions close on the next timer), and
 * with Redis stored and announced to every node (SPEC §13).
 */
static void api_revoke(http_req_t *r, gw_thread_t *t)
{
    tg_gateway_t *g = t->g;
    tg_json_t j = {0};
    char sub[TG_PORTFOLIO_ID_MAX + 1] = "", hash[65] = "";
    int64_t now = time(NULL), ttl = 0;
    if (!r->body || tg_json_parse(&j, r->body, r->blen, 64, 4) != 0 ||
        tg_json_type(&j, 0) != TG_JSON_OBJECT) {
        tg_json_free(&j);
        gw_http_error(r, t, 400, "bad_request", "body must be {\"token\":…} or {\"sub\":…}");
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
        gw_http_error(r, t, 400, "bad_request", bad);
        return;
    }
    bool is_sub = sub[0] != 0;
    const char *key = is_sub ? sub : hash;
    gw_revoke_add(&g->revocations, is_sub, key, now);
    bool shared = g->d.redis && tg_redis_revoke(g->d.redis, is_sub, key, now, ttl) == 0;
    TG_INFO("token_revoked", "kind", TG_S(is_sub ? "sub" : "token"), "sub",
            TG_S(is_sub ? sub : ""), "shared", TG_B(shared));
    tg_buf_t b = {0};
    gw_http_ok_begin(&b);
    tg_buf_printf(&b, "{\"revoked\":\"%s\",\"%s\":", is_sub ? "sub" : "token",
              is_sub ? "sub" : "token_sha256");
    tg_json_put_cstr(&b, key);
    tg_buf_printf(&b, ",\"at\":%lld,\"shared\":%s}", (long long)now, shared ? "true" : "false");
    gw_http_ok_end(r, t, &b);
}

/* 200 {"portfolio_id":ID,FIELD} for a write the engine (or PostgreSQL) took. */
static void send_portfolio_done(http_req_t *r, gw_thread_t *t, const char *id, const char *field)
{
    tg_buf_t b = {0};
    gw_http_ok_begin(&b);
    tg_buf_puts(&b, "{\"portfolio_id\":");
    tg_json_put_cstr(&b, id);
    tg_buf_printf(&b, ",%s}", field);
    gw_http_ok_end(r, t, &b);
}

/* PUT /api/v1/portfolios/{id} (admin): validated here, applied by the engine. */
static void api_put_portfolio(http_req_t *r, gw_thread_t *t, const char *id)
{
    char err[256];
    tg_portfolio_spec_t *spec = calloc(1, sizeof *spec);
    if (!spec) {
        gw_http_error(r, t, 500, "internal", "out of memory");
        return;
    }
    if (!r->body || !r->blen) {
        free(spec);
        gw_http_error(r, t, 400, "bad_request", "a JSON portfolio body is required");
        return;
    }
    if (tg_portfolio_parse_json(r->body, r->blen, id, t->g->cfg, spec, err, sizeof err) != 0) {
        tg_portfolio_spec_free(spec);
        free(spec);
        gw_http_error(r, t, 400, "bad_request", err);
        return;
    }
    bool existed = hub_last(t, TG_CH_PORTFOLIO, id) != NULL;
    if (t->g->d.portfolio_write) {
        /* PostgreSQL is the system of record: answer after the commit; its
         * NOTIFY brings the portfolio into every node's engine */
        int rc = t->g->d.portfolio_write(t->g->d.portfolio_write_ctx, id, spec, r->body, r->blen,
                                         err, sizeof err);
        tg_portfolio_spec_free(spec);
        free(spec);
        if (rc != 0) {
            gw_http_error(r, t, 503, "unavailable", err);
            return;
        }
    } else if (tg_engine_put_portfolio(t->g->d.engine, spec) != 0) { /* takes spec */
        gw_http_error(r, t, 500, "internal", "out of memory");
        return;
    }
    send_portfolio_done(r, t, id, existed ? "\"created\":false" : "\"created\":true");
}

static void api_delete_portfolio(http_req_t *r, gw_thread_t *t, const char *id)
{
    gw_key_t *k = hub_last(t, TG_CH_PORTFOLIO, id);
    if (t->g->d.portfolio_write) {
        char err[256] = "";
        int rc = t->g->d.portfolio_write(t->g->d.portfolio_write_ctx, id, NULL, NULL, 0, err,
                                         sizeof err);
        if (rc == -ENOENT) {
            gw_http_error(r, t, 404, "not_found", "no such portfolio");
            return;
        }
        if (rc != 0) {
            gw_http_error(r, t, 503, "unavailable", err);
            return;
        }
    } else if (!k) {
        gw_http_error(r, t, 404, "not_found", "no such portfolio");
        return;
    } else if (tg_engine_remove_portfolio(t->g->d.engine, id) != 0) {
        gw_http_error(r, t, 500, "internal", "out of memory");
        return;
    }
    send_portfolio_done(r, t, id, "\"deleted\":true");
}

static void api_feeds(http_req_t *r, gw_thread_t *t)
{
    tg_gateway_t *g = t->g;
    tg_buf_t b = {0};
    int64_t now = tg_mono_ns();
    gw_http_ok_begin(&b);
    tg_buf_puts(&b, "[");
    for (size_t i = 0; i < g->d.nfeeds; i++) {
        tg_feed_t *f = &g->d.feeds[i];
        int64_t last = atomic_load(&f->last_tick_ns);
        if (i)
            tg_buf_puts(&b, ",");
        tg_buf_puts(&b, "{\"name\":");
        tg_json_put_cstr(&b, f->conf->name);
        uint64_t rejected = 0;
        for (int k = 1; k < TG_REJECT__COUNT; k++)
            if (f->m_rejected[k])
                rejected += atomic_load(&f->m_rejected[k]->v);
        tg_buf_printf(&b, ",\"type\":\"%s\",\"priority\":%d,\"state\":\"%s\",\"ticks_received\":%llu,"
                      "\"ticks_rejected\":%llu,\"last_tick_age_ms\":%lld}",
                  f->ops ? f->ops->type : "?", f->conf->priority, feed_state_name(f),
                  (unsigned long long)atomic_load(&f->m_received->v),
                  (unsigned long long)rejected,
                  last ? (long long)((now - last) / 1000000) : -1LL);
    }
    tg_buf_puts(&b, "]");
    gw_http_ok_end(r, t, &b);
}

static const char *mime_for(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
        {".json", "application/json"},         {".png", "image/png"},
        {".ico", "image/x-icon"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

static void static_file(http_req_t *r, gw_thread_t *t, const char *path)
{
    const char *web_root = t->g->cfg->server.web_root;
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    if (strstr(path, "..") || strchr(path, '\\') || strncmp(path, "/deploy", 7) == 0) {
        gw_http_error(r, t, 404, "not_found", "not found");
        return;
    }
    if (web_root && web_root[0]) {
        char full[1024];
        snprintf(full, sizeof full, "%s%s", web_root, path);
        tg_buf_t b = {0};
        if (tg_file_read(full, 16u << 20, &b.p, &b.len) == 0) {
            b.cap = b.len + 1;
            respond(r, 200, mime_for(path), &b);
            return;
        }
        gw_http_error(r, t, 404, "not_found", "not found");
        return;
    }
    const tg_embedded_file_t *ef = tg_embed_find(path);
    if (!ef) {
        gw_http_error(r, t, 404, "not_found", "not found");
        return;
    }
    r->status = 200;
    r->ctype = mime_for(path);
    r->resp = (char *)ef->data;
    r->rlen = ef->len;
    r->resp_static = true;
}

/* Route a complete request. */
static void route(struct lws *wsi, http_req_t *r, gw_thread_t *t)
{
    const char *p = r->path;
    tg_gateway_t *g = t->g;
    if (r->too_large) {
        gw_http_error(r, t, 413, "message_too_large", "request body over 1 MiB");
        return;
    }
    /* everything outside /api/ is read-only (RFC 9110 §15.5.6: 405 + Allow) */
    if (strncmp(p, "/api/", 5) != 0 && strcmp(r->method, "GET") != 0 &&
        strcmp(r->method, "HEAD") != 0) {
        gw_http_error(r, t, 405, "method_not_allowed", "only GET here");
        return;
    }
    if (!strcmp(p, "/health")) {
        tg_buf_t b = {0};
        tg_buf_puts(&b, "{\"status\":\"ok\"}");
        respond(r, 200, "application/json", &b);
        return;
    }
    if (!strcmp(p, "/health/ready")) {
        health_ready(r, t);
        return;
    }
    /* with server.metrics_listen, /metrics lives only there and that port
     * serves nothing else but health */
    bool on_metrics = g->metrics_vhost && lws_get_vhost(wsi) == g->metrics_vhost;
    if (on_metrics && strcmp(p, "/metrics") != 0 && strncmp(p, "/health", 7) != 0) {
        gw_http_error(r, t, 404, "not_found", "this port serves /metrics and /health only");
        return;
    }
    if (!strcmp(p, "/metrics") && g->metrics_vhost && !on_metrics) {
        gw_http_error(r, t, 404, "not_found", "metrics are served on server.metrics_listen");
        return;
    }
    if (!strcmp(p, "/metrics")) {
        size_t len;
        char *text = tg_metrics_render(g->metrics, &len);
        if (!text) {
            gw_http_error(r, t, 500, "internal", "metrics unavailable");
            return;
        }
        r->status = 200;
        r->ctype = "text/plain; version=0.0.4; charset=utf-8";
        r->resp = text;
        r->rlen = len;
        return;
    }
    if (!strcmp(p, "/api/v1/demo-token")) {
        if (!g->d.demo_token || !is_loopback(wsi, t)) {
            gw_http_error(r, t, 404, "not_found", "no demo token here");
            return;
        }
        tg_buf_t b = {0};
        gw_http_ok_begin(&b);
        tg_buf_puts(&b, "{\"token\":");
        tg_json_put_cstr(&b, g->d.demo_token);
        tg_buf_puts(&b, "}");
        gw_http_ok_end(r, t, &b);
        return;
    }
    if (!strncmp(p, "/api/", 5)) {
        tg_jwt_claims_t c;
        if (!http_auth(wsi, r, t, &c))
            return;
        /* per user: Redis sliding window shared by every node when configured
         * (its answer lags one request), in-process otherwise or while unknown */
        int64_t retry_ns = 0;
        tg_redis_verdict_t rv =
            g->d.redis ? tg_redis_rate_check(g->d.redis, c.sub, t->lim.http_per_min, 60)
                       : TG_REDIS_UNKNOWN;
        bool local_ok = gw_rate_ok(g->http_rate, c.sub, (uint32_t)t->lim.http_per_min,
                                   60LL * 1000000000LL, tg_mono_ns(), &retry_ns);
        if (rv == TG_REDIS_YES || (rv == TG_REDIS_UNKNOWN && !local_ok)) {
            if (rv == TG_REDIS_YES)
                retry_ns = 1000000000LL;
            gw_http_error(r, t, 429, "rate_limited", "too many API requests; retry later");
            r->retry_after_s = (int)(retry_ns / 1000000000LL) + 1;
            tg_jwt_claims_free(&c);
            return;
        }
        bool is_pf = !strncmp(p, "/api/v1/portfolios/", 19) && p[19] && !strchr(p + 19, '/');
        if ((!strcmp(r->method, "PUT") || !strcmp(r->method, "DELETE")) && is_pf) {
            if (!c.admin)
                gw_http_error(r, t, 403, "forbidden", "admin only");
            else if (strlen(p + 19) > TG_PORTFOLIO_ID_MAX)
                gw_http_error(r, t, 400, "bad_request", "portfolio id too long");
            else if (!t->g->d.engine) /* node.role gateway: portfolios live on the ingest node */
                gw_http_error(r, t, 503, "unavailable", "gateway node: send this to the ingest node");
            else if (r->method[0] == 'P')
                api_put_portfolio(r, t, p + 19);
            else
                api_delete_portfolio(r, t, p + 19);
        } else if (!strcmp(r->method, "GET") && !strcmp(p, "/api/v1/quotes"))
            api_quotes(wsi, r, t, NULL);
        else if (!strcmp(r->method, "GET") && !strncmp(p, "/api/v1/quotes/", 15) && p[15])
            api_quotes(wsi, r, t, p + 15);
        else if (!strcmp(r->method, "GET") && !strcmp(p, "/api/v1/portfolios"))
            api_portfolios(r, t, &c, NULL);
        else if (!strcmp(r->method, "GET") && !strncmp(p, "/api/v1/portfolios/", 19) && p[19])
            api_portfolios(r, t, &c, p + 19);
        else if (!strcmp(r->method, "GET") && !strncmp(p, "/api/v1/bars/", 13) && p[13] &&
                 !strchr(p + 13, '/'))
            api_bars(wsi, r, t, p + 13);
        else if (!strcmp(r->method, "GET") && !strcmp(p, "/api/v1/alerts"))
            gw_http_alerts(wsi, r, t, &c, false);
        else if (!strcmp(r->method, "GET") && !strcmp(p, "/api/v1/alerts/active"))
            gw_http_alerts(wsi, r, t, &c, true);
        else if (!strcmp(r->method, "POST") && !strncmp(p, "/api/v1/alerts/", 15))
            gw_http_ack(r, t, &c, p + 15);
        else if (!strcmp(r->method, "POST") && !strcmp(p, "/api/v1/tokens/revoke")) {
            if (!c.admin)
                gw_http_error(r, t, 403, "forbidden", "admin only");
            else
                api_revoke(r, t);
        }
        else if (!strcmp(p, "/api/v1/feeds") && !strcmp(r->method, "GET")) {
            if (!c.admin)
                gw_http_error(r, t, 403, "forbidden", "admin only");
            else
                api_feeds(r, t);
        } else
            gw_http_error(r, t, 404, "not_found", "no such route");
        tg_jwt_claims_free(&c);
        return;
    }
    if (!strcmp(r->method, "GET"))
        static_file(r, t, p);
    else
        gw_http_error(r, t, 404, "not_found", "not found");
}

static void req_free(http_req_t *r)
{
    if (!r)
        return;
    if (!r->resp_static)
        free(r->resp);
    free(r->body);
    free(r);
}

static int write_response(struct lws *wsi, http_req_t *r)
{
    if (!r->headers_sent) {
        unsigned char hb[LWS_PRE + 1024];
        unsigned char *start = hb + LWS_PRE, *p = start, *end = hb + sizeof hb - 1;
        if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->ctype, r->rlen, &p, end))
            return -1;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                        (const unsigned char *)"no-store", 8, &p, end))
            return -1;
        if (r->status == 405 &&
            lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
                                        (const unsigned char *)"GET, HEAD", 9, &p, end))
            return -1;
        if (r->close_after &&
            lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                        (const unsigned char *)"close", 5, &p, end))
            return -1;
        if (r->alerts_source &&
            lws_add_http_header_by_name(wsi, (const unsigned char *)"x-tickgate-alerts-source:",
                                        (const unsigned char *)r->alerts_source,
                                        (int)strlen(r->alerts_source), &p, end))
            return -1;
        if (r->retry_after_s) {
            char ra[16];
            int n = snprintf(ra, sizeof ra, "%d", r->retry_after_s);
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                            (const unsigned char *)ra, n, &p, end))
                return -1;
        }
        if (lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        r->headers_sent = true;
        if (r->rlen) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    if (r->roff < r->rlen) {
        size_t n = r->rlen - r->roff;
        if (n > 32768)
            n = 32768;
        unsigned char *buf = malloc(LWS_PRE + n);
        if (!buf)
            return -1;
        memcpy(buf + LWS_PRE, r->resp + r->roff, n);
        bool last = r->roff + n == r->rlen;
        int w = lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
        free(buf);
        if (w < (int)n)
            return -1;
        r->roff += n;
        if (!last) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    return 1; /* everything written */
}

int gw_http(struct lws *wsi, gw_thread_t *t, void *user, enum lws_callback_reasons reason,
            void *in, size_t len)
{
    http_req_t **pr = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        if (!pr)
            return -1;
        req_free(*pr);
        http_req_t *r = calloc(1, sizeof *r);
        if (!r)
            return -1;
        *pr = r;
        const char *tcode, *tmsg;
        int tst = in && !strcmp((const char *)in, GW_TAP_STANDIN_PATH)
                      ? gw_tap_refused(lws_get_socket_fd(wsi), &tcode, &tmsg)
                      : 0;
        if (tst) {
            /* a head wiretap.c refused (lws got a stand-in request): 400, 431 */
            gw_http_error(r, t, tst, tcode, tmsg);
            r->close_after = true;
            lws_callback_on_writable(wsi);
            return 0;
        }
        if (gw_header_bytes(wsi) > GW_MAX_HEADER_BYTES) {
            /* before anything else of the request is read; a body is not
             * read either, so the connection closes after the answer */
            gw_http_error(r, t, 431, "headers_too_large", "request headers over 16384 bytes");
            r->close_after = true;
            lws_callback_on_writable(wsi);
            return 0;
        }
        snprintf(r->path, sizeof r->path, "%s", (const char *)in);
        if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
            strcpy(r->method, "GET");
        else if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI))
            strcpy(r->method, "PUT");
        else if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI))
            strcpy(r->method, "DELETE");
        else if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
            strcpy(r->method, "POST");
        else if (lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI))
            strcpy(r->method, "PATCH");
        else if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI))
            strcpy(r->method, "HEAD");
        else
            strcpy(r->method, "OTHER");
        bool has_body = !strcmp(r->method, "PUT") || !strcmp(r->method, "POST") ||
                        !strcmp(r->method, "PATCH");
        if (has_body && !lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH)) {
            /* lws 4.1 does not decode a chunked request body: it would wait
             * for 100 MiB of it. Ask for a length and close (body unread). */
            gw_http_error(r, t, 411, "length_required", "a request body needs Content-Length");
            r->close_after = true;
            lws_callback_on_writable(wsi);
            return 0;
        }
        if (has_body) {
            char cl[32];
            if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
                strtoull(cl, NULL, 10) > MAX_BODY) {
                r->too_large = true;
                route(wsi, r, t);
                lws_callback_on_writable(wsi);
            }
            return 0; /* wait for the body */
        }
        route(wsi, r, t);
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY: {
        http_req_t *r = pr ? *pr : NULL;
        if (!r || r->too_large || !len) /* an empty body may come as (NULL, 0) */
            return 0;
        if (r->blen + len > MAX_BODY) {
            r->too_large = true;
            return 0;
        }
        if (r->blen + len > r->bcap) {
            size_t nc = (r->blen + len) * 2;
            if (nc > MAX_BODY)
                nc = MAX_BODY;
            char *nb = realloc(r->body, nc);
            if (!nb)
                return -1;
            r->body = nb;
            r->bcap = nc;
        }
        memcpy(r->body + r->blen, in, len);
        r->blen += len;
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
        http_req_t *r = pr ? *pr : NULL;
        if (!r)
            return -1;
        if (!r->status)
            route(wsi, r, t);
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        http_req_t *r = pr ? *pr : NULL;
        if (!r || !r->status)
            return 0;
        int rc = write_response(wsi, r);
        if (rc != 1)
            return rc;
        /* free first: completing the transaction may re-enter this callback
         * (CLOSED_HTTP / DROP_PROTOCOL) for the same wsi */
        bool close_after = r->close_after;
        req_free(r);
        *pr = NULL;
        if (close_after)
            return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pr && *pr) {
            req_free(*pr);
            *pr = NULL;
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
