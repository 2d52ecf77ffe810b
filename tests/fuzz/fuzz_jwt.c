/* fuzz_jwt.c - libFuzzer target for src/gateway/jwt.c.
 *
 * Random bytes almost never carry a valid HMAC, so the claim parser would
 * stay unreached. The first byte therefore picks a mode:
 *   0: the rest is the token, verified as is (shape, base64url, header);
 *   1: the rest is "header-json\npayload-json"; the driver signs it with the
 *      verifier's secret so the payload reaches the claim checks;
 *   2: the rest is a sub; mint, verify, and the sub must come back intact.
 * Any accepted token must satisfy the documented claim bounds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tickgate/jwt.h"

#define NOW 1763800000LL

static const char secret[] = "fuzz-secret-0123456789abcdef";
static tg_jwt_verifier_t *verifier;

static size_t b64url(const unsigned char *in, size_t n, char *out)
{
    int w = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    size_t o = 0;
    for (int i = 0; i < w; i++) {
        char c = out[i];
        if (c == '=')
            break;
        out[o++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    return o;
}

static void check_claims(const tg_jwt_claims_t *c)
{
    if (!c->sub || !*c->sub || strlen(c->sub) > TG_JWT_MAX_STR)
        abort();
    if (c->n_roles > TG_JWT_MAX_LIST || c->n_portfolios > TG_JWT_MAX_LIST)
        abort();
    if ((c->n_roles == 0) != (c->roles == NULL) ||
        (c->n_portfolios == 0) != (c->portfolios == NULL))
        abort();
    bool admin = false;
    for (size_t i = 0; i < c->n_roles; i++) {
        if (!c->roles[i][0] || strlen(c->roles[i]) > TG_JWT_MAX_STR)
            abort();
        admin |= strcmp(c->roles[i], "admin") == 0;
    }
    for (size_t i = 0; i < c->n_portfolios; i++)
        if (!c->portfolios[i][0] || strlen(c->portfolios[i]) > TG_JWT_MAX_STR)
            abort();
    if (admin != c->admin || NOW >= tg_jwt_deadline(verifier, c))
        abort();
}

static void verify(const char *tok, size_t n)
{
    tg_jwt_claims_t c;
    int rc = tg_jwt_verify(verifier, tok, n, NOW, &c);
    if (rc == 0)
        check_claims(&c);
    else if (c.sub || c.roles || c.portfolios || c.jti)
        abort(); /* failures leave the claims zeroed */
    (void)tg_jwt_reason(rc);
    tg_jwt_claims_free(&c);
}

static void signed_mode(const uint8_t *d, size_t n)
{
    const uint8_t *nl = memchr(d, '\n', n);
    if (!nl || n > 6000)
        return;
    static char tok[16384];
    size_t hl = (size_t)(nl - d), o = b64url(d, hl, tok);
    tok[o++] = '.';
    o += b64url(nl + 1, n - hl - 1, tok + o);
    unsigned char mac[64];
    size_t ml = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, sizeof secret - 1,
                   (unsigned char *)tok, o, mac, sizeof mac, &ml))
        abort();
    tok[o++] = '.';
    o += b64url(mac, ml, tok + o);
    verify(tok, o);
}

static void mint_mode(const uint8_t *d, size_t n)
{
    char sub[TG_JWT_MAX_STR + 1], tok[4096];
    if (n > TG_JWT_MAX_STR || memchr(d, 0, n))
        return;
    memcpy(sub, d, n);
    sub[n] = 0;
    const char *roles[] = {sub, "admin"};
    int len = tg_jwt_mint_hs256(secret, sizeof secret - 1, sub, roles, 2, roles, 1, NOW, NOW + 60,
                                tok, sizeof tok);
    if (len == -EINVAL)
        return; /* empty sub, or not UTF-8: refused by design */
    if (len < 0)
        abort();
    /* Whatever was minted verifies and round-trips exactly. */
    tg_jwt_claims_t c;
    if (tg_jwt_verify(verifier, tok, (size_t)len, NOW, &c) != 0)
        abort();
    check_claims(&c);
    if (strcmp(c.sub, sub) != 0 || c.n_roles != 2 || c.n_portfolios != 1 || !c.admin ||
        strcmp(c.roles[0], sub) != 0 || strcmp(c.portfolios[0], sub) != 0)
        abort();
    tg_jwt_claims_free(&c);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (tg_jwt_verifier_create(&verifier, "HS256", secret, sizeof secret - 1, NULL, 5) != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        verify((const char *)data + 1, size - 1);
        break;
    case 1:
        signed_mode(data + 1, size - 1);
        break;
    default:
        mint_mode(data + 1, size - 1);
        break;
    }
    return 0;
}
