/* http_alerts.c - the alerts API (SPEC §13): GET /api/v1/alerts with its
 * filters (portfolio_id, state, rule, since, limit, in any order),
 * GET /api/v1/alerts/active, and POST /api/v1/alerts/{alert_id}/ack. Routed
 * from http_api.c; the alert log itself is alert_log.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "tickgate/clock.h"
#include "tickgate/json.h"
#include "tickgate/log.h"
#include "tickgate/pg.h"

/*
 * One query argument. lws_get_urlarg_by_name() leaves the last fragment it
 * looked at in its buffer when the name is absent, so the value is copied out
 * only when found (issue 13 item 1: "?state=firing" alone read as a
 * portfolio_id). 1 found, 0 absent, -1 longer than cap - 1.
 */
static int urlarg(struct lws *wsi, const char *name, char *out, size_t cap)
{
    char tmp[1024];
    const char *v = lws_get_urlarg_by_name(wsi, name, tmp, sizeof tmp);
    out[0] = 0;
    if (!v)
        return 0;
    size_t l = strlen(v);
    if (l >= cap)
        return -1;
    memcpy(out, v, l + 1);
    return 1;
}

/* since=: RFC 3339 ("2024-05-01T12:00:00Z", fraction and offset allowed) or ns. */
static int parse_since(const char *s, int64_t *ns)
{
    return tg_time_parse(s, strlen(s), ns);
}

/* The query of GET /api/v1/alerts[/active]; false after answering 400. */
static bool alert_filter(struct lws *wsi, http_req_t *r, gw_thread_t *t, gw_alert_filter_t *f)
{
    char state[16], since[64], limit[16];
    memset(f, 0, sizeof *f);
    f->limit = 1000;
    if (urlarg(wsi, "portfolio_id=", f->portfolio_id, sizeof f->portfolio_id) < 0 ||
        urlarg(wsi, "rule=", f->rule, sizeof f->rule) < 0 ||
        urlarg(wsi, "state=", state, sizeof state) < 0 ||
        urlarg(wsi, "since=", since, sizeof since) < 0 ||
        urlarg(wsi, "limit=", limit, sizeof limit) < 0) {
        gw_http_error(r, t, 400, "bad_request", "query argument too long");
        return false;
    }
    if (state[0]) {
        if (!strcmp(state, "firing"))
            f->state = TG_ALERT_FIRING;
        else if (!strcmp(state, "resolved"))
            f->state = TG_ALERT_RESOLVED;
        else {
            gw_http_error(r, t, 400, "bad_request", "state must be firing or resolved");
            return false;
        }
    }
    tg_alert_rule_t rule;
    if (f->rule[0] && tg_alert_rule_parse(f->rule, &rule) != 0) {
        gw_http_error(r, t, 400, "bad_request", "unknown rule");
        return false;
    }
    if (since[0] && parse_since(since, &f->since) != 0) {
        gw_http_error(r, t, 400, "bad_request", "since must be RFC 3339 or ns since the epoch");
        return false;
    }
    if (limit[0]) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (*end || v < 1 || v > 1000) {
            gw_http_error(r, t, 400, "bad_request", "limit must be 1..1000");
            return false;
        }
        f->limit = (uint32_t)v;
    }
    return true;
}

/* GET /api/v1/alerts (newest first) and /api/v1/alerts/active, from memory. */
void gw_http_alerts(struct lws *wsi, http_req_t *r, gw_thread_t *t, const tg_jwt_claims_t *c,
                       bool active)
{
    gw_alert_filter_t f;
    if (!alert_filter(wsi, r, t, &f))
        return;
    const uint32_t cap = sizeof t->alog / sizeof t->alog[0];
    uint32_t n = active ? t->n_active : t->alog_len, out = 0;
    tg_buf_t b = {0};
    gw_http_ok_begin(&b);
    tg_buf_puts(&b, "[");
    for (uint32_t i = n; i-- > 0 && out < f.limit;) { /* newest first */
        const tg_msg_t *m = active ? t->active[i] : t->alog[(t->alog_head + i) % cap];
        if (!gw_alert_filter_match(&f, m, c->sub, c->admin, c->portfolios, c->n_portfolios))
            continue;
        if (out++)
            tg_buf_puts(&b, ",");
        tg_buf_put(&b, (const char *)m->json, m->json_len);
    }
    tg_buf_puts(&b, "]");
    gw_http_ok_end(r, t, &b);
}

