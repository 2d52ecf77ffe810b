/* jwt.c - strict JWT (JWS compact, HS256/RS256) verification and HS256 minting.
 *
 * Why strict: the token is the only thing between the Internet and user
 * portfolios, and most historical JWT bugs come from leniency (alg "none",
 * HS/RS key confusion, parsers that disagree about duplicate keys or
 * non-canonical base64). So: exactly the configured alg, canonical base64url
 * only, duplicate security-relevant members refused, no crit/cty, bounded
 * sizes, and the payload is not even parsed before its signature verifies.
 *
 * Crypto is OpenSSL 3.0 only (EVP_MAC HMAC, EVP_DigestVerify RSA PKCS#1 v1.5).
 * Threads: the verifier is immutable after creation; tg_jwt_verify() uses a
 * per-call dup of the prepared HMAC context or a per-call EVP_MD_CTX over the
 * shared EVP_PKEY, both of which OpenSSL supports concurrently.
 */
#include "tickgate/jwt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "tickgate/fixed.h"
#include "tickgate/json.h"
#include "tickgate/log.h"

#define HS256_LEN    32
#define RSA_MIN_BITS 2048
/* A header is a handful of short members; anything bigger is not ours. */
#define HDR_MAX_TOKENS 32
#define HDR_MAX_DEPTH  4
/* 64 roles + 64 portfolios + the registered claims, and room for an IdP's
 * extra claims; nesting beyond this is hostile, not informative. */
#define PAYLOAD_MAX_TOKENS 1024
#define PAYLOAD_MAX_DEPTH  16

typedef enum { ALG_HS256 = 1, ALG_RS256 = 2 } jwt_alg_t;

struct tg_jwt_verifier {
    jwt_alg_t alg;
    const char *alg_name; /* static string, compared with the header's alg */
    int leeway_s;
    EVP_MAC *mac;          /* HS256: HMAC, fetched once */
    EVP_MAC_CTX *mac_tmpl; /* HS256: keyed once; each verify dups it (read-only here) */
    EVP_PKEY *pkey;        /* RS256: the public key */
    size_t sig_len;        /* exact signature length the alg produces */
};

/* ---- base64url (RFC 7515 §2: no padding) ---------------------------------- */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

static size_t b64url_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Encode n bytes into out (no NUL); returns the length. out must be big enough. */
static size_t b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_alphabet[w >> 18 & 63];
        out[o++] = b64url_alphabet[w >> 12 & 63];
        out[o++] = b64url_alphabet[w >> 6 & 63];
        out[o++] = b64url_alphabet[w & 63];
    }
    if (n - i == 1) {
        uint32_t w = (uint32_t)in[i] << 16;
        out[o++] = b64url_alphabet[w >> 18 & 63];
        out[o++] = b64url_alphabet[w >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url_alphabet[w >> 18 & 63];
        out[o++] = b64url_alphabet[w >> 12 & 63];
        out[o++] = b64url_alphabet[w >> 6 & 63];
    }
    return o;
}

/*
 * Decode canonical unpadded base64url. Refuses '=', '+', '/', whitespace, a
 * length of 4k+1, and set bits below the last full byte: with those refused,
 * every byte string has exactly one accepted text, so a token cannot be
 * altered without breaking its signature. out needs n*3/4 bytes.
 */
static int b64url_decode(const char *in, size_t n, unsigned char *out, size_t *outlen)
{
    if (n % 4 == 1)
        return -EINVAL;
    size_t o = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        int a = b64url_value((unsigned char)in[i]), b = b64url_value((unsigned char)in[i + 1]);
        int c = b64url_value((unsigned char)in[i + 2]), d = b64url_value((unsigned char)in[i + 3]);
        if ((a | b | c | d) < 0)
            return -EINVAL;
        uint32_t w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (unsigned char)(w >> 16);
        out[o++] = (unsigned char)(w >> 8);
        out[o++] = (unsigned char)w;
    }
    size_t rest = n - i;
    if (rest >= 2) {
        int a = b64url_value((unsigned char)in[i]), b = b64url_value((unsigned char)in[i + 1]);
        int c = rest == 3 ? b64url_value((unsigned char)in[i + 2]) : 0;
        if ((a | b | c) < 0)
            return -EINVAL;
        if (rest == 2 && (b & 0x0f))
            return -EINVAL; /* non-canonical: 4 unused bits must be zero */
        if (rest == 3 && (c & 0x03))
            return -EINVAL; /* non-canonical: 2 unused bits must be zero */
        uint32_t w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        out[o++] = (unsigned char)(w >> 16);
        if (rest == 3)
            out[o++] = (unsigned char)(w >> 8);
    }
    *outlen = o;
    return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* Number of members of obj whose (unescaped) name is key. Counting instead of
 * tg_json_get's "first wins" closes the gap where another JWT library reading
 * the same token would pick the last duplicate. */
