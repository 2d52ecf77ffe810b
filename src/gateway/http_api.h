/* http_api.h - what the HTTP API's endpoint files share (gateway-internal).
 *
 * http_api.c routes and writes responses; http_alerts.c, http_portfolios.c and
 * http_tokens.c each answer one family of /api/v1 endpoints into the request's
 * response with the helpers below ({"success":…,"data"|"error":…,"meta":…}).
 */
#ifndef TG_GW_HTTP_API_H
#define TG_GW_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>

#include "gw.h"
#include "tickgate/buf.h"

typedef struct http_req {
    char path[256];
    char method[8];
    char *body;            /* request body */
    size_t blen, bcap;
    bool too_large;
    int status;
    const char *ctype;
    char *resp;            /* response body (owned unless resp_static) */
    size_t rlen, roff;
    bool resp_static;
    bool headers_sent;
    int retry_after_s;     /* 429: Retry-After */
    bool close_after;      /* the request's body was not read (411): close */
} http_req_t;

void gw_api_error(http_req_t *r, gw_thread_t *t, int status, const char *code, const char *msg);
/* Start a success envelope; the caller appends data then calls gw_api_ok_end. */
void gw_api_ok_begin(tg_buf_t *b);
void gw_api_ok_end(http_req_t *r, gw_thread_t *t, tg_buf_t *b);
/* One element of a JSON array: a message's JSON text, comma-separated. */
void gw_api_array_elem(tg_buf_t *b, bool *first, const tg_msg_t *m);

/* http_alerts.c */
void gw_api_alerts(struct lws *wsi, http_req_t *r, gw_thread_t *t, const tg_jwt_claims_t *c,
                   bool active);
void gw_api_ack(http_req_t *r, gw_thread_t *t, const tg_jwt_claims_t *c, const char *p);
/* http_portfolios.c */
void gw_api_portfolios(http_req_t *r, gw_thread_t *t, const tg_jwt_claims_t *c, const char *one);
void gw_api_put_portfolio(http_req_t *r, gw_thread_t *t, const char *id);
void gw_api_delete_portfolio(http_req_t *r, gw_thread_t *t, const char *id);
/* http_tokens.c */
void gw_api_revoke(http_req_t *r, gw_thread_t *t);

#endif
