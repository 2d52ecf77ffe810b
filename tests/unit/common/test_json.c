/* test_json.c - unit tests for the strict JSON layer (src/common/json.c):
 * good documents and accessors, truncated/malformed/hostile input, number
 * grammar, UTF-8 and escapes, exact decimals. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/json.h"

static int parse(tg_json_t *j, const char *s)
{
    return tg_json_parse(j, s, strlen(s), 0, 0);
}

static int parse1(const char *s)
{
    tg_json_t j = {0};
    int rc = parse(&j, s);
    tg_json_free(&j);
    return rc;
}

static int parse_n(const char *s, size_t n)
{
    tg_json_t j = {0};
    int rc = tg_json_parse(&j, s, n, 0, 0);
    tg_json_free(&j);
    return rc;
}

static const char *GOOD =
    "{\"type\":\"trade\",\"data\":[{\"s\":\"AAPL\",\"p\":189.53,\"t\":1700000000123,\"v\":100,"
    "\"c\":[\"1\",\"12\"]},{\"s\":\"BINANCE:BTCUSDT\",\"p\":\"43000.1\",\"t\":1,\"v\":0.5,"
    "\"c\":null}],\"ok\":true,\"no\":false,\"nested\":{\"a\":{\"b\":[[],{}]}},\"e\":\"\"}";

TG_TEST(good_document_accessors)
{
    tg_json_t j = {0};
    TG_CHECK_EQ_INT(parse(&j, GOOD), 0);
    TG_CHECK_EQ_INT(tg_json_type(&j, 0), TG_JSON_OBJECT);
    TG_CHECK_EQ_INT(tg_json_size(&j, 0), 6);
    TG_CHECK(tg_json_str_eq(&j, tg_json_get(&j, 0, "type"), "trade"));
    TG_CHECK(!tg_json_str_eq(&j, tg_json_get(&j, 0, "type"), "trad"));
    TG_CHECK(!tg_json_str_eq(&j, tg_json_get(&j, 0, "type"), "trades"));
    tg_json_ref_t data = tg_json_get(&j, 0, "data");
    TG_CHECK_EQ_INT(tg_json_type(&j, data), TG_JSON_ARRAY);
    TG_CHECK_EQ_INT(tg_json_size(&j, data), 2);

    tg_json_ref_t e0 = tg_json_at(&j, data, 0), e1 = tg_json_at(&j, data, 1);
    TG_CHECK_EQ_INT(tg_json_at(&j, data, 2), -1);
    TG_CHECK_EQ_INT(tg_json_at(&j, data, -1), -1);
    TG_CHECK(tg_json_str_eq(&j, tg_json_get(&j, e0, "s"), "AAPL"));
    TG_CHECK(tg_json_str_eq(&j, tg_json_get(&j, e1, "s"), "BINANCE:BTCUSDT"));
    /* the nested "c" array of e0 must be skipped correctly */
    TG_CHECK_EQ_INT(tg_json_type(&j, tg_json_get(&j, e1, "c")), TG_JSON_NULL);

    tg_dec_t d;
    TG_CHECK_EQ_INT(tg_json_dec(&j, tg_json_get(&j, e0, "p"), &d), 0);
    TG_CHECK_EQ_INT(d, 18953000000LL);
    TG_CHECK_EQ_INT(tg_json_dec(&j, tg_json_get(&j, e1, "p"), &d), 0);
    TG_CHECK_EQ_INT(d, 4300010000000LL);
    TG_CHECK_EQ_INT(tg_json_dec(&j, tg_json_get(&j, e1, "v"), &d), 0);
    TG_CHECK_EQ_INT(d, 50000000);
    int64_t t;
    TG_CHECK_EQ_INT(tg_json_i64(&j, tg_json_get(&j, e0, "t"), &t), 0);
    TG_CHECK_EQ_INT(t, 1700000000123LL);

    bool b = false;
    TG_CHECK_EQ_INT(tg_json_bool(&j, tg_json_get(&j, 0, "ok"), &b), 0);
    TG_CHECK(b);
    TG_CHECK_EQ_INT(tg_json_bool(&j, tg_json_get(&j, 0, "no"), &b), 0);
    TG_CHECK(!b);
    TG_CHECK_EQ_INT(tg_json_bool(&j, tg_json_get(&j, 0, "type"), &b), -EINVAL);
    TG_CHECK_EQ_INT(tg_json_get(&j, 0, "missing"), -1);
    TG_CHECK_EQ_INT(tg_json_get(&j, data, "s"), -1); /* not an object */
    TG_CHECK_EQ_INT(tg_json_type(&j, -1), TG_JSON_INVALID);
    TG_CHECK_EQ_INT(tg_json_type(&j, 100000), TG_JSON_INVALID);

    tg_json_ref_t nested = tg_json_get(&j, 0, "nested");
    tg_json_ref_t bb = tg_json_get(&j, tg_json_get(&j, nested, "a"), "b");
    TG_CHECK_EQ_INT(tg_json_size(&j, bb), 2);
    TG_CHECK_EQ_INT(tg_json_type(&j, tg_json_at(&j, bb, 0)), TG_JSON_ARRAY);
    TG_CHECK_EQ_INT(tg_json_type(&j, tg_json_at(&j, bb, 1)), TG_JSON_OBJECT);
    TG_CHECK_EQ_INT(tg_json_size(&j, tg_json_at(&j, bb, 1)), 0);

    tg_json_ref_t e = tg_json_get(&j, 0, "e");
    char buf[8];
    size_t n = 99;
    TG_CHECK_EQ_INT(tg_json_str(&j, e, buf, sizeof buf, &n), 0);
    TG_CHECK_EQ_INT(n, 0);
    TG_CHECK(tg_json_str_eq(&j, e, ""));

    size_t rl;
    const char *raw = tg_json_raw(&j, tg_json_get(&j, e0, "p"), &rl);
    TG_CHECK(rl == 6 && memcmp(raw, "189.53", 6) == 0);

    /* iteration visits members in order, values included */
    const char *keys[] = {"type", "data", "ok", "no", "nested", "e"};
    int it = 0, i = 0;
    tg_json_ref_t k, v;
    while ((k = tg_json_next_member(&j, 0, &it, &v)) >= 0) {
        TG_CHECK(i < 6 && tg_json_str_eq(&j, k, keys[i]));
        TG_CHECK(v == tg_json_get(&j, 0, keys[i]));
        i++;
    }
    TG_CHECK_EQ_INT(i, 6);
    TG_CHECK_EQ_INT(tg_json_next_member(&j, 0, &it, &v), -1); /* stays at end */
    it = 0;
    i = 0;
    while ((k = tg_json_next_elem(&j, data, &it)) >= 0)
        i++;
    TG_CHECK_EQ_INT(i, 2);
    it = 0;
    TG_CHECK_EQ_INT(tg_json_next_elem(&j, 0, &it), -1); /* object is not an array */
    it = 0;
    TG_CHECK_EQ_INT(tg_json_next_elem(&j, tg_json_at(&j, bb, 0), &it), -1); /* empty */

    /* object values by index */
    TG_CHECK_EQ_INT(tg_json_at(&j, 0, 1), data);
    tg_json_free(&j);
    tg_json_free(&j); /* idempotent */
    tg_json_free(NULL);
}