static int count_member(const tg_json_t *j, tg_json_ref_t obj, const char *key)
{
    int it = 0, n = 0;
    tg_json_ref_t k, val;
    while ((k = tg_json_next_member(j, obj, &it, &val)) >= 0)
        if (tg_json_str_eq(j, k, key))
            n++;
    return n;
}

/* Member key of obj: -1 absent, -2 duplicated, else its value ref. */
static tg_json_ref_t unique_member(const tg_json_t *j, tg_json_ref_t obj, const char *key)
{
    int n = count_member(j, obj, key);
    if (n == 0)
        return -1;
    if (n > 1)
        return -2;
    return tg_json_get(j, obj, key);
}

/* NumericDate (RFC 7519 §2): integer or decimal seconds. Fractions round
 * toward refusal: round_up for nbf, down for exp/iat. */
static int numeric_date(const tg_json_t *j, tg_json_ref_t r, bool round_up, int64_t *out)
{
    if (tg_json_type(j, r) != TG_JSON_NUMBER)
        return -EINVAL;
    int rc = tg_json_i64(j, r, out);
    if (rc == 0)
        return 0;
    size_t len;
    const char *raw = tg_json_raw(j, r, &len);
    tg_dec_t d;
    if (!raw || tg_dec_parse_round(raw, len, &d) != 0)
        return -ERANGE;
    int64_t q = d / TG_DEC_SCALE, m = d % TG_DEC_SCALE;
    if (m < 0 && !round_up)
        q--;
    else if (m > 0 && round_up)
        q++;
    *out = q;
    return 0;
}

/* Copy string r into a fresh heap string: 1..TG_JWT_MAX_STR bytes, no NUL.
 * Returns 0, -EINVAL (not a string, empty, too long, embedded NUL), -ENOMEM. */
static int dup_claim_str(const tg_json_t *j, tg_json_ref_t r, char **out)
{
    char buf[TG_JWT_MAX_STR + 1];
    size_t n;
    if (tg_json_type(j, r) != TG_JSON_STRING)
        return -EINVAL;
    if (tg_json_str(j, r, buf, sizeof buf, &n) != 0 || n == 0 || strlen(buf) != n)
        return -EINVAL;
    *out = strdup(buf);
    return *out ? 0 : -ENOMEM;
}

/* Optional array-of-strings claim (roles, portfolios). */
static int string_list(const tg_json_t *j, tg_json_ref_t obj, const char *key, char ***out,
                       size_t *count)
{
    tg_json_ref_t arr = unique_member(j, obj, key);
    if (arr == -1)
        return 0;
    if (arr == -2)
        return TG_JWT_EMALFORMED;
    if (tg_json_type(j, arr) != TG_JSON_ARRAY)
        return TG_JWT_EBADCLAIM;
    int n = tg_json_size(j, arr);
    if (n < 0 || n > TG_JWT_MAX_LIST)
        return TG_JWT_EBADCLAIM;
    if (n == 0)
        return 0;
    char **list = calloc((size_t)n, sizeof *list);
    if (!list)
        return -ENOMEM;
    *out = list; /* owned by the claims from here, freed by tg_jwt_claims_free */
    int it = 0;
    tg_json_ref_t e;
    while ((e = tg_json_next_elem(j, arr, &it)) >= 0 && *count < (size_t)n) {
        int rc = dup_claim_str(j, e, &list[*count]);
        if (rc)
            return rc == -ENOMEM ? rc : TG_JWT_EBADCLAIM;
        (*count)++;
    }
    return *count == (size_t)n ? 0 : TG_JWT_EBADCLAIM;
}

/* ---- verifier ------------------------------------------------------------- */

