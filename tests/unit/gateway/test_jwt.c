/* test_jwt.c - JWT verifier/minting tests: RFC 7515 A.1 vector, RS256 with a
 * generated key, algorithm confusion, strict shape/base64url/JSON rules,
 * time claims with leeway, exhaustive tamper checks, concurrent verifies. */
#include "tickgate/config.h"
#include "tickgate/jwt.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tg_test.h"

#define NOW    1763800000LL
#define TOKCAP 20000

static const char secret[] = "test-secret-0123456789abcdef-0123456789";
#define SECRET_LEN (sizeof secret - 1)

/* ---- helpers: independent base64url and signing, so the tests do not
 * trust the code under test to build their inputs ---------------------- */

static const char b64a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64e(const void *inp, size_t n, char *out)
{
    const unsigned char *in = inp;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            w |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            w |= in[i + 2];
        out[o++] = b64a[w >> 18 & 63];
        out[o++] = b64a[w >> 12 & 63];
        if (i + 1 < n)
            out[o++] = b64a[w >> 6 & 63];
        if (i + 2 < n)
            out[o++] = b64a[w & 63];
    }
    out[o] = '\0';
    return o;
}

static size_t b64d(const char *in, size_t n, unsigned char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(b64a, in[i]);
        if (!p || !in[i])
            abort();
        acc = acc << 6 | (uint32_t)(p - b64a);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o;
}

/* header.payload with arbitrary bytes, then '.' + base64url(sig). */
static size_t mk_raw(char *out, const void *hdr, size_t hl, const void *pl, size_t pll,
                     const void *sig, size_t sl)
{
    size_t o = b64e(hdr, hl, out);
    out[o++] = '.';
    o += b64e(pl, pll, out + o);
    out[o++] = '.';
    o += b64e(sig, sl, out + o);
    return o;
}

static size_t mk_hs_key(char *out, const char *hdr, const char *pl, const void *key, size_t kl)
{
    size_t o = b64e(hdr, strlen(hdr), out);
    out[o++] = '.';
    o += b64e(pl, strlen(pl), out + o);
    unsigned char mac[64];
    size_t ml = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, kl, (unsigned char *)out, o, mac,
                   sizeof mac, &ml))
        abort();
    out[o++] = '.';
    o += b64e(mac, ml, out + o);
    return o;
}

static size_t mk_hs(char *out, const char *hdr, const char *pl)
{
    return mk_hs_key(out, hdr, pl, secret, SECRET_LEN);
}

static size_t mk_rs(char *out, const char *hdr, const char *pl, EVP_PKEY *priv)
{
    size_t o = b64e(hdr, strlen(hdr), out);
    out[o++] = '.';
    o += b64e(pl, strlen(pl), out + o);
    unsigned char sig[1024];
    size_t sl = sizeof sig;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (!m || EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, priv, NULL) != 1 ||
        EVP_DigestSign(m, sig, &sl, (unsigned char *)out, o) != 1)
        abort();
    EVP_MD_CTX_free(m);
    out[o++] = '.';
    o += b64e(sig, sl, out + o);
    return o;
}

static int vfy_n(const tg_jwt_verifier_t *v, const char *tok, size_t n, int64_t now)
{
    tg_jwt_claims_t c;
    int rc = tg_jwt_verify(v, tok, n, now, &c);
    if (rc != 0)
        TG_CHECK(c.sub == NULL && c.roles == NULL && c.n_roles == 0); /* zeroed on failure */
    tg_jwt_claims_free(&c);
    return rc;
}

static int vfy(const tg_jwt_verifier_t *v, const char *tok, int64_t now)
{
    return vfy_n(v, tok, strlen(tok), now);
}

static tg_jwt_verifier_t *hs_verifier(int leeway)
{
    tg_jwt_verifier_t *v = NULL;
    int rc = tg_jwt_verifier_create(&v, "HS256", secret, SECRET_LEN, NULL, leeway);
    TG_CHECK_EQ_INT(rc, 0);
    if (!v)
        abort();
    return v;
}

#define HDR    "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define HDR_RS "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"

/* Payload valid at NOW. */
static const char good_pl[] = "{\"sub\":\"u-1\",\"exp\":1763800600,\"iat\":1763800000}";

/* ---- RFC 7515 Appendix A.1 -------------------------------------------- */

static const char rfc_jws[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
                              ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGx"
                              "lLmNvbS9pc19yb290Ijp0cnVlfQ"
                              ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char rfc_k[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

TG_TEST(rfc7515_a1_hs256_vector)
{
    unsigned char key[64];
    size_t kl = b64d(rfc_k, strlen(rfc_k), key);
    TG_CHECK_EQ_INT(kl, 64);
    tg_jwt_verifier_t *v = NULL;
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "HS256", key, kl, NULL, 0), 0);
    /* The signature verifies (otherwise bad_signature); the vector carries
     * iss/exp but no sub, so the claim check refuses it next. */
    TG_CHECK_EQ_INT(vfy(v, rfc_jws, 1300819000), TG_JWT_ENOSUB);
    TG_CHECK_EQ_STR(tg_jwt_reason(vfy(v, rfc_jws, 1300819000)), "missing_sub");
    tg_jwt_verifier_free(v);

    /* Same token, another key: the signature is what fails. */
    key[0] ^= 1;
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "HS256", key, kl, NULL, 0), 0);
    TG_CHECK_EQ_INT(vfy(v, rfc_jws, 1300819000), TG_JWT_EBADSIG);
    tg_jwt_verifier_free(v);

    /* And our own HMAC over the RFC's signing input reproduces its signature. */
    key[0] ^= 1;
    const char *d2 = strrchr(rfc_jws, '.');
    unsigned char mac[32];
    size_t ml = 0;
    EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, kl, (const unsigned char *)rfc_jws,
              (size_t)(d2 - rfc_jws), mac, sizeof mac, &ml);
    char enc[64];
    b64e(mac, ml, enc);
    TG_CHECK_EQ_STR(enc, d2 + 1);
}

/* ---- mint / round trip --------------------------------------------------- */

