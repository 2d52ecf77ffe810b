/* config.c - the configuration (SPEC §2): defaults, libconfig file, TICKGATE_*
 * environment overrides, validation and check-config printing.
 *
 * Every key is declared exactly once, in main_keys[] (sections) or feed_keys[]
 * (each element of the `feeds` list). Those tables drive everything: defaults
 * are the table's default text parsed like an environment value, the file
 * walker looks up each setting it meets in the table (so unknown keys are
 * found for free), environment names are derived from section and key, and
 * the printer walks the same tables. Adding a key = one table line plus the
 * field in config.h.
 */
#include "config_int.h"

/* ---- the file ---------------------------------------------------------- */

static const cfg_key_t *find_key(const cfg_key_t *tab, size_t n, const char *section,
                                 const char *key, size_t *idx)
{
    for (size_t i = 0; i < n; i++)
        if ((!section || strcmp(tab[i].section, section) == 0) && strcmp(tab[i].key, key) == 0) {
            if (idx)
                *idx = i;
            return &tab[i];
        }
    return NULL;
}

static bool is_group_prefix(const cfg_key_t *tab, size_t n, const char *section, const char *pfx)
{
    size_t pn = strlen(pfx);
    for (size_t i = 0; i < n; i++)
        if ((!section || strcmp(tab[i].section, section) == 0) &&
            strncmp(tab[i].key, pfx, pn) == 0 && tab[i].key[pn] == '.')
            return true;
    return false;
}

/* Apply every setting of group `g` (at display path `path`, table prefix
 * `nest`) through the table; whatever the table does not know is an error. */
static int walk_group(load_ctx_t *ctx, const config_setting_t *g, const cfg_key_t *tab, size_t n,
                      const char *section, void *base, const char *path, const char *nest,
                      uint64_t *set)
{
    int len = config_setting_length(g);
    for (int i = 0; i < len; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        char key[NAME_MAX_LEN], name[2 * NAME_MAX_LEN];
        snprintf(key, sizeof key, "%s%s", nest, config_setting_name(s));
        snprintf(name, sizeof name, "%s.%s", path, key);
        size_t idx;
        const cfg_key_t *k = find_key(tab, n, section, key, &idx);
        int rc;
        if (k) {
            if ((rc = tg__config_apply_setting(ctx, k, base, s, name)))
                return rc;
            if (set)
                *set |= 1ull << idx;
        } else if (is_group_prefix(tab, n, section, key)) {
            if (config_setting_type(s) != CONFIG_TYPE_GROUP)
                return tg__config_wrong_type(ctx, name, "group");
            char sub[NAME_MAX_LEN + 1];
            snprintf(sub, sizeof sub, "%s.", key);
            if ((rc = walk_group(ctx, s, tab, n, section, base, path, sub, set)))
                return rc;
        } else {
            return tg__config_fail(ctx, -EINVAL, "%s: unknown key", name);
        }
    }
    return 0;
}

static int parse_feeds(load_ctx_t *ctx, tg_config_t *cfg, const config_setting_t *s)
{
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_LIST && !(t == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0))
        return tg__config_wrong_type(ctx, "feeds", "list of groups");
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
        char path[32];
        snprintf(path, sizeof path, "feeds[%d]", i);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
            return tg__config_wrong_type(ctx, path, "group");
        tg_feed_conf_t *f = NULL;
        int rc = tg__config_feed_add(ctx, cfg, path, &f);
        if (rc)
            return rc;
        uint64_t *set = &ctx->feed_set[cfg->n_feeds - 1];
        if ((rc = walk_group(ctx, g, tg__config_feed_keys, N_FEED, NULL, f, path, "", set)))
            return rc;
        for (size_t k = 0; k < N_FEED; k++)
            if ((tg__config_feed_keys[k].flags & F_REQUIRED) && !(*set & (1ull << k)))
                return tg__config_fail(ctx, -EINVAL, "%s.%s: missing (required)", path, tg__config_feed_keys[k].key);
    }
    return 0;
}

static bool is_section(const char *name)
{
    for (size_t i = 0; i < N_MAIN; i++)
        if (strcmp(tg__config_main_keys[i].section, name) == 0)
            return true;
    return false;
}

