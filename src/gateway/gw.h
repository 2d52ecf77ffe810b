/* gw.h - gateway internals shared by the gateway's files:
 *   server.c   lws contexts, the callback switch, service threads, timers
 *   acceptor.c per-IP cap, own listener + acceptor thread (server.threads > 1)
 *   auth.c     JWT verification and revocation       reply.c  replies to one client
 *   commands.c client commands (subscribe, snapshot, ...)
 *   fanout.c   engine ring -> hub -> clients, writes  hub.c    keys, history, subscribers
 *   client.c   one WebSocket client: queues, conflation, frames
 *   wiretap.c  client input checked before lws parses it (interpose.c: the
 *              daemon's recv/SSL_read/close feed it)
 * Calls go down that list: hub.c calls nobody, client.c only the hub.
 *
 * Everything here belongs to one service thread (gw_thread_t): its lws
 * context, hub (channel keys, history, subscribers) and clients. No locks:
 * other threads reach a service thread only through its engine ring and
 * lws_cancel_service().
 */
#ifndef TICKGATE_GW_H
#define TICKGATE_GW_H

#include <libwebsockets.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sys/socket.h>

#include "tickgate/deque.h"
#include "tickgate/encode.h"
#include "tickgate/gateway.h"
#include "tickgate/jwt.h"
#include "tickgate/msg.h"
#include "tickgate/protocol.h"

typedef struct gw_thread gw_thread_t;
typedef struct gw_table gw_table_t;
typedef struct gw_client gw_client_t;

/* ---- hub: channel keys with last state, history and subscribers ---- */

typedef struct gw_subref {
    gw_client_t *s;
    uint32_t sub; /* index into s->subs */
} gw_subref_t;

typedef struct gw_key {
    struct gw_key *next;     /* hash chain */
    uint8_t channel;
    char name[TG_KEY_MAX + 1];
    tg_msg_t *last;          /* current state (ref held) */
    TG_DEQUE(tg_msg_t *) hist; /* the last history_size messages (refs held), oldest first */
    gw_subref_t *subs;
    uint32_t nsubs, capsubs;
    /* notifications keys (one per user): what that user may read */
    uint8_t admin;
    char *extra;             /* token `portfolios` claim, NUL-separated */
    size_t extra_len;
} gw_key_t;

typedef struct gw_hist_ent {
    gw_key_t *key;
    uint64_t seq;
} gw_hist_ent_t;

typedef struct gw_hub {
    gw_key_t **buckets;
    uint32_t nbuckets, nkeys;
    uint32_t history_size;
    uint64_t hist_bytes, hist_max_bytes;
    gw_hist_ent_t *fifo;     /* global insertion order, for the byte budget */
    size_t fhead, ftail, fcap;
    gw_key_t **notif;        /* every notifications key (per-user alert streams) */
    uint32_t nnotif, capnotif;
    gw_client_t **wild;     /* market_data "*" subscribers */
    uint32_t nwild, capwild;
} gw_hub_t;

/* ---- clients ---- */

/* A client with less than this queued is not slow, only not yet written to:
 * its messages are all kept. Past it, quotes and portfolio states conflate. */
#define GW_CONFLATE_AFTER_BYTES (64 * 1024)
/* Clients written per submission before the engine ring is drained again
 * within a pass (fanout.c): a tick published while the pass is being written
 * reaches the clients not yet written in this pass, instead of waiting for
 * the next one. 64 sends are ~0.4 ms of loopback TCP on this class of core. */
#define GW_PASS_CHUNK 64
/* A client whose writes have left messages queued for this long is behind:
 * what comes next conflates per key until its queue is empty (freshness over
 * backlog). Long enough for a burst (a `since` replay) to go out whole. */
#define GW_BEHIND_NS (50 * 1000000LL)
/* SO_SNDBUF of each client socket (the kernel doubles it). */
#define GW_SNDBUF_BYTES (256 * 1024)
/* Request headers: lws stores them in a per-connection buffer (its "ah",
 * taken from a pool while the headers are read, freed after them) and drops
 * a request that overflows it before any callback, without an answer. So the
 * buffer is lws's maximum, and our own, lower limit answers 431 (close.c). */
#define GW_LWS_HEADER_BUF 65535  /* max_http_header_data is an unsigned short */
#define GW_MAX_HEADER_BYTES 16384 /* header values and URI, as lws stores them; wiretap.c
                                    * counts every header, known or not, first */

