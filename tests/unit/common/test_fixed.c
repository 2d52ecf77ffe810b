/* test_fixed.c - exact decimal fixed-point: parsing, printing, arithmetic, rounding. */
#include "tickgate/fixed.h"
#include "tg_test.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>

#define P(str, out) tg_dec_parse((str), strlen(str), (out))
#define PR(str, out) tg_dec_parse_round((str), strlen(str), (out))

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* parse must succeed and give exactly `want` (in 1e-8 units) */
static void check_parse(const char *s, tg_dec_t want, int line)
{
    tg_dec_t v = 12345;
    int rc = P(s, &v);
    if (rc != 0 || v != want) {
        fprintf(stderr, "%s:%d: parse(\"%s\") = %d, %lld; want %lld\n", __FILE__, line, s, rc,
                (long long)v, (long long)want);
        tg__failures++;
    }
    tg__checks++;
}
#define CHECK_PARSE(s, want) check_parse((s), (want), __LINE__)

static void check_parse_err(const char *s, int want_rc, int line)
{
    tg_dec_t v = 777;
    int rc = P(s, &v);
    if (rc != want_rc || v != 777) {
        fprintf(stderr, "%s:%d: parse(\"%s\") = %d (out %lld); want %d, out untouched\n",
                __FILE__, line, s, rc, (long long)v, want_rc);
        tg__failures++;
    }
    tg__checks++;
}
#define CHECK_PARSE_ERR(s, rc) check_parse_err((s), (rc), __LINE__)

static void check_round(const char *s, tg_dec_t want, int line)
{
    tg_dec_t v = 12345;
    int rc = PR(s, &v);
    if (rc != 0 || v != want) {
        fprintf(stderr, "%s:%d: parse_round(\"%s\") = %d, %lld; want %lld\n", __FILE__, line, s,
                rc, (long long)v, (long long)want);
        tg__failures++;
    }
    tg__checks++;
}
#define CHECK_ROUND(s, want) check_round((s), (want), __LINE__)

static const char *fmt(tg_dec_t v, char *buf)
{
    size_t n = tg_dec_format(v, buf);
    TG_CHECK(n == strlen(buf));
    TG_CHECK(n <= TG_DEC_STRLEN);
    return buf;
}

TG_TEST(parse_basic)
{
    CHECK_PARSE("0", 0);
    CHECK_PARSE("-0", 0);
    CHECK_PARSE("0.0", 0);
    CHECK_PARSE("189.53", 18953000000LL);
    CHECK_PARSE("-0.5", -50000000LL);
    CHECK_PARSE("+1", TG_DEC(1));
    CHECK_PARSE("1e-3", 100000LL);
    CHECK_PARSE("2.5E+2", TG_DEC(250));
    CHECK_PARSE("2.5e2", TG_DEC(250));
}

TG_TEST(parse_exponent_and_places)
{
    tg_dec_t v;

    CHECK_PARSE("0.00000001", 1);
    CHECK_PARSE("1e-8", 1);
    CHECK_PARSE("10e-9", 1);
    CHECK_PARSE("0.000000010000", 1);      /* trailing zeros beyond 8 places are exact */
    CHECK_PARSE("1.5000000000000e0", 150000000LL);
    CHECK_PARSE("0.0000000000e999", 0);
    CHECK_PARSE("0e999999999", 0);
    CHECK_PARSE("0e-999999999", 0);
    CHECK_PARSE_ERR("0.000000001", -EDOM);
    CHECK_PARSE_ERR("1e-9", -EDOM);
    CHECK_PARSE_ERR("1.000000001", -EDOM);
    CHECK_PARSE_ERR("1e-999999999", -EDOM);
    CHECK_PARSE_ERR("1e999999999", -ERANGE);
    CHECK_PARSE_ERR("1e99999999999999999999999999999999999", -ERANGE);
    CHECK_PARSE_ERR("-1e+999999999", -ERANGE);
    /* exponent far out but the mantissa compensates: must not be fooled by clamping */
    CHECK_PARSE("0.000000000000000000000000000000000000000000000000001e51", TG_DEC(1));
    CHECK_PARSE("100000000000000000000e-20", TG_DEC(1));
    /* 12345e-10 = 0.0000012345: 10 places -> EDOM */
    TG_CHECK_EQ_INT(P("12345e-10", &v), -EDOM);
}

