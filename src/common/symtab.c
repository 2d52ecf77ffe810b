/* symtab.c - symbol -> dense id hash table (see include/tickgate/symtab.h).
 *
 * Linear probing over uint32 slots holding id + 1. The stored per-id hash lets
 * a probe skip mismatches without touching the name array, and lets growth
 * rehash without recomputing. The slot table stays <= 50% full so an unknown
 * symbol (the common case for a feed outside the universe) ends its probe fast.
 */
#include "tickgate/symtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SYMTAB_MIN_SLOTS 64u

/* FNV-1a with a final avalanche: symbols are short, so this beats fancier
 * hashes, and the mix keeps near-identical tickers from clustering. */
static uint32_t sym_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (uint32_t)h;
}

int tg_symtab_init(tg_symtab_t *t, uint32_t max)
{
    if (!t)
        return -EINVAL;
    memset(t, 0, sizeof *t);
    t->max = max;
    t->_slots = calloc(SYMTAB_MIN_SLOTS, sizeof *t->_slots);
    if (!t->_slots)
        return -ENOMEM;
    t->_mask = SYMTAB_MIN_SLOTS - 1;
    return 0;
}

void tg_symtab_free(tg_symtab_t *t)
{
    if (!t)
        return;
    free(t->_slots);
    free(t->_hash);
    free(t->_names);
    free(t->_lens);
    memset(t, 0, sizeof *t);
}

int32_t tg_symtab_find(const tg_symtab_t *t, const char *s, size_t len)
{
    if (!t || !s || len == 0 || len > TG_SYMBOL_MAX || !t->_slots)
        return -ENOENT;
    uint32_t h = sym_hash(s, len);
    for (uint32_t i = h & t->_mask;; i = (i + 1) & t->_mask) {
        uint32_t slot = t->_slots[i];
        if (slot == 0)
            return -ENOENT;
        uint32_t id = slot - 1;
        if (t->_hash[id] == h && t->_lens[id] == len && memcmp(t->_names[id], s, len) == 0)
            return (int32_t)id;
    }
}

static int grow_ids(tg_symtab_t *t)
{
    uint32_t cap = t->_cap ? t->_cap * 2 : 64;
    uint32_t *hash = realloc(t->_hash, (size_t)cap * sizeof *hash);
    if (!hash)
        return -ENOMEM;
    t->_hash = hash;
    uint8_t *lens = realloc(t->_lens, (size_t)cap * sizeof *lens);
    if (!lens)
        return -ENOMEM;
    t->_lens = lens;
    char(*names)[TG_SYMBOL_MAX + 1] = realloc(t->_names, (size_t)cap * sizeof *names);
    if (!names)
        return -ENOMEM;
    t->_names = names;
    t->_cap = cap;
    return 0;
}

static int grow_slots(tg_symtab_t *t)
{
    uint32_t nslots = (t->_mask + 1) * 2;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t i = t->_hash[id] & (nslots - 1);
        while (slots[i])
            i = (i + 1) & (nslots - 1);
        slots[i] = id + 1;
    }
    free(t->_slots);
    t->_slots = slots;
    t->_mask = nslots - 1;
    return 0;
}

int32_t tg_symtab_intern(tg_symtab_t *t, const char *s, size_t len)
{
    int rc;

    if (!t || !s || len == 0 || len > TG_SYMBOL_MAX || memchr(s, '\0', len))
        return -EINVAL;
    int32_t found = tg_symtab_find(t, s, len);
    if (found >= 0)
        return found;
    if (t->max && t->n >= t->max)
        return -ENOSPC;
    if (t->n == INT32_MAX)
        return -ENOSPC;
    if (t->n == t->_cap && (rc = grow_ids(t)) < 0)
        return rc;
    /* keep the load factor <= 1/2 after this insert */
    if ((uint64_t)(t->n + 1) * 2 > (uint64_t)t->_mask + 1 && (rc = grow_slots(t)) < 0)
        return rc;

    uint32_t id = t->n;
    uint32_t h = sym_hash(s, len);
    t->_hash[id] = h;
    t->_lens[id] = (uint8_t)len;
    memcpy(t->_names[id], s, len);
    memset(t->_names[id] + len, 0, sizeof t->_names[id] - len);
    uint32_t i = h & t->_mask;
    while (t->_slots[i])
        i = (i + 1) & t->_mask;
    t->_slots[i] = id + 1;
    t->n++;
    return (int32_t)id;
}

const char *tg_symtab_name(const tg_symtab_t *t, uint32_t id)
{
    if (!t || id >= t->n)
        return NULL;
    return t->_names[id];
}