typedef struct gw_sub {
    gw_key_t *key;           /* NULL = free slot */
    tg_msg_t *pending;       /* newest unsent message of this key (conflated) */
    uint32_t pos;            /* index in key->subs */
    uint8_t explicit_;       /* subscribed by name (vs only through "*") */
    uint8_t queued;          /* in the dirty FIFO */
    uint8_t held;            /* max_hz: pending waits for next_ns (not in the FIFO) */
    int64_t interval_ns;     /* max_hz: 1 s / N, 0 = every update */
    int64_t next_ns;         /* max_hz: no message of this key before then */
} gw_sub_t;

/* GW_AWAIT_REVOCATION: token verified, Redis asked whether it is revoked;
 * nothing is sent until the answer (or command_timeout_ms) arrives. */
enum { GW_AWAIT_AUTH = 0, GW_AWAIT_REVOCATION, GW_ACTIVE, GW_CLOSING };

struct gw_client {
    struct lws *wsi;
    gw_thread_t *t;
    gw_client_t *prev, *next; /* thread's client list */
    int state;
    int close_code;
    char close_reason[64];
    uint8_t linger;          /* close.c: 1 close frame written, 2 draining, 3 half-closed */
    int64_t linger_until_ns; /* end of the drain */
    bool msgpack;
    bool deflate;            /* permessage-deflate: lws_write only inside WRITEABLE */
    unsigned char *zbuf;     /* deflate: the frame being compressed (LWS_PRE + frame) */
    size_t zcap;
    bool wildcard;
    bool notifications, system;
    char client_id[24];
    char peer[64];           /* client address (X-Forwarded-For behind a trusted proxy) */
    bool ip_counted;          /* peer counted in the per-IP cap at the handshake */
    tg_jwt_claims_t claims;
    char token_hash[65];
    int64_t deadline_s;      /* token exp + leeway */
    int64_t auth_deadline_ns;
    int64_t next_revocation_check_ns;
    int64_t revocation_deadline_ns; /* GW_AWAIT_REVOCATION: give up waiting at */
    int64_t revocation_asked_ns;    /* verdicts from before this are too old */
    bool revocation_rechecking;     /* GW_ACTIVE: a 30 s re-check waits for its verdict */
    struct gw_held { void *data; size_t len; bool binary; } held[8]; /* client messages */
    int nheld;                      /* received while GW_AWAIT_REVOCATION */

    gw_sub_t *subs;
    uint32_t nsubs, capsubs, nfree;
    uint32_t nexplicit;      /* counted against max_subscriptions ("*" counts one) */
    uint32_t *dirty;         /* FIFO of sub indices with a pending message */
    uint32_t dhead, dlen, dcap;
    tg_msg_t **ctrl;         /* FIFO of messages never conflated: replies, alerts, replays */
    uint32_t chead, clen, ccap;
    uint32_t nparked;        /* subscriptions with a pending (conflated) message */
    bool hz_subs;            /* some subscription has max_hz (gw_client_set_interval) */
    uint32_t *pidx;          /* this pass's ordered messages for it: indices into t->pass */
    size_t plen, pcap;       /* (empty outside a pass: written or moved to ctrl by its end) */
    uint64_t pending_bytes;
    int64_t last_progress_ns; /* last writable event (or nothing was pending) */
    uint64_t sent_bytes;     /* payload bytes handed to lws_write */
    int64_t acked_est;       /* sent_bytes - kernel unsent bytes, at the last check */
    int64_t ack_progress_ns; /* last time acked_est grew (or nothing waited) */
    int64_t next_stall_check_ns;
    bool want_write;
    int fd;                  /* the socket, for SIOCOUTQ (-1: none, unit tests) */
    bool gated;              /* max_inflight_bytes unacknowledged: waits in t->gated */
    bool behind;             /* queued for over GW_BEHIND_NS: new market data conflates */
    int64_t backlog_since_ns; /* since when writes have left messages queued (0: none) */
    int64_t gate_retry_ns;   /* gated: look at SIOCOUTQ again then */
    int64_t gate_backoff_ns; /* 1 ms doubling to 8 ms while the socket stays full */
    bool in_hz;              /* has held max_hz subscriptions: listed in t->hz */
    int64_t wild_interval_ns; /* max_hz of the "*" subscription, for new symbols */
    uint64_t acked_known;    /* sent_bytes - SIOCOUTQ at the last look: acknowledged */
    uint64_t writes;         /* frames handed to the socket */