static int load_rsa_pubkey(tg_jwt_verifier_t *v, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int err = errno;
        TG_ERROR("jwt_pubkey_open_failed", "path", TG_S(path), "error", TG_S(strerror(err)));
        return err == ENOENT ? -ENOENT : -EINVAL;
    }
    v->pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!v->pkey) {
        TG_ERROR("jwt_pubkey_invalid", "path", TG_S(path), "reason",
                 TG_S("not a PEM SubjectPublicKeyInfo (BEGIN PUBLIC KEY)"));
        return -EINVAL;
    }
    if (!EVP_PKEY_is_a(v->pkey, "RSA")) {
        TG_ERROR("jwt_pubkey_invalid", "path", TG_S(path), "reason", TG_S("not an RSA key"));
        return -EINVAL;
    }
    if (EVP_PKEY_get_bits(v->pkey) < RSA_MIN_BITS) {
        TG_ERROR("jwt_pubkey_invalid", "path", TG_S(path), "reason",
                 TG_S("RSA key shorter than 2048 bits"), "bits", TG_I(EVP_PKEY_get_bits(v->pkey)));
        return -EINVAL;
    }
    int size = EVP_PKEY_get_size(v->pkey);
    if (size <= 0)
        return -EINVAL;
    v->sig_len = (size_t)size;
    return 0;
}

static int prepare_hmac(tg_jwt_verifier_t *v, const void *secret, size_t secret_len)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    v->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!v->mac)
        return -ENOMEM;
    v->mac_tmpl = EVP_MAC_CTX_new(v->mac);
    if (!v->mac_tmpl)
        return -ENOMEM;
    if (!EVP_MAC_init(v->mac_tmpl, secret, secret_len, params))
        return -EINVAL;
    v->sig_len = HS256_LEN;
    return 0;
}

int tg_jwt_verifier_create(tg_jwt_verifier_t **out, const char *alg, const void *secret,
                           size_t secret_len, const char *pubkey_pem_path, int leeway_s)
{
    if (!out || !alg || leeway_s < 0 || leeway_s > TG_JWT_MAX_LEEWAY_S)
        return -EINVAL;
    *out = NULL;
    jwt_alg_t a;
    if (strcmp(alg, "HS256") == 0) {
        if (!secret || secret_len == 0)
            return -EINVAL;
        a = ALG_HS256;
    } else if (strcmp(alg, "RS256") == 0) {
        if (!pubkey_pem_path || !*pubkey_pem_path)
            return -EINVAL;
        a = ALG_RS256;
    } else {
        return -EINVAL;
    }

    tg_jwt_verifier_t *v = calloc(1, sizeof *v);
    if (!v)
        return -ENOMEM;
    v->alg = a;
    v->alg_name = a == ALG_HS256 ? "HS256" : "RS256";
    v->leeway_s = leeway_s;

    /* Keep whatever OpenSSL queues on this thread from leaking into a later
     * SSL_get_error() of the caller (lws shares the thread's error queue). */
    ERR_set_mark();
    int rc =
        a == ALG_HS256 ? prepare_hmac(v, secret, secret_len) : load_rsa_pubkey(v, pubkey_pem_path);
    ERR_pop_to_mark();
    if (rc)
        goto fail_free_verifier;
    *out = v;
    return 0;

fail_free_verifier:
    tg_jwt_verifier_free(v);
    return rc;
}

void tg_jwt_verifier_free(tg_jwt_verifier_t *v)
{
    if (!v)
        return;
    EVP_MAC_CTX_free(v->mac_tmpl); /* clears the keyed HMAC state */
    EVP_MAC_free(v->mac);
    EVP_PKEY_free(v->pkey);
    free(v);
}

/* 1 valid, 0 invalid, negative errno on an OpenSSL failure. */
static int check_signature(const tg_jwt_verifier_t *v, const char *signing_input, size_t si_len,
                           const unsigned char *sig, size_t sig_len)
{
    if (sig_len != v->sig_len)
        return 0;
    int ok = -ENOMEM;
    ERR_set_mark();
    if (v->alg == ALG_HS256) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        size_t mac_len = 0;
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(v->mac_tmpl);
        if (!ctx)
            goto out;
        if (EVP_MAC_update(ctx, (const unsigned char *)signing_input, si_len) &&
            EVP_MAC_final(ctx, mac, &mac_len, sizeof mac) && mac_len == HS256_LEN)
            ok = CRYPTO_memcmp(mac, sig, HS256_LEN) == 0;
        EVP_MAC_CTX_free(ctx);
        OPENSSL_cleanse(mac, sizeof mac);
    } else {
        EVP_MD_CTX *mctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        if (!mctx)
            goto out;
        if (EVP_DigestVerifyInit_ex(mctx, &pctx, "SHA256", NULL, NULL, v->pkey, NULL) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0)
            /* Any non-1 result (bad padding, value >= modulus…) is a bad signature. */
            ok = EVP_DigestVerify(mctx, sig, sig_len, (const unsigned char *)signing_input,
                                  si_len) == 1;
        EVP_MD_CTX_free(mctx);
    }
