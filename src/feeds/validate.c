/* validate.c - per-feed tick validation (include/tickgate/validate.h).
 *
 * Per-symbol state lives in a dense array indexed by a symtab id, so the
 * steady state is one hash lookup and no allocation per tick. Decimal
 * comparisons are integer cross-multiplications in __int128: no division,
 * no rounding, no double.
 */
#include "tickgate/validate.h"
#include "tickgate/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_SYMBOLS 100000

struct tg__vsym {
    tg_dec_t last_price;     /* last accepted trade price, 0 = none */
    uint64_t last_seq[2];    /* [0] trades, [1] quote-only ticks; 0 = none */
    tg_dec_t pending[2];     /* the last consecutive jump-rejected prices */
    int npending;
};

const char *tg_reject_name(tg_reject_t r)
{
    static const char *const names[TG_REJECT__COUNT] = {
        [TG_REJECT_NONE] = "accepted",
        [TG_REJECT_BAD_PRICE] = "bad_price",
        [TG_REJECT_BAD_SIZE] = "bad_size",
        [TG_REJECT_BAD_SYMBOL] = "bad_symbol",
        [TG_REJECT_NOT_IN_UNIVERSE] = "not_in_universe",
        [TG_REJECT_FUTURE_TS] = "future_ts",
        [TG_REJECT_JUMP] = "jump",
        [TG_REJECT_PARSE_ERROR] = "parse_error",
        [TG_REJECT_DUPLICATE] = "duplicate",
        [TG_REJECT_SYMBOL_LIMIT] = "symbol_limit",
        [TG_REJECT_UNKNOWN_MESSAGE] = "unknown_message",
    };
    return (unsigned)r < TG_REJECT__COUNT ? names[r] : "?";
}

int tg_validator_init(tg_validator_t *v, const tg_validate_conf_t *conf)
{
    int rc;
    if (!v || !conf || conf->max_jump_pct < 0)
        return -EINVAL;
    memset(v, 0, sizeof(*v));
    v->_conf = *conf;
    v->_conf.universe = NULL; /* not kept: the caller's list may go away */
    if (!v->_conf.max_symbols)
        v->_conf.max_symbols = DEFAULT_MAX_SYMBOLS;
    if ((rc = tg_symtab_init(&v->_syms, v->_conf.max_symbols)) < 0)
        return rc;
    if ((rc = tg_symtab_init(&v->_universe, 0)) < 0)
        goto fail_syms;
    if (conf->universe && conf->universe->n) {
        v->_has_universe = true;
        for (size_t i = 0; i < conf->universe->n; i++) {
            const char *s = conf->universe->v[i];
            rc = tg_symtab_intern(&v->_universe, s, strlen(s));
            if (rc < 0)
                goto fail_universe;
        }
    }
    return 0;

fail_universe:
    tg_symtab_free(&v->_universe);
fail_syms:
    tg_symtab_free(&v->_syms);
    return rc;
}

void tg_validator_free(tg_validator_t *v)
{
    if (!v)
        return;
    tg_symtab_free(&v->_syms);
    tg_symtab_free(&v->_universe);
    free(v->_st);
    v->_st = NULL;
    v->_cap = 0;
}

/* State of the tick's symbol, created on first sight; NULL when out of
 * memory (the tick is then checked statelessly) or, with *full set, when the
 * table already holds max_symbols others. */
static tg__vsym_t *sym_state(tg_validator_t *v, const tg_tick_t *t, bool *full)
{
    int32_t id = tg_symtab_intern(&v->_syms, t->symbol, t->sym_len);
    *full = id == -ENOSPC;
    if (id < 0)
        return NULL;
    /* the shared doubling policy; new states are zeroed, i.e. "no tick seen yet" */
    if (tg_vec_reserve32(&v->_st, sizeof *v->_st, &v->_cap, (size_t)id + 1, 64) < 0)
        return NULL;
    return &v->_st[id];
}

/* |a - b| * 100 > pct * ref, with pct 10^8-scaled: "more than pct % of ref" */
static bool exceeds_pct(tg_dec_t a, tg_dec_t b, tg_dec_t pct, tg_dec_t ref)
{
    __int128 d = (__int128)a - b;
    if (d < 0)
        d = -d;
    return d * 100 * TG_DEC_SCALE > (__int128)pct * ref;
}

static bool within_1pct(tg_dec_t a, tg_dec_t b, tg_dec_t c)
{
    tg_dec_t lo = a, hi = a;
    if (b < lo) lo = b;
    if (c < lo) lo = c;
    if (b > hi) hi = b;
    if (c > hi) hi = c;
    return ((__int128)hi - lo) * 100 <= lo;
}

tg_reject_t tg_validate_tick(tg_validator_t *v, const tg_tick_t *t, int64_t now_ns)
{
    bool trade = t->flags & TG_TICK_TRADE, quote = t->flags & TG_TICK_QUOTE;

    if (t->sym_len == 0 || t->sym_len > TG_SYMBOL_MAX ||
        memchr(t->symbol, '\0', t->sym_len) != NULL || t->symbol[t->sym_len] != '\0')
        return TG_REJECT_BAD_SYMBOL;
    if (v->_has_universe && tg_symtab_find(&v->_universe, t->symbol, t->sym_len) < 0)
        return TG_REJECT_NOT_IN_UNIVERSE;
    if (!trade && !quote)
        return TG_REJECT_BAD_PRICE;
    if (trade && t->price <= 0)
        return TG_REJECT_BAD_PRICE;
    if (quote && (t->bid < 0 || t->ask < 0 || (t->bid == 0 && t->ask == 0)))
        return TG_REJECT_BAD_PRICE;
    if (trade && t->size < 0)
        return TG_REJECT_BAD_SIZE;
    if ((t->src_ts && t->src_ts > now_ns + TG_VALIDATE_FUTURE_NS) ||
        (t->ts && t->ts > now_ns + TG_VALIDATE_FUTURE_NS))
        return TG_REJECT_FUTURE_TS;

    bool full;
    tg__vsym_t *s = sym_state(v, t, &full);
    /* A feed that sends more distinct symbols than the engine may keep would
     * only be dropped later, uncounted: refuse it here, where it is counted. */
    if (full)
        return TG_REJECT_SYMBOL_LIMIT;
    if (!s)
        return TG_REJECT_NONE;

    if (t->src_seq) {
        /* trades and quotes may number themselves independently (Polygon,
         * Binance), so each kind has its own last sequence number */
        uint64_t *last = &s->last_seq[trade ? 0 : 1];
        if (*last && (v->_conf.seq_monotonic ? t->src_seq <= *last : t->src_seq == *last))
            return TG_REJECT_DUPLICATE;
        *last = t->src_seq;
    }

    if (!trade)
        return TG_REJECT_NONE;
    if (v->_conf.max_jump_pct > 0 && s->last_price > 0 &&
        exceeds_pct(t->price, s->last_price, v->_conf.max_jump_pct, s->last_price)) {
        if (s->npending == 2 && within_1pct(s->pending[0], s->pending[1], t->price)) {
            /* three consecutive outliers that agree: the market moved */
            s->last_price = t->price;
            s->npending = 0;
            return TG_REJECT_NONE;
        }
        if (s->npending == 2) {
            s->pending[0] = s->pending[1];
            s->pending[1] = t->price;
        } else {
            s->pending[s->npending++] = t->price;
        }
        return TG_REJECT_JUMP;
    }
    s->last_price = t->price;
    s->npending = 0;
    return TG_REJECT_NONE;
}
