/* tg_test.h - the tiny unit-test harness: one executable per test file.
 *
 *   TG_TEST(parses_zero) { TG_CHECK(x == 0); TG_CHECK_EQ_INT(a, b); }
 *   int main(void) { return tg_test_run(); }
 *
 * Tests register themselves through a constructor; a failing check prints
 * file:line and the expression, the test continues, and main returns 1.
 */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*tg_test_fn)(void);
typedef struct { const char *name; tg_test_fn fn; } tg_test_entry_t;

static tg_test_entry_t tg__tests[512];
static int tg__ntests, tg__failures, tg__checks;

#define TG_TEST(name)                                                                              \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void reg_##name(void)                                      \
    {                                                                                              \
        tg__tests[tg__ntests++] = (tg_test_entry_t){#name, test_##name};                           \
    }                                                                                              \
    static void test_##name(void)

#define TG_CHECK(cond)                                                                             \
    do {                                                                                           \
        tg__checks++;                                                                              \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            tg__failures++;                                                                        \
        }                                                                                          \
    } while (0)

#define TG_CHECK_EQ_INT(a, b)                                                                      \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        tg__checks++;                                                                              \
        if (_a != _b) {                                                                            \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    _a, _b);                                                                       \
            tg__failures++;                                                                        \
        }                                                                                          \
    } while (0)

#define TG_CHECK_EQ_STR(a, b)                                                                      \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        tg__checks++;                                                                              \
        if (!_a || !_b || strcmp(_a, _b) != 0) {                                                   \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a,  \
                    #b, _a ? _a : "(null)", _b ? _b : "(null)");                                   \
            tg__failures++;                                                                        \
        }                                                                                          \
    } while (0)

static inline int tg_test_run(void)
{
    const char *only = getenv("TG_TEST_ONLY");
    for (int i = 0; i < tg__ntests; i++) {
        if (only && strcmp(only, tg__tests[i].name) != 0)
            continue;
        int before = tg__failures;
        tg__tests[i].fn();
        fprintf(stderr, "%s %s\n", tg__failures == before ? "ok  " : "FAIL", tg__tests[i].name);
    }
    fprintf(stderr, "%d tests, %d checks, %d failures\n", tg__ntests, tg__checks, tg__failures);
    if (tg__checks == 0)
        return 1; /* a test file that checks nothing is a defect */
    return tg__failures ? 1 : 0;
}

#endif