    char *rx;                /* reassembly of one client message */
    size_t rxlen, rxcap;
    double tokens;           /* rate limit bucket */
    int64_t tokens_at_ns;
    int rate_limited_hits[10]; /* per second ring, for "more than 10 in 10 s" */
    int64_t rl_window_start_s;
};

/* ---- thread ---- */

/* One frame of a pass waiting for the pass's io_uring submission (usend.c). */
typedef struct gw_usend {
    gw_client_t *s;
    const unsigned char *buf; /* stable bytes (the shared frame), or NULL: ... */
    size_t off;              /* ... at t->arena + off (SIZE_MAX: use buf) */
    size_t len;              /* header + payload */
    int64_t oldest_ts;       /* its oldest message's tick ts (tickgate_tick_to_send_seconds) */
} gw_usend_t;

/* A message's bytes in one encoding (what a client's queue counts). */
static inline size_t gw_msg_bytes(const tg_msg_t *m, bool msgpack)
{
    return msgpack ? m->mp_len : m->json_len;
}

/* The pass from entry `from` to its end in one frame, for every client whose
 * list is exactly that (clients written together last time start together). */
typedef struct gw_shared_frame {
    unsigned char *buf;      /* LWS_PRE + cap + GW_FRAME_SLACK */
    size_t cap;              /* the frame_cap it was made for */
    size_t len;              /* frame bytes */
    uint64_t bytes;          /* sum of the messages' lengths (pending_bytes they took) */
    int state;               /* 0 not built for the pass as it is, 1 built, -1 does not fit */
    uint32_t from;           /* first pass entry in it */
    bool queued;             /* queued for the io_uring submission: not rebuilt before it */
    uint32_t sent[TG_CH_COUNT];
    int64_t oldest_ts;
} gw_shared_frame_t;

typedef struct gw_counters {
    uint64_t sent[TG_CH_COUNT];
    uint64_t conflated[TG_CH_COUNT];
} gw_counters_t;