static int parse_root(load_ctx_t *ctx, tg_config_t *cfg, const config_setting_t *root)
{
    int n = config_setting_length(root);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        int rc;
        if (strcmp(name, "feeds") == 0) {
            rc = parse_feeds(ctx, cfg, s);
        } else if (is_section(name)) {
            if (config_setting_type(s) != CONFIG_TYPE_GROUP)
                return tg__config_wrong_type(ctx, name, "group");
            rc = walk_group(ctx, s, tg__config_main_keys, N_MAIN, name, cfg, name, "", NULL);
        } else {
            return tg__config_fail(ctx, -EINVAL, "%s: unknown section", name);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* libconfig 1.5 silently truncates an integer literal that does not fit in
 * 32 bits unless it carries an `L` suffix (`4294967296` reads as 0). Copy the
 * text adding that suffix where needed, so 64-bit keys take plain numbers and
 * an overflow is an out-of-range error instead of a wrong value. Literals past
 * int64 are refused here (-ERANGE, *line set). */
static int widen_ints(const char *s, size_t n, char **out, int *line)
{
    char *o = malloc(2 * n + 1);
    if (!o)
        return -ENOMEM;
    size_t i = 0, j = 0;
    *line = 1;
#define IDCH(c) (isalnum((unsigned char)(c)) || (c) == '_' || (c) == '*' || (c) == '-')
    while (i < n) {
        char c = s[i];
        if (c == '\n') {
            (*line)++;
            o[j++] = s[i++];
        } else if (c == '"') {
            o[j++] = s[i++];
            while (i < n && s[i] != '"') {
                if (s[i] == '\n')
                    (*line)++;
                if (s[i] == '\\' && i + 1 < n)
                    o[j++] = s[i++];
                o[j++] = s[i++];
            }
            if (i < n)
                o[j++] = s[i++];
        } else if (c == '#' || (c == '/' && i + 1 < n && s[i + 1] == '/')) {
            while (i < n && s[i] != '\n')
                o[j++] = s[i++];
        } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
            o[j++] = s[i++];
            o[j++] = s[i++];
            while (i < n) {
                if (s[i] == '*' && i + 1 < n && s[i + 1] == '/') {
                    o[j++] = s[i++];
                    o[j++] = s[i++];
                    break;
                }
                if (s[i] == '\n')
                    (*line)++;
                o[j++] = s[i++];
            }
        } else if (isalpha((unsigned char)c) || c == '*' || c == '_' || c == '@') {
            o[j++] = s[i++];
            while (i < n && IDCH(s[i]))
                o[j++] = s[i++];
        } else if (isdigit((unsigned char)c) ||
                   ((c == '-' || c == '+') && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
            size_t st = i;
            bool neg = c == '-';
            if (c == '-' || c == '+')
                i++;
            bool hex = s[i] == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X');
            unsigned __int128 v = 0;
            bool big = false;
            if (hex) {
                i += 2;
                while (i < n && isxdigit((unsigned char)s[i])) {
                    int d = isdigit((unsigned char)s[i]) ? s[i] - '0' : (tolower(s[i]) - 'a' + 10);
                    v = v * 16 + (unsigned)d;
                    big |= v > UINT64_MAX;
                    i++;
                }
            } else {
                while (i < n && isdigit((unsigned char)s[i])) {
                    v = v * 10 + (unsigned)(s[i] - '0');
                    big |= v > UINT64_MAX;
                    i++;
                }
                if (i < n && (s[i] == '.' || s[i] == 'e' || s[i] == 'E')) { /* a float */
                    while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '.' || s[i] == 'e' ||
                                     s[i] == 'E' || s[i] == '-' || s[i] == '+'))
                        i++;
                    memcpy(o + j, s + st, i - st);
                    j += i - st;
                    continue;
                }
            }
            if (big || v > (unsigned __int128)INT64_MAX + (neg ? 1 : 0)) {
                free(o);
                return -ERANGE;
            }
            memcpy(o + j, s + st, i - st);
            j += i - st;
            bool fits32 = neg ? v <= (unsigned __int128)INT32_MAX + 1 : v <= INT32_MAX;
            if (!fits32 && !(i < n && s[i] == 'L'))
                o[j++] = 'L';
        } else {
            o[j++] = s[i++];
        }
    }
#undef IDCH
    o[j] = 0;
    *out = o;
    return 0;
}

