/* http_portfolios.c - GET/PUT/DELETE /api/v1/portfolios[/{id}] (SPEC §13). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_api.h"
#include "tickgate/json.h"
#include "tickgate/portfolio.h"

static bool claims_may_read(const tg_jwt_claims_t *c, const gw_key_t *k)
{
    if (c->admin)
        return true;
    for (size_t i = 0; i < c->n_portfolios; i++)
        if (strcmp(c->portfolios[i], k->name) == 0)
            return true;
    return k->last && tg_msg_acl_has(k->last, c->sub);
}

void gw_api_portfolios(http_req_t *r, gw_thread_t *t, const tg_jwt_claims_t *c,
                           const char *one)
{
    gw_hub_t *h = &t->hub;
    tg_buf_t b = {0};
    if (one) {
        gw_key_t *k = gw_hub_find(h, TG_CH_PORTFOLIO, one);
        if (!k || !k->last) {
            gw_api_error(r, t, 404, "not_found", "no such portfolio");
            return;
        }
        if (!claims_may_read(c, k)) {
            gw_api_error(r, t, 403, "forbidden", "portfolio is not yours");
            return;
        }
        gw_api_ok_begin(&b);
        tg_buf_put(&b, (const char *)k->last->json, k->last->json_len);
        gw_api_ok_end(r, t, &b);
        return;
    }
    gw_api_ok_begin(&b);
    tg_buf_puts(&b, "[");
    bool first = true;
    for (uint32_t i = 0; i < h->nbuckets; i++)
        for (gw_key_t *k = h->buckets[i]; k; k = k->next)
            if (k->channel == TG_CH_PORTFOLIO && k->last && claims_may_read(c, k))
                gw_api_array_elem(&b, &first, k->last);
    tg_buf_puts(&b, "]");
    gw_api_ok_end(r, t, &b);
}

/* PUT /api/v1/portfolios/{id} (admin): validated here, applied by the engine. */
void gw_api_put_portfolio(http_req_t *r, gw_thread_t *t, const char *id)
{
    char err[256];
    tg_portfolio_spec_t *spec = calloc(1, sizeof *spec);
    if (!spec) {
        gw_api_error(r, t, 500, "internal", "out of memory");
        return;
    }
    if (!r->body || !r->blen) {
        free(spec);
        gw_api_error(r, t, 400, "bad_request", "a JSON portfolio body is required");
        return;
    }
    if (tg_portfolio_parse_json(r->body, r->blen, id, t->g->cfg, spec, err, sizeof err) != 0) {
        tg_portfolio_spec_free(spec);
        free(spec);
        gw_api_error(r, t, 400, "bad_request", err);
        return;
    }
    gw_key_t *k = gw_hub_find(&t->hub, TG_CH_PORTFOLIO, id);
    bool existed = k && k->last;
    if (t->g->d.portfolio_write) {
        /* PostgreSQL is the system of record: answer after the commit; its
         * NOTIFY brings the portfolio into every node's engine */
        int rc = t->g->d.portfolio_write(t->g->d.portfolio_write_ctx, id, spec, r->body, r->blen,
                                         err, sizeof err);
        tg_portfolio_spec_free(spec);
        free(spec);
        if (rc != 0) {
            gw_api_error(r, t, 503, "unavailable", err);
            return;
        }
    } else if (tg_engine_put_portfolio(t->g->d.engine, spec) != 0) { /* takes spec */
        gw_api_error(r, t, 500, "internal", "out of memory");
        return;
    }
    tg_buf_t b = {0};
    gw_api_ok_begin(&b);
    tg_buf_puts(&b, "{\"portfolio_id\":");
    tg_json_put_cstr(&b, id);
    tg_buf_printf(&b, ",\"created\":%s}", existed ? "false" : "true");
    gw_api_ok_end(r, t, &b);
}

void gw_api_delete_portfolio(http_req_t *r, gw_thread_t *t, const char *id)
{
    gw_key_t *k = gw_hub_find(&t->hub, TG_CH_PORTFOLIO, id);
    if (t->g->d.portfolio_write) {
        char err[256] = "";
        int rc = t->g->d.portfolio_write(t->g->d.portfolio_write_ctx, id, NULL, NULL, 0, err,
                                         sizeof err);
        if (rc == -ENOENT) {
            gw_api_error(r, t, 404, "not_found", "no such portfolio");
            return;
        }
        if (rc != 0) {
            gw_api_error(r, t, 503, "unavailable", err);
            return;
        }
    } else if (!k || !k->last) {
        gw_api_error(r, t, 404, "not_found", "no such portfolio");
        return;
    } else if (tg_engine_remove_portfolio(t->g->d.engine, id) != 0) {
        gw_api_error(r, t, 500, "internal", "out of memory");
        return;
    }
    tg_buf_t b = {0};
    gw_api_ok_begin(&b);
    tg_buf_puts(&b, "{\"portfolio_id\":");
    tg_json_put_cstr(&b, id);
    tg_buf_puts(&b, ",\"deleted\":true}");
    gw_api_ok_end(r, t, &b);
}