struct gw_thread {
    tg_gateway_t *g;
    int idx;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    pthread_t thread;
    bool started;
    bool stuck;              /* did not stop at shutdown: its context is left alone */
    tg_ring_t *in;           /* engine (or bus consumer) -> this thread */
    char epoch[24];          /* as g->epoch; on a gateway node the ingest's (cluster.c) */
    bool epoch_from_bus;     /* gateway node: an ingest epoch was adopted */
    gw_hub_t hub;
    gw_client_t *clients;
    _Atomic uint32_t nclients; /* read by the main thread during shutdown */
    _Atomic int shutdown_req;
    gw_client_t **writers;  /* clients flagged want_write during a drain */
    uint32_t nwriters, capwriters;
    /* the one send of a frame: lws_write (unit tests count sends instead) */
    int (*send)(gw_client_t *s, unsigned char *payload, size_t len);
    gw_client_t **gated;     /* clients at max_inflight_bytes: retried on the pace timer */
    uint32_t ngated, capgated;
    int64_t gate_min;        /* earliest gate_retry_ns (0 = none) */
    gw_client_t **hz;        /* clients with max_hz messages held back */
    uint32_t nhz, caphz;
    int64_t hz_min;          /* earliest next_ns of a held max_hz message (0 = none) */
    lws_sorted_usec_list_t sul_pace; /* gated retries and max_hz releases */
    int64_t pace_at;         /* when sul_pace fires (0 = not armed) */
    unsigned char *frame;    /* LWS_PRE + frame_cap scratch for coalesced frames */
    size_t frame_cap;
    /*
     * The pass (fanout.c): the messages of one drain that went to some client's
     * ordered list, one reference each, released when the pass's writes end.
     * A client keeps 32-bit indices into it instead of a reference per message
     * (no atomic increment and decrement per message per client), and clients
     * whose list is the same tail of the pass get one frame built once per
     * encoding. Drains between chunks of writes add to the pass; clients
     * written before such a drain are carried to the next pass with the
     * entries it added (ncarried writers at the front of writers[]).
     */
    tg_msg_t **pass;
    size_t npass, cappass;
    uint32_t ncarried;       /* writers carried from the last pass, waiting for a direct flush */
    uint32_t pass_chunk;     /* clients per chunk (0: GW_PASS_CHUNK; unit tests set it) */
    gw_shared_frame_t shared[2]; /* [0] JSON Lines, [1] MessagePack */
    /* io_uring sends of a pass (usend.c) */
    struct io_uring uring;
    bool usend_on;           /* ring set up and working */
    bool in_pass_flush;      /* inside a direct flush: sends queue for the submission */
    gw_usend_t *usq;
    size_t nusq, capusq;
    unsigned char *arena;    /* copies of per-client frames until the submission */
    size_t arena_len, arena_cap;
    uint64_t usend_sent, usend_handed, lws_sends; /* frames by path (metrics) */
    uint64_t usend_sent_flushed, usend_handed_flushed, lws_sends_flushed;
    uint64_t late_msgs, late_msgs_flushed; /* drained between a pass's chunks (metrics) */
    tg_msg_t *batch[1024];
    gw_counters_t cnt, cnt_flushed;
    tg_msg_t *alog[1024];    /* recent alert events (engine form, no seq), for the API */
    uint32_t alog_head, alog_len;
    tg_msg_t **active;       /* alerts firing now (their firing event), alert_log.c */
    char (*active_id)[24];   /* their alert ids, parallel to active[] */
    uint32_t n_active, cap_active;
    /* GET /api/v1/alerts with PostgreSQL (http_alerts.c): after a failed read
     * this thread answers from memory until alerts_pg_retry_ns (monotonic) */
    int64_t alerts_pg_retry_ns;
    bool alerts_pg_down; /* logged as down; logged again once it answers */
    lws_sorted_usec_list_t sul_timer;
    lws_sorted_usec_list_t sul_revoke; /* 2 ms poll while a client awaits revocation */
    bool revoke_poll_armed;
    bool revoke_poll_wanted; /* a client awaits its verdict: server.c arms the poll */
    uint64_t revoke_gen;     /* revocations.gen this thread's clients were checked at */
    bool direct_write;       /* write from the drain, not via writable callbacks */
    uint64_t next_client;
    bool closing;
    char (*fdip)[48];        /* peer IP by fd, for the per-IP cap */
    int nfdip;
    /* server.threads > 1: sockets accepted by the acceptor thread, to adopt */
    pthread_mutex_t adopt_lock;
    int *adopt_q;
    uint32_t adopt_n, adopt_cap;
    _Atomic int adopt_waiting;
    /* limits (SIGHUP reloads them): this thread's copy, and the mailbox the
     * main thread fills (reload.c) */
    struct tg_limits lim;
    pthread_mutex_t lim_lock;
    struct tg_limits lim_next;
    _Atomic int lim_waiting;
};

/* revoke.c: revocations known to this process (tokens by hash, subs by time) */
typedef struct gw_revocation {
    bool sub;
    int64_t at_s;         /* sub: tokens issued at or before this second */
    char key[129];        /* token SHA-256 hex, or the sub */
} gw_revocation_t;

typedef struct gw_revocations {
    pthread_mutex_t lock;
    gw_revocation_t *v;
    uint32_t n, cap;
    _Atomic uint64_t gen; /* bumped on every add: threads re-check their sessions */
} gw_revocations_t;

int gw_revoke_init(gw_revocations_t *rv);
void gw_revoke_free(gw_revocations_t *rv);
void gw_revoke_add(gw_revocations_t *rv, bool sub, const char *key, int64_t at_s);
/** Whether a token (its hash and claims) is revoked by what this process knows. */
bool gw_revoke_match(gw_revocations_t *rv, const char *token_hash, const tg_jwt_claims_t *c);
/** tg_redis_revocation_fn: ud = the gateway. */
void gw_revoke_from_redis(void *ud, bool sub, const char *key, int64_t at_s);