TG_TEST(mint_verify_round_trip)
{
    tg_jwt_verifier_t *v = hs_verifier(5);
    const char *roles[] = {"trader", "admin"};
    const char *pf[] = {"p-1", "p-\"2\""};
    char tok[TOKCAP];
    int n = tg_jwt_mint_hs256(secret, SECRET_LEN, "u-1", roles, 2, pf, 2, NOW, NOW + 900, tok,
                              sizeof tok);
    TG_CHECK(n > 0);
    TG_CHECK_EQ_INT(strlen(tok), n);
    tg_jwt_claims_t c;
    TG_CHECK_EQ_INT(tg_jwt_verify(v, tok, (size_t)n, NOW, &c), 0);
    TG_CHECK_EQ_STR(c.sub, "u-1");
    TG_CHECK_EQ_INT(c.exp, NOW + 900);
    TG_CHECK(c.has_iat && c.iat == NOW);
    TG_CHECK(!c.has_nbf);
    TG_CHECK(c.jti == NULL);
    TG_CHECK_EQ_INT(c.n_roles, 2);
    TG_CHECK_EQ_INT(c.n_portfolios, 2);
    if (c.n_roles == 2 && c.n_portfolios == 2) {
        TG_CHECK_EQ_STR(c.roles[0], "trader");
        TG_CHECK_EQ_STR(c.roles[1], "admin");
        TG_CHECK_EQ_STR(c.portfolios[0], "p-1");
        TG_CHECK_EQ_STR(c.portfolios[1], "p-\"2\"");
    }
    TG_CHECK(c.admin);
    TG_CHECK_EQ_INT(tg_jwt_deadline(v, &c), NOW + 905);
    tg_jwt_claims_free(&c);
    TG_CHECK(c.sub == NULL);
    tg_jwt_claims_free(&c); /* twice is fine: it was zeroed */
    tg_jwt_claims_free(NULL);

    /* No roles: not admin, lists empty. */
    n = tg_jwt_mint_hs256(secret, SECRET_LEN, "bob", NULL, 0, NULL, 0, NOW, NOW + 60, tok,
                          sizeof tok);
    TG_CHECK(n > 0);
    TG_CHECK_EQ_INT(tg_jwt_verify(v, tok, (size_t)n, NOW, &c), 0);
    TG_CHECK(!c.admin && c.n_roles == 0 && c.roles == NULL && c.n_portfolios == 0);
    tg_jwt_claims_free(&c);

    /* Another secret does not verify. */
    n = tg_jwt_mint_hs256("other", 5, "bob", NULL, 0, NULL, 0, NOW, NOW + 60, tok, sizeof tok);
    TG_CHECK(n > 0);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EBADSIG);
    tg_jwt_verifier_free(v);
}

TG_TEST(mint_is_pyjwt_shaped)
{
    const char *roles[] = {"admin"};
    char tok[TOKCAP];
    int n = tg_jwt_mint_hs256(secret, SECRET_LEN, "demo", roles, 1, NULL, 0, 1000, 2000, tok,
                              sizeof tok);
    TG_CHECK(n > 0);
    /* PyJWT: header keys sorted, compact separators. */
    TG_CHECK(strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0);
    const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    unsigned char pl[256];
    size_t pn = b64d(d1 + 1, (size_t)(d2 - d1 - 1), pl);
    pl[pn] = 0;
    TG_CHECK_EQ_STR((char *)pl,
                    "{\"sub\":\"demo\",\"roles\":[\"admin\"],\"iat\":1000,\"exp\":2000}");
    /* The signature is HMAC-SHA256 over the first two segments. */
    char expect[TOKCAP];
    mk_hs(expect, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", (char *)pl);
    TG_CHECK_EQ_STR(tok, expect);
    TG_CHECK(strchr(tok, '=') == NULL);
}

TG_TEST(mint_arguments)
{
    char tok[TOKCAP];
    const char *many[TG_JWT_MAX_LIST + 1];
    for (int i = 0; i <= TG_JWT_MAX_LIST; i++)
        many[i] = "r";
    char longs[TG_JWT_MAX_STR + 2];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = 0;
    const char *lp[] = {longs};

    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(NULL, 1, "u", NULL, 0, NULL, 0, 0, 1, tok, sizeof tok),
                    -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(secret, 0, "u", NULL, 0, NULL, 0, 0, 1, tok, sizeof tok),
                    -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(secret, 3, "", NULL, 0, NULL, 0, 0, 1, tok, sizeof tok),
                    -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(secret, 3, NULL, NULL, 0, NULL, 0, 0, 1, tok, sizeof tok),
                    -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(secret, 3, longs, NULL, 0, NULL, 0, 0, 1, tok, sizeof tok),
                    -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(secret, 3, "u", lp, 1, NULL, 0, 0, 1, tok, sizeof tok),
                    -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(secret, 3, "u", NULL, 1, NULL, 0, 0, 1, tok, sizeof tok),
                    -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(secret, 3, "u", many, TG_JWT_MAX_LIST + 1, NULL, 0, 0, 1, tok,
                                      sizeof tok),
                    -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(secret, 3, "u", NULL, 0, many, TG_JWT_MAX_LIST + 1, 0, 1, tok,
                                      sizeof tok),
                    -EINVAL);
    /* Not UTF-8 (stray continuation, overlong, surrogate, truncated): refused
     * rather than minted with U+FFFD for a different name. */
    const char *bad_utf8[] = {"a\x80", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        TG_CHECK_EQ_INT(
            tg_jwt_mint_hs256(secret, 3, bad_utf8[i], NULL, 0, NULL, 0, 0, 1, tok, sizeof tok),
            -EINVAL);
        TG_CHECK_EQ_INT(
            tg_jwt_mint_hs256(secret, 3, "u", bad_utf8 + i, 1, NULL, 0, 0, 1, tok, sizeof tok),
            -EINVAL);
    }
    TG_CHECK(tg_jwt_mint_hs256(secret, 3, "\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80", NULL, 0, NULL, 0,
                               0, 1, tok, sizeof tok) > 0);

    /* 64 of each is the limit and still verifies. */
    int n = tg_jwt_mint_hs256(secret, SECRET_LEN, "u", many, TG_JWT_MAX_LIST, many, TG_JWT_MAX_LIST,
                              NOW, NOW + 1, tok, sizeof tok);
    TG_CHECK(n > 0);
    tg_jwt_verifier_t *v = hs_verifier(0);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), 0);
    tg_jwt_verifier_free(v);

    /* Exact fit and one byte short (the NUL needs room). */
    n = tg_jwt_mint_hs256(secret, 3, "u", NULL, 0, NULL, 0, 0, 1, tok, sizeof tok);
    TG_CHECK(n > 0);
    char small[256];
    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(secret, 3, "u", NULL, 0, NULL, 0, 0, 1, small, (size_t)n + 1),
                    n);
    TG_CHECK_EQ_STR(small, tok);
    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(secret, 3, "u", NULL, 0, NULL, 0, 0, 1, small, (size_t)n),
                    -ENOSPC);
    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(secret, 3, "u", NULL, 0, NULL, 0, 0, 1, small, 10), -ENOSPC);
    TG_CHECK_EQ_INT(tg_jwt_mint_hs256(secret, 3, "u", NULL, 0, NULL, 0, 0, 1, small, 0), -ENOSPC);
}

