/* readers.c - each user's notifications seq, numbered by the engine.
 *
 * A portfolio alert goes to the notifications stream of every reader in the
 * portfolio's ACL (owner, shared_with), and each user's stream counts 1, 2,
 * 3, … (SPEC §5). Numbering it here, once, rather than in each gateway
 * service thread makes the seq a property of the engine's output: it travels
 * with the message (tg_msg_t.rseq) over the cluster bus, so every node sends
 * a user the same seq and `since` resumes on any node (SPEC §14).
 * Open addressing on a hash of the user id; alerts only, never per tick.
 */
#include "engine_int.h"

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h | 1; /* 0 marks an empty slot */
}

static int grow(tg__readers_t *r)
{
    uint32_t ncap = r->mask ? (r->mask + 1) * 2 : 64;
    tg__reader_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -ENOMEM;
    for (uint32_t i = 0; r->slots && i <= r->mask; i++) {
        if (!r->slots[i].h)
            continue;
        uint32_t j = (uint32_t)r->slots[i].h & (ncap - 1);
        while (ns[j].h)
            j = (j + 1) & (ncap - 1);
        ns[j] = r->slots[i];
    }
    free(r->slots);
    r->slots = ns;
    r->mask = ncap - 1;
    return 0;
}

uint64_t tg__readers_next(tg__readers_t *r, const char *user)
{
    if ((!r->slots || (r->count + 1) * 4 > (r->mask + 1) * 3) && grow(r) != 0)
        return 0;
    uint64_t h = hash_name(user);
    uint32_t j = (uint32_t)h & r->mask;
    while (r->slots[j].h && (r->slots[j].h != h || strcmp(r->slots[j].name, user) != 0))
        j = (j + 1) & r->mask;
    tg__reader_t *s = &r->slots[j];
    if (!s->h) {
        if (!(s->name = strdup(user)))
            return 0;
        s->h = h;
        r->count++;
    }
    return ++s->seq;
}

size_t tg__readers_number(tg__readers_t *r, const char *acl, size_t acl_len, uint64_t *out,
                          size_t cap)
{
    size_t n = 0;
    for (const char *p = acl, *end = acl + acl_len; p < end && n < cap; p += strlen(p) + 1) {
        uint64_t s = tg__readers_next(r, p);
        if (!s)
            return 0; /* ENOMEM: no seqs rather than a short list */
        out[n++] = s;
    }
    return n;
}

void tg__readers_free(tg__readers_t *r)
{
    for (uint32_t i = 0; r->slots && i <= r->mask; i++)
        free(r->slots[i].name);
    free(r->slots);
    memset(r, 0, sizeof *r);
}