out:
    ERR_pop_to_mark();
    return ok;
}

static int check_header(const tg_jwt_verifier_t *v, const unsigned char *hdr, size_t len)
{
    tg_json_t j = {0};
    int rc = TG_JWT_EMALFORMED;
    int prc = tg_json_parse(&j, (const char *)hdr, len, HDR_MAX_TOKENS, HDR_MAX_DEPTH);
    if (prc == -ENOMEM) {
        rc = prc;
        goto out;
    }
    if (prc != 0 || tg_json_type(&j, 0) != TG_JSON_OBJECT)
        goto out;

    tg_json_ref_t alg = unique_member(&j, 0, "alg");
    if (alg == -2)
        goto out;
    /* Absent, "none", another alg or a non-string: never fall back to anything. */
    if (alg < 0 || tg_json_type(&j, alg) != TG_JSON_STRING ||
        !tg_json_str_eq(&j, alg, v->alg_name)) {
        rc = TG_JWT_EALG;
        goto out;
    }
    tg_json_ref_t typ = unique_member(&j, 0, "typ");
    if (typ == -2)
        goto out;
    if (typ >= 0) {
        char t[8];
        /* RFC 7519 §5.1 recommends "JWT" but media types compare case-insensitively. */
        if (tg_json_type(&j, typ) != TG_JSON_STRING || tg_json_str(&j, typ, t, sizeof t, NULL) ||
            strcasecmp(t, "JWT") != 0) {
            rc = TG_JWT_EHEADER;
            goto out;
        }
    }
    /* crit: extensions we do not implement must be refused (RFC 7515 §4.1.11);
     * cty: a nested JWT or other content type is not a token for us. */
    if (count_member(&j, 0, "crit") || count_member(&j, 0, "cty")) {
        rc = TG_JWT_EHEADER;
        goto out;
    }
    rc = 0;
out:
    tg_json_free(&j);
    return rc;
}

static int read_claims(const unsigned char *pl, size_t len, tg_jwt_claims_t *c)
{
    tg_json_t j = {0};
    int rc = TG_JWT_EMALFORMED;
    int prc = tg_json_parse(&j, (const char *)pl, len, PAYLOAD_MAX_TOKENS, PAYLOAD_MAX_DEPTH);
    if (prc == -ENOMEM) {
        rc = prc;
        goto out;
    }
    if (prc != 0 || tg_json_type(&j, 0) != TG_JSON_OBJECT)
        goto out;

    tg_json_ref_t exp = unique_member(&j, 0, "exp"), sub = unique_member(&j, 0, "sub");
    tg_json_ref_t nbf = unique_member(&j, 0, "nbf"), iat = unique_member(&j, 0, "iat");
    tg_json_ref_t jti = unique_member(&j, 0, "jti");
    if (exp == -2 || sub == -2 || nbf == -2 || iat == -2 || jti == -2)
        goto out;

    rc = TG_JWT_ENOEXP;
    if (exp < 0)
        goto out;
    rc = TG_JWT_EBADCLAIM;
    if (numeric_date(&j, exp, false, &c->exp))
        goto out;

    rc = TG_JWT_ENOSUB;
    if (sub < 0)
        goto out;
    size_t raw_len = 1;
    if (tg_json_type(&j, sub) == TG_JSON_STRING && (tg_json_raw(&j, sub, &raw_len), raw_len == 0))
        goto out; /* "" names nobody: as good as absent */
    if ((prc = dup_claim_str(&j, sub, &c->sub))) {
        rc = prc == -ENOMEM ? prc : TG_JWT_EBADCLAIM;
        goto out;
    }
    rc = TG_JWT_EBADCLAIM; /* for the type checks below */
    if (nbf >= 0) {
        if (numeric_date(&j, nbf, true, &c->nbf))
            goto out;
        c->has_nbf = true;
    }
    if (iat >= 0) {
        if (numeric_date(&j, iat, false, &c->iat))
            goto out;
        c->has_iat = true;
    }
    if (jti >= 0 && (prc = dup_claim_str(&j, jti, &c->jti))) {
        rc = prc == -ENOMEM ? prc : TG_JWT_EBADCLAIM;
        goto out;
    }
    if ((rc = string_list(&j, 0, "roles", &c->roles, &c->n_roles)))
        goto out;
    if ((rc = string_list(&j, 0, "portfolios", &c->portfolios, &c->n_portfolios)))
        goto out;
    for (size_t i = 0; i < c->n_roles; i++)
        if (strcmp(c->roles[i], "admin") == 0)
            c->admin = true;
    rc = 0;
out:
    tg_json_free(&j);
    return rc;
}

