/* msg.h - an outbound message, encoded once per encoding and shared.
 *
 * The engine builds each quote/portfolio/alert/feed_status message once, in
 * JSON and in MessagePack, into one immutable refcounted block; every gateway
 * thread and every subscriber shares it (SPEC §10 "serialize once"). Both
 * encodings are preceded by TG_MSG_PRE bytes of headroom so a single-message
 * frame can be handed to lws_write() without a copy. The refcount is atomic
 * because gateway threads release messages independently.
 */
#ifndef TICKGATE_MSG_H
#define TICKGATE_MSG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TG_MSG_PRE 16 /* >= LWS_PRE, checked in server.c */

typedef enum tg_channel {
    TG_CH_MARKET_DATA = 0,
    TG_CH_PORTFOLIO = 1,   /* portfolio_updates */
    TG_CH_NOTIFICATIONS = 2,
    TG_CH_SYSTEM = 3,
    TG_CH_BARS = 4,        /* key SYMBOL@INTERVAL (SPEC §12) */
    TG_CH_COUNT
} tg_channel_t;

typedef enum tg_msg_type {
    TG_MSG_QUOTE = 0,
    TG_MSG_PORTFOLIO,
    TG_MSG_ALERT,
    TG_MSG_FEED_STATUS,
    TG_MSG_PORTFOLIO_REMOVED, /* no payload: the gateway forgets the key's state */
    TG_MSG_REPLY,             /* built by the gateway for one client */
    TG_MSG_BAR,               /* aux: 1 = final, 0 = partial */
    /* gateway nodes: the ingest epoch is key_name (bus.h); no payload. A fixed
     * value: it travels on the cluster bus, and other types may be added below it */
    TG_MSG_EPOCH = 15,
} tg_msg_type_t;

/* an alert carries per-reader seqs for at most this many ACL readers */
#define TG_MSG_RSEQ_MAX 512

typedef struct tg_msg {
    _Atomic uint32_t refs;
    uint8_t type;      /* tg_msg_type_t */
    uint8_t channel;   /* tg_channel_t */
    uint16_t _r;
    uint32_t key;      /* channel key id: symbol id, portfolio index; 0 for system */
    uint32_t aux;      /* alerts: tg_alert_state_t */
    uint64_t seq;      /* per channel key */
    int64_t ts;        /* feed accept time, ns */
    char key_name[64]; /* channel key as clients name it: symbol, portfolio id */
    uint32_t json_len, mp_len;
    uint32_t acl_len;    /* portfolio/alert: readers "owner\0user\0..." */
    uint32_t nrseq;      /* entries in rseq */
    const char *acl;
    /* alerts: each ACL reader's notifications seq, in ACL order, numbered once
     * by the engine so every node of a cluster sends the same seq (SPEC §14) */
    const uint64_t *rseq;
    unsigned char *json; /* -> TG_MSG_PRE bytes into data */
    unsigned char *mp;
    unsigned char data[];
} tg_msg_t;

/** Allocate a message holding copies of both encodings; refs = 1. NULL on ENOMEM. */
tg_msg_t *tg_msg_new(const void *json, size_t json_len, const void *mp, size_t mp_len);

/** Same, plus a copy of the reader list (NUL-separated user ids) in m->acl. */
tg_msg_t *tg_msg_new_acl(const void *json, size_t json_len, const void *mp, size_t mp_len,
                         const char *acl, size_t acl_len);

/** Same, plus nrseq per-reader seqs (m->rseq, copied). */
tg_msg_t *tg_msg_new_acl_seq(const void *json, size_t json_len, const void *mp, size_t mp_len,
                             const char *acl, size_t acl_len, const uint64_t *rseq,
                             size_t nrseq);

/** The position of user `sub` in m->acl (0 = owner), or -1. */
int tg_msg_acl_index(const tg_msg_t *m, const char *sub);

/** true when user `sub` is in m->acl. */
bool tg_msg_acl_has(const tg_msg_t *m, const char *sub);

static inline tg_msg_t *tg_msg_ref(tg_msg_t *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

/** Drop a reference; frees at zero. NULL is fine. Any thread. */
void tg_msg_unref(tg_msg_t *m);

#endif