static int parse_text(load_ctx_t *ctx, tg_config_t *cfg, const char *text, size_t len,
                      const char *fname, const char *incdir)
{
    char *wide = NULL;
    int line = 0, rc;
    if (memchr(text, 0, len))
        return tg__config_fail(ctx, -EINVAL, "%s: contains a NUL byte", fname);
    rc = widen_ints(text, len, &wide, &line);
    if (rc == -ERANGE)
        return tg__config_fail(ctx, -EINVAL, "%s:%d: integer out of range", fname, line);
    if (rc)
        return tg__config_fail(ctx, rc, "%s: out of memory", fname);
    config_t lc;
    config_init(&lc);
    if (incdir)
        config_set_include_dir(&lc, incdir);
    if (config_read_string(&lc, wide) != CONFIG_TRUE) {
        const char *f = config_error_file(&lc);
        rc = tg__config_fail(ctx, -EINVAL, "%s:%d: %s", f ? f : fname, config_error_line(&lc),
                  config_error_text(&lc) ? config_error_text(&lc) : "syntax error");
        goto out_destroy;
    }
    rc = parse_root(ctx, cfg, config_root_setting(&lc));
out_destroy:
    config_destroy(&lc);
    free(wide);
    return rc;
}

static int read_file(load_ctx_t *ctx, const char *path, char **out, size_t *outlen)
{
    int rc = tg_file_read(path, 64u << 20, out, outlen);
    if (rc == -EFBIG)
        return tg__config_fail(ctx, -EINVAL, "%s: too large (max 64 MiB)", path);
    if (rc == -ENOMEM)
        return tg__config_fail(ctx, -ENOMEM, "%s: out of memory", path);
    if (rc == -ENOENT || rc == -EACCES || rc == -EISDIR || rc == -ENOTDIR)
        return tg__config_fail(ctx, rc, "%s: cannot open: %s", path, strerror(-rc));
    if (rc)
        return tg__config_fail(ctx, -EINVAL, "%s: cannot read: %s", path, strerror(-rc));
    return 0;
}

/* ---- environment ------------------------------------------------------- */

/* TICKGATE_ name part: upper-cased, anything but [A-Z0-9] becomes '_'. */
static void env_part(char *dst, size_t n, const char *s)
{
    size_t j = 0;
    for (; *s && j + 1 < n; s++)
        dst[j++] = isalnum((unsigned char)*s) ? (char)toupper((unsigned char)*s) : '_';
    dst[j] = 0;
}

static int apply_env_var(load_ctx_t *ctx, tg_config_t *cfg, const char *var, const char *val)
{
    char want[3 * NAME_MAX_LEN], a[NAME_MAX_LEN], b[NAME_MAX_LEN];
    for (size_t i = 0; i < N_MAIN; i++) {
        env_part(a, sizeof a, tg__config_main_keys[i].section);
        env_part(b, sizeof b, tg__config_main_keys[i].key);
        snprintf(want, sizeof want, "TICKGATE_%s_%s", a, b);
        if (strcmp(want, var) == 0)
            return tg__config_apply_text(ctx, &tg__config_main_keys[i], cfg, val, var);
    }
    static const char pfx[] = "TICKGATE_FEEDS_";
    if (strncmp(var, pfx, sizeof pfx - 1) == 0) {
        /* Prefer the longest feed name that matches, so feeds "a" and "a_b" never clash. */
        const cfg_key_t *best = NULL;
        size_t best_feed = 0, best_len = 0, best_idx = 0;
        for (size_t f = 0; f < cfg->n_feeds; f++) {
            env_part(a, sizeof a, cfg->feeds[f].name ? cfg->feeds[f].name : "");
            size_t an = strlen(a);
            const char *rest = var + sizeof pfx - 1;
            if (!an || strncmp(rest, a, an) != 0 || rest[an] != '_' || an < best_len)
                continue;
            for (size_t k = 0; k < N_FEED; k++) {
                if (tg__config_feed_keys[k].flags & F_NOENV)
                    continue;
                env_part(b, sizeof b, tg__config_feed_keys[k].key);
                if (strcmp(rest + an + 1, b) == 0) {
                    best = &tg__config_feed_keys[k];
                    best_feed = f;
                    best_len = an;
                    best_idx = k;
                }
            }
        }
        if (best) {
            ctx->feed_set[best_feed] |= 1ull << best_idx;
            return tg__config_apply_text(ctx, best, &cfg->feeds[best_feed], val, var);
        }
    }
    return tg__config_fail(ctx, -EINVAL, "%s: unknown variable", var);
}