int tg_jwt_verify(const tg_jwt_verifier_t *v, const char *token, size_t token_len, int64_t now_s,
                  tg_jwt_claims_t *claims)
{
    if (!claims)
        return -EINVAL;
    memset(claims, 0, sizeof *claims);
    if (!v || (!token && token_len))
        return -EINVAL;
    if (token_len > TG_JWT_MAX_TOKEN)
        return TG_JWT_ETOOLARGE;

    /* Shape: header '.' payload '.' signature, exactly two dots. */
    const char *d1 = token_len ? memchr(token, '.', token_len) : NULL;
    if (!d1)
        return TG_JWT_EMALFORMED;
    const char *d2 = memchr(d1 + 1, '.', token_len - (size_t)(d1 + 1 - token));
    if (!d2 || memchr(d2 + 1, '.', token_len - (size_t)(d2 + 1 - token)))
        return TG_JWT_EMALFORMED;
    size_t h_len = (size_t)(d1 - token), p_len = (size_t)(d2 - d1 - 1);
    size_t s_len = token_len - (size_t)(d2 + 1 - token);
    if (h_len == 0 || p_len == 0)
        return TG_JWT_EMALFORMED;

    /* One scratch buffer for all three decoded parts: they are at most 3/4
     * of the token, and the stack keeps verify free of shared state. */
    unsigned char buf[TG_JWT_MAX_TOKEN];
    unsigned char *hdr = buf, *pl, *sig;
    size_t hdr_n, pl_n, sig_n;
    if (b64url_decode(token, h_len, hdr, &hdr_n))
        return TG_JWT_EMALFORMED;
    pl = hdr + hdr_n;
    if (b64url_decode(d1 + 1, p_len, pl, &pl_n))
        return TG_JWT_EMALFORMED;
    sig = pl + pl_n;
    if (b64url_decode(d2 + 1, s_len, sig, &sig_n))
        return TG_JWT_EMALFORMED;

    int rc = check_header(v, hdr, hdr_n);
    if (rc)
        return rc;

    rc = check_signature(v, token, h_len + 1 + p_len, sig, sig_n);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return TG_JWT_EBADSIG;

    /* Only now is the payload authentic enough to be worth parsing. */
    rc = read_claims(pl, pl_n, claims);
    if (rc)
        goto fail_free_claims;

    /* RFC 7519 §4.1.4: reject on or after exp; leeway absorbs clock skew. */
    rc = TG_JWT_EEXPIRED;
    if (now_s >= sat_add(claims->exp, v->leeway_s))
        goto fail_free_claims;
    rc = TG_JWT_ENOTYET;
    if (claims->has_nbf && sat_add(now_s, v->leeway_s) < claims->nbf)
        goto fail_free_claims;
    return 0;

fail_free_claims:
    tg_jwt_claims_free(claims);
    return rc;
}

int64_t tg_jwt_deadline(const tg_jwt_verifier_t *v, const tg_jwt_claims_t *claims)
{
    if (!v || !claims)
        return INT64_MIN;
    return sat_add(claims->exp, v->leeway_s);
}

