/* fixed.c - exact decimal fixed-point arithmetic, parsing and printing (see fixed.h).
 *
 * A tg_dec_t is the decimal value times 10^8. Parsing never goes through a
 * binary float: the digits are scanned once, the exponent is folded into a
 * single power of ten, and the result is either exact, rounded half-to-even
 * (the _round variant), or rejected. Products and quotients use __int128 so
 * the only rounding is the one documented step back to 8 places.
 */
#include "tickgate/fixed.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Exponents beyond this are clamped while scanning: any value with such an
 * exponent is out of range or rounds to zero anyway, and the clamp keeps the
 * arithmetic below in int64 even for absurdly long inputs. */
#define EXP_CLAMP (1LL << 40)

/* Largest magnitude has 11 integer + 8 fraction digits = 19 digits. */
#define MAX_SCALED_DIGITS 19

typedef struct dec_text {
    const char *ip; /* integer digits */
    size_t il;
    const char *fp; /* fraction digits (after '.') */
    size_t fl;
    int64_t exp; /* explicit exponent, clamped to +-EXP_CLAMP */
    bool neg;
} dec_text_t;

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Mantissa digit i, counting integer then fraction digits (the '.' skipped). */
static inline int mant_digit(const dec_text_t *t, size_t i)
{
    return (i < t->il ? t->ip[i] : t->fp[i - t->il]) - '0';
}

/* Syntax only: [+-]digits[.digits][(e|E)[+-]digits], nothing else. Leading
 * zeros ("007") are accepted on purpose: this also reads config and CSV text,
 * where they are harmless; JSON's stricter grammar is the tokenizer's job. */
static int scan(const char *s, size_t len, dec_text_t *t)
{
    size_t i = 0;

    if (!s)
        return -EINVAL;
    t->neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        t->neg = s[i++] == '-';
    t->ip = s + i;
    while (i < len && is_digit(s[i]))
        i++;
    t->il = (size_t)(s + i - t->ip);
    if (t->il == 0)
        return -EINVAL; /* "", "-", ".5", "nan", "inf", " 1" */
    t->fp = s + i;
    t->fl = 0;
    if (i < len && s[i] == '.') {
        t->fp = s + ++i;
        while (i < len && is_digit(s[i]))
            i++;
        t->fl = (size_t)(s + i - t->fp);
        if (t->fl == 0)
            return -EINVAL; /* "1." */
    }
    t->exp = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        bool eneg = false;
        size_t start;

        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            eneg = s[i++] == '-';
        start = i;
        for (; i < len && is_digit(s[i]); i++)
            if (t->exp < EXP_CLAMP)
                t->exp = t->exp * 10 + (s[i] - '0');
        if (i == start)
            return -EINVAL; /* "1e", "1e+" */
        if (t->exp > EXP_CLAMP)
            t->exp = EXP_CLAMP;
        if (eneg)
            t->exp = -t->exp;
    }
    if (i != len)
        return -EINVAL; /* trailing junk: "0x10", "1 ", "1.2.3" */
    return 0;
}

static int parse(const char *s, size_t len, tg_dec_t *out, bool round)
{
    dec_text_t t;
    size_t n, lo, hi, keep, i;
    int64_t k, int_digits;
    unsigned __int128 acc = 0;
    int rc;

    if (!out)
        return -EINVAL;
    rc = scan(s, len, &t);
    if (rc < 0)
        return rc;

    n = t.il + t.fl;
    for (lo = 0; lo < n && mant_digit(&t, lo) == 0; lo++)
        ;
    if (lo == n) { /* all zeros, whatever the exponent ("0e999999999", "-0.000") */
        *out = 0;
        return 0;
    }
    for (hi = n - 1; mant_digit(&t, hi) == 0; hi--)
        ;
    /* value = digits[lo..hi] * 10^k / 10^8, with digits[hi] != 0 */
    k = t.exp - (int64_t)t.fl + (int64_t)(n - 1 - hi) + TG_DEC_PLACES;
    int_digits = (int64_t)(hi - lo + 1) + k; /* digits of the scaled integer part */
    if (int_digits > MAX_SCALED_DIGITS)
        return -ERANGE;

    if (k >= 0) {
        for (i = lo; i <= hi; i++)
            acc = acc * 10 + (unsigned)mant_digit(&t, i);
        for (int64_t j = 0; j < k; j++)
            acc *= 10;
    } else {
        /* digits[hi] is nonzero and would land beyond the 8th place */
        if (!round)
            return -EDOM;
        keep = int_digits > 0 ? (size_t)int_digits : 0;
        for (i = lo; i < lo + keep; i++)
            acc = acc * 10 + (unsigned)mant_digit(&t, i);
        if (int_digits >= 0) {
            /* first dropped digit decides; anything nonzero after it breaks a tie */
            int r = mant_digit(&t, lo + keep);
            bool rest = lo + keep < hi;

            if (r > 5 || (r == 5 && (rest || (acc & 1))))
                acc++;
        } /* else: below 0.1 ulp, rounds to zero */
    }
    if (acc > (unsigned __int128)TG_DEC_MAX)
        return -ERANGE;
    *out = t.neg ? -(tg_dec_t)acc : (tg_dec_t)acc;
    return 0;
}

int tg_dec_parse(const char *s, size_t len, tg_dec_t *out)
{
    return parse(s, len, out, false);
}

int tg_dec_parse_round(const char *s, size_t len, tg_dec_t *out)
{
    return parse(s, len, out, true);
}