/* ---- algorithms ---------------------------------------------------------- */

TG_TEST(alg_none_and_mismatch)
{
    tg_jwt_verifier_t *v = hs_verifier(0);
    char tok[TOKCAP];
    size_t n;

    /* Unsigned token, the classic: empty signature segment. */
    n = b64e("{\"alg\":\"none\",\"typ\":\"JWT\"}", 26, tok);
    tok[n++] = '.';
    n += b64e(good_pl, strlen(good_pl), tok + n);
    tok[n++] = '.';
    tok[n] = 0;
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EALG);
    TG_CHECK_EQ_STR(tg_jwt_reason(vfy(v, tok, NOW)), "alg_mismatch");

    /* Even with a valid HMAC attached, the header alg decides first. */
    const char *hdrs[] = {
        "{\"alg\":\"none\"}",
        "{\"alg\":\"None\"}",
        "{\"alg\":\"NONE\"}",
        "{\"alg\":\"hs256\"}",
        "{\"alg\":\"HS384\"}",
        "{\"alg\":\"HS512\"}",
        "{\"alg\":\"RS256\"}",
        "{\"alg\":\"ES256\"}",
        "{\"alg\":\"HS256 \"}",
        "{\"alg\":\"\"}",
        "{\"alg\":null}",
        "{\"alg\":256}",
        "{\"alg\":[\"HS256\"]}",
        "{\"typ\":\"JWT\"}",
        "{}",
        "{\"alg\":\"HS256\\u0000\"}",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        mk_hs(tok, hdrs[i], good_pl);
        int rc = vfy(v, tok, NOW);
        if (rc != TG_JWT_EALG)
            fprintf(stderr, "header %s -> %d\n", hdrs[i], rc);
        TG_CHECK_EQ_INT(rc, TG_JWT_EALG);
    }
    /* Escaped but equal is still HS256; no typ is fine; unknown members ignored. */
    mk_hs(tok, "{\"alg\":\"\\u0048S256\"}", good_pl);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), 0);
    mk_hs(tok, "{\"kid\":\"k1\",\"alg\":\"HS256\",\"x\":{\"y\":[1]}}", good_pl);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), 0);
    /* Two alg members: parsers disagree on which wins, so neither does. */
    mk_hs(tok, "{\"alg\":\"HS256\",\"alg\":\"none\"}", good_pl);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    mk_hs(tok, "{\"alg\":\"HS256\",\"\\u0061lg\":\"HS256\"}", good_pl);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    tg_jwt_verifier_free(v);
}

TG_TEST(header_typ_crit_cty)
{
    tg_jwt_verifier_t *v = hs_verifier(0);
    char tok[TOKCAP];
    mk_hs(tok, "{\"alg\":\"HS256\",\"typ\":\"jwt\"}", good_pl);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), 0);
    const char *bad[] = {
        "{\"alg\":\"HS256\",\"typ\":\"JWS\"}",
        "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}",
        "{\"alg\":\"HS256\",\"typ\":\"\"}",
        "{\"alg\":\"HS256\",\"typ\":1}",
        "{\"alg\":\"HS256\",\"typ\":null}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"crit\":[\"exp\"]}",
        "{\"alg\":\"HS256\",\"crit\":[]}",
        "{\"alg\":\"HS256\",\"b64\":false,\"crit\":[\"b64\"]}",
        "{\"alg\":\"HS256\",\"cty\":\"JWT\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mk_hs(tok, bad[i], good_pl);
        TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EHEADER);
    }
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_EHEADER), "bad_header");
    mk_hs(tok, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"typ\":\"JWT\"}", good_pl);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    tg_jwt_verifier_free(v);
}

/* ---- RS256 --------------------------------------------------------------- */

static EVP_PKEY *rsa_keygen(unsigned bits)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    if (!k)
        abort();
    return k;
}

/* Write the public half as SPKI PEM to a temp file; returns its path (static
 * buffer owned by the caller's array) and the PEM bytes in *pem. */
static void write_pubkey(EVP_PKEY *k, char path[64], char **pem, size_t *pem_len)
{
    strcpy(path, "/tmp/tg_jwt_pubXXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    FILE *f = fdopen(fd, "w");
    if (!f || PEM_write_PUBKEY(f, k) != 1)
        abort();
    fclose(f);
    if (pem) {
        BIO *b = BIO_new(BIO_s_mem());
        if (!b || PEM_write_bio_PUBKEY(b, k) != 1)
            abort();
        char *p;
        long l = BIO_get_mem_data(b, &p);
        *pem = malloc((size_t)l + 1);
        memcpy(*pem, p, (size_t)l);
        (*pem)[l] = 0;
        *pem_len = (size_t)l;
        BIO_free(b);
    }
}

TG_TEST(rs256)
{
    EVP_PKEY *k = rsa_keygen(2048), *other = rsa_keygen(2048);
    char path[64];
    char *pem = NULL;
    size_t pem_len = 0;
    write_pubkey(k, path, &pem, &pem_len);

    tg_jwt_verifier_t *v = NULL;
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "RS256", NULL, 0, path, 5), 0);
    if (!v)
        abort();
    char tok[TOKCAP];
    size_t n = mk_rs(tok, HDR_RS, good_pl, k);
    tg_jwt_claims_t c;
    TG_CHECK_EQ_INT(tg_jwt_verify(v, tok, n, NOW, &c), 0);
    TG_CHECK_EQ_STR(c.sub, "u-1");
    tg_jwt_claims_free(&c);

    /* Signed by another key. */
    mk_rs(tok, HDR_RS, good_pl, other);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EBADSIG);

    /* Key confusion: HS256 keyed with the public key's PEM bytes (what a
     * naive "verify(token, key)" library would accept). */
    int m = tg_jwt_mint_hs256(pem, pem_len, "attacker", (const char *[]){"admin"}, 1, NULL, 0, NOW,
                              NOW + 600, tok, sizeof tok);
    TG_CHECK(m > 0);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EALG);
    /* Same with the header claiming RS256 but an HMAC-sized signature. */
    mk_hs_key(tok, HDR_RS, good_pl, pem, pem_len);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EBADSIG);
    /* And an HS256 verifier refuses RS256 tokens outright. */
    tg_jwt_verifier_t *hv = hs_verifier(0);
    mk_rs(tok, HDR_RS, good_pl, k);
    TG_CHECK_EQ_INT(vfy(hv, tok, NOW), TG_JWT_EALG);
    tg_jwt_verifier_free(hv);

    /* Flip every bit of the signature: never accepted. */
    n = mk_rs(tok, HDR_RS, good_pl, k);
    char *d2 = strrchr(tok, '.');
    unsigned char sig[512];
    size_t sl = b64d(d2 + 1, strlen(d2 + 1), sig);
    TG_CHECK_EQ_INT(sl, 256);
    int accepted = 0, not_badsig = 0;
    for (size_t bit = 0; bit < sl * 8; bit++) {
        sig[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        b64e(sig, sl, d2 + 1);
        int rc = vfy(v, tok, NOW);
        accepted += rc == 0;
        not_badsig += rc != TG_JWT_EBADSIG;
        sig[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    TG_CHECK_EQ_INT(accepted, 0);
    TG_CHECK_EQ_INT(not_badsig, 0);
    /* Truncated / extended signatures. */
    b64e(sig, sl - 1, d2 + 1);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EBADSIG);
    sig[sl] = 0;
    b64e(sig, sl + 1, d2 + 1);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EBADSIG);
    /* An all-0xff signature is >= the modulus: still just a bad signature. */
    memset(sig, 0xff, sl);
    b64e(sig, sl, d2 + 1);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EBADSIG);

    tg_jwt_verifier_free(v);
    unlink(path);
    free(pem);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}

