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
#include "tickgate/buf.h"
#include "tickgate/clock.h"
#include "tickgate/encode.h"
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
    /* The text filters go to PostgreSQL as text: bytes that are not UTF-8
     * (a %FF) are refused here, with the caller's 400, instead of failing
     * the query there. A portfolio id is any UTF-8 text under
     * TG_PORTFOLIO_ID_MAX bytes (portfolio specs check no narrower
     * set); rule and state are checked against their names below. */
    if (!tg_utf8_valid(f->portfolio_id, strlen(f->portfolio_id)) ||
        !tg_utf8_valid(f->rule, strlen(f->rule))) {
        gw_http_error(r, t, 400, "bad_request", "query argument is not UTF-8");
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

/*
 * GET /api/v1/alerts and /alerts/active with PostgreSQL (SPEC §13: "with
 * PostgreSQL they come from portfolio_alerts"). Two sources make one answer:
 *   - `portfolio_alerts` holds the full history, but a row reaches it only
 *     after the writer's batch (tens of ms; much longer while PostgreSQL is
 *     down and rows wait in the spill), and it keeps one row per alert;
 *   - memory holds this thread's last 1,024 events (alog) exactly as published,
 *     including the ones not written yet.
 * So the answer is the in-memory events that match, plus the events read
 * back from PostgreSQL that memory does not answer for this caller (same
 * alert_id and state; for /active also any alert memory saw resolve: it
 * knows the latest state, e.g. a resolution whose row update has not landed
 * yet), merged newest first and
 * cut at `limit`. Both sources apply the same filters and the same
 * authorization (owner, shared, token claim, admin; feed alerts admins
 * only), the PostgreSQL side in SQL so that its LIMIT counts only what the
 * caller may see. "Shared" is the portfolio's readers when the event was
 * published for memory (its ACL), its readers now for rows (the row keeps
 * only the owner), as for the ack of a row. PostgreSQL leaves out, in SQL,
 * the events memory answers for this caller (alert_skip), so its LIMIT
 * counts only events it adds; then the merged newest `limit` are among
 * memory's newest `limit` and PostgreSQL's: an event of the merged top
 * `limit` ranks at least as high in its own source's list. (Leaving out
 * after the LIMIT, or against everything memory holds, lost events.)
 *
 * A read back event has the engine's JSON form (alert message, SPEC §5)
 * with the row's data: a resolved event carries its firing's value,
 * threshold and message (the row keeps no others), times are whole
 * microseconds, and feed alerts have no seq.
 *
 * PostgreSQL slow or down: the read bounds its own wait (pg_alerts_read.c),
 * and on failure the answer is memory alone, marked by the header
 * X-Tickgate-Alerts-Source: memory (else "postgres"), with one log line per
 * outage; the thread then leaves PostgreSQL alone for ALERTS_PG_RETRY_NS so
 * that a down server costs one bounded wait per thread per period, not one
 * per request.
 */
#define ALERTS_PG_RETRY_NS (10LL * 1000000000LL)

/* The portfolios the caller may read besides their own rows: the token's
 * claim and every portfolio currently shared with them (its state's ACL),
 * as ack_from_pg decides. Borrowed strings; NULL on no memory. */
static const char **readable_portfolios(gw_thread_t *t, const tg_jwt_claims_t *c, size_t *n)
{
    const char **v = NULL;
    size_t cap = 0;
    *n = 0;
    if (tg_vec_reserve(&v, sizeof *v, &cap, c->n_portfolios + 1, 16) != 0)
        return NULL;
    for (size_t i = 0; i < c->n_portfolios; i++)
        v[(*n)++] = c->portfolios[i];
    gw_hub_t *h = &t->hub;
    for (uint32_t b = 0; b < h->nbuckets; b++)
        for (gw_key_t *k = h->buckets[b]; k; k = k->next) {
            if (k->channel != TG_CH_PORTFOLIO || !k->last || !tg_msg_acl_has(k->last, c->sub))
                continue;
            if (tg_vec_reserve(&v, sizeof *v, &cap, *n + 1, 16) != 0) {
                free(v);
                return NULL;
            }
            v[(*n)++] = k->name;
        }
    return v;
}

/* The longest JSON text of a row: a row edited by hand may hold control
 * bytes in every string field, each escaped to six ("\u0001"), so six times
 * the fields' capacities (portfolio_id and feed both, though one is written),
 * plus keys, punctuation, names and numbers (well under 512). */
#define ROW_FIELD(f) sizeof(((tg_alert_row_t *)0)->f)
#define ROW_JSON_MAX                                                                               \
    (6 * (ROW_FIELD(alert_id) + ROW_FIELD(portfolio_id) + ROW_FIELD(feed) + ROW_FIELD(symbol) +   \
          ROW_FIELD(message)) +                                                                    \
     512)

/* A read-back event in the engine's form (engine_publish.c publish_alert for
 * portfolio alerts, engine_tick.c for feed alerts: same keys, same order). */
static void put_row(tg_buf_t *b, const tg_alert_row_t *a)
{
    char jb[ROW_JSON_MAX];
    tg_enc_t enc;
    tg_enc_init(&enc, jb, sizeof jb, NULL, 0);
    bool feed = !a->portfolio_id[0];
    tg_enc_map(&enc, feed ? 8 : a->symbol[0] ? 11 : 10);
    tg_enc_kv_str(&enc, "type", "alert");
    tg_enc_kv_str(&enc, "alert_id", a->alert_id);
    if (feed)
        tg_enc_kv_str(&enc, "feed", a->feed);
    else
        tg_enc_kv_str(&enc, "portfolio_id", a->portfolio_id);
    tg_enc_kv_str(&enc, "rule", tg_alert_rule_name(a->rule));
    if (!feed && a->symbol[0])
        tg_enc_kv_str(&enc, "symbol", a->symbol);
    tg_enc_kv_str(&enc, "severity", tg_alert_severity_name(a->severity));
    tg_enc_kv_str(&enc, "state", tg_alert_state_name(a->state));
    if (!feed) {
        tg_enc_kv_dec(&enc, "value", a->value);
        tg_enc_kv_dec(&enc, "threshold", a->threshold);
    }
    tg_enc_kv_str(&enc, "message", a->message);
    tg_enc_kv_i64(&enc, "ts", a->ts);
    tg_enc_map_end(&enc);
    if (enc.err) { /* jb holds the worst case (ROW_JSON_MAX), so this cannot happen */
        b->err = 1;
        return;
    }
    tg_buf_put(b, jb, enc.jlen);
}

/*
 * The events PostgreSQL is to leave out because memory answers them: the
 * ones selected for this caller (memory's copy is the exact event), and for
 * /active every alert memory saw resolve (its row may still say firing:
 * memory's latest state wins). Only those: an event memory holds but does not
 * give this caller (its ACL is from publish time, the portfolio shared since)
 * must come from PostgreSQL. ids[] holds the strings fire[] and res[] point
 * to; false on no memory.
 */
typedef struct alert_skip {
    char (*ids)[TG_ALERT_ID_LEN + 1];
    const char **fire, **res;
    size_t nf, nr;
} alert_skip_t;

static bool alert_skip(gw_thread_t *t, const tg_msg_t *const *mem, uint32_t nm, bool active,
                       alert_skip_t *s)
{
    const uint32_t cap = sizeof t->alog / sizeof t->alog[0];
    size_t most = (size_t)nm + (active ? t->alog_len : 0), n = 0;
    memset(s, 0, sizeof *s);
    s->ids = malloc((most ? most : 1) * sizeof *s->ids);
    s->fire = malloc((most ? most : 1) * sizeof *s->fire);
    s->res = malloc((most ? most : 1) * sizeof *s->res);
    if (!s->ids || !s->fire || !s->res)
        return false;
    for (uint32_t i = 0; i < nm; i++)
        if (gw_alert_event_id(mem[i], s->ids[n], sizeof s->ids[n])) {
            if (mem[i]->aux == TG_ALERT_RESOLVED)
                s->res[s->nr++] = s->ids[n++];
            else
                s->fire[s->nf++] = s->ids[n++];
        }
    for (uint32_t i = 0; active && i < t->alog_len; i++) {
        const tg_msg_t *m = t->alog[(t->alog_head + i) % cap];
        if (m->aux == TG_ALERT_RESOLVED && gw_alert_event_id(m, s->ids[n], sizeof s->ids[n]))
            s->fire[s->nf++] = s->ids[n++];
    }
    return true;
}

static void alert_skip_free(alert_skip_t *s)
{
    free(s->ids);
    free(s->fire);
    free(s->res);
}

/*
 * Read the matching events from PostgreSQL into *rows (newest first, minus
 * those memory answers: skip). Returns the count, -1 when the answer is memory
 * alone (no PostgreSQL configured, a recent failure, or this one), or the
 * reader's -EINVAL / -EPROTO when PostgreSQL, up and connected, refused the
 * query: no outage, so no fallback, no retry window; the caller answers an
 * error (*err says why).
 */
static int pg_events(gw_thread_t *t, const tg_jwt_claims_t *c, const gw_alert_filter_t *f,
                     bool active, const alert_skip_t *skip, tg_alert_row_t **rows, char *err,
                     size_t errlen)
{
    const tg_gateway_deps_t *d = &t->g->d;
    *rows = NULL;
    if (!d->alerts_read || tg_mono_ns() < t->alerts_pg_retry_ns)
        return -1;
    size_t nread = 0;
    const char **readable = c->admin ? NULL : readable_portfolios(t, c, &nread);
    tg_alert_row_t *r = malloc(f->limit * sizeof *r);
    if (!r || (!c->admin && !readable)) {
        free(r);
        free(readable);
        return -1;
    }
    tg_alert_query_t q = {.portfolio_id = f->portfolio_id, .rule = f->rule, .state = f->state,
                          .active = active, .since = f->since, .limit = f->limit,
                          .admin = c->admin, .sub = c->sub, .readable = readable,
                          .n_readable = nread, .skip_firing = skip->fire,
                          .n_skip_firing = skip->nf, .skip_resolved = skip->res,
                          .n_skip_resolved = skip->nr};
    int n = d->alerts_read(d->alerts_read_ctx, &q, r, f->limit, err, errlen);
    free(readable);
    if (n == -EINVAL || n == -EPROTO) {
        free(r);
        return n;
    }
    if (n < 0) {
        free(r);
        t->alerts_pg_retry_ns = tg_mono_ns() + ALERTS_PG_RETRY_NS;
        if (!t->alerts_pg_down)
            TG_WARN("alerts_api_fallback", "thread", TG_I(t->idx), "error", TG_S(err), "answer",
                    TG_S("memory"));
        t->alerts_pg_down = true;
        return -1;
    }
    if (t->alerts_pg_down)
        TG_INFO("alerts_api_postgres", "thread", TG_I(t->idx), "answer", TG_S("postgres"));
    t->alerts_pg_down = false;
    *rows = r;
    return n;
}

/* GET /api/v1/alerts (newest first) and /api/v1/alerts/active. */
void gw_http_alerts(struct lws *wsi, http_req_t *r, gw_thread_t *t, const tg_jwt_claims_t *c,
                    bool active)
{
    gw_alert_filter_t f;
    if (!alert_filter(wsi, r, t, &f))
        return;
    /* memory: the newest `limit` matching events */
    const uint32_t cap = sizeof t->alog / sizeof t->alog[0];
    uint32_t n = active ? t->n_active : t->alog_len, nm = 0;
    const tg_msg_t **mem = malloc(f.limit * sizeof *mem);
    if (!mem) {
        gw_http_error(r, t, 500, "internal", "out of memory");
        return;
    }
    for (uint32_t i = n; i-- > 0 && nm < f.limit;) { /* newest first */
        const tg_msg_t *m = active ? t->active[i] : t->alog[(t->alog_head + i) % cap];
        if (gw_alert_filter_match(&f, m, c->sub, c->admin, c->portfolios, c->n_portfolios))
            mem[nm++] = m;
    }
    tg_alert_row_t *pg = NULL;
    char err[256];
    alert_skip_t skip;
    int np = -1;
    if (t->g->d.alerts_read && !alert_skip(t, mem, nm, active, &skip)) {
        alert_skip_free(&skip);
        free(mem);
        gw_http_error(r, t, 500, "internal", "out of memory");
        return;
    }
    if (t->g->d.alerts_read) {
        np = pg_events(t, c, &f, active, &skip, &pg, err, sizeof err);
        alert_skip_free(&skip);
    }
    if (np == -EINVAL || np == -EPROTO) {
        free(mem);
        /* the request passed a value PostgreSQL rejects (the filters are
         * checked above, so this is rare) or the schema is not the one this
         * build reads (004_alerts_api.sql missing or edited): an operator's
         * problem, logged */
        if (np == -EPROTO)
            TG_WARN("alerts_api_query_refused", "thread", TG_I(t->idx), "error", TG_S(err));
        gw_http_error(r, t, np == -EINVAL ? 400 : 500, np == -EINVAL ? "bad_request" : "internal",
                      np == -EINVAL ? "PostgreSQL refused a query argument"
                                    : "alerts query does not fit the database schema");
        return;
    }
    if (t->g->d.alerts_read)
        r->alerts_source = np >= 0 ? "postgres" : "memory";
    /* merge, newest first (memory first on a tie: its ts is the exact one) */
    tg_buf_t b = {0};
    gw_http_ok_begin(&b);
    tg_buf_puts(&b, "[");
    uint32_t i = 0, j = 0, out = 0;
    while (out < f.limit && (i < nm || (np > 0 && j < (uint32_t)np))) {
        if (out++)
            tg_buf_puts(&b, ",");
        if (i < nm && (np <= 0 || j >= (uint32_t)np || mem[i]->ts >= pg[j].ts)) {
            tg_buf_put(&b, (const char *)mem[i]->json, mem[i]->json_len);
            i++;
        } else {
            put_row(&b, &pg[j++]);
        }
    }
    tg_buf_puts(&b, "]");
    free(mem);
    free(pg);
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
    if (rc == -EINVAL) /* an id PostgreSQL refuses to compare is no alert it holds */
        return 0;
    if (rc == -EPROTO) {
        TG_WARN("alerts_api_query_refused", "thread", TG_I(t->idx), "error", TG_S(err));
        gw_http_error(r, t, 500, "internal", "alerts query does not fit the database schema");
        return -1;
    }
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
    /* an id that is not UTF-8 names no alert, and must not reach PostgreSQL
     * as text it refuses */
    if (!slash || strcmp(slash, "/ack") != 0 || n == 0 || n > TG_ALERT_ID_LEN ||
        !tg_utf8_valid(p, n)) {
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