TG_TEST(parse_limits)
{
    CHECK_PARSE("92233720368.54775807", TG_DEC_MAX);
    CHECK_PARSE("-92233720368.54775807", TG_DEC_MIN);
    CHECK_PARSE("9223372036854775807e-8", TG_DEC_MAX);
    CHECK_PARSE_ERR("92233720368.54775808", -ERANGE);
    CHECK_PARSE_ERR("-92233720368.54775808", -ERANGE); /* INT64_MIN is never produced */
    CHECK_PARSE_ERR("100000000000", -ERANGE);
    CHECK_PARSE_ERR("99999999999999999999", -ERANGE);
    CHECK_PARSE_ERR("99999999999", -ERANGE);
    CHECK_PARSE("92233720368", TG_DEC(92233720368LL));
}

TG_TEST(parse_malformed)
{
    static const char *bad[] = {
        "",    "-",   "+",   "1.",   ".5",   "5.",   "1e",   "1e+",  "1e-", "e5",   "nan",
        "NaN", "inf", "-inf", "Infinity", "0x10", " 1", "1 ",  "1 .5", "1.2.3", "--1", "+-1",
        "1e5.5", "1,5", "١", "1_000", "0b1", "1e 5", "\t1", "1\n", ".", "-.5", "1ee5", "1E+-5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_PARSE_ERR(bad[i], -EINVAL);

    /* syntax errors win over range/precision errors */
    CHECK_PARSE_ERR("1e999999999x", -EINVAL);
    CHECK_PARSE_ERR("0.0000000001 ", -EINVAL);

    /* only len bytes are read: a valid prefix of a longer buffer */
    tg_dec_t v = 0;
    TG_CHECK_EQ_INT(tg_dec_parse("12.5xyz", 4, &v), 0);
    TG_CHECK_EQ_INT(v, 1250000000LL);
    TG_CHECK_EQ_INT(tg_dec_parse("12.5", 0, &v), -EINVAL);
    /* embedded NUL is junk */
    TG_CHECK_EQ_INT(tg_dec_parse("1\0" "2", 3, &v), -EINVAL);
    TG_CHECK_EQ_INT(tg_dec_parse(NULL, 0, &v), -EINVAL);
}

TG_TEST(parse_leading_zeros_accepted)
{
    /* Documented: accepted, because tg_dec_parse also reads config and CSV. */
    CHECK_PARSE("007", TG_DEC(7));
    CHECK_PARSE("-007.50", -750000000LL);
    CHECK_PARSE("00000000000000000000000000000000000000001", TG_DEC(1));
    CHECK_PARSE("0000.00000001", 1);
}

TG_TEST(parse_long_strings)
{
    enum { N = 200000 };
    char *s = malloc(N + 16);
    tg_dec_t v;

    TG_CHECK(s != NULL);
    if (!s)
        return;
    /* 200k digits: out of range, fast */
    memset(s, '9', N);
    TG_CHECK_EQ_INT(tg_dec_parse(s, N, &v), -ERANGE);
    /* "0.000...0001": too many places */
    memset(s, '0', N);
    s[1] = '.';
    s[N - 1] = '1';
    TG_CHECK_EQ_INT(tg_dec_parse(s, N, &v), -EDOM);
    TG_CHECK_EQ_INT(tg_dec_parse_round(s, N, &v), 0);
    TG_CHECK_EQ_INT(v, 0);
    /* "1.000...000": exact */
    memset(s, '0', N);
    s[0] = '1';
    s[1] = '.';
    TG_CHECK_EQ_INT(tg_dec_parse(s, N, &v), 0);
    TG_CHECK_EQ_INT(v, TG_DEC(1));
    /* "0.5000...0001" rounds up (not a tie) */
    s[0] = '0';
    s[2] = '0';
    s[10] = '5'; /* 5 in the 9th place: 0.000000005000...0001 */
    s[N - 1] = '1';
    TG_CHECK_EQ_INT(tg_dec_parse_round(s, N, &v), 0);
    TG_CHECK_EQ_INT(v, 1);
    /* long exponent digit string with a small value */
    memcpy(s, "1e", 2);
    memset(s + 2, '0', N - 3);
    s[N - 1] = '2';
    TG_CHECK_EQ_INT(tg_dec_parse(s, N, &v), 0);
    TG_CHECK_EQ_INT(v, TG_DEC(100));
    free(s);
}

TG_TEST(parse_round_half_even)
{
    CHECK_ROUND("0.000000005", 0);   /* tie -> even 0 */
    CHECK_ROUND("0.000000015", 2);   /* tie -> even 2 */
    CHECK_ROUND("0.000000025", 2);   /* tie -> even 2 */
    CHECK_ROUND("0.0000000250000000000001", 3);
    CHECK_ROUND("0.000000035", 4);
    CHECK_ROUND("-0.000000005", 0);
    CHECK_ROUND("-0.000000015", -2);
    CHECK_ROUND("-0.000000025", -2);
    CHECK_ROUND("-0.000000035", -4);
    CHECK_ROUND("0.0000000049999", 0);
    CHECK_ROUND("0.0000000051", 1);
    CHECK_ROUND("1.123456785", 112345678LL);
    CHECK_ROUND("1.123456775", 112345678LL);
    CHECK_ROUND("1.1234567750000", 112345678LL);
    CHECK_ROUND("0.00000000049", 0); /* far below half an ulp */
    CHECK_ROUND("5e-9", 0);
    CHECK_ROUND("15e-9", 2);
    CHECK_ROUND("0.1", 10000000LL);
    CHECK_ROUND("92233720368.547758074", TG_DEC_MAX);
    CHECK_ROUND("9.9999999999", TG_DEC(10)); /* carry across all places */

    tg_dec_t v = 5;
    TG_CHECK_EQ_INT(PR("92233720368.547758075", &v), -ERANGE); /* rounds to ...808 */
    TG_CHECK_EQ_INT(PR("1.", &v), -EINVAL);
    TG_CHECK_EQ_INT(v, 5);
}

TG_TEST(format_basic)
{
    char b[TG_DEC_STRLEN + 1];

    TG_CHECK_EQ_STR(fmt(0, b), "0");
    TG_CHECK_EQ_STR(fmt(TG_DEC(1200), b), "1200");
    TG_CHECK_EQ_STR(fmt(18710000000LL, b), "187.1");
    TG_CHECK_EQ_STR(fmt(12000, b), "0.00012");
    TG_CHECK_EQ_STR(fmt(1, b), "0.00000001");
    TG_CHECK_EQ_STR(fmt(-1, b), "-0.00000001");
    TG_CHECK_EQ_STR(fmt(-50000000LL, b), "-0.5");
    TG_CHECK_EQ_STR(fmt(18953000000LL, b), "189.53");
    TG_CHECK_EQ_STR(fmt(TG_DEC_MAX, b), "92233720368.54775807");
    TG_CHECK_EQ_STR(fmt(TG_DEC_MIN, b), "-92233720368.54775807");
    TG_CHECK_EQ_STR(fmt(INT64_MIN, b), "-92233720368.54775808"); /* not produced, but safe */
    TG_CHECK_EQ_STR(fmt(TG_DEC(-7), b), "-7");
    TG_CHECK_EQ_STR(fmt(10, b), "0.0000001");
}

TG_TEST(format_round_trip_random)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    char b[TG_DEC_STRLEN + 1];

    for (int i = 0; i < 200000; i++) {
        uint64_t x = xorshift(&seed);
        tg_dec_t v;

        /* mix full-range values with small ones and round numbers */
        switch (i % 4) {
        case 0: v = (tg_dec_t)(x >> 1); break;
        case 1: v = (tg_dec_t)(x % 100000000000ULL); break;
        case 2: v = (tg_dec_t)(x % 100000) * 1000; break;
        default: v = (tg_dec_t)((x >> 20) % 1000000) * TG_DEC_SCALE; break;
        }
        if (x & (1ULL << 62))
            v = -v;
        if (v == INT64_MIN)
            v = TG_DEC_MIN;
        size_t n = tg_dec_format(v, b);
        tg_dec_t back = 0;
        int rc = tg_dec_parse(b, n, &back);
        if (rc != 0 || back != v || (n > 1 && b[n - 1] == '0' && strchr(b, '.'))) {
            TG_CHECK_EQ_INT(rc, 0);
            TG_CHECK_EQ_INT(back, v);
            break;
        }
    }
    tg__checks++;
}

