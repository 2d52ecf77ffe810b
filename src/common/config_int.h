/* config_int.h - the configuration key table types, shared by config*.c. */
#ifndef TG_CONFIG_INT_H
#define TG_CONFIG_INT_H

#include "tickgate/config.h"
#include "tickgate/file.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the key tables ---------------------------------------------------- */

typedef enum {
    K_STR,      /* char * */
    K_ENUM,     /* char *, one of key->choices */
    K_HOSTPORT, /* char *, "host:port" (or "" with F_EMPTY_OK) */
    K_INT,      /* int */
    K_LL,       /* long long */
    K_BOOL,     /* bool */
    K_DEC,      /* tg_dec_t; the file may give a float or an integer */
    K_LIST,     /* tg_strlist_t; env: comma-separated */
    K_FEEDTYPE, /* tg_feed_type_t */
    K_SPEED,    /* tg_dec_t: "max" (stored as 0) or a positive number */
    K_SYMMAP,   /* map_from/map_to pair of tg_strlist_t; env: "FROM=TO,..." */
} cfg_kind_t;

enum {
    F_SECRET = 1u << 0,    /* whole value is a secret: printed as "***" */
    F_URLSECRET = 1u << 1, /* password inside the URL is a secret */
    F_EMPTY_OK = 1u << 2,  /* K_HOSTPORT: "" allowed */
    F_MIN_EXCL = 1u << 3,  /* K_DEC: min itself is out of range */
    F_SYMBOLS = 1u << 4,   /* K_LIST: elements are symbols */
    F_NOENV = 1u << 5,     /* not settable from the environment */
    F_REQUIRED = 1u << 6,  /* feed key that must be present */
    F_ADDRS = 1u << 7,     /* K_LIST: elements are IP addresses or CIDRs */
    F_LEVELS = 1u << 8,    /* K_LIST: elements are "SYMBOL=PRICE", price > 0 */
};

#define T_SYN (1u << TG_FEED_SYNTHETIC)
#define T_REP (1u << TG_FEED_REPLAY)
#define T_WS (1u << TG_FEED_WS)
#define T_TCP (1u << TG_FEED_TCP)
#define T_RED (1u << TG_FEED_REDIS)
#define T_ALL (T_SYN | T_REP | T_WS | T_TCP | T_RED)

typedef struct cfg_key {
    const char *section;         /* "server", …; NULL in feed_keys[] */
    const char *key;             /* dotted inside a nested group: "tls.cert" */
    cfg_kind_t kind;
    size_t off;                  /* into tg_config_t, or tg_feed_conf_t */
    const char *def;             /* default, as environment text; NULL = none */
    long long min, max;          /* K_INT, K_LL; tg_dec_t units for K_DEC/K_SPEED */
    const char *const *choices;  /* K_ENUM */
    unsigned flags;
    unsigned types;              /* feed_keys[]: feed types the key applies to */
    const char *env;             /* main keys: an extra, exact environment name (process
                                  * switches older than TICKGATE_<SECTION>_<KEY>); NULL = none */
} cfg_key_t;

#define D(x) ((long long)((x) * (double)TG_DEC_SCALE)) /* exact for the constants below */
#define C(f) offsetof(tg_config_t, f)
#define FC(f) offsetof(tg_feed_conf_t, f)


#define SYMBOL_MAX 31 /* SPEC §3: longer symbols are rejected */
#define NAME_MAX_LEN 128

/* ---- load state and errors --------------------------------------------- */

typedef struct load_ctx {
    char *err;
    size_t errlen;
    uint64_t feed_set[TG_MAX_FEEDS]; /* which tg__config_feed_keys[] each feed set explicitly */
} load_ctx_t;

/* The key tables (config_keys.c). */
extern const cfg_key_t tg__config_main_keys[];
extern const cfg_key_t tg__config_feed_keys[];
extern const size_t tg__config_n_main, tg__config_n_feed;
extern const char *const tg__config_feed_type_names[];
#define N_MAIN tg__config_n_main
#define N_FEED tg__config_n_feed

/* Formats the error into ctx (one line) and returns rc. */
__attribute__((format(printf, 3, 4))) int tg__config_fail(load_ctx_t *ctx, int rc, const char *fmt,
                                                         ...);

/* ---- shared between the config_*.c files ---- */

const char *tg__config_quote(const char *s, char *buf, size_t n);
int tg__config_set_str(char **dst, const char *s);
int tg__config_list_push_copy(tg_strlist_t *l, const char *s);
int tg__config_wrong_type(load_ctx_t *ctx, const char *name, const char *expected);
int tg__config_apply_setting(load_ctx_t *ctx, const cfg_key_t *k, void *base,
                         const config_setting_t *s, const char *name);
int tg__config_apply_text(load_ctx_t *ctx, const cfg_key_t *k, void *base, const char *text,
                      const char *name);
int tg__config_feed_add(load_ctx_t *ctx, tg_config_t *cfg, const char *where, tg_feed_conf_t **out);

#endif