TG_TEST(root_scalars_and_whitespace)
{
    tg_json_t j = {0};
    int64_t v;
    TG_CHECK_EQ_INT(parse(&j, "42"), 0);
    TG_CHECK_EQ_INT(tg_json_type(&j, 0), TG_JSON_NUMBER);
    TG_CHECK_EQ_INT(tg_json_i64(&j, 0, &v), 0);
    TG_CHECK_EQ_INT(v, 42);
    TG_CHECK_EQ_INT(parse(&j, " \t\r\n-7 \n"), 0);
    TG_CHECK_EQ_INT(tg_json_i64(&j, 0, &v), 0);
    TG_CHECK_EQ_INT(v, -7);
    TG_CHECK_EQ_INT(parse(&j, "\"x\""), 0);
    TG_CHECK(tg_json_str_eq(&j, 0, "x"));
    TG_CHECK_EQ_INT(parse(&j, "true"), 0);
    TG_CHECK_EQ_INT(tg_json_type(&j, 0), TG_JSON_TRUE);
    TG_CHECK_EQ_INT(parse(&j, " null "), 0);
    TG_CHECK_EQ_INT(tg_json_type(&j, 0), TG_JSON_NULL);
    TG_CHECK_EQ_INT(parse(&j, "false"), 0);
    TG_CHECK_EQ_INT(tg_json_type(&j, 0), TG_JSON_FALSE);
    TG_CHECK_EQ_INT(parse(&j, "[]"), 0);
    TG_CHECK_EQ_INT(tg_json_size(&j, 0), 0);
    TG_CHECK_EQ_INT(parse(&j, " { } "), 0);
    TG_CHECK_EQ_INT(tg_json_type(&j, 0), TG_JSON_OBJECT);
    tg_json_free(&j);
}