TG_TEST(verifier_create_arguments)
{
    tg_jwt_verifier_t *v = (tg_jwt_verifier_t *)1;
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "HS384", secret, SECRET_LEN, NULL, 0), -EINVAL);
    TG_CHECK(v == NULL);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "none", secret, SECRET_LEN, NULL, 0), -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "hs256", secret, SECRET_LEN, NULL, 0), -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, NULL, secret, SECRET_LEN, NULL, 0), -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(NULL, "HS256", secret, SECRET_LEN, NULL, 0), -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "HS256", secret, 0, NULL, 0), -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "HS256", NULL, 5, NULL, 0), -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "HS256", secret, SECRET_LEN, NULL, -1), -EINVAL);
    TG_CHECK_EQ_INT(
        tg_jwt_verifier_create(&v, "HS256", secret, SECRET_LEN, NULL, TG_JWT_MAX_LEEWAY_S + 1),
        -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "RS256", NULL, 0, NULL, 0), -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "RS256", NULL, 0, "", 0), -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "RS256", NULL, 0, "/nonexistent/tg.pem", 0),
                    -ENOENT);

    /* Not a PEM; a 1024-bit key; an EC key: all refused. */
    char path[64] = "/tmp/tg_jwt_badXXXXXX";
    int fd = mkstemp(path);
    TG_CHECK(fd >= 0);
    TG_CHECK(write(fd, "hello\n", 6) == 6);
    close(fd);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "RS256", NULL, 0, path, 0), -EINVAL);
    unlink(path);
    EVP_PKEY *small = rsa_keygen(1024);
    write_pubkey(small, path, NULL, NULL);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "RS256", NULL, 0, path, 0), -EINVAL);
    unlink(path);
    EVP_PKEY_free(small);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    TG_CHECK(ec != NULL);
    if (ec) {
        write_pubkey(ec, path, NULL, NULL);
        TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "RS256", NULL, 0, path, 0), -EINVAL);
        unlink(path);
        EVP_PKEY_free(ec);
    }
    TG_CHECK(v == NULL);
    tg_jwt_verifier_free(NULL);

    /* verify arguments */
    tg_jwt_verifier_t *hv = hs_verifier(0);
    tg_jwt_claims_t c;
    TG_CHECK_EQ_INT(tg_jwt_verify(NULL, "a.b.c", 5, NOW, &c), -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_verify(hv, "a.b.c", 5, NOW, NULL), -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_verify(hv, NULL, 5, NOW, &c), -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_verify(hv, NULL, 0, NOW, &c), TG_JWT_EMALFORMED);
    TG_CHECK_EQ_STR(tg_jwt_reason(-EINVAL), "internal");
    tg_jwt_verifier_free(hv);
}

/* ---- time claims --------------------------------------------------------- */

static int vt(const tg_jwt_verifier_t *v, const char *pl, int64_t now)
{
    char tok[TOKCAP];
    mk_hs(tok, HDR, pl);
    return vfy(v, tok, now);
}

