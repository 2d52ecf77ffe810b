/* fixed.h - exact decimal fixed-point numbers (8 decimal places in int64).
 *
 * Prices, quantities, money and ratios are all tg_dec_t: the integer value is
 * the decimal times 10^8. Products go through __int128 and are rounded
 * half-to-even back to 8 places. Binary floats never touch these values, except
 * tg_dec_to_double() which exists only for MessagePack's float64 wire form.
 * All functions are pure and thread-safe.
 */
#ifndef TICKGATE_FIXED_H
#define TICKGATE_FIXED_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t tg_dec_t;

#define TG_DEC_SCALE 100000000LL /* 10^8 */
#define TG_DEC_PLACES 8
#define TG_DEC_MAX INT64_MAX
#define TG_DEC_MIN (-INT64_MAX) /* INT64_MIN is never produced, so negation is always safe */
/** Longest text tg_dec_format() writes, without the NUL ("-92233720368.54775807"). */
#define TG_DEC_STRLEN 24

/** Integer literal helper: TG_DEC(189) == 189.00000000. */
#define TG_DEC(i) ((tg_dec_t)(i) * TG_DEC_SCALE)

/**
 * Parse decimal text exactly: optional sign ('-' or '+'), digits, optional
 * fraction, optional exponent ("189.53", "-0.5", "1e-3", "2.5E+2"). Any value
 * that would need more than 8 fractional digits after applying the exponent
 * is -EDOM (never rounded silently; extra trailing zeros are exact and fine);
 * out of range is -ERANGE (huge exponents are detected without looping);
 * anything else malformed (empty, "-", ".5", "5.", "1e", "nan", "inf",
 * "0x10", leading/trailing/embedded spaces) is -EINVAL; syntax is checked
 * before range. Leading zeros ("007") are accepted because this also reads
 * config and CSV text; JSON's stricter grammar is the tokenizer's business.
 * `len` bytes of `s` are read; no NUL terminator needed. *out is untouched on
 * error.
 */
int tg_dec_parse(const char *s, size_t len, tg_dec_t *out);

/**
 * Like tg_dec_parse() but rounds half-to-even to 8 places when there are more
 * fractional digits (used for config values and ratios, SPEC §2).
 */
int tg_dec_parse_round(const char *s, size_t len, tg_dec_t *out);

/**
 * Write the shortest exact decimal form: no exponent, no trailing zeros, no
 * trailing '.', "0" for zero, leading '-' for negatives ("1200", "187.1",
 * "0.00012"). `buf` must hold TG_DEC_STRLEN + 1 bytes. Returns the length.
 */
size_t tg_dec_format(tg_dec_t v, char *buf);

/** a*b rounded half-to-even to 8 places; -ERANGE on overflow (out untouched). */
int tg_dec_mul(tg_dec_t a, tg_dec_t b, tg_dec_t *out);

/** a/b rounded half-to-even to 8 places; -EDOM if b == 0, -ERANGE on overflow. */
int tg_dec_div(tg_dec_t a, tg_dec_t b, tg_dec_t *out);

/**
 * a/b where `a` is a sum of products of two decimals (scale 10^16, e.g.
 * Sum price*size) and b a decimal: the quotient rounded half-to-even to 8
 * places (a VWAP). -EDOM if b == 0, -ERANGE on overflow (out untouched).
 */
int tg_dec_div_prod(__int128 a, tg_dec_t b, tg_dec_t *out);

/** a+b, a-b with overflow detection (-ERANGE, out untouched). */
int tg_dec_add(tg_dec_t a, tg_dec_t b, tg_dec_t *out);
int tg_dec_sub(tg_dec_t a, tg_dec_t b, tg_dec_t *out);

/** Nearest double, for MessagePack's float64 only; never feed it back. */
double tg_dec_to_double(tg_dec_t v);

/**
 * Round a double (e.g. a libconfig float) half-to-even to 8 places, through
 * its shortest round-trip decimal text so 0.1 becomes exactly 0.10000000.
 * -ERANGE when out of range or not finite.
 */
int tg_dec_from_double(double d, tg_dec_t *out);

#endif