struct tg_gateway {
    tg_gateway_deps_t d;
    const tg_config_t *cfg;
    const char *subprotocols[4]; /* the protocols' names, for wiretap.c; NULL-terminated */
    gw_thread_t *threads;
    int nthreads;
    int port;
    char epoch[24];
    _Atomic int stop;
    /* metrics */
    tg_gauge_t *m_clients;
    tg_counter_t *m_sent[TG_CH_COUNT];
    tg_counter_t *m_conflated[TG_CH_COUNT];
    tg_counter_t *m_frames[3];    /* frames by path: io_uring, lws, io_uring rest via lws */
    tg_counter_t *m_late;         /* engine messages taken into a pass being written */
    tg_histogram_t *m_tick_to_send;
    tg_metrics_t *metrics;
    gw_table_t *ipcap;       /* connections per IP (all threads) */
    int listen_fd;           /* server.threads > 1: our own listener, else -1 */
    struct lws_vhost *metrics_vhost; /* server.metrics_listen, on thread 0, or NULL */
    pthread_t acceptor;
    _Atomic int accept_stop;
    bool acceptor_started;
    gw_table_t *http_rate;   /* HTTP API requests per user */
    gw_table_t *notif_seq;   /* per-user notifications seq, shared by the threads */
    gw_revocations_t revocations;
    bool revocations_init;
};

/* hub.c */
int gw_hub_init(gw_hub_t *h, uint32_t history_size, uint64_t max_bytes);
void gw_hub_free(gw_hub_t *h);
gw_key_t *gw_hub_find(gw_hub_t *h, int channel, const char *name);
/** Find or create; *created (may be NULL) tells a new key. */
gw_key_t *gw_hub_get(gw_hub_t *h, int channel, const char *name, bool *created);
/** Take ownership of one reference of m: k's last state, appended to its history. */
void gw_hub_record(gw_hub_t *h, gw_key_t *k, tg_msg_t *m);
/** Messages of k with seq > since, oldest first, or -1 if not all are in history. */
int gw_hub_replay(gw_key_t *k, uint64_t since, tg_msg_t ***out, uint32_t *n);
/** Forget every key's history (`since` then answers complete:false), and with
 * `states` their current states too (another epoch's seqs mean nothing). */
void gw_hub_forget(gw_hub_t *h, bool states);
int gw_hub_add_sub(gw_hub_t *h, gw_key_t *k, gw_client_t *s, uint32_t sub);
void gw_hub_del_sub(gw_key_t *k, uint32_t pos);
int gw_hub_add_wild(gw_hub_t *h, gw_client_t *s);
void gw_hub_del_wild(gw_hub_t *h, gw_client_t *s);

/* client.c */
gw_client_t *gw_client_new(gw_thread_t *t, struct lws *wsi);
void gw_client_free(gw_client_t *s);
/** Subscribe s to k; returns sub index or -errno. */
int gw_client_sub(gw_client_t *s, gw_key_t *k, bool explicit_);
void gw_client_unsub(gw_client_t *s, uint32_t sub);
/** max_hz of a subscription: 1 s / N, 0 = every update. */
void gw_client_set_interval(gw_client_t *s, uint32_t sub, int64_t interval_ns);
int gw_client_find_sub(gw_client_t *s, gw_key_t *k);
/** Fan-out entry: newer message for subscription `sub` (takes a new ref, or
 * an index into the thread's pass: *pass_idx, GW_NO_PASS until the first
 * client of this message needs one; NULL: no pass). */
void gw_client_offer(gw_client_t *s, uint32_t sub, tg_msg_t *m, uint32_t *pass_idx);
#define GW_NO_PASS UINT32_MAX
/** Move what the client's pass list holds into its ctrl FIFO (own references). */
void gw_client_pass_spill(gw_client_t *s);
/** Queue a never-conflated message (takes ownership of one ref). */
void gw_client_push_ctrl(gw_client_t *s, tg_msg_t *m);
/** Queue a reply built for this client alone (copied into a new msg). */
void gw_client_reply(gw_client_t *s, const char *json, size_t jlen, const void *mp, size_t mlen);
void gw_client_close(gw_client_t *s, int code, const char *reason);
void gw_client_want_write(gw_client_t *s);
/* Room past frame_cap in t->frame for the out_ts stamp (server.send_ts). */
#define GW_FRAME_SLACK 48
/** Append m to frame f (cap bytes, *len used): JSON Lines or MessagePack. */
bool gw_frame_append(unsigned char *f, size_t cap, size_t *len, const tg_msg_t *m, bool msgpack);
/** WRITEABLE: write one coalesced frame; returns -1 to close. */
int gw_client_write(gw_client_t *s);
/** max_hz: move held messages that are due into the FIFO; next due time or 0. */
int64_t gw_client_release_held(gw_client_t *s, int64_t now);
/** Remove s from a thread list of clients (writers, gated, hz) when it goes. */
void gw_list_remove(gw_client_t **v, uint32_t *n, gw_client_t *s);
/** lws_write of one frame: the default t->send. */
int gw_client_lws_send(gw_client_t *s, unsigned char *payload, size_t len);
/** Slow-consumer check by acknowledged bytes (SIOCOUTQ), from the timer. */
void gw_client_check_stall(gw_client_t *s, int64_t now);