TG_TEST(exp_nbf_leeway)
{
    tg_jwt_verifier_t *v0 = hs_verifier(0), *v5 = hs_verifier(5);
    const char *pl = "{\"sub\":\"u\",\"exp\":1000}";
    TG_CHECK_EQ_INT(vt(v0, pl, 999), 0);
    TG_CHECK_EQ_INT(vt(v0, pl, 1000), TG_JWT_EEXPIRED); /* on or after exp */
    TG_CHECK_EQ_INT(vt(v5, pl, 1004), 0);
    TG_CHECK_EQ_INT(vt(v5, pl, 1005), TG_JWT_EEXPIRED);
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_EEXPIRED), "expired");

    pl = "{\"sub\":\"u\",\"exp\":2000,\"nbf\":1000}";
    TG_CHECK_EQ_INT(vt(v0, pl, 1000), 0);
    TG_CHECK_EQ_INT(vt(v0, pl, 999), TG_JWT_ENOTYET);
    TG_CHECK_EQ_INT(vt(v5, pl, 995), 0);
    TG_CHECK_EQ_INT(vt(v5, pl, 994), TG_JWT_ENOTYET);
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_ENOTYET), "not_yet_valid");

    /* Fractional NumericDates round toward refusal. */
    TG_CHECK_EQ_INT(vt(v0, "{\"sub\":\"u\",\"exp\":1000.5}", 999), 0);
    TG_CHECK_EQ_INT(vt(v0, "{\"sub\":\"u\",\"exp\":1000.5}", 1000), TG_JWT_EEXPIRED);
    TG_CHECK_EQ_INT(vt(v0, "{\"sub\":\"u\",\"exp\":2000,\"nbf\":1000.2}", 1000), TG_JWT_ENOTYET);
    TG_CHECK_EQ_INT(vt(v0, "{\"sub\":\"u\",\"exp\":2000,\"nbf\":1000.2}", 1001), 0);
    TG_CHECK_EQ_INT(vt(v0, "{\"sub\":\"u\",\"exp\":1.5e3}", 1499), 0);
    TG_CHECK_EQ_INT(vt(v0, "{\"sub\":\"u\",\"exp\":1763800000.123456789}", NOW - 1), 0);
    TG_CHECK_EQ_INT(vt(v0, "{\"sub\":\"u\",\"exp\":1763800000.123456789}", NOW), TG_JWT_EEXPIRED);
    TG_CHECK_EQ_INT(vt(v0, "{\"sub\":\"u\",\"exp\":-5}", 0), TG_JWT_EEXPIRED);
    TG_CHECK_EQ_INT(vt(v0, "{\"sub\":\"u\",\"exp\":-5.5}", -7), 0); /* floor(-5.5) = -6 */
    TG_CHECK_EQ_INT(vt(v0, "{\"sub\":\"u\",\"exp\":-5.5}", -6), TG_JWT_EEXPIRED);
    /* Far future saturates instead of overflowing. */
    TG_CHECK_EQ_INT(vt(v5, "{\"sub\":\"u\",\"exp\":9223372036854775807}", NOW), 0);
    TG_CHECK_EQ_INT(vt(v5, "{\"sub\":\"u\",\"exp\":2000,\"nbf\":-9223372036854775807}", NOW),
                    TG_JWT_EEXPIRED);
    TG_CHECK_EQ_INT(vt(v5, "{\"sub\":\"u\",\"exp\":2000,\"nbf\":-9223372036854775807}", 1000), 0);
    TG_CHECK_EQ_INT(vt(v5,
                       "{\"sub\":\"u\",\"exp\":9223372036854775807,\"nbf\":9223372036854775807}",
                       INT64_MAX - 1),
                    0); /* now + leeway saturates */

    /* Type errors and out-of-range values are claim errors, not expiries. */
    const char *bad[] = {
        "{\"sub\":\"u\",\"exp\":\"2000\"}",
        "{\"sub\":\"u\",\"exp\":null}",
        "{\"sub\":\"u\",\"exp\":true}",
        "{\"sub\":\"u\",\"exp\":[2000]}",
        "{\"sub\":\"u\",\"exp\":1e300}",
        "{\"sub\":\"u\",\"exp\":9223372036854775808}",
        "{\"sub\":\"u\",\"exp\":2000,\"nbf\":\"1\"}",
        "{\"sub\":\"u\",\"exp\":2000,\"iat\":\"1\"}",
        "{\"sub\":\"u\",\"exp\":2000,\"iat\":{}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        TG_CHECK_EQ_INT(vt(v0, bad[i], 1000), TG_JWT_EBADCLAIM);
    TG_CHECK_EQ_INT(vt(v0, "{\"sub\":\"u\"}", 1000), TG_JWT_ENOEXP);
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_ENOEXP), "missing_exp");
    TG_CHECK_EQ_INT(vt(v0, "{\"sub\":\"u\",\"exp\":2000,\"exp\":3000}", 1000), TG_JWT_EMALFORMED);

    tg_jwt_claims_t c;
    char tok[TOKCAP];
    size_t n = mk_hs(tok, HDR, "{\"sub\":\"u\",\"exp\":2000,\"nbf\":1000.1,\"iat\":999.9}");
    TG_CHECK_EQ_INT(tg_jwt_verify(v0, tok, n, 1500, &c), 0);
    TG_CHECK(c.has_nbf && c.nbf == 1001 && c.has_iat && c.iat == 999 && c.exp == 2000);
    TG_CHECK_EQ_INT(tg_jwt_deadline(v0, &c), 2000);
    tg_jwt_claims_free(&c);
    tg_jwt_verifier_free(v0);
    tg_jwt_verifier_free(v5);
}

/* ---- claims -------------------------------------------------------------- */

TG_TEST(claims_sub_roles_portfolios)
{
    tg_jwt_verifier_t *v = hs_verifier(0);
    char buf[8000];
    TG_CHECK_EQ_INT(vt(v, "{\"exp\":2000}", 1000), TG_JWT_ENOSUB);
    TG_CHECK_EQ_INT(vt(v, "{\"sub\":\"\",\"exp\":2000}", 1000), TG_JWT_ENOSUB);
    TG_CHECK_EQ_INT(vt(v, "{\"sub\":null,\"exp\":2000}", 1000), TG_JWT_EBADCLAIM);
    TG_CHECK_EQ_INT(vt(v, "{\"sub\":42,\"exp\":2000}", 1000), TG_JWT_EBADCLAIM);
    TG_CHECK_EQ_INT(vt(v, "{\"sub\":[\"u\"],\"exp\":2000}", 1000), TG_JWT_EBADCLAIM);
    TG_CHECK_EQ_INT(vt(v, "{\"sub\":\"a\\u0000b\",\"exp\":2000}", 1000), TG_JWT_EBADCLAIM);
    TG_CHECK_EQ_INT(vt(v, "{\"sub\":\"u\",\"sub\":\"admin\",\"exp\":2000}", 1000),
                    TG_JWT_EMALFORMED);
    TG_CHECK_EQ_INT(vt(v, "{\"sub\":\"u\",\"\\u0073ub\":\"admin\",\"exp\":2000}", 1000),
                    TG_JWT_EMALFORMED);

    /* sub: 128 bytes ok, 129 not; the limit counts unescaped UTF-8 bytes. */
    char s[TG_JWT_MAX_STR + 2];
    memset(s, 'a', sizeof s);
    s[TG_JWT_MAX_STR] = 0;
    snprintf(buf, sizeof buf, "{\"sub\":\"%s\",\"exp\":2000}", s);
    TG_CHECK_EQ_INT(vt(v, buf, 1000), 0);
    s[TG_JWT_MAX_STR] = 'a';
    s[TG_JWT_MAX_STR + 1] = 0;
    snprintf(buf, sizeof buf, "{\"sub\":\"%s\",\"exp\":2000}", s);
    TG_CHECK_EQ_INT(vt(v, buf, 1000), TG_JWT_EBADCLAIM);
    TG_CHECK_EQ_INT(vt(v, "{\"sub\":\"\\u00e9t\\u00e9\",\"exp\":2000}", 1000), 0);

    /* jti */
    tg_jwt_claims_t c;
    char tok[TOKCAP];
    size_t n = mk_hs(tok, HDR,
                     "{\"sub\":\"u\",\"exp\":2000,\"jti\":\"id-1\",\"iss\":\"x\",\"aud\":[\"y\"]}");
    TG_CHECK_EQ_INT(tg_jwt_verify(v, tok, n, 1000, &c), 0);
    TG_CHECK_EQ_STR(c.jti, "id-1");
    tg_jwt_claims_free(&c);
    TG_CHECK_EQ_INT(vt(v, "{\"sub\":\"u\",\"exp\":2000,\"jti\":7}", 1000), TG_JWT_EBADCLAIM);

    /* roles / portfolios shapes */
    const char *bad[] = {
        "{\"sub\":\"u\",\"exp\":2000,\"roles\":\"admin\"}",
        "{\"sub\":\"u\",\"exp\":2000,\"roles\":null}",
        "{\"sub\":\"u\",\"exp\":2000,\"roles\":[\"a\",1]}",
        "{\"sub\":\"u\",\"exp\":2000,\"roles\":[\"a\",\"\"]}",
        "{\"sub\":\"u\",\"exp\":2000,\"roles\":[[\"admin\"]]}",
        "{\"sub\":\"u\",\"exp\":2000,\"roles\":{\"admin\":true}}",
        "{\"sub\":\"u\",\"exp\":2000,\"portfolios\":\"p-1\"}",
        "{\"sub\":\"u\",\"exp\":2000,\"portfolios\":[\"p-1\",null]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        TG_CHECK_EQ_INT(vt(v, bad[i], 1000), TG_JWT_EBADCLAIM);
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_EBADCLAIM), "bad_claim");
    TG_CHECK_EQ_INT(vt(v, "{\"sub\":\"u\",\"exp\":2000,\"roles\":[],\"portfolios\":[]}", 1000), 0);
    TG_CHECK_EQ_INT(
        vt(v, "{\"sub\":\"u\",\"exp\":2000,\"roles\":[\"user\"],\"roles\":[\"admin\"]}", 1000),
        TG_JWT_EMALFORMED);

    /* 64 entries accepted, 65 refused, in both lists. */
    for (int which = 0; which < 2; which++)
        for (int count = 64; count <= 65; count++) {
            size_t o = (size_t)snprintf(buf, sizeof buf, "{\"sub\":\"u\",\"exp\":2000,\"%s\":[",
                                        which ? "portfolios" : "roles");
            for (int i = 0; i < count; i++)
                o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\"r%d\"", i ? "," : "", i);
            snprintf(buf + o, sizeof buf - o, "]}");
            TG_CHECK_EQ_INT(vt(v, buf, 1000), count == 64 ? 0 : TG_JWT_EBADCLAIM);
        }

    /* admin only from an exact "admin" role */
    n = mk_hs(tok, HDR, "{\"sub\":\"u\",\"exp\":2000,\"roles\":[\"Admin\",\"admins\",\"x\"]}");
    TG_CHECK_EQ_INT(tg_jwt_verify(v, tok, n, 1000, &c), 0);
    TG_CHECK(!c.admin && c.n_roles == 3);
    tg_jwt_claims_free(&c);
    n = mk_hs(tok, HDR, "{\"sub\":\"u\",\"exp\":2000,\"roles\":[\"x\",\"\\u0061dmin\"]}");
    TG_CHECK_EQ_INT(tg_jwt_verify(v, tok, n, 1000, &c), 0);
    TG_CHECK(c.admin);
    tg_jwt_claims_free(&c);
    tg_jwt_verifier_free(v);
}