TG_TEST(truncated_every_prefix)
{
    size_t n = strlen(GOOD);
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (parse_n(GOOD, i) != -EINVAL)
            bad++;
    TG_CHECK_EQ_INT(bad, 0);
    TG_CHECK_EQ_INT(parse_n(GOOD, n), 0);
    TG_CHECK_EQ_INT(parse1(""), -EINVAL);
    TG_CHECK_EQ_INT(parse1("   "), -EINVAL);
    TG_CHECK_EQ_INT(parse1("\"abc"), -EINVAL);
    TG_CHECK_EQ_INT(parse1("\"abc\\"), -EINVAL);
    TG_CHECK_EQ_INT(parse1("\"\\u12"), -EINVAL);
    TG_CHECK_EQ_INT(parse1("tru"), -EINVAL);
    TG_CHECK_EQ_INT(parse1("[1,"), -EINVAL);
    TG_CHECK_EQ_INT(parse1("{\"a\":"), -EINVAL);
}

TG_TEST(malformed)
{
    static const char *cases[] = {
        "[1 2]", "[1,]", "[,1]", "[,]", "{\"a\" 1}", "{\"a\":1,}", "{,}", "{\"a\"}", "{1:2}",
        "{\"a\":1 \"b\":2}", "{[]:1}", "{{}:1}", "[1]]", "]", "}", "[}", "{]", "{\"a\":1]",
        "1 2", "[] []", "{}x", "\"a\"\"b\"", "truex", "True", "nul", "nulll", "[true false]",
        "'a'", "[undefined]", "[NaN]", "[Infinity]", "[-Infinity]", "{\"a\":1}}", ":", ",",
        "[1:2]", "{\"a\"::1}", "{\"a\":1:2}", "/* c */ 1", "[1]//", "\xef\xbb\xbf[1]",
        "[\"a\",,\"b\"]", "{\"a\",\"b\"}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse1(cases[i]);
        if (rc != -EINVAL)
            fprintf(stderr, "  accepted/odd (%d): %s\n", rc, cases[i]);
        TG_CHECK_EQ_INT(rc, -EINVAL);
    }
    /* embedded NUL outside and inside strings */
    TG_CHECK_EQ_INT(parse_n("[1]\0", 4), -EINVAL);
    TG_CHECK_EQ_INT(parse_n("[\0]", 3), -EINVAL);
    TG_CHECK_EQ_INT(parse_n("\"a\0b\"", 5), -EINVAL);
    /* bad args */
    tg_json_t j = {0};
    TG_CHECK_EQ_INT(tg_json_parse(NULL, "1", 1, 0, 0), -EINVAL);
    TG_CHECK_EQ_INT(tg_json_parse(&j, NULL, 1, 0, 0), -EINVAL);
    TG_CHECK_EQ_INT(tg_json_parse(&j, "1", 1, -1, 0), -EINVAL);
    tg_json_free(&j);
}