/* usend.c */
/** Set up the thread's send ring (not when disabled); -errno when io_uring is refused. */
int gw_usend_init(gw_thread_t *t, bool disabled);
void gw_usend_free(gw_thread_t *t);
/** Whether s's frame can go through the pass's submission now. */
bool gw_usend_can(const gw_client_t *s);
/** Queue a frame's payload (LWS_PRE room before p); `stable` = p outlives the pass. */
int gw_usend_queue(gw_client_t *s, unsigned char *p, size_t len, bool stable,
                   int64_t oldest_ts);
/** Submit the queued frames, reap them, hand short ones to lws. */
void gw_usend_flush(gw_thread_t *t);

/* fanout.c */
/** Key of (channel, name), created on first use; a new symbol gets the "*" subscribers. */
gw_key_t *gw_fanout_key(gw_thread_t *t, int channel, const char *name);
/** Record m on k (takes one ref) and offer it to k's subscribers (conflatable). */
void gw_fanout_publish(gw_thread_t *t, gw_key_t *k, tg_msg_t *m);
/** Add m to the thread's pass (one ref); its index, or GW_NO_PASS on ENOMEM. */
uint32_t gw_pass_add(gw_thread_t *t, tg_msg_t *m);
/** Pass entries [from, end) as one frame in this encoding, built on first use;
 * NULL when it does not fit a frame or the frame is taken for another range
 * until the next submission. */
gw_shared_frame_t *gw_pass_frame(gw_thread_t *t, bool msgpack, uint32_t from);
/** End of a pass's writes: release its messages before entry keep_from
 * (everything: t->npass) and renumber the carried writers' lists. */
void gw_pass_end(gw_thread_t *t, size_t keep_from);
/** Free the pass's arrays and frames (thread teardown). */
void gw_pass_free(gw_thread_t *t);
/** Alert m as the notifications message of `stream` (a user) with its seq (new ref, or NULL). */
tg_msg_t *gw_notif_msg(tg_msg_t *m, uint64_t seq, const char *stream);
/** Same for messages that are never conflated (alerts, system): ctrl FIFOs. */
void gw_fanout_publish_ctrl(gw_thread_t *t, gw_key_t *k, tg_msg_t *m);
/** Arm the pace timer for gated clients (1 ms) and held max_hz messages (when due). */
void gw_fanout_arm_pace(gw_thread_t *t);
/** The pace timer's work: retry gated clients, release due max_hz messages, write. */
void gw_fanout_pace(gw_thread_t *t, int64_t now);
/** EVENT_WAIT_CANCELLED: everything in the engine ring into the hub, then write. */
void gw_fanout_drain(gw_thread_t *t);
/** Writers collected during a drain: write now (direct, from the engine drain
 * only) or ask lws for a writable callback. */
void gw_thread_flush_writers(gw_thread_t *t, bool direct);

/* cluster.c: a TG_MSG_EPOCH from the bus consumer (takes m's reference) */
void gw_cluster_on_epoch(gw_thread_t *t, tg_msg_t *m);

/* commands.c */
void gw_send_recovered(gw_client_t *s, tg_channel_t ch, const char *key, uint64_t from,
                       bool complete);

/* reply.c: replies built for one client */
typedef struct gw_reply {
    tg_enc_t e;
    char j[2048];
    unsigned char m[2048];
} gw_reply_t;
void gw_reply_begin(gw_reply_t *r, uint32_t nfields);
void gw_enc_id(tg_enc_t *e, const tg_cmsg_id_t *id);
void gw_reply_id(gw_reply_t *r, const tg_cmsg_id_t *id);
uint32_t gw_id_fields(const tg_cmsg_id_t *id);
void gw_reply_send(gw_client_t *s, gw_reply_t *r);
void gw_send_error(gw_client_t *s, const char *code, const char *message, const tg_cmsg_id_t *id);
void gw_send_established(gw_client_t *s);

