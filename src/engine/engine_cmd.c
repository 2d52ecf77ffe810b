/* engine_cmd.c - commands from other threads (put/remove/reload portfolios,
 * restore alerts), queued under a lock and run on the engine thread.
 */
#include "engine_int.h"

/*
 * The portfolio source text: engine.portfolios_file, else the bundled demo
 * when PostgreSQL is not the system of record. *text is NULL when there is
 * nothing to load (PostgreSQL); *owned says whether the caller frees it.
 * Any thread: SIGHUP reads the file on the main thread, not the engine's.
 */
static int read_portfolios(const tg_config_t *cfg, char **text, size_t *len, bool *owned,
                           char *err, size_t errlen)
{
    *text = NULL;
    *len = 0;
    *owned = false;
    if (cfg->engine.portfolios_file[0]) {
        int rc = tg_file_read(cfg->engine.portfolios_file, 256u << 20, text, len);
        if (rc) {
            snprintf(err, errlen, "engine.portfolios_file: cannot read %s: %s",
                     cfg->engine.portfolios_file, strerror(-rc));
            return rc == -ENOMEM ? rc : -ENOENT;
        }
        *owned = true;
    } else if (!cfg->postgres.url[0]) {
        const tg_embedded_file_t *demo = tg_embed_find("deploy/demo-portfolios.json");
        if (demo) {
            *text = (char *)demo->data;
            *len = demo->len;
        }
    }
    return 0;
}

/* Replace the book's portfolios with those of `text` (engine thread, or before it starts). */
static int apply_portfolios(tg_engine_t *e, const char *text, size_t len, char *err, size_t errlen)
{
    int rc = tg_book_load_json(e->book, text, len, e->cfg, tg_now_ns(), err, errlen);
    if (rc == 0)
        TG_INFO("portfolios_loaded", "count", TG_I(tg_book_count(e->book)));
    return rc;
}

int tg__engine_load_portfolios(tg_engine_t *e, char *err, size_t errlen)
{
    char *text;
    size_t len;
    bool owned;
    int rc = read_portfolios(e->cfg, &text, &len, &owned, err, errlen);
    if (rc || !text)
        return rc;
    rc = apply_portfolios(e, text, len, err, errlen);
    if (owned)
        free(text);
    return rc;
}

static int submit(tg_engine_t *e, cmd_t *c)
{
    pthread_mutex_lock(&e->cmd_lock);
    *e->cmd_tail = c;
    e->cmd_tail = &c->next;
    atomic_store(&e->cmd_pending, 1);
    pthread_mutex_unlock(&e->cmd_lock);
    tg_engine_wake(e);
    return 0;
}

int tg_engine_put_portfolio(tg_engine_t *e, tg_portfolio_spec_t *spec)
{
    cmd_t *c = calloc(1, sizeof *c);
    if (!c) {
        tg_portfolio_spec_free(spec);
        free(spec);
        return -ENOMEM;
    }
    c->type = TG_ENGINE_PUT_PORTFOLIO;
    c->spec = spec;
    return submit(e, c);
}

int tg_engine_remove_portfolio(tg_engine_t *e, const char *id)
{
    cmd_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->type = TG_ENGINE_REMOVE_PORTFOLIO;
    snprintf(c->id, sizeof c->id, "%s", id);
    return submit(e, c);
}

int tg_engine_reload(tg_engine_t *e, const tg_config_t *fresh)
{
    char err[256], *text;
    size_t len;
    bool owned;
    int rc = read_portfolios(e->cfg, &text, &len, &owned, err, sizeof err);
    if (rc) {
        TG_WARN("config_reload_failed", "error", TG_S(err));
        return rc;
    }
    if (!text && !fresh)
        return 0; /* PostgreSQL is the source: NOTIFY keeps it current */
    if (text && !owned) { /* the embedded demo: the command owns a copy, like a file's text */
        char *copy = malloc(len + 1);
        if (!copy)
            return -ENOMEM;
        memcpy(copy, text, len);
        copy[len] = 0;
        text = copy;
    }
    cmd_t *c = calloc(1, sizeof *c);
    if (!c) {
        free(text);
        return -ENOMEM;
    }
    c->type = TG_ENGINE_RELOAD;
    c->text = text;
    c->len = len;
    if (fresh) {
        const tg_dec_t a[6] = {fresh->alerts.rebalance_drift, fresh->alerts.drift_relative,
                               fresh->alerts.loss_limit,      fresh->alerts.gain_target,
                               fresh->alerts.hysteresis,      fresh->alerts.price_hysteresis};
        memcpy(c->alerts, a, sizeof a);
        c->portfolio_max_hz = fresh->limits.portfolio_max_hz;
        c->has_conf = true;
    }
    return submit(e, c);
}