TG_TEST(add_sub_overflow)
{
    tg_dec_t v = 42;

    TG_CHECK_EQ_INT(tg_dec_add(TG_DEC(1), TG_DEC(2), &v), 0);
    TG_CHECK_EQ_INT(v, TG_DEC(3));
    TG_CHECK_EQ_INT(tg_dec_add(-5, 3, &v), 0);
    TG_CHECK_EQ_INT(v, -2);
    TG_CHECK_EQ_INT(tg_dec_add(TG_DEC_MAX, 0, &v), 0);
    TG_CHECK_EQ_INT(v, TG_DEC_MAX);
    v = 42;
    TG_CHECK_EQ_INT(tg_dec_add(TG_DEC_MAX, 1, &v), -ERANGE);
    TG_CHECK_EQ_INT(tg_dec_add(TG_DEC_MIN, -1, &v), -ERANGE); /* would be INT64_MIN */
    TG_CHECK_EQ_INT(tg_dec_add(TG_DEC_MIN, TG_DEC_MIN, &v), -ERANGE);
    TG_CHECK_EQ_INT(v, 42);
    TG_CHECK_EQ_INT(tg_dec_add(TG_DEC_MAX, TG_DEC_MIN, &v), 0);
    TG_CHECK_EQ_INT(v, 0);

    TG_CHECK_EQ_INT(tg_dec_sub(TG_DEC(1), TG_DEC(3), &v), 0);
    TG_CHECK_EQ_INT(v, TG_DEC(-2));
    v = 42;
    TG_CHECK_EQ_INT(tg_dec_sub(TG_DEC_MIN, 1, &v), -ERANGE);
    TG_CHECK_EQ_INT(tg_dec_sub(TG_DEC_MAX, -1, &v), -ERANGE);
    TG_CHECK_EQ_INT(tg_dec_sub(0, TG_DEC_MIN, &v), 0);
    TG_CHECK_EQ_INT(v, TG_DEC_MAX);
    TG_CHECK_EQ_INT(tg_dec_sub(-2, TG_DEC_MAX, &v), -ERANGE);
}