/* ---- shape and encoding -------------------------------------------------- */

TG_TEST(malformed_shapes)
{
    tg_jwt_verifier_t *v = hs_verifier(0);
    char good[TOKCAP], tok[2 * TOKCAP];
    size_t gn = mk_hs(good, HDR, good_pl);
    const char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
    size_t h = (size_t)(d1 - good), p = (size_t)(d2 - d1 - 1);
    TG_CHECK_EQ_INT(vfy(v, good, NOW), 0);

    const char *simple[] = {"", ".", "..", "...", "abc", "a.b", "a.b.c.d", "eyJ.eyJ", "\0"};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        TG_CHECK_EQ_INT(vfy(v, simple[i], NOW), TG_JWT_EMALFORMED);

    /* 2 segments, 4 segments, empty header / payload. */
    TG_CHECK_EQ_INT(vfy_n(v, good, (size_t)(d2 - good), NOW), TG_JWT_EMALFORMED);
    snprintf(tok, sizeof tok, "%s.%s", good, d2 + 1);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    snprintf(tok, sizeof tok, "%s.", good);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    snprintf(tok, sizeof tok, "%s", d1); /* ".payload.sig" */
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    snprintf(tok, sizeof tok, "%.*s.%s", (int)h, good, d2); /* "hdr..sig" */
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    /* Empty signature with the right alg: the signature is what is wrong. */
    snprintf(tok, sizeof tok, "%.*s.", (int)(d2 - good), good);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EBADSIG);

    /* Foreign characters at the start, the middle and the end of each segment. */
    const char foreign[] = {'+', '/', '=', ' ', '\n', '\t', '*', '.', '\0', '\x80', '\xc3'};
    size_t pos[] = {0, h / 2, h - 1, h + 1, h + 1 + p / 2, h + p, h + p + 2, gn - 5, gn - 1};
    for (size_t i = 0; i < sizeof foreign; i++)
        for (size_t k = 0; k < sizeof pos / sizeof pos[0]; k++) {
            memcpy(tok, good, gn + 1);
            tok[pos[k]] = foreign[i];
            int rc = vfy_n(v, tok, gn, NOW);
            TG_CHECK_EQ_INT(rc, TG_JWT_EMALFORMED);
        }
    /* Padding, leading/trailing whitespace. */
    snprintf(tok, sizeof tok, "%s=", good);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    snprintf(tok, sizeof tok, "%s==", good);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    snprintf(tok, sizeof tok, "%s\n", good);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    snprintf(tok, sizeof tok, " %s", good);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    /* Standard-alphabet base64 of the same bytes (padding and all). */
    {
        unsigned char raw[64];
        size_t rl = b64d(d2 + 1, strlen(d2 + 1), raw);
        char std[128];
        EVP_EncodeBlock((unsigned char *)std, raw, (int)rl);
        snprintf(tok, sizeof tok, "%.*s.%s", (int)(d2 - good), good, std);
        TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    }

    /* A segment of length 4k+1 can encode nothing. */
    TG_CHECK_EQ_INT(strlen(d2 + 1) % 4, 3); /* 43 chars for 32 bytes; +2 makes 4k+1 */
    snprintf(tok, sizeof tok, "%sAA", good);
    TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);

    /* Non-canonical trailing bits: the signature segment is 43 chars (4k+3),
     * so its last char carries 2 unused bits. */
    {
        memcpy(tok, good, gn + 1);
        char *last = tok + gn - 1;
        int val = (int)(strchr(b64a, *last) - b64a);
        TG_CHECK_EQ_INT(val & 3, 0);
        *last = b64a[val | 1];
        TG_CHECK_EQ_INT(vfy_n(v, tok, gn, NOW), TG_JWT_EMALFORMED);
        *last = b64a[val | 2];
        TG_CHECK_EQ_INT(vfy_n(v, tok, gn, NOW), TG_JWT_EMALFORMED);
    }
    /* Header of 4k+2 chars (1 trailing byte, 4 unused bits). */
    {
        const char *hj = "{\"alg\":\"HS256\" }"; /* 16 bytes -> 22 chars */
        size_t n = mk_hs(tok, hj, good_pl);
        TG_CHECK_EQ_INT(vfy_n(v, tok, n, NOW), 0);
        char *hl = strchr(tok, '.') - 1;
        int val = (int)(strchr(b64a, *hl) - b64a);
        TG_CHECK_EQ_INT(val & 15, 0);
        *hl = b64a[val | 8];
        TG_CHECK_EQ_INT(vfy_n(v, tok, n, NOW), TG_JWT_EMALFORMED);
    }

    /* Header/payload that are not JSON objects. Payload problems only show
     * once the signature is right, so these are properly signed. */
    const char *not_obj[] = {"hello",
                             "[]",
                             "[{\"alg\":\"HS256\"}]",
                             "\"HS256\"",
                             "null",
                             "1",
                             "{\"alg\":\"HS256\"} x",
                             "{\"alg\":\"HS256\",}",
                             "{'alg':'HS256'}",
                             ("{\"alg\":\"HS\xff"
                              "256\"}")}; /* invalid UTF-8 */
    for (size_t i = 0; i < sizeof not_obj / sizeof not_obj[0]; i++) {
        mk_hs(tok, not_obj[i], good_pl);
        TG_CHECK_EQ_INT(vfy(v, tok, NOW), TG_JWT_EMALFORMED);
    }
    const char *bad_pl[] = {"",
                            "[]",
                            "[{\"sub\":\"u\",\"exp\":2000000000}]",
                            "hello",
                            "null",
                            "{\"sub\":\"u\",\"exp\":2000000000",
                            "{\"sub\":\"u\",\"exp\":2000000000}{}",
                            "{\"sub\":\"\xc3\x28\",\"exp\":2000000000}"};
    for (size_t i = 0; i < sizeof bad_pl / sizeof bad_pl[0]; i++) {
        size_t n = mk_hs(tok, HDR, bad_pl[i]);
        TG_CHECK_EQ_INT(vfy_n(v, tok, n, NOW), TG_JWT_EMALFORMED);
    }
    /* Bytes after the JSON: a NUL inside the decoded header. */
    {
        const char hz[] = "{\"alg\":\"HS256\"}\0";
        unsigned char sig[32] = {0};
        size_t n = mk_raw(tok, hz, sizeof hz - 1, good_pl, strlen(good_pl), sig, sizeof sig);
        TG_CHECK_EQ_INT(vfy_n(v, tok, n, NOW), TG_JWT_EMALFORMED);
    }
    tg_jwt_verifier_free(v);
}

