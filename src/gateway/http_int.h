/* http_int.h - what the HTTP API's files share (http_api.c routes; http_alerts.c). */
#ifndef TICKGATE_HTTP_INT_H
#define TICKGATE_HTTP_INT_H

#include "gw.h"
#include "tickgate/buf.h"
#include "tickgate/jwt.h"

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
    const char *alerts_source; /* GET /api/v1/alerts: X-Tickgate-Alerts-Source (static) */
} http_req_t;

/** The error envelope {"success":false,"error":{code,message},"meta":…} with this status. */
void gw_http_error(http_req_t *r, gw_thread_t *t, int status, const char *code, const char *msg);
/** Start {"success":true,"data": … in b; gw_http_ok_end closes it and responds 200. */
void gw_http_ok_begin(tg_buf_t *b);
void gw_http_ok_end(http_req_t *r, gw_thread_t *t, tg_buf_t *b);

/* http_alerts.c */
/** GET /api/v1/alerts (active = false) and /api/v1/alerts/active, with their filters. */
void gw_http_alerts(struct lws *wsi, http_req_t *r, gw_thread_t *t, const tg_jwt_claims_t *c,
                    bool active);
/** POST /api/v1/alerts/{alert_id}/ack; p is what follows /api/v1/alerts/. */
void gw_http_ack(http_req_t *r, gw_thread_t *t, const tg_jwt_claims_t *c, const char *p);

#endif