TG_TEST(mul)
{
    tg_dec_t v = 42;

    TG_CHECK_EQ_INT(tg_dec_mul(TG_DEC(100), 18953000000LL, &v), 0); /* 100 x 189.53 */
    TG_CHECK_EQ_INT(v, TG_DEC(18953));
    TG_CHECK_EQ_INT(tg_dec_mul(TG_DEC(-100), 18953000000LL, &v), 0); /* short position */
    TG_CHECK_EQ_INT(v, TG_DEC(-18953));
    TG_CHECK_EQ_INT(tg_dec_mul(0, TG_DEC_MAX, &v), 0);
    TG_CHECK_EQ_INT(v, 0);
    TG_CHECK_EQ_INT(tg_dec_mul(TG_DEC(1), TG_DEC_MAX, &v), 0);
    TG_CHECK_EQ_INT(v, TG_DEC_MAX);
    TG_CHECK_EQ_INT(tg_dec_mul(TG_DEC(-1), TG_DEC_MAX, &v), 0);
    TG_CHECK_EQ_INT(v, TG_DEC_MIN);
    /* ties: 0.00000001 * 0.5 = 0.000000005 -> 0; 0.00000003 * 0.5 -> 0.00000002 */
    TG_CHECK_EQ_INT(tg_dec_mul(1, 50000000LL, &v), 0);
    TG_CHECK_EQ_INT(v, 0);
    TG_CHECK_EQ_INT(tg_dec_mul(3, 50000000LL, &v), 0);
    TG_CHECK_EQ_INT(v, 2);
    TG_CHECK_EQ_INT(tg_dec_mul(5, 50000000LL, &v), 0);
    TG_CHECK_EQ_INT(v, 2);
    TG_CHECK_EQ_INT(tg_dec_mul(-3, 50000000LL, &v), 0);
    TG_CHECK_EQ_INT(v, -2);
    TG_CHECK_EQ_INT(tg_dec_mul(-1, 50000000LL, &v), 0);
    TG_CHECK_EQ_INT(v, 0);
    TG_CHECK_EQ_INT(tg_dec_mul(3, -50000000LL, &v), 0);
    TG_CHECK_EQ_INT(v, -2);
    TG_CHECK_EQ_INT(tg_dec_mul(7, 10000000LL, &v), 0); /* 0.7e-8 -> 1 */
    TG_CHECK_EQ_INT(v, 1);
    TG_CHECK_EQ_INT(tg_dec_mul(-7, 10000000LL, &v), 0);
    TG_CHECK_EQ_INT(v, -1);
    /* overflow */
    v = 42;
    TG_CHECK_EQ_INT(tg_dec_mul(TG_DEC_MAX, TG_DEC_MAX, &v), -ERANGE);
    TG_CHECK_EQ_INT(tg_dec_mul(TG_DEC_MIN, TG_DEC_MAX, &v), -ERANGE);
    TG_CHECK_EQ_INT(tg_dec_mul(TG_DEC(1000000), TG_DEC(1000000), &v), -ERANGE);
    TG_CHECK_EQ_INT(tg_dec_mul(TG_DEC_MAX, TG_DEC(1) + 1, &v), -ERANGE);
    TG_CHECK_EQ_INT(v, 42);
    /* large but fine: 300000 * 300000 */
    TG_CHECK_EQ_INT(tg_dec_mul(TG_DEC(300000), TG_DEC(300000), &v), 0);
    TG_CHECK_EQ_INT(v, TG_DEC(90000000000LL));
}