TG_TEST(number_grammar)
{
    static const char *bad[] = {
        "01", "-01", "00", "1.", "-", "1e", "1e+", "1E-", ".5", "+1", "-.5", "1.e5", "0x10",
        "1_000", "--1", "1..2", "1.2.3", "1e5.5", "- 1", "1ee5", "[01]", "[1.]", "[-]", "[1e]",
        "{\"a\":01}", "{\"a\":-}", "0.", "-0.", "1.5e", "2e-",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse1(bad[i]);
        if (rc != -EINVAL)
            fprintf(stderr, "  accepted number: %s\n", bad[i]);
        TG_CHECK_EQ_INT(rc, -EINVAL);
    }
    static const char *good[] = {
        "0", "-0", "1", "-1", "0.5", "-0.0", "1e5", "1E5", "1e+5", "1e-5", "1.25e-3",
        "-0.0e+0", "123456789012345678901234567890", "[0,-0,1.5,2e3]", "1.0E+2",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int rc = parse1(good[i]);
        if (rc != 0)
            fprintf(stderr, "  rejected number: %s\n", good[i]);
        TG_CHECK_EQ_INT(rc, 0);
    }
}

TG_TEST(big_ints_and_i64)
{
    tg_json_t j = {0};
    int64_t v = 0;
    TG_CHECK_EQ_INT(parse(&j, "9223372036854775807"), 0);
    TG_CHECK_EQ_INT(tg_json_i64(&j, 0, &v), 0);
    TG_CHECK(v == INT64_MAX);
    TG_CHECK_EQ_INT(parse(&j, "-9223372036854775808"), 0);
    TG_CHECK_EQ_INT(tg_json_i64(&j, 0, &v), 0);
    TG_CHECK(v == INT64_MIN);
    TG_CHECK_EQ_INT(parse(&j, "9223372036854775808"), 0);
    TG_CHECK_EQ_INT(tg_json_i64(&j, 0, &v), -ERANGE);
    TG_CHECK_EQ_INT(parse(&j, "-9223372036854775809"), 0);
    TG_CHECK_EQ_INT(tg_json_i64(&j, 0, &v), -ERANGE);
    TG_CHECK_EQ_INT(parse(&j, "99999999999999999999999999999999999999999"), 0);
    TG_CHECK_EQ_INT(tg_json_i64(&j, 0, &v), -ERANGE);
    tg_dec_t d;
    TG_CHECK_EQ_INT(tg_json_dec(&j, 0, &d), -ERANGE);
    TG_CHECK_EQ_INT(parse(&j, "1.5"), 0);
    TG_CHECK_EQ_INT(tg_json_i64(&j, 0, &v), -EINVAL);
    TG_CHECK_EQ_INT(parse(&j, "1e3"), 0);
    TG_CHECK_EQ_INT(tg_json_i64(&j, 0, &v), -EINVAL);
    TG_CHECK_EQ_INT(parse(&j, "\"12\""), 0);
    TG_CHECK_EQ_INT(tg_json_i64(&j, 0, &v), -EINVAL); /* strings are not integers */
    TG_CHECK_EQ_INT(parse(&j, "-0"), 0);
    TG_CHECK_EQ_INT(tg_json_i64(&j, 0, &v), 0);
    TG_CHECK_EQ_INT(v, 0);
    tg_json_free(&j);
}