/* A key's exact `env` name (TZDIR, TICKGATE_DISABLE_IO_URING...): 1 applied, 0 none, <0 error. */
static int apply_env_alias(load_ctx_t *ctx, tg_config_t *cfg, const char *e)
{
    const char *eq = strchr(e, '=');
    if (!eq)
        return 0;
    for (size_t i = 0; i < N_MAIN; i++) {
        const char *name = tg__config_main_keys[i].env;
        size_t n = name ? strlen(name) : 0;
        if (n && (size_t)(eq - e) == n && strncmp(e, name, n) == 0) {
            int rc = tg__config_apply_text(ctx, &tg__config_main_keys[i], cfg, eq + 1, name);
            return rc ? rc : 1;
        }
    }
    return 0;
}

static int apply_env(load_ctx_t *ctx, tg_config_t *cfg, char *const *envp)
{
    for (char *const *e = envp; e && *e; e++) {
        int arc = apply_env_alias(ctx, cfg, *e);
        if (arc < 0)
            return arc;
        if (arc > 0 || strncmp(*e, "TICKGATE_", 9) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        char var[2 * NAME_MAX_LEN];
        size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
        if (n >= sizeof var)
            n = sizeof var - 1;
        memcpy(var, *e, n);
        var[n] = 0;
        if (!eq)
            return tg__config_fail(ctx, -EINVAL, "%s: unknown variable", var);
        int rc = apply_env_var(ctx, cfg, var, eq + 1);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- cross-field checks ------------------------------------------------ */

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static int validate_feed(load_ctx_t *ctx, const tg_config_t *cfg, size_t i)
{
    const tg_feed_conf_t *f = &cfg->feeds[i];
    const char *tn = tg__config_feed_type_names[f->type];
    char q[160];
    for (size_t k = 0; k < N_FEED; k++)
        if ((ctx->feed_set[i] & (1ull << k)) && !(tg__config_feed_keys[k].types & (1u << f->type)))
            return tg__config_fail(ctx, -EINVAL, "feeds[%zu].%s: not valid for a %s feed", i, tg__config_feed_keys[k].key,
                        tn);
    const char *n = f->name;
    size_t nl = strlen(n);
    bool name_ok = nl >= 1 && nl <= 64;
    for (size_t j = 0; j < nl; j++)
        name_ok &= isalnum((unsigned char)n[j]) || n[j] == '_' || n[j] == '-' || n[j] == '.';
    if (!name_ok)
        return tg__config_fail(ctx, -EINVAL, "feeds[%zu].name: bad value (1..64 of [A-Za-z0-9_.-]): %s", i,
                    tg__config_quote(n, q, sizeof q));
    for (size_t j = 0; j < i; j++) {
        char a[NAME_MAX_LEN], b[NAME_MAX_LEN];
        env_part(a, sizeof a, cfg->feeds[j].name);
        env_part(b, sizeof b, n);
        if (strcmp(a, b) == 0) /* equal names, or names that share one env prefix */
            return tg__config_fail(ctx, -EINVAL, "feeds[%zu].name: duplicate feed name %s", i,
                        tg__config_quote(n, q, sizeof q));
    }
    const tg_breaker_conf_t *br = &f->breaker;
    if (br->min_calls > br->window)
        return tg__config_fail(ctx, -EINVAL, "feeds[%zu].breaker.min_calls: must be <= breaker.window (%d): %d",
                    i, br->window, br->min_calls);
    if (br->open_wait_ms > br->open_wait_max_ms)
        return tg__config_fail(ctx, -EINVAL,
                    "feeds[%zu].breaker.open_wait_max_ms: must be >= breaker.open_wait_ms (%d): %d",
                    i, br->open_wait_ms, br->open_wait_max_ms);
    switch (f->type) {
    case TG_FEED_REPLAY:
        if (!*f->path)
            return tg__config_fail(ctx, -EINVAL, "feeds[%zu].path: required for a replay feed", i);
        break;
    case TG_FEED_WS:
        if (!*f->url)
            return tg__config_fail(ctx, -EINVAL, "feeds[%zu].url: required for a ws feed", i);
        if (!has_prefix(f->url, "ws://") && !has_prefix(f->url, "wss://"))
            return tg__config_fail(ctx, -EINVAL, "feeds[%zu].url: must start with ws:// or wss://", i);
        if (!*f->format)
            return tg__config_fail(ctx, -EINVAL, "feeds[%zu].format: required for a ws feed", i);
        break;
    case TG_FEED_TCP:
        if (!*f->listen == !*f->connect)
            return tg__config_fail(ctx, -EINVAL,
                        "feeds[%zu]: a tcp feed needs exactly one of listen and connect", i);
        break;
    case TG_FEED_REDIS:
        if (!*f->channel && !*f->stream)
            return tg__config_fail(ctx, -EINVAL, "feeds[%zu].channel: required for a redis feed", i);
        break;
    default:
        break;
    }
    return 0;
}

static int validate(load_ctx_t *ctx, const tg_config_t *cfg)
{
    char q[160];
    if (!*cfg->server.tls_cert != !*cfg->server.tls_key)
        return tg__config_fail(ctx, -EINVAL, "server.tls: cert and key must both be set or both be empty");
    if (strcmp(cfg->auth.jwt_alg, "RS256") == 0 && !*cfg->auth.jwt_public_key)
        return tg__config_fail(ctx, -EINVAL, "auth.jwt_public_key: required when jwt_alg is RS256");
    const char *ru = cfg->redis.url;
    if (has_prefix(ru, "rediss://"))
        return tg__config_fail(ctx, -EINVAL,
                    "redis.url: rediss:// (TLS) is not supported: hiredis 0.14 has no TLS");
    if (*ru && !has_prefix(ru, "redis://") && !has_prefix(ru, "unix:///"))
        return tg__config_fail(ctx, -EINVAL, "redis.url: must start with redis:// or unix:///");
    if (cfg->redis.publish && !*ru)
        return tg__config_fail(ctx, -EINVAL, "redis.publish: needs redis.url");
    if (strcmp(cfg->node.role, "all") != 0 && !*ru)
        return tg__config_fail(ctx, -EINVAL, "node.role: %s needs redis.url (the cluster bus)",
                               cfg->node.role);
    if (strcmp(cfg->node.role, "gateway") == 0 && cfg->n_feeds)
        return tg__config_fail(ctx, -EINVAL,
                               "node.role: a gateway node runs no feeds (remove `feeds`)");
    if (!*cfg->redis.bus_channel)
        return tg__config_fail(ctx, -EINVAL, "redis.bus_channel: must not be empty");
    const char *pu = cfg->postgres.url;
    if (*pu && has_prefix(pu, "postgres") && !has_prefix(pu, "postgres://") &&
        !has_prefix(pu, "postgresql://"))
        return tg__config_fail(ctx, -EINVAL, "postgres.url: must be postgres://… or a key=value string");
    const char *wu = cfg->alerts.webhook_url;
    if (*wu && !has_prefix(wu, "http://") && !has_prefix(wu, "https://"))
        return tg__config_fail(ctx, -EINVAL, "alerts.webhook_url: must start with http:// or https://");
    const char *amu = cfg->alerts.alertmanager_url;
    if (*amu && !has_prefix(amu, "http://") && !has_prefix(amu, "https://"))
        return tg__config_fail(ctx, -EINVAL,
                               "alerts.alertmanager_url: must start with http:// or https://");
    const char *so = cfg->engine.session_open;
    if (strlen(so) != 5 || !isdigit((unsigned char)so[0]) || !isdigit((unsigned char)so[1]) ||
        so[2] != ':' || !isdigit((unsigned char)so[3]) || !isdigit((unsigned char)so[4]) ||
        (so[0] - '0') * 10 + (so[1] - '0') > 23 || so[3] > '5')
        return tg__config_fail(ctx, -EINVAL, "engine.session_open: bad value (expected HH:MM): %s",
                    tg__config_quote(so, q, sizeof q));
    const char *tz = cfg->engine.session_tz;
    bool tz_ok = *tz && *tz != '/' && !strstr(tz, "..") && strlen(tz) < 64;
    for (const char *p = tz; *p; p++)
        tz_ok &= isalnum((unsigned char)*p) || strchr("/_+-", *p) != NULL;
    if (!tz_ok)
        return tg__config_fail(ctx, -EINVAL, "engine.session_tz: bad value (expected an IANA zone name): %s",
                    tg__config_quote(tz, q, sizeof q));
    for (size_t i = 0; i < cfg->n_feeds; i++) {
        int rc = validate_feed(ctx, cfg, i);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- load -------------------------------------------------------------- */

static int add_embedded_feed(load_ctx_t *ctx, tg_config_t *cfg)
{
    tg_feed_conf_t *f = NULL;
    int rc = tg__config_feed_add(ctx, cfg, "feeds[0]", &f);
    if (rc)
        return rc;
    f->type = TG_FEED_SYNTHETIC;
    if (tg__config_set_str(&f->name, "synthetic"))
        return tg__config_fail(ctx, -ENOMEM, "feeds[0]: out of memory");
    for (size_t i = 0; i < tg_default_universe_len; i++)
        if (tg__config_list_push_copy(&f->symbols, tg_default_universe[i]))
            return tg__config_fail(ctx, -ENOMEM, "feeds[0]: out of memory");
    /* the demo's market: +-1 bp steps at ~15 ticks/s per symbol move a
     * large cap about 0.2 % a minute, a calm but visibly live market */
    f->step_bp = 1;
    return 0;
}

static int load(tg_config_t *cfg, const char *text, size_t len, const char *fname,
                const char *path, char *const *envp, char *err, size_t errlen)
{
    load_ctx_t ctx = {.err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = 0;
    if (!cfg)
        return tg__config_fail(&ctx, -EINVAL, "config: no config given");
    int rc = tg_config_defaults(cfg);
    if (rc) {
        tg__config_fail(&ctx, rc, "config: out of memory");
        goto fail_free;
    }
    if (path) {
        char *buf = NULL, *dir = NULL;
        size_t n = 0;
        if ((rc = read_file(&ctx, path, &buf, &n)))
            goto fail_free;
        /* @include resolves next to the file, not in the working directory */
        const char *slash = strrchr(path, '/');
        if (slash && (dir = strndup(path, (size_t)(slash - path + 1))) == NULL) {
            free(buf);
            rc = tg__config_fail(&ctx, -ENOMEM, "%s: out of memory", path);
            goto fail_free;
        }
        rc = parse_text(&ctx, cfg, buf, n, path, dir);
        free(dir);
        free(buf);
        if (rc)
            goto fail_free;
    } else if (text) {
        if ((rc = parse_text(&ctx, cfg, text, len, fname, NULL)))
            goto fail_free;
    } else {
        cfg->embedded_default = true;
        if ((rc = add_embedded_feed(&ctx, cfg)))
            goto fail_free;
    }
    if ((rc = apply_env(&ctx, cfg, envp)))
        goto fail_free;
    if ((rc = validate(&ctx, cfg)))
        goto fail_free;
    return 0;
fail_free:
    tg_config_free(cfg);
    return rc;
}

int tg_config_load(tg_config_t *cfg, const char *path, char *const *envp, char *err,
                   size_t errlen)
{
    return load(cfg, NULL, 0, NULL, path, envp, err, errlen);
}

int tg_config_load_string(tg_config_t *cfg, const char *text, size_t len, const char *name,
                          char *const *envp, char *err, size_t errlen)
{
    if (!text) {
        if (err && errlen)
            snprintf(err, errlen, "config: no text given");
        if (cfg)
            memset(cfg, 0, sizeof *cfg);
        return -EINVAL;
    }
    return load(cfg, text, len, name ? name : "<string>", NULL, envp, err, errlen);
}