/* auth.c (gw_count_auth_failure: close.c, with the other labeled counters) */
void gw_count_auth_failure(gw_thread_t *t, const char *reason);
/** Verify a token for s (0, -ETIMEDOUT expired, -EPERM invalid, -EACCES other sub). */
int gw_auth_verify(gw_client_t *s, const char *token, size_t len, bool reauth);
/** Verified token -> active, unless revoked; may wait for Redis (t->revoke_poll_wanted). */
void gw_auth_activate(gw_client_t *s, bool reauth);
/** Revocation verdicts and the 30 s re-check; true when s just became active. */
bool gw_auth_check_revocation(gw_client_t *s, int64_t now);
/** Token from ?token= or Authorization: Bearer; its length, 0 if none. */
int gw_auth_find_token(struct lws *wsi, char *buf, size_t cap);

/* commands.c */
void gw_on_client_message(gw_client_t *s, const void *data, size_t len, bool binary);
/** Messages received while s awaited its revocation verdict, now handled. */
void gw_commands_release_held(gw_client_t *s);

/* acceptor.c */
bool gw_fd_ip_acquire(gw_thread_t *t, int fd, const struct sockaddr_storage *sa);
void gw_fd_ip_release(gw_thread_t *t, int fd);
int gw_open_listener(const char *host, int port, int *out_port);
void *gw_acceptor_thread(void *arg);
/** Sockets the acceptor dealt to t: adopt them into t's lws context. */
void gw_adopt_pending(gw_thread_t *t);

/* bars_sub.c: the bars channel (SPEC §12) */
/** The channel key of `symbol` at interval `iv` (tg_bar_iv_t): "SYMBOL@1m". */
void gw_bars_key(const char *symbol, uint8_t iv, char *out, size_t cap);
/**
 * Subscribe without `since` for k: the last m->history final bars (oldest
 * first), then the current partial bar. Returns false when the subscribe
 * asks for recovery of k instead (the caller's generic `since` path).
 */
bool gw_bars_send_history(gw_client_t *s, gw_key_t *k, const tg_cmsg_t *m);


/* limits.c (thread-safe) */
int gw_table_create(gw_table_t **out);
void gw_table_destroy(gw_table_t *t);
bool gw_ipcap_acquire(gw_table_t *t, const char *ip, uint32_t max);
void gw_ipcap_release(gw_table_t *t, const char *ip);
bool gw_rate_ok(gw_table_t *t, const char *user, uint32_t limit, int64_t window_ns, int64_t now,
                int64_t *retry_after_ns);

/**
 * The seq of engine alert number `alert_no` in `user`'s notifications stream:
 * the first service thread to ask assigns the next one, the others get the
 * same (all threads see alerts in the engine's order). Thread-safe.
 */
uint64_t gw_notif_seq(gw_table_t *t, const char *user, uint64_t alert_no);
/* Cluster: the notifications history every admin reads (not a valid user id). */
#define GW_ADMIN_STREAM "\001admins"
/** Whose notifications history a `since` on s's notifications replays. */
const char *gw_cluster_notif_stream(const gw_thread_t *t, const gw_client_t *s);
/** A new ingest epoch (cluster): the notification histories and seqs of the old
 * one are dropped, once for all threads. True when this call cleared them. */
bool gw_notif_epoch(gw_table_t *t, const char *epoch);
/** cluster.c: the seq of alert m in k's (a user's) notifications stream; 0 =
 * not for k. node.role all: gw_notif_seq; ingest/gateway: the engine's (SPEC §14). */
uint64_t gw_cluster_notif_seq(gw_thread_t *t, const gw_key_t *k, const tg_msg_t *m);
/** cluster.c: ingest/gateway: alert m into every ACL reader's notifications history. */
void gw_cluster_notif_keep(gw_thread_t *t, tg_msg_t *m);

/** Keep m (seq = the user's notifications seq) in the user's history shared by
 * all service threads (the last `cap` seqs). Thread-safe; alerts only. */
void gw_notif_record(gw_table_t *t, const char *user, tg_msg_t *m, uint32_t cap);
/** The user's messages with seq > since, oldest first, each with a reference
 * the caller owns; -1 if not all are there. Thread-safe. */