TG_TEST(div)
{
    tg_dec_t v = 42;

    TG_CHECK_EQ_INT(tg_dec_div(TG_DEC(1), 0, &v), -EDOM);
    TG_CHECK_EQ_INT(tg_dec_div(0, 0, &v), -EDOM);
    TG_CHECK_EQ_INT(v, 42);
    TG_CHECK_EQ_INT(tg_dec_div(TG_DEC(1), TG_DEC(3), &v), 0);
    TG_CHECK_EQ_INT(v, 33333333LL);
    TG_CHECK_EQ_INT(tg_dec_div(TG_DEC(2), TG_DEC(3), &v), 0);
    TG_CHECK_EQ_INT(v, 66666667LL);
    TG_CHECK_EQ_INT(tg_dec_div(TG_DEC(-2), TG_DEC(3), &v), 0);
    TG_CHECK_EQ_INT(v, -66666667LL);
    TG_CHECK_EQ_INT(tg_dec_div(TG_DEC(2), TG_DEC(-3), &v), 0);
    TG_CHECK_EQ_INT(v, -66666667LL);
    TG_CHECK_EQ_INT(tg_dec_div(TG_DEC(-2), TG_DEC(-3), &v), 0);
    TG_CHECK_EQ_INT(v, 66666667LL);
    /* ties: 1e-8 / 2 -> 0, 3e-8 / 2 -> 2e-8, negatives symmetric */
    TG_CHECK_EQ_INT(tg_dec_div(1, TG_DEC(2), &v), 0);
    TG_CHECK_EQ_INT(v, 0);
    TG_CHECK_EQ_INT(tg_dec_div(3, TG_DEC(2), &v), 0);
    TG_CHECK_EQ_INT(v, 2);
    TG_CHECK_EQ_INT(tg_dec_div(-3, TG_DEC(2), &v), 0);
    TG_CHECK_EQ_INT(v, -2);
    TG_CHECK_EQ_INT(tg_dec_div(5, TG_DEC(-2), &v), 0);
    TG_CHECK_EQ_INT(v, -2);
    TG_CHECK_EQ_INT(tg_dec_div(TG_DEC_MAX, TG_DEC(1), &v), 0);
    TG_CHECK_EQ_INT(v, TG_DEC_MAX);
    TG_CHECK_EQ_INT(tg_dec_div(TG_DEC_MIN, TG_DEC(-1), &v), 0);
    TG_CHECK_EQ_INT(v, TG_DEC_MAX);
    /* pnl_pct style: 1234.56 / 15000 */
    TG_CHECK_EQ_INT(tg_dec_div(123456000000LL, TG_DEC(15000), &v), 0);
    TG_CHECK_EQ_INT(v, 8230400LL); /* 0.082304 */
    v = 42;
    TG_CHECK_EQ_INT(tg_dec_div(TG_DEC_MAX, 1, &v), -ERANGE);
    TG_CHECK_EQ_INT(tg_dec_div(TG_DEC(1000), 1, &v), -ERANGE);
    TG_CHECK_EQ_INT(tg_dec_div(TG_DEC_MIN, 50000000LL, &v), -ERANGE);
    TG_CHECK_EQ_INT(v, 42);
}