int tg_engine_restore_alert(tg_engine_t *e, const char *portfolio_id, const char *rule,
                            const char *symbol, const char *alert_id)
{
    cmd_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->type = TG_ENGINE_RESTORE_ALERT;
    snprintf(c->id, sizeof c->id, "%s", portfolio_id);
    snprintf(c->rule, sizeof c->rule, "%s", rule);
    snprintf(c->symbol, sizeof c->symbol, "%s", symbol ? symbol : "");
    snprintf(c->alert_id, sizeof c->alert_id, "%s", alert_id);
    return submit(e, c);
}

int tg_engine_ack_alert(tg_engine_t *e, const char *portfolio_id, const char *alert_id,
                        const char *by)
{
    cmd_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->type = TG_ENGINE_ACK_ALERT;
    snprintf(c->id, sizeof c->id, "%s", portfolio_id ? portfolio_id : "");
    snprintf(c->alert_id, sizeof c->alert_id, "%s", alert_id);
    snprintf(c->by, sizeof c->by, "%s", by ? by : "");
    return submit(e, c);
}

/* Apply queued control commands (engine thread). */
void tg__engine_run_commands(tg_engine_t *e)
{
    pthread_mutex_lock(&e->cmd_lock);
    cmd_t *c = e->cmd_head;
    e->cmd_head = NULL;
    e->cmd_tail = &e->cmd_head;
    atomic_store(&e->cmd_pending, 0);
    pthread_mutex_unlock(&e->cmd_lock);
    char err[256];
    while (c) {
        cmd_t *next = c->next;
        int rc = 0;
        switch (c->type) {
        case TG_ENGINE_PUT_PORTFOLIO:
            rc = tg_book_put_portfolio(e->book, c->spec, tg_now_ns(), err, sizeof err);
            if (rc)
                TG_WARN("portfolio_rejected", "portfolio", TG_S(c->spec->id), "error", TG_S(err));
            else {
                TG_INFO("portfolio_put", "portfolio", TG_S(c->spec->id));
                if (e->n_day_pf) /* first put after a restart: keep the day */
                    tg__engine_daystate_on_put(e, c->spec->id);
            }
            tg_portfolio_spec_free(c->spec);
            free(c->spec);
            break;
        case TG_ENGINE_REMOVE_PORTFOLIO:
            if (tg_book_remove_portfolio(e->book, c->id, tg_now_ns()) == 0)
                TG_INFO("portfolio_removed", "portfolio", TG_S(c->id));
            break;
        case TG_ENGINE_RELOAD:
            if (c->has_conf) {
                /* the thresholds are the defaults the portfolios below are parsed with */
                e->own.alerts.rebalance_drift = c->alerts[0];
                e->own.alerts.drift_relative = c->alerts[1];
                e->own.alerts.loss_limit = c->alerts[2];
                e->own.alerts.gain_target = c->alerts[3];
                e->own.alerts.hysteresis = c->alerts[4];
                e->own.alerts.price_hysteresis = c->alerts[5];
                e->own.limits.portfolio_max_hz = c->portfolio_max_hz;
                e->pf_min_gap_ns = 1000000000LL / (c->portfolio_max_hz > 0 ? c->portfolio_max_hz : 10);
            }
            /* no text: PostgreSQL is the source (NOTIFY keeps it current) */
            rc = c->text ? apply_portfolios(e, c->text, c->len, err, sizeof err) : 0;
            free(c->text);
            if (rc)
                TG_WARN("config_reload_failed", "error", TG_S(err));
            else
                TG_INFO("config_reloaded", "what", TG_S("portfolios"));
            break;
        case TG_ENGINE_RESTORE_ALERT: {
            tg_alert_rule_t rule;
            if (tg_alert_rule_parse(c->rule, &rule) == 0)
                tg_book_restore_alert(e->book, c->id, rule, c->symbol, c->alert_id);
            break;
        }
        case TG_ENGINE_ACK_ALERT:
            tg__engine_publish_ack(e, c->id, c->alert_id, c->by);
            break;
        }
        free(c);
        c = next;
    }
}

/* ---- the engine as a portfolio sink (main.c hands it to PostgreSQL) ---- */

static int sink_put(void *ctx, tg_portfolio_spec_t *spec)
{
    return tg_engine_put_portfolio(ctx, spec);
}

static int sink_remove(void *ctx, const char *id)
{
    return tg_engine_remove_portfolio(ctx, id);
}

static int sink_restore_alert(void *ctx, const char *portfolio_id, const char *rule,
                              const char *symbol, const char *alert_id)
{
    return tg_engine_restore_alert(ctx, portfolio_id, rule, symbol, alert_id);
}

tg_portfolio_sink_t tg_engine_portfolio_sink(tg_engine_t *e)
{
    return (tg_portfolio_sink_t){.put = sink_put, .remove = sink_remove,
                                 .restore_alert = sink_restore_alert, .ctx = e};
}
