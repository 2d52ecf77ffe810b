/* book.c - the book itself: create/destroy, the portfolio id index, iteration. */
#include "book_int.h"

void tg__book_set_price(tg_book_t *b, uint32_t sym, tg_dec_t price);

/* Bench/test only: record a price without valuing (the "recompute the whole
 * book per tick" baseline prices this way, then calls tg_book_recompute_full). */
void tg__book_set_price(tg_book_t *b, uint32_t sym, tg_dec_t price)
{
    if (sym < b->nsyms) {
        b->syms[sym].price = price;
        b->syms[sym].has_price = true;
    }
}

/* ---- id index ------------------------------------------------------------- */

uint32_t tg__book_str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 32;
    return (uint32_t)h;
}

static int idx_rebuild(tg_book_t *b, uint32_t nslots_idx)
{
    uint32_t *idx = calloc(nslots_idx, sizeof *idx);
    if (!idx)
        return -ENOMEM;
    for (uint32_t s = 0; s < b->nslots; s++) {
        if (!b->cold[s].alive)
            continue;
        uint32_t i = b->cold[s].id_hash & (nslots_idx - 1);
        while (idx[i])
            i = (i + 1) & (nslots_idx - 1);
        idx[i] = s + 1;
    }
    free(b->idx);
    b->idx = idx;
    b->idx_mask = nslots_idx - 1;
    b->idx_used = (uint32_t)b->live;
    return 0;
}

int32_t tg_book_find(const tg_book_t *b, const char *id)
{
    if (!b || !id || !b->idx)
        return -ENOENT;
    uint32_t h = tg__book_str_hash(id);
    for (uint32_t i = h & b->idx_mask;; i = (i + 1) & b->idx_mask) {
        uint32_t v = b->idx[i];
        if (v == 0)
            return -ENOENT;
        if (v == IDX_TOMB)
            continue;
        const pf_cold_t *c = &b->cold[v - 1];
        if (c->id_hash == h && strcmp(c->spec.id, id) == 0)
            return (int32_t)(v - 1);
    }
}

/* Make room in the index for one more id (called before any mutation). */
int tg__book_idx_reserve(tg_book_t *b)
{
    uint32_t size = b->idx ? b->idx_mask + 1 : 0;
    if (b->idx && (uint64_t)(b->idx_used + 1) * 2 <= size)
        return 0;
    uint32_t want = 64;
    while ((uint64_t)(b->live + 1) * 4 > want)
        want *= 2;
    return idx_rebuild(b, want);
}

void tg__book_idx_insert(tg_book_t *b, uint32_t slot)
{
    uint32_t i = b->cold[slot].id_hash & b->idx_mask;
    while (b->idx[i] && b->idx[i] != IDX_TOMB)
        i = (i + 1) & b->idx_mask;
    if (b->idx[i] == 0)
        b->idx_used++;
    b->idx[i] = slot + 1;
}

void tg__book_idx_remove(tg_book_t *b, uint32_t slot)
{
    uint32_t i = b->cold[slot].id_hash & b->idx_mask;
    while (b->idx[i] != slot + 1)
        i = (i + 1) & b->idx_mask;
    b->idx[i] = IDX_TOMB;
}

/* ---- lifecycle ------------------------------------------------------------ */

int tg_book_create(const tg_book_options_t *o, tg_book_t **out)
{
    if (!o || !o->symtab || !out)
        return -EINVAL;
    tg_book_t *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->syms_tab = o->symtab;
    b->on_event = o->on_event;
    b->ud = o->ud;
    b->unpriced_after_s = o->unpriced_after_s > 0 ? o->unpriced_after_s : 0;
    b->unpriced_after_ns = b->unpriced_after_s * 1000000000LL;
    tg_alert_ids_init(&b->ids, o->alert_seed);
    if (idx_rebuild(b, 64) < 0)
        goto fail_free_book;
    *out = b;
    return 0;

fail_free_book:
    free(b);
    return -ENOMEM;
}

void tg_book_destroy(tg_book_t *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; i < b->nsyms; i++) {
        free(b->syms[i].pos);
        free(b->syms[i].w);
        free(b->syms[i].mr);
        for (uint32_t k = 0; k < b->syms[i].nmwin; k++)
            tg_risk_move_free(&b->syms[i].mwin[k].mv);
        free(b->syms[i].mwin);
    }
    for (uint32_t s = 0; s < b->nslots; s++) {
        pf_risk_t *r = b->cold[s].alive ? b->cold[s].risk : NULL;
        if (r) {
            tg_risk_vol_free(&r->vol);
            free(r->moves);
            free(r);
        }
        tg_portfolio_spec_free(&b->cold[s].spec);
        free(b->cold[s].h);
    }
    free(b->syms);
    free(b->hot);
    free(b->cold);
    free(b->free_slots);
    free(b->idx);
    free(b->scratch);
    free(b);
}

int32_t tg_book_next(const tg_book_t *b, int32_t prev)
{
    if (!b)
        return -1;
    for (uint32_t s = (uint32_t)(prev + 1); s < b->nslots; s++)
        if (b->cold[s].alive)
            return (int32_t)s;
    return -1;
}

size_t tg_book_count(const tg_book_t *b)
{
    return b ? b->live : 0;
}

const tg_portfolio_spec_t *tg_book_spec(const tg_book_t *b, uint32_t slot)
{
    if (!b || slot >= b->nslots || !b->cold[slot].alive)
        return NULL;
    return &b->cold[slot].spec;
}

/* ---- put / remove --------------------------------------------------------- */
