/* reply.c - replies built for one client (error, connection_established, ...):
 * encoded once into both forms, JSON and MessagePack, and queued as control
 * messages of that client alone. */
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "tickgate/clock.h"
#include "tickgate/encode.h"

void gw_reply_begin(gw_reply_t *r, uint32_t nfields)
{
    tg_enc_init(&r->e, r->j, sizeof r->j, r->m, sizeof r->m);
    tg_enc_map(&r->e, nfields);
}

void gw_enc_id(tg_enc_t *e, const tg_cmsg_id_t *id)
{
    if (id->kind == TG_ID_INT)
        tg_enc_kv_i64(e, "id", id->i);
    else if (id->kind == TG_ID_STR)
        tg_enc_kv_str(e, "id", id->s);
}

void gw_reply_id(gw_reply_t *r, const tg_cmsg_id_t *id)
{
    gw_enc_id(&r->e, id);
}

uint32_t gw_id_fields(const tg_cmsg_id_t *id)
{
    return id->kind == TG_ID_NONE ? 0 : 1;
}

void gw_reply_send(gw_client_t *s, gw_reply_t *r)
{
    tg_enc_map_end(&r->e);
    if (r->e.err) {
        gw_client_close(s, 1011, "reply too large");
        return;
    }
    gw_client_reply(s, r->e.json, r->e.jlen, r->e.mp, r->e.mlen);
}

void gw_send_error(gw_client_t *s, const char *code, const char *message,
                       const tg_cmsg_id_t *id)
{
    gw_reply_t r;
    static const tg_cmsg_id_t none = {0};
    if (!id)
        id = &none;
    gw_reply_begin(&r, 3 + gw_id_fields(id));
    tg_enc_kv_str(&r.e, "type", "error");
    tg_enc_kv_str(&r.e, "code", code);
    tg_enc_kv_str(&r.e, "message", message);
    gw_reply_id(&r, id);
    gw_reply_send(s, &r);
}

void gw_send_established(gw_client_t *s)
{
    gw_reply_t r;
    gw_reply_begin(&r, 6);
    tg_enc_kv_str(&r.e, "type", "connection_established");
    tg_enc_kv_str(&r.e, "client_id", s->client_id);
    tg_enc_kv_str(&r.e, "user_id", s->claims.sub);
    tg_enc_kv_i64(&r.e, "protocol", 1);
    tg_enc_kv_str(&r.e, "epoch", s->t->epoch);
    tg_enc_kv_i64(&r.e, "server_time", tg_now_ns());
    gw_reply_send(s, &r);
}