TG_TEST(size_and_depth_bounds)
{
    tg_jwt_verifier_t *v = hs_verifier(0);
    static char big[TG_JWT_MAX_TOKEN * 2], pl[TG_JWT_MAX_TOKEN];

    /* Over 8 KiB: refused before any decoding. */
    memset(big, 'A', TG_JWT_MAX_TOKEN + 1);
    big[100] = '.';
    big[200] = '.';
    TG_CHECK_EQ_INT(vfy_n(v, big, TG_JWT_MAX_TOKEN + 1, NOW), TG_JWT_ETOOLARGE);
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_ETOOLARGE), "too_large");

    /* A valid token just under the limit is fine; padded just over is not. */
    size_t o = (size_t)snprintf(pl, sizeof pl, "{\"sub\":\"u\",\"exp\":2000000000,\"pad\":\"");
    size_t want = 5900; /* -> ~7.9 KiB of base64 */
    memset(pl + o, 'x', want - o);
    snprintf(pl + want, sizeof pl - want, "\"}");
    size_t n = mk_hs(big, HDR, pl);
    TG_CHECK(n <= TG_JWT_MAX_TOKEN);
    TG_CHECK_EQ_INT(vfy_n(v, big, n, NOW), 0);
    memset(pl + o, 'x', 6200 - o);
    snprintf(pl + 6200, sizeof pl - 6200, "\"}");
    n = mk_hs(big, HDR, pl);
    TG_CHECK(n > TG_JWT_MAX_TOKEN);
    TG_CHECK_EQ_INT(vfy_n(v, big, n, NOW), TG_JWT_ETOOLARGE);

    /* Deep nesting in a custom claim: parser limit, not a stack overflow. */
    o = (size_t)snprintf(pl, sizeof pl, "{\"sub\":\"u\",\"exp\":2000000000,\"x\":");
    for (int i = 0; i < 2000; i++)
        pl[o++] = '[';
    for (int i = 0; i < 2000; i++)
        pl[o++] = ']';
    pl[o++] = '}';
    pl[o] = 0;
    n = mk_hs(big, HDR, pl);
    TG_CHECK_EQ_INT(vfy_n(v, big, n, NOW), TG_JWT_EMALFORMED);
    /* Moderate nesting (depth 10) is still accepted. */
    TG_CHECK_EQ_INT(vt(v, "{\"sub\":\"u\",\"exp\":2000,\"x\":[[[[[[[[[1]]]]]]]]]}", 1000), 0);
    /* Deep header. */
    mk_hs(big, "{\"alg\":\"HS256\",\"x\":[[[[[[[[]]]]]]]]}", good_pl);
    TG_CHECK_EQ_INT(vfy(v, big, NOW), TG_JWT_EMALFORMED);
    /* Many tokens in the payload. */
    o = (size_t)snprintf(pl, sizeof pl, "{\"sub\":\"u\",\"exp\":2000000000,\"x\":[");
    for (int i = 0; i < 2000; i++)
        o += (size_t)snprintf(pl + o, sizeof pl - o, "%s1", i ? "," : "");
    snprintf(pl + o, sizeof pl - o, "]}");
    n = mk_hs(big, HDR, pl);
    TG_CHECK(n <= TG_JWT_MAX_TOKEN);
    TG_CHECK_EQ_INT(vfy_n(v, big, n, NOW), TG_JWT_EMALFORMED);
    tg_jwt_verifier_free(v);
}

/* ---- tampering ----------------------------------------------------------- */