/* Reference: round(n/d) half-even by exact floor arithmetic, d > 0. */
static __int128 ref_div(__int128 n, __int128 d)
{
    __int128 f = n / d - ((n % d != 0) && (n < 0)); /* floor */
    __int128 rem2 = 2 * (n - f * d);                 /* in [0, 2d) */
    if (rem2 > d || (rem2 == d && (f & 1)))
        f++;
    return f;
}

TG_TEST(mul_div_random_vs_reference)
{
    uint64_t seed = 12345;

    for (int i = 0; i < 200000; i++) {
        tg_dec_t a = (tg_dec_t)(xorshift(&seed) % 2000000000000ULL) - 1000000000000LL;
        tg_dec_t b = (tg_dec_t)(xorshift(&seed) % 20000000000ULL) - 10000000000LL;
        tg_dec_t v;
        __int128 want = ref_div((__int128)a * b, TG_DEC_SCALE);
        int rc = tg_dec_mul(a, b, &v);
        int ok = want > TG_DEC_MAX || want < TG_DEC_MIN ? rc == -ERANGE : (rc == 0 && v == want);
        if (!ok) {
            fprintf(stderr, "mul(%lld, %lld) rc=%d v=%lld\n", (long long)a, (long long)b, rc,
                    (long long)v);
            TG_CHECK(ok);
            break;
        }
        if (b != 0) {
            __int128 nn = (__int128)a * TG_DEC_SCALE, dd = b;
            if (dd < 0) {
                nn = -nn;
                dd = -dd;
            }
            want = ref_div(nn, dd);
            rc = tg_dec_div(a, b, &v);
            ok = want > TG_DEC_MAX || want < TG_DEC_MIN ? rc == -ERANGE : (rc == 0 && v == want);
            if (!ok) {
                fprintf(stderr, "div(%lld, %lld) rc=%d v=%lld\n", (long long)a, (long long)b, rc,
                        (long long)v);
                TG_CHECK(ok);
                break;
            }
        }
    }
    tg__checks++;
}