static void free_list(char **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void tg_jwt_claims_free(tg_jwt_claims_t *c)
{
    if (!c)
        return;
    free(c->sub);
    free(c->jti);
    /* string_list() may have stopped half-way: the array is calloc'ed, so
     * freeing up to the capacity is unnecessary; n counts what was filled. */
    free_list(c->roles, c->n_roles);
    free_list(c->portfolios, c->n_portfolios);
    memset(c, 0, sizeof *c);
}

const char *tg_jwt_reason(int rc)
{
    switch (rc) {
    case 0:
        return "ok";
    case TG_JWT_EMALFORMED:
        return "malformed";
    case TG_JWT_EBADSIG:
        return "bad_signature";
    case TG_JWT_EALG:
        return "alg_mismatch";
    case TG_JWT_EEXPIRED:
        return "expired";
    case TG_JWT_ENOTYET:
        return "not_yet_valid";
    case TG_JWT_ENOEXP:
        return "missing_exp";
    case TG_JWT_ENOSUB:
        return "missing_sub";
    case TG_JWT_EBADCLAIM:
        return "bad_claim";
    case TG_JWT_EHEADER:
        return "bad_header";
    case TG_JWT_ETOOLARGE:
        return "too_large";
    default:
        return "internal";
    }
}

int tg_jwt_sha256_hex(const char *token, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int md_len = 0;
    if (!out || (!token && len))
        return -EINVAL;
    ERR_set_mark();
    int ok = EVP_Digest(token ? token : "", len, md, &md_len, EVP_sha256(), NULL);
    ERR_pop_to_mark();
    if (!ok || md_len != sizeof md)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

/* ---- minting -------------------------------------------------------------- */

/* ,"key":["a","b"] (nothing for an empty list); key is one of ours. */
static void json_list(tg_buf_t *b, const char *key, const char *const *list, size_t n)
{
    if (n == 0)
        return;
    tg_buf_printf(b, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        if (i)
            tg_buf_putc(b, ',');
        tg_json_put_cstr(b, list[i]);
    }
    tg_buf_putc(b, ']');
}

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF). The JSON
 * escaper would replace bad bytes with U+FFFD, minting a token for a
 * different name than the one asked for; refusing is the honest answer. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static bool claim_str_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= TG_JWT_MAX_STR && utf8_ok((const unsigned char *)s, n);
}

int tg_jwt_mint_hs256(const void *secret, size_t secret_len, const char *sub,
                      const char *const *roles, size_t n_roles, const char *const *portfolios,
                      size_t n_portfolios, int64_t iat, int64_t exp, char *out, size_t cap)
{
    /* PyJWT writes the header with sorted keys and compact separators; so do we. */
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    if (!secret || secret_len == 0 || !claim_str_ok(sub) || !out || n_roles > TG_JWT_MAX_LIST ||
        n_portfolios > TG_JWT_MAX_LIST || (n_roles && !roles) || (n_portfolios && !portfolios))
        return -EINVAL;
    for (size_t i = 0; i < n_roles; i++)
        if (!claim_str_ok(roles[i]))
            return -EINVAL;
    for (size_t i = 0; i < n_portfolios; i++)
        if (!claim_str_ok(portfolios[i]))
            return -EINVAL;
    if (cap > INT32_MAX)
        cap = INT32_MAX; /* the length is returned as an int */

    /* The JSON payload is shorter than its base64 in the output, so cap
     * bounds it too. */
    tg_buf_t pl = {0};
    tg_buf_puts(&pl, "{\"sub\":");
    tg_json_put_cstr(&pl, sub);
    json_list(&pl, "roles", roles, n_roles);
    json_list(&pl, "portfolios", portfolios, n_portfolios);
    tg_buf_printf(&pl, ",\"iat\":%lld,\"exp\":%lld}", (long long)iat, (long long)exp);
    int rc = -ENOMEM;
    if (pl.err)
        goto fail_free_payload;
    rc = -ENOSPC; /* the payload's base64 is longer than the payload: cap bounds both */

    size_t h64 = b64url_encoded_len(sizeof header - 1), p64 = b64url_encoded_len(pl.len);
    size_t total = h64 + 1 + p64 + 1 + b64url_encoded_len(HS256_LEN);
    if (total + 1 > cap)
        goto fail_free_payload;
    size_t o = b64url_encode((const unsigned char *)header, sizeof header - 1, out);
    out[o++] = '.';
    o += b64url_encode((const unsigned char *)pl.p, pl.len, out + o);

    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    ERR_set_mark();
    unsigned char *r = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, secret_len,
                                 (const unsigned char *)out, o, mac, sizeof mac, &mac_len);
    ERR_pop_to_mark();
    rc = -ENOMEM;
    if (!r || mac_len != HS256_LEN)
        goto fail_free_payload;
    out[o++] = '.';
    o += b64url_encode(mac, HS256_LEN, out + o);
    out[o] = '\0';
    OPENSSL_cleanse(mac, sizeof mac);
    tg_buf_free(&pl);
    return (int)o;

fail_free_payload:
    tg_buf_free(&pl);
    return rc;
}