int gw_notif_replay(gw_table_t *t, const char *user, uint64_t since, tg_msg_t ***out,
                    uint32_t *n);

/** Is ip one of server.trusted_proxies (addresses or CIDRs)? */
bool gw_ip_trusted(const tg_strlist_t *proxies, const char *ip);
/**
 * Client address of a connection from `peer`: with a trusted proxy as peer,
 * the rightmost X-Forwarded-For address that is not itself trusted; else peer.
 */
void gw_client_addr(const tg_strlist_t *proxies, const char *peer, const char *xff, char *out,
                    size_t cap);

/* close.c: closes the server decides (counted at the decision, lingering close)
 * and RFC 6455 / HTTP conformance checks in the callback */
void gw_count_close(gw_thread_t *t, int code);
/** Every close code and auth failure reason at 0 from the start (SPEC §15). */
void gw_close_export_metrics(tg_gateway_t *g);
/** WRITEABLE of a closing session whose queued replies are out; -1 = close now. */
int gw_close_writeable(gw_client_t *s);
/** Timer: end drains past their 2 s. */
void gw_close_check_linger(gw_client_t *s, int64_t now);
/** LWS_CALLBACK_WS_PEER_INITIATED_CLOSE; the return value is the callback's. */
int gw_close_peer(struct lws *wsi, gw_client_t *s, const unsigned char *in, size_t len);
/** RFC 6455 §7.4: may a peer send this close code? */
bool gw_close_code_valid(int code);
/** RFC 6455 §4.2.1: is k (n bytes) the base64 of 16 bytes? */
bool gw_ws_key_valid(const char *k, int n);
/** Bytes of request header data lws stored that we can count: the values
 * of the headers it knows (WSI_TOKEN_*), the URI and its arguments. */
size_t gw_header_bytes(struct lws *wsi);
/** LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: answer a bad upgrade (431 for
 * headers over GW_MAX_HEADER_BYTES, 404 when not `path_ok`, 426, 400) with
 * the JSON envelope; -1 = refused. */
int gw_conformance_upgrade(struct lws *wsi, bool path_ok);
/** LWS_CALLBACK_RAW_*: a request lws handed over as raw bytes (a method it
 * does not know, CONNECT) gets 501 with the JSON envelope, then closes. */
int gw_conformance_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user);
/** LWS_CALLBACK_RECEIVE: a frame announcing more than `max` bytes closes at once (1009). */
bool gw_frame_too_large(struct lws *wsi, size_t have, size_t max);

/* reload.c: take the limits a SIGHUP left in the thread's mailbox */
void gw_thread_take_limits(gw_thread_t *t);

/* http_api.c */
/** The JSON error envelope (SPEC §6) into out; its length, 0 if it does not fit. */
size_t gw_http_error_json(gw_thread_t *t, const char *code, const char *msg, char *out, size_t cap);
/* ---- alert_log.c: alerts remembered for the HTTP API (SPEC §13) ---- */
typedef struct gw_alert_filter {
    char portfolio_id[129]; /* "" = any (system alerts never match a portfolio) */
    char rule[32];          /* "" = any */
    int state;              /* 0 = any, else tg_alert_state_t */
    int64_t since;          /* alert ts >= since (ns); 0 = any */
    uint32_t limit;         /* 1..1000 */
} gw_alert_filter_t;
/** Remember an alert event (portfolio or system) and track what fires now. */
void gw_alerts_keep(gw_thread_t *t, tg_msg_t *m);
void gw_alerts_free(gw_thread_t *t);
/** The newest remembered event of an alert (firing ones first), or NULL. */
const tg_msg_t *gw_alerts_find(const gw_thread_t *t, const char *alert_id);
/** An alert event's alert_id into id[cap]; false when it has none that fits. */
bool gw_alert_event_id(const tg_msg_t *m, char *id, size_t cap);
/** Whether event m passes every filter of f and the caller may read it. */
bool gw_alert_filter_match(const gw_alert_filter_t *f, const tg_msg_t *m, const char *sub,
                           bool admin, char *const *portfolios, size_t n_portfolios);

int gw_http(struct lws *wsi, gw_thread_t *t, void *user, enum lws_callback_reasons reason,
            void *in, size_t len);

#endif