TG_TEST(double_conversions)
{
    tg_dec_t v = 42;

    TG_CHECK_EQ_INT(tg_dec_from_double(0.1, &v), 0);
    TG_CHECK_EQ_INT(v, 10000000LL);
    TG_CHECK_EQ_INT(tg_dec_from_double(189.53, &v), 0);
    TG_CHECK_EQ_INT(v, 18953000000LL);
    TG_CHECK_EQ_INT(tg_dec_from_double(-0.05, &v), 0);
    TG_CHECK_EQ_INT(v, -5000000LL);
    TG_CHECK_EQ_INT(tg_dec_from_double(0.0, &v), 0);
    TG_CHECK_EQ_INT(v, 0);
    TG_CHECK_EQ_INT(tg_dec_from_double(-0.0, &v), 0);
    TG_CHECK_EQ_INT(v, 0);
    TG_CHECK_EQ_INT(tg_dec_from_double(1e-300, &v), 0);
    TG_CHECK_EQ_INT(v, 0);
    TG_CHECK_EQ_INT(tg_dec_from_double(2.5e-8, &v), 0); /* shortest text is a tie: to even */
    TG_CHECK_EQ_INT(v, 2);
    TG_CHECK_EQ_INT(tg_dec_from_double(1.23456789123, &v), 0);
    TG_CHECK_EQ_INT(v, 123456789LL);
    TG_CHECK_EQ_INT(tg_dec_from_double(1e10, &v), 0);
    TG_CHECK_EQ_INT(v, TG_DEC(10000000000LL));
    v = 42;
    TG_CHECK_EQ_INT(tg_dec_from_double(1e12, &v), -ERANGE);
    TG_CHECK_EQ_INT(tg_dec_from_double(-1e300, &v), -ERANGE);
    TG_CHECK_EQ_INT(tg_dec_from_double(NAN, &v), -ERANGE);
    TG_CHECK_EQ_INT(tg_dec_from_double(INFINITY, &v), -ERANGE);
    TG_CHECK_EQ_INT(tg_dec_from_double(-INFINITY, &v), -ERANGE);
    TG_CHECK_EQ_INT(v, 42);

    TG_CHECK(tg_dec_to_double(18953000000LL) == 189.53);
    TG_CHECK(tg_dec_to_double(10000000LL) == 0.1);
    TG_CHECK(tg_dec_to_double(-50000000LL) == -0.5);
    TG_CHECK(tg_dec_to_double(0) == 0.0);
    TG_CHECK(tg_dec_to_double(TG_DEC_MAX) == 92233720368.54775807);
    TG_CHECK(tg_dec_to_double(TG_DEC_MIN) == -92233720368.54775807);

    /* to_double is the nearest double: compare with strtod of the exact text */
    uint64_t seed = 777;
    char b[TG_DEC_STRLEN + 1];
    for (int i = 0; i < 100000; i++) {
        tg_dec_t x = (tg_dec_t)(xorshift(&seed) >> 1);
        if (i & 1)
            x = -x;
        if (i & 2)
            x %= 1000000000000000LL;
        tg_dec_format(x, b);
        double want = strtod(b, NULL);
        if (tg_dec_to_double(x) != want) {
            fprintf(stderr, "to_double(%s) = %.17g, want %.17g\n", b, tg_dec_to_double(x), want);
            TG_CHECK(0);
            break;
        }
        /* up to 15 significant digits every decimal survives a trip through double */
        if ((i & 2) && (tg_dec_from_double(want, &v) != 0 || v != x)) {
            fprintf(stderr, "from_double(%.17g) = %lld, want %s\n", want, (long long)v, b);
            TG_CHECK(0);
            break;
        }
    }
    tg__checks++;
}

int main(void)
{
    return tg_test_run();
}
