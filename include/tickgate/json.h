/* json.h - a thin, strict layer over jsmn for reading JSON.
 *
 * jsmn keeps each number's raw text, so decimals go straight to fixed-point
 * (tg_json_dec) and never through double. A tg_json_t owns its token array;
 * strings are returned as (pointer, length) slices into the caller's buffer,
 * which must outlive the tg_json_t. Not thread-safe per object; any number of
 * objects may be used on different threads.
 */
#ifndef TICKGATE_JSON_H
#define TICKGATE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/fixed.h"
#include "tickgate/buf.h"

typedef enum tg_json_type {
    TG_JSON_INVALID = 0,
    TG_JSON_OBJECT,
    TG_JSON_ARRAY,
    TG_JSON_STRING,
    TG_JSON_NUMBER,
    TG_JSON_TRUE,
    TG_JSON_FALSE,
    TG_JSON_NULL,
} tg_json_type_t;

typedef struct tg_json {
    const char *src;
    size_t len;
    void *tok;       /* jsmntok_t[ntok] */
    int ntok;        /* tokens used */
    int cap;         /* tokens allocated */
    int max_tokens;  /* hard cap: hostile input cannot make us allocate more */
    int max_depth;   /* nesting limit */
} tg_json_t;

/** Token index; the root is 0. A negative index means "absent". */
typedef int tg_json_ref_t;

/**
 * Parse `len` bytes. Input must be exactly one JSON value (objects/arrays
 * need not be the root) with no trailing garbage, valid UTF-8 strings,
 * numbers per the JSON grammar, nesting <= max_depth (0 = 32), tokens <=
 * max_tokens (0 = 65536). Returns 0, -EINVAL (malformed/truncated), -E2BIG
 * (too many tokens, too deep, or len > INT_MAX) or -ENOMEM. max_depth is
 * clamped to 4096. j must be zeroed before its first use (tg_json_t j = {0});
 * it may then be reused: call tg_json_parse again (the token array is kept
 * and grown, never beyond max_tokens); tg_json_free() at the end. After a
 * failed parse j holds no tokens but stays reusable.
 */
int tg_json_parse(tg_json_t *j, const char *src, size_t len, int max_tokens, int max_depth);
/** Release the token array; j is zeroed-equivalent afterwards. NULL is fine. */
void tg_json_free(tg_json_t *j);

tg_json_type_t tg_json_type(const tg_json_t *j, tg_json_ref_t r);
/** Number of members (object) or elements (array); 0 otherwise. */
int tg_json_size(const tg_json_t *j, tg_json_ref_t r);
/** Member `key` of object r, or -1. Duplicate keys: the first wins. */
tg_json_ref_t tg_json_get(const tg_json_t *j, tg_json_ref_t obj, const char *key);
/** i-th element of array r (or i-th value of object r), or -1. O(size). */
tg_json_ref_t tg_json_at(const tg_json_t *j, tg_json_ref_t r, int i);
/** Iterate object members: start with *it = 0; returns key ref and sets *val
 * (val may be NULL); -1 at end. *it is an opaque cursor. */
tg_json_ref_t tg_json_next_member(const tg_json_t *j, tg_json_ref_t obj, int *it,
                                  tg_json_ref_t *val);
/** Iterate array elements: start with *it = 0; returns element ref or -1 at end. */
tg_json_ref_t tg_json_next_elem(const tg_json_t *j, tg_json_ref_t arr, int *it);

/** Raw text of any token (string contents without quotes, still escaped). */
const char *tg_json_raw(const tg_json_t *j, tg_json_ref_t r, size_t *len);
/** true if r is a string equal to s (after unescaping). */
bool tg_json_str_eq(const tg_json_t *j, tg_json_ref_t r, const char *s);
/**
 * Copy string r unescaped (\uXXXX to UTF-8, surrogate pairs checked) into
 * buf (NUL-terminated). -EINVAL if not a string / bad escape, -ENOSPC if it
 * does not fit in cap-1 bytes. *outlen gets the length (may be NULL).
 */
int tg_json_str(const tg_json_t *j, tg_json_ref_t r, char *buf, size_t cap, size_t *outlen);
/** Number or numeric string (no escapes inside) to fixed-point exactly
 * (tg_dec_parse rules and errors: -EINVAL, -EDOM for > 8 places, -ERANGE). */
int tg_json_dec(const tg_json_t *j, tg_json_ref_t r, tg_dec_t *out);
/** Integer number (no fraction/exponent) within int64. -EINVAL / -ERANGE. */
int tg_json_i64(const tg_json_t *j, tg_json_ref_t r, int64_t *out);
/** true/false token. */
int tg_json_bool(const tg_json_t *j, tg_json_ref_t r, bool *out);

/** Whether s[0..len) is well-formed UTF-8 (no overlongs, surrogates, values
 * past U+10FFFF or truncated sequences): text that PostgreSQL's UTF8 encoding
 * accepts and that tg_json_escape passes through unchanged. */
bool tg_utf8_valid(const char *s, size_t len);

/* Writing: append JSON-escaped string contents (no quotes, no NUL terminator)
 * to buf, at most cap bytes; returns bytes written or -ENOSPC. Escapes '"',
 * '\\', control characters, DEL and U+2028/2029; invalid UTF-8 bytes become
 * \ufffd so the output is always valid JSON. Used by encoders for
 * user-supplied strings. */
int tg_json_escape(const char *s, size_t len, char *buf, size_t cap);

/** Append s[0..len) to b as a quoted, escaped JSON string (tg_json_escape's rules). */
void tg_json_put_str(tg_buf_t *b, const char *s, size_t len);
/** Same for a C string. */
void tg_json_put_cstr(tg_buf_t *b, const char *s);

/** Value of one hex digit (either case), -1 for anything else (\\u escapes, %-decoding). */
int tg_json_hexval(int c);

#endif
