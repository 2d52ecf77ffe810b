/* test_feed_ws.c - the `ws` feed's pieces that need no upstream: subscribe
 * secret substitution and init's URL / format checks. The connection paths
 * are covered by tests/integration/test_feeds.py against a fake upstream.
 *
 * The adapter's .c is included to reach its statics (h2o style); its ops table
 * is renamed so it does not clash with the copy in tickgate_core.
 */
#define tg_feed_ws_ops tg_feed_ws_ops_under_test
#include "feeds/feed_ws.c"
#undef tg_feed_ws_ops

#include "tg_test.h"

static void check_sub(const char *tmpl, const char *key, const char *secret, const char *want)
{
    size_t n = 0;
    char *s = substitute(tmpl, key, secret, &n);
    TG_CHECK(s != NULL);
    if (!s)
        return;
    TG_CHECK_EQ_STR(s, want);
    TG_CHECK_EQ_INT(n, strlen(want));
    free(s);
}

TG_TEST(substitute_secrets)
{
    check_sub("{\"action\":\"auth\",\"key\":\"${api_key}\",\"secret\":\"${api_secret}\"}", "K", "S",
              "{\"action\":\"auth\",\"key\":\"K\",\"secret\":\"S\"}");
    check_sub("${api_key}${api_key}${api_secret}", "abc", "0123456789abcdef0123456789",
              "abcabc0123456789abcdef0123456789");
    check_sub("no placeholders", "K", "S", "no placeholders");
    check_sub("${api_key", "K", "S", "${api_key");            /* unterminated: literal */
    check_sub("${other} ${api_key}", "K", "S", "${other} K"); /* unknown: literal */
    check_sub("${api_key}", "", "", "");
    check_sub("", "K", "S", "");
}

static int init_with(const char *feed, tg_config_t *cfg, tg_metrics_t *m, tg_feed_t *f)
{
    char conf[512], err[256];
    snprintf(conf, sizeof conf, "feeds = (%s);\n", feed);
    if (tg_config_load_string(cfg, conf, strlen(conf), "test", NULL, err, sizeof err)) {
        fprintf(stderr, "config: %s\n", err);
        return -100;
    }
    return tg_feed_init(f, cfg, 0, 1024, m, NULL, NULL);
}

TG_TEST(init_parses_url)
{
    tg_metrics_t *m;
    TG_CHECK_EQ_INT(tg_metrics_create(&m), 0);
    struct {
        const char *url;
        const char *host, *path;
        int port;
        bool tls;
    } cases[] = {
        {"ws://127.0.0.1:9100/", "127.0.0.1", "/", 9100, false},
        {"wss://stream.example.com/v2/iex?x=1", "stream.example.com", "/v2/iex?x=1", 443, true},
        {"ws://example.com", "example.com", "/", 80, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tg_config_t cfg;
        tg_feed_t f;
        char feed[256];
        snprintf(feed, sizeof feed,
                 "{ name = \"w\"; type = \"ws\"; url = \"%s\"; format = \"finnhub\"; }",
                 cases[i].url);
        TG_CHECK_EQ_INT(init_with(feed, &cfg, m, &f), 0);
        wsf_t *w = f.priv;
        TG_CHECK(w != NULL);
        if (w) {
            TG_CHECK_EQ_STR(w->host, cases[i].host);
            TG_CHECK_EQ_STR(w->path, cases[i].path);
            TG_CHECK_EQ_INT(w->port, cases[i].port);
            TG_CHECK_EQ_INT(w->tls, cases[i].tls);
            TG_CHECK(w->fmt == &tg_format_finnhub);
        }
        tg_feed_destroy(&f);
        tg_config_free(&cfg);
    }
    tg_metrics_destroy(m);
}

int main(void)
{
    return tg_test_run();
}