size_t tg_dec_format(tg_dec_t v, char *buf)
{
    /* unsigned magnitude: correct even for INT64_MIN, which we never produce */
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    uint64_t ip = u / TG_DEC_SCALE, fp = u % TG_DEC_SCALE;
    char tmp[24];
    size_t n = 0, t = 0;

    if (v < 0)
        buf[n++] = '-';
    do {
        tmp[t++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    while (t)
        buf[n++] = tmp[--t];
    if (fp) {
        int places = TG_DEC_PLACES;

        while (fp % 10 == 0) { /* shortest form: drop trailing zeros */
            fp /= 10;
            places--;
        }
        buf[n++] = '.';
        for (int i = places - 1; i >= 0; i--) {
            buf[n + (size_t)i] = (char)('0' + fp % 10);
            fp /= 10;
        }
        n += (size_t)places;
    }
    buf[n] = '\0';
    return n;
}

/* q = n / d (d > 0) rounded half-to-even; C division truncates toward zero. */
static __int128 div_round_even(__int128 n, __int128 d)
{
    __int128 q = n / d, r = n % d;
    unsigned __int128 r2 = (unsigned __int128)(r < 0 ? -r : r) * 2;
    unsigned __int128 ud = (unsigned __int128)(d < 0 ? -d : d);

    if (r2 > ud || (r2 == ud && (q & 1)))
        q += ((n < 0) != (d < 0)) ? -1 : 1;
    return q;
}

static inline bool in_range(__int128 v)
{
    return v >= TG_DEC_MIN && v <= TG_DEC_MAX;
}

int tg_dec_mul(tg_dec_t a, tg_dec_t b, tg_dec_t *out)
{
    /* |a*b| < 2^126: the product itself cannot overflow __int128 */
    __int128 q = div_round_even((__int128)a * b, TG_DEC_SCALE);

    if (!in_range(q))
        return -ERANGE;
    *out = (tg_dec_t)q;
    return 0;
}

int tg_dec_div(tg_dec_t a, tg_dec_t b, tg_dec_t *out)
{
    __int128 q;

    if (b == 0)
        return -EDOM;
    q = div_round_even((__int128)a * TG_DEC_SCALE, b);
    if (!in_range(q))
        return -ERANGE;
    *out = (tg_dec_t)q;
    return 0;
}

int tg_dec_div_prod(__int128 a, tg_dec_t b, tg_dec_t *out)
{
    if (b == 0)
        return -EDOM;
    /* a has 16 places, b 8: the plain quotient has 8, so one rounding step */
    __int128 q = div_round_even(a, b);
    if (!in_range(q))
        return -ERANGE;
    *out = (tg_dec_t)q;
    return 0;
}

int tg_dec_add(tg_dec_t a, tg_dec_t b, tg_dec_t *out)
{
    tg_dec_t r;

    /* INT64_MIN is outside the type's range too (TG_DEC_MIN = -INT64_MAX) */
    if (__builtin_add_overflow(a, b, &r) || r < TG_DEC_MIN)
        return -ERANGE;
    *out = r;
    return 0;
}

int tg_dec_sub(tg_dec_t a, tg_dec_t b, tg_dec_t *out)
{
    tg_dec_t r;

    if (__builtin_sub_overflow(a, b, &r) || r < TG_DEC_MIN)
        return -ERANGE;
    *out = r;
    return 0;
}

double tg_dec_to_double(tg_dec_t v)
{
    /* Up to 2^53 both operands are exact, so one IEEE division is correctly
     * rounded. Above, v/10^8 = (v/5^8) * 2^-8: split v/5^8 into an exact
     * integer q (< 2^45) and a fraction r/5^8 whose denominator is odd, so it
     * sits at least 2^-38 from any rounding boundary of q's binade while the
     * fraction's own rounding error is below 2^-53: the sum rounds correctly
     * and the 2^-8 scaling is exact. */
    if (v >= -(1LL << 53) && v <= (1LL << 53))
        return (double)v / (double)TG_DEC_SCALE;
    int64_t q = v / 390625, r = v % 390625;
    return ((double)q + (double)r / 390625.0) * 0x1p-8;
}

int tg_dec_from_double(double d, tg_dec_t *out)
{
    char raw[64], txt[64];
    size_t n = 0;
    int prec;

    if (!out)
        return -EINVAL;
    if (!isfinite(d))
        return -ERANGE;
    /* Shortest "%.Ng" that reads back as d, so 0.1 is "0.1", not the binary
     * value's long expansion. The check uses strtod on the raw text so both
     * sides agree on the locale's decimal point. */
    for (prec = 1; prec <= 17; prec++) {
        snprintf(raw, sizeof raw, "%.*g", prec, d);
        if (strtod(raw, NULL) == d)
            break;
    }
    if (prec > 17)
        snprintf(raw, sizeof raw, "%.17g", d);
    /* Normalise whatever the locale used as decimal point to '.'. */
    for (const char *p = raw; *p && n < sizeof txt - 1;) {
        if (is_digit(*p) || *p == '-' || *p == '+' || *p == 'e' || *p == 'E') {
            txt[n++] = *p++;
            continue;
        }
        txt[n++] = '.';
        while (*p && !is_digit(*p))
            p++;
    }
    txt[n] = '\0';
    int rc = tg_dec_parse_round(txt, n, out);
    return rc == -ERANGE || rc == 0 ? rc : -ERANGE;
}