TG_TEST(every_bit_flip_is_refused)
{
    tg_jwt_verifier_t *v = hs_verifier(0);
    char good[TOKCAP], tok[TOKCAP];
    const char *roles[] = {"admin"};
    int gn = tg_jwt_mint_hs256(secret, SECRET_LEN, "u-1", roles, 1, NULL, 0, NOW, NOW + 60, good,
                               sizeof good);
    TG_CHECK(gn > 0);
    TG_CHECK_EQ_INT(vfy(v, good, NOW), 0);
    const char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
    unsigned char seg[3][512];
    size_t sl[3];
    sl[0] = b64d(good, (size_t)(d1 - good), seg[0]);
    sl[1] = b64d(d1 + 1, (size_t)(d2 - d1 - 1), seg[1]);
    sl[2] = b64d(d2 + 1, strlen(d2 + 1), seg[2]);

    int accepted = 0, payload_not_badsig = 0, sig_not_badsig = 0;
    for (int s = 0; s < 3; s++)
        for (size_t bit = 0; bit < sl[s] * 8; bit++) {
            seg[s][bit / 8] ^= (unsigned char)(1u << (bit % 8));
            size_t n = mk_raw(tok, seg[0], sl[0], seg[1], sl[1], seg[2], sl[2]);
            int rc = vfy_n(v, tok, n, NOW);
            accepted += rc == 0;
            payload_not_badsig += s == 1 && rc != TG_JWT_EBADSIG;
            sig_not_badsig += s == 2 && rc != TG_JWT_EBADSIG;
            seg[s][bit / 8] ^= (unsigned char)(1u << (bit % 8));
        }
    TG_CHECK_EQ_INT(accepted, 0);
    TG_CHECK_EQ_INT(payload_not_badsig, 0);
    TG_CHECK_EQ_INT(sig_not_badsig, 0);

    /* Replace each character by every other one: canonical base64url means
     * no other text of the same token exists. */
    accepted = 0;
    for (int i = 0; i < gn; i++) {
        if (good[i] == '.')
            continue;
        for (int a = 0; a < 64; a++) {
            if (b64a[a] == good[i])
                continue;
            memcpy(tok, good, (size_t)gn + 1);
            tok[i] = b64a[a];
            accepted += vfy_n(v, tok, (size_t)gn, NOW) == 0;
        }
    }
    TG_CHECK_EQ_INT(accepted, 0);
    tg_jwt_verifier_free(v);
}

/* ---- misc ---------------------------------------------------------------- */

TG_TEST(reasons_are_stable)
{
    TG_CHECK_EQ_STR(tg_jwt_reason(0), "ok");
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_EMALFORMED), "malformed");
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_EBADSIG), "bad_signature");
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_EALG), "alg_mismatch");
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_EEXPIRED), "expired");
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_ENOTYET), "not_yet_valid");
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_ENOEXP), "missing_exp");
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_ENOSUB), "missing_sub");
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_EBADCLAIM), "bad_claim");
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_EHEADER), "bad_header");
    TG_CHECK_EQ_STR(tg_jwt_reason(TG_JWT_ETOOLARGE), "too_large");
    TG_CHECK_EQ_STR(tg_jwt_reason(-ENOMEM), "internal");
    TG_CHECK_EQ_STR(tg_jwt_reason(12345), "internal");
}

TG_TEST(sha256_hex)
{
    char out[65];
    TG_CHECK_EQ_INT(tg_jwt_sha256_hex("abc", 3, out), 0);
    TG_CHECK_EQ_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    TG_CHECK_EQ_INT(tg_jwt_sha256_hex("", 0, out), 0);
    TG_CHECK_EQ_STR(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    TG_CHECK_EQ_INT(tg_jwt_sha256_hex(NULL, 0, out), 0);
    TG_CHECK_EQ_INT(tg_jwt_sha256_hex(NULL, 1, out), -EINVAL);
    TG_CHECK_EQ_INT(tg_jwt_sha256_hex("abc", 3, NULL), -EINVAL);
}

TG_TEST(parse_duration)
{
    int64_t s = -1;
    TG_CHECK(tg_parse_duration_s("90", &s) == 0 && s == 90);
    TG_CHECK(tg_parse_duration_s("30s", &s) == 0 && s == 30);
    TG_CHECK(tg_parse_duration_s("15m", &s) == 0 && s == 900);
    TG_CHECK(tg_parse_duration_s("24h", &s) == 0 && s == 86400);
    TG_CHECK(tg_parse_duration_s("2d", &s) == 0 && s == 172800);
    TG_CHECK(tg_parse_duration_s("0", &s) == 0 && s == 0);
    TG_CHECK(tg_parse_duration_s("0015m", &s) == 0 && s == 900);
    TG_CHECK(tg_parse_duration_s("9223372036854775807", &s) == 0 && s == INT64_MAX);
    const char *bad[] = {"",    "m",   "-5",   "+5", " 5", "5 ", "5x",
                         "5mm", "5ms", "1.5h", "5M", "5S", "h5", "5\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        TG_CHECK_EQ_INT(tg_parse_duration_s(bad[i], &s), -EINVAL);
    TG_CHECK_EQ_INT(tg_parse_duration_s("9223372036854775808", &s), -ERANGE);
    TG_CHECK_EQ_INT(tg_parse_duration_s("153722867280912931m", &s), -ERANGE);
    TG_CHECK_EQ_INT(tg_parse_duration_s(NULL, &s), -EINVAL);
    TG_CHECK_EQ_INT(tg_parse_duration_s("5", NULL), -EINVAL);
}

/* ---- threads: one verifier, many service threads ------------------------- */

typedef struct {
    const tg_jwt_verifier_t *v;
    const char *good, *bad;
    int ok, wrong;
} thr_arg_t;

static void *thr_main(void *p)
{
    thr_arg_t *a = p;
    for (int i = 0; i < 300; i++) {
        tg_jwt_claims_t c;
        int rc = tg_jwt_verify(a->v, a->good, strlen(a->good), NOW, &c);
        if (rc == 0 && strcmp(c.sub, "u-1") == 0)
            a->ok++;
        else
            a->wrong++;
        tg_jwt_claims_free(&c);
        if (tg_jwt_verify(a->v, a->bad, strlen(a->bad), NOW, &c) != TG_JWT_EBADSIG)
            a->wrong++;
    }
    return NULL;
}

static void run_threads(const tg_jwt_verifier_t *v, const char *good, const char *bad)
{
    enum { N = 8 };
    pthread_t t[N];
    thr_arg_t a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (thr_arg_t){.v = v, .good = good, .bad = bad};
        TG_CHECK_EQ_INT(pthread_create(&t[i], NULL, thr_main, &a[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        TG_CHECK_EQ_INT(a[i].ok, 300);
        TG_CHECK_EQ_INT(a[i].wrong, 0);
    }
}

TG_TEST(concurrent_verifies)
{
    tg_jwt_verifier_t *v = hs_verifier(0);
    char good[TOKCAP], bad[TOKCAP];
    mk_hs(good, HDR, good_pl);
    mk_hs_key(bad, HDR, good_pl, "nope", 4);
    run_threads(v, good, bad);
    tg_jwt_verifier_free(v);

    EVP_PKEY *k = rsa_keygen(2048), *other = rsa_keygen(2048);
    char path[64];
    write_pubkey(k, path, NULL, NULL);
    TG_CHECK_EQ_INT(tg_jwt_verifier_create(&v, "RS256", NULL, 0, path, 0), 0);
    mk_rs(good, HDR_RS, good_pl, k);
    mk_rs(bad, HDR_RS, good_pl, other);
    if (v)
        run_threads(v, good, bad);
    tg_jwt_verifier_free(v);
    unlink(path);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}

int main(void)
{
    return tg_test_run();
}