TG_TEST(dec_exactness)
{
    static const struct {
        const char *doc;
        int rc;
        tg_dec_t v;
    } cases[] = {
        {"189.53", 0, 18953000000LL},
        {"\"189.53\"", 0, 18953000000LL},
        {"0.1", 0, 10000000LL},
        {"\"0.1\"", 0, 10000000LL},
        {"0.00000001", 0, 1},
        {"-0.00000001", 0, -1},
        {"1e-3", 0, 100000},
        {"2.5E+2", 0, 25000000000LL},
        {"\"43000.10000000\"", 0, 4300010000000LL},
        {"0.30000000000000004", -EDOM, 0},
        {"1.123456789", -EDOM, 0},
        {"1.000000000", 0, TG_DEC_SCALE},
        {"\"abc\"", -EINVAL, 0},
        {"\"\"", -EINVAL, 0},
        {"\" 1\"", -EINVAL, 0},
        {"\"1.\"", -EINVAL, 0},
        {"\"\\u0031\"", -EINVAL, 0},
        {"true", -EINVAL, 0},
        {"null", -EINVAL, 0},
        {"[1]", -EINVAL, 0},
        {"92233720368.54775807", 0, INT64_MAX},
        {"92233720368.54775808", -ERANGE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tg_json_t j = {0};
        tg_dec_t d = -42;
        TG_CHECK_EQ_INT(parse(&j, cases[i].doc), 0);
        int rc = tg_json_dec(&j, 0, &d);
        if (rc != cases[i].rc || (rc == 0 && d != cases[i].v))
            fprintf(stderr, "  dec case %s: rc %d v %lld\n", cases[i].doc, rc, (long long)d);
        TG_CHECK_EQ_INT(rc, cases[i].rc);
        if (cases[i].rc == 0)
            TG_CHECK_EQ_INT(d, cases[i].v);
        tg_json_free(&j);
    }
}

TG_TEST(hostile_deep_nesting)
{
    size_t n = 100000;
    char *s = malloc(2 * n);
    memset(s, '[', n);
    TG_CHECK_EQ_INT(parse_n(s, n), -E2BIG);
    memset(s + n, ']', n);
    TG_CHECK_EQ_INT(parse_n(s, 2 * n), -E2BIG);
    tg_json_t j = {0};
    /* the clamp: even a huge max_depth cannot exceed 4096 */
    TG_CHECK_EQ_INT(tg_json_parse(&j, s, 2 * n, 0, 1 << 30), -E2BIG);
    /* exactly at the limit is fine, one more is not */
    TG_CHECK_EQ_INT(tg_json_parse(&j, s + n - 32, 64, 0, 32), 0);
    TG_CHECK_EQ_INT(tg_json_parse(&j, s + n - 33, 66, 0, 32), -E2BIG);
    TG_CHECK_EQ_INT(tg_json_parse(&j, s + n - 4096, 8192, 0, 4096), 0);
    TG_CHECK_EQ_INT(j.ntok, 4096);
    /* objects count too */
    char deep[200];
    size_t k = 0;
    for (int i = 0; i < 40; i++) {
        memcpy(deep + k, "{\"a\":", 5);
        k += 5;
    }
    TG_CHECK_EQ_INT(tg_json_parse(&j, deep, k, 0, 0), -E2BIG);
    tg_json_free(&j);
    free(s);
}

TG_TEST(hostile_many_tokens)
{
    /* 1 MB of tokens: "[1,1,1,...]" */
    size_t n = 1 << 20;
    char *s = malloc(n + 2);
    s[0] = '[';
    size_t k = 1;
    while (k + 2 < n) {
        s[k++] = '1';
        s[k++] = ',';
    }
    s[k++] = '1';
    s[k++] = ']';
    tg_json_t j = {0};
    TG_CHECK_EQ_INT(tg_json_parse(&j, s, k, 0, 0), -E2BIG);
    TG_CHECK(j.cap == 0); /* refused before allocating anything */
    TG_CHECK_EQ_INT(tg_json_parse(&j, s, k, 1000, 0), -E2BIG);
    /* allowed when the caller raises the cap; the array grows to fit */
    TG_CHECK_EQ_INT(tg_json_parse(&j, s, k, 1 << 20, 0), 0);
    TG_CHECK_EQ_INT(tg_json_size(&j, 0), (k - 1) / 2);
    TG_CHECK(j.cap >= j.ntok && j.cap <= (1 << 20));
    /* reuse with a small doc keeps working */
    TG_CHECK_EQ_INT(parse(&j, "{\"a\":[1,2]}"), 0);
    TG_CHECK_EQ_INT(j.ntok, 5);
    TG_CHECK_EQ_INT(tg_json_size(&j, tg_json_get(&j, 0, "a")), 2);
    /* a failed parse leaves no tokens behind */
    TG_CHECK_EQ_INT(parse(&j, "{\"a\":[1,2]"), -EINVAL);
    TG_CHECK_EQ_INT(j.ntok, 0);
    TG_CHECK_EQ_INT(tg_json_get(&j, 0, "a"), -1);
    tg_json_free(&j);

    /* many keys: a big object with max_tokens exactly right */
    TG_CHECK_EQ_INT(tg_json_parse(&j, "{\"a\":1,\"b\":2}", 13, 5, 0), 0);
    TG_CHECK_EQ_INT(tg_json_parse(&j, "{\"a\":1,\"b\":2}", 13, 4, 0), -E2BIG);
    tg_json_free(&j);
    free(s);
}

TG_TEST(utf8_validation)
{
    static const char *bad[] = {
        "\"\xc0\x80\"",         /* overlong NUL */
        "\"\xc1\xbf\"",         /* overlong */
        "\"\xe0\x80\x80\"",     /* overlong 3-byte */
        "\"\xe0\x9f\xbf\"",     /* overlong 3-byte */
        "\"\xed\xa0\x80\"",     /* encoded surrogate D800 */
        "\"\xed\xbf\xbf\"",     /* encoded surrogate DFFF */
        "\"\xf0\x80\x80\x80\"", /* overlong 4-byte */
        "\"\xf4\x90\x80\x80\"", /* > U+10FFFF */
        "\"\xf5\x80\x80\x80\"", /* invalid lead */
        "\"\xff\"", "\"\xfe\"", "\"\x80\"", "\"a\xbf\"", /* stray continuation */
        "\"\xe2\x82\"",         /* truncated */
        "\"\xe2\x82",           /* truncated at end of input */
        "\"\xc3\"",             /* truncated 2-byte */
        "\"\xc3\x28\"",         /* bad continuation */
        "\"\xf0\x9f\x98\"",     /* truncated 4-byte */
        "[\xc3\xa9]",           /* non-ASCII outside strings */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        TG_CHECK_EQ_INT(parse1(bad[i]), -EINVAL);
        /* the same bytes without the JSON around them (the last one is fine text) */
        if (i + 1 < sizeof bad / sizeof bad[0])
            TG_CHECK(!tg_utf8_valid(bad[i] + 1, strlen(bad[i] + 1)));
    }
    static const char *good[] = {
        "\"\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"", "\"\xf4\x8f\xbf\xbf\"",
        "\"\xed\x9f\xbf\"", "\"\xee\x80\x80\"", "\"\xc2\x80\"", "\"\xef\xbf\xbf\"",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        TG_CHECK_EQ_INT(parse1(good[i]), 0);
        TG_CHECK(tg_utf8_valid(good[i], strlen(good[i])));
    }
    TG_CHECK(tg_utf8_valid("p-1\x01", 4));
    TG_CHECK(!tg_utf8_valid("p-\xff", 3));
}

TG_TEST(escapes_and_surrogates)
{
    static const char *bad[] = {
        "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"", "\"\\ud800\\\"",
        "\"\\ud800\\ud800\"", "\"\\udbff\\ue000\"", "\"\\x41\"", "\"\\a\"", "\"\\U0041\"",
        "\"\\u00g0\"", "\"\\u 123\"", "\"\\'\"", "\"\\0\"", "\"\\\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse1(bad[i]);
        if (rc != -EINVAL)
            fprintf(stderr, "  accepted escape: %s\n", bad[i]);
        TG_CHECK_EQ_INT(rc, -EINVAL);
    }
    /* raw control characters must be escaped */
    for (int c = 1; c < 0x20; c++) {
        char doc[4] = {'"', (char)c, '"', 0};
        TG_CHECK_EQ_INT(parse_n(doc, 3), -EINVAL);
    }
    TG_CHECK_EQ_INT(parse1("\"\x7f\""), 0); /* DEL is allowed by RFC 8259 */

    tg_json_t j = {0};
    char buf[64];
    size_t n;
    TG_CHECK_EQ_INT(parse(&j, "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\""),
                    0);
    TG_CHECK_EQ_INT(tg_json_str(&j, 0, buf, sizeof buf, &n), 0);
    const char want[] = "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    TG_CHECK_EQ_INT(n, sizeof want - 1);
    TG_CHECK(memcmp(buf, want, n) == 0 && buf[n] == 0);
    TG_CHECK(tg_json_str_eq(&j, 0, want));
    TG_CHECK(!tg_json_str_eq(&j, 0, "a\"b"));
    /* ENOSPC: exactly fits needs len+1 */
    TG_CHECK_EQ_INT(tg_json_str(&j, 0, buf, sizeof want, &n), 0);
    TG_CHECK_EQ_INT(tg_json_str(&j, 0, buf, sizeof want - 1, &n), -ENOSPC);
    TG_CHECK_EQ_INT(tg_json_str(&j, 0, buf, 0, &n), -ENOSPC);
    /* \u0000 decodes to a NUL byte, reported through the length */
    TG_CHECK_EQ_INT(parse(&j, "\"a\\u0000b\""), 0);
    TG_CHECK_EQ_INT(tg_json_str(&j, 0, buf, sizeof buf, &n), 0);
    TG_CHECK_EQ_INT(n, 3);
    TG_CHECK(!tg_json_str_eq(&j, 0, "a"));
    /* escaped keys are matched after unescaping */
    TG_CHECK_EQ_INT(parse(&j, "{\"\\u0073ym\":\"X\",\"sym\":\"Y\"}"), 0);
    TG_CHECK(tg_json_str_eq(&j, tg_json_get(&j, 0, "sym"), "X")); /* first wins */
    TG_CHECK_EQ_INT(tg_json_str(&j, 0, buf, sizeof buf, &n), -EINVAL); /* not a string */
    tg_json_free(&j);
}

TG_TEST(escape_round_trip)
{
    /* every byte 0x01..0x7f plus valid multi-byte sequences */
    char in[256];
    size_t n = 0;
    for (int c = 1; c < 0x80; c++)
        in[n++] = (char)c;
    const char mb[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8\xe2\x80\xa9";
    memcpy(in + n, mb, sizeof mb - 1);
    n += sizeof mb - 1;
    in[n++] = '\0'; /* an embedded NUL survives too */
    in[n++] = 'z';

    char esc[2048];
    esc[0] = '"';
    int w = tg_json_escape(in, n, esc + 1, sizeof esc - 2);
    TG_CHECK(w > 0);
    if (w <= 0)
        return;
    esc[w + 1] = '"';
    tg_json_t j = {0};
    TG_CHECK_EQ_INT(tg_json_parse(&j, esc, (size_t)w + 2, 0, 0), 0);
    char out[512];
    size_t m = 0;
    TG_CHECK_EQ_INT(tg_json_str(&j, 0, out, sizeof out, &m), 0);
    TG_CHECK_EQ_INT(m, n);
    TG_CHECK(memcmp(in, out, n) == 0);
    /* U+2028 is escaped for JavaScript's sake */
    TG_CHECK(memmem(esc, (size_t)w + 2, "\\u2028", 6) != NULL);
    tg_json_free(&j);

    /* invalid UTF-8 becomes U+FFFD so the output always parses */
    const char badin[] = "a\xff\xc3\x28\xed\xa0\x80z";
    w = tg_json_escape(badin, sizeof badin - 1, esc + 1, sizeof esc - 2);
    TG_CHECK(w > 0);
    esc[w + 1] = '"';
    TG_CHECK_EQ_INT(tg_json_parse(&j, esc, (size_t)w + 2, 0, 0), 0);
    tg_json_free(&j);

    /* -ENOSPC at every too-small capacity, exact fit works */
    const char *s = "ab\"\n\x01";
    int full = tg_json_escape(s, strlen(s), esc, sizeof esc);
    TG_CHECK_EQ_INT(full, 2 + 2 + 2 + 6);
    for (int cap = 0; cap < full; cap++)
        TG_CHECK_EQ_INT(tg_json_escape(s, strlen(s), esc, (size_t)cap), -ENOSPC);
    TG_CHECK_EQ_INT(tg_json_escape(s, strlen(s), esc, (size_t)full), full);
    TG_CHECK(memcmp(esc, "ab\\\"\\n\\u0001", (size_t)full) == 0);
    TG_CHECK_EQ_INT(tg_json_escape("", 0, NULL, 0), 0);
}

int main(void)
{
    return tg_test_run();
}
