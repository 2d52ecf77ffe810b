/* symtab.h - symbol name -> small dense integer id (open addressing).
 *
 * Ids are 0, 1, 2, ... in interning order and never change or get reused, so
 * callers index plain arrays by id (last quotes, the portfolio book's
 * per-symbol positions). Lookups hash once and probe linearly in a table of
 * 32-bit slots kept at most half full; names live in a separate array of
 * fixed 32-byte records. Interning a new name may allocate (table growth);
 * finding never does.
 *
 * Threads: a symtab belongs to one thread (the engine thread). Not
 * thread-safe; no global state, any number of tables may coexist.
 */
#ifndef TICKGATE_SYMTAB_H
#define TICKGATE_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

#include "tickgate/tick.h"

typedef struct tg_symtab {
    uint32_t *_slots;                    /* id + 1; 0 = empty */
    uint32_t *_hash;                     /* hash of each id's name (rehash, probe filter) */
    char (*_names)[TG_SYMBOL_MAX + 1];  /* NUL-terminated names, by id */
    uint8_t *_lens;                      /* strlen of each name */
    uint32_t _mask;                      /* slot count - 1 (power of two) */
    uint32_t _cap;                       /* capacity of the per-id arrays */
    uint32_t n;                          /* symbols interned */
    uint32_t max;                        /* limit on n (engine.max_symbols); 0 = none */
} tg_symtab_t;

/**
 * Initialise an empty table in caller-owned storage (`max` = engine.max_symbols,
 * 0 = unlimited). Returns 0 or -ENOMEM. Pair with tg_symtab_free().
 */
int tg_symtab_init(tg_symtab_t *t, uint32_t max);

/** Release what the table owns (not *t itself); NULL is fine. */
void tg_symtab_free(tg_symtab_t *t);

/**
 * Id of `len` bytes of `s` (no NUL needed), or -ENOENT. Never allocates;
 * O(1) expected.
 */
int32_t tg_symtab_find(const tg_symtab_t *t, const char *s, size_t len);

/**
 * Id of the name, adding it when new. Returns the id (>= 0), -EINVAL for an
 * empty name, a name longer than TG_SYMBOL_MAX or one containing NUL,
 * -ENOSPC when `max` symbols are already interned, -ENOMEM.
 */
int32_t tg_symtab_intern(tg_symtab_t *t, const char *s, size_t len);

/** NUL-terminated name of an id (valid until tg_symtab_free), or NULL if out of range. */
const char *tg_symtab_name(const tg_symtab_t *t, uint32_t id);

/** Number of interned symbols; ids are 0 .. count-1. */
static inline uint32_t tg_symtab_count(const tg_symtab_t *t)
{
    return t->n;
}

#endif