/*
 * An alert this thread no longer holds (older than its ring, or fired before a
 * restart) but PostgreSQL does: the same rule as gw_alert_filter_match, from
 * the row's owner and portfolio. 1 acked (*pid set), 0 no row, -1 answered.
 */
static int ack_from_pg(http_req_t *r, gw_thread_t *t, const tg_jwt_claims_t *c, const char *id,
                       char *pid, size_t pcap)
{
    char user[TG_PORTFOLIO_ID_MAX + 1], err[160];
    int rc = tg_store_pg_alert_owner(t->g->cfg->postgres.url, id, pid, pcap, user, sizeof user,
                                     err, sizeof err);
    if (rc < 0) {
        gw_http_error(r, t, 503, "unavailable", "PostgreSQL unavailable");
        return -1;
    }
    if (rc == 0)
        return 0;
    bool ok = c->admin;
    if (!ok && pid[0]) { /* a feed alert (no portfolio) is for admins only */
        ok = !strcmp(user, c->sub);
        for (size_t i = 0; !ok && i < c->n_portfolios; i++)
            ok = !strcmp(c->portfolios[i], pid);
        gw_key_t *k = ok ? NULL : gw_hub_find(&t->hub, TG_CH_PORTFOLIO, pid);
        ok = ok || (k && k->last && tg_msg_acl_has(k->last, c->sub)); /* shared with them */
    }
    if (!ok) {
        gw_http_error(r, t, 403, "forbidden", "alert is not yours");
        return -1;
    }
    return 1;
}

/* POST /api/v1/alerts/{alert_id}/ack: owner, shared or admin (SPEC §13). */
void gw_http_ack(http_req_t *r, gw_thread_t *t, const tg_jwt_claims_t *c, const char *p)
{
    char id[TG_ALERT_ID_LEN + 1];
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : 0;
    if (!slash || strcmp(slash, "/ack") != 0 || n == 0 || n > TG_ALERT_ID_LEN) {
        gw_http_error(r, t, 404, "not_found", "no such route");
        return;
    }
    memcpy(id, p, n);
    id[n] = 0;
    const tg_msg_t *m = gw_alerts_find(t, id);
    gw_alert_filter_t any;
    memset(&any, 0, sizeof any);
    char pid[TG_PORTFOLIO_ID_MAX + 1] = "";
    if (m) {
        if (!gw_alert_filter_match(&any, m, c->sub, c->admin, c->portfolios, c->n_portfolios)) {
            gw_http_error(r, t, 403, "forbidden", "alert is not yours");
            return;
        }
        if (m->channel != TG_CH_SYSTEM)
            snprintf(pid, sizeof pid, "%s", m->key_name);
    } else {
        int rc = t->g->cfg->postgres.url[0] ? ack_from_pg(r, t, c, id, pid, sizeof pid) : 0;
        if (rc < 0)
            return;
        if (rc == 0) {
            gw_http_error(r, t, 404, "not_found", "no such alert");
            return;
        }
    }
    if (tg_engine_ack_alert(t->g->d.engine, pid, id, c->sub) != 0) {
        gw_http_error(r, t, 500, "internal", "out of memory");
        return;
    }
    tg_buf_t b = {0};
    gw_http_ok_begin(&b);
    tg_buf_puts(&b, "{\"alert_id\":");
    tg_json_put_cstr(&b, id);
    tg_buf_puts(&b, ",\"acknowledged\":true,\"by\":");
    tg_json_put_cstr(&b, c->sub);
    tg_buf_puts(&b, "}");
    gw_http_ok_end(r, t, &b);
}

