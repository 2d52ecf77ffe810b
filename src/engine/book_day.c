/* book_day.c - a portfolio's day baseline out of and back into the book, so a
 * restart within the same session day keeps day_change (SPEC §13).
 */
#include "book_int.h"

int tg_book_day_state(const tg_book_t *b, uint32_t slot, tg_book_day_t *out)
{
    if (!b || !out)
        return -EINVAL;
    if (slot >= b->nslots || !b->cold[slot].alive)
        return -ENOENT;
    const pf_hot_t *p = &b->hot[slot];
    memset(out, 0, sizeof *out);
    out->pending = p->flags & F_OPEN_PENDING;
    if (!out->pending && !in_dec_range(p->open))
        return -ERANGE;
    out->open = out->pending ? 0 : (tg_dec_t)p->open;
    out->cash = p->cash;
    out->cost = p->cost;
    out->n_holdings = (uint32_t)b->cold[slot].spec.n_holdings;
    return 0;
}

int tg_book_restore_day(tg_book_t *b, const char *id, const tg_book_day_t *d, int64_t ts)
{
    if (!b || !id || !d)
        return -EINVAL;
    int32_t slot = tg_book_find(b, id);
    if (slot < 0)
        return -ENOENT;
    pf_hot_t *p = &b->hot[slot];
    /* a baseline only means something for the same holdings and cash */
    if (d->cash != p->cash || d->cost != p->cost ||
        d->n_holdings != b->cold[slot].spec.n_holdings)
        return -ESTALE;
    if (d->pending) {
        p->flags |= F_OPEN_PENDING;
    } else {
        p->open = d->open;
        p->flags &= ~F_OPEN_PENDING;
    }
    p->ts = ts;
    tg__book_update_gate(b, (uint32_t)slot);
    tg__book_eval_full(b, (uint32_t)slot);
    tg__book_step_rules(b, (uint32_t)slot, ts);
    tg__book_emit(b, TG_BOOK_EV_PORTFOLIO, (uint32_t)slot, ts, NULL);
    return 0;
}
