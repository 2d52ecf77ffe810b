/* jwt.h - JSON Web Token verification and minting (SPEC §5 "Authentication").
 *
 * One verifier is built from the auth config (HS256 secret or RS256 PEM
 * public key) and then shared, read-only, by every gateway service thread:
 * keys are prepared once in tg_jwt_verifier_create() and each tg_jwt_verify()
 * keeps its working state on its own stack / per-call OpenSSL contexts.
 *
 * Verification is deliberately strict (compact form only, canonical
 * base64url, the configured algorithm only, exp and sub required) and every
 * refusal maps to a short stable reason used as the `reason` label of
 * tickgate_auth_failures_total. Nothing here logs a token or a secret.
 */
#ifndef TICKGATE_JWT_H
#define TICKGATE_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Longest token accepted (bytes of compact serialization). */
#define TG_JWT_MAX_TOKEN 8192
/** Longest sub, jti, role or portfolio id (bytes, UTF-8, no NUL). */
#define TG_JWT_MAX_STR 128
/** Most entries accepted in `roles` and in `portfolios`. */
#define TG_JWT_MAX_LIST 64
/** Largest leeway a verifier accepts (seconds). */
#define TG_JWT_MAX_LEEWAY_S 86400

/*
 * Refusal codes of tg_jwt_verify(). They live below -1000 so they never
 * collide with the negative errno values (-EINVAL for bad arguments,
 * -ENOMEM) the same function may return.
 */
enum {
    TG_JWT_EMALFORMED = -1001, /* not 3 canonical base64url segments, not JSON objects */
    TG_JWT_EBADSIG = -1002,    /* signature does not verify */
    TG_JWT_EALG = -1003,       /* alg is not the configured one (incl. "none") */
    TG_JWT_EEXPIRED = -1004,   /* now >= exp + leeway */
    TG_JWT_ENOTYET = -1005,    /* now + leeway < nbf */
    TG_JWT_ENOEXP = -1006,     /* no exp claim */
    TG_JWT_ENOSUB = -1007,     /* no sub claim, or empty */
    TG_JWT_EBADCLAIM = -1008,  /* a claim of the wrong type or size (exp as string, 65 roles…) */
    TG_JWT_EHEADER = -1009,    /* typ is not JWT, crit or cty present */
    TG_JWT_ETOOLARGE = -1010,  /* token longer than TG_JWT_MAX_TOKEN */
};

typedef struct tg_jwt_verifier tg_jwt_verifier_t;

/**
 * Verified claims. The struct is caller-allocated; tg_jwt_verify() fills it
 * with heap copies that tg_jwt_claims_free() releases. Times are seconds
 * since the Unix epoch; fractional NumericDates are rounded toward refusal
 * (exp down, nbf up).
 */
typedef struct tg_jwt_claims {
    char *sub; /* never NULL after success; <= TG_JWT_MAX_STR bytes */
    char *jti; /* NULL when absent */
    int64_t exp;
    int64_t nbf, iat; /* valid only when has_nbf / has_iat */
    bool has_nbf, has_iat;
    char **roles; /* n_roles strings (array NULL when 0) */
    size_t n_roles;
    char **portfolios; /* n_portfolios strings (array NULL when 0) */
    size_t n_portfolios;
    bool admin; /* roles contains "admin" */
} tg_jwt_claims_t;

/**
 * Build a verifier into *out. alg is "HS256" (secret/secret_len, non-empty,
 * copied) or "RS256" (pubkey_pem_path: a "BEGIN PUBLIC KEY" PEM file holding
 * an RSA key of at least 2048 bits; secret ignored). leeway_s in
 * [0, TG_JWT_MAX_LEEWAY_S] applies to exp and nbf. Returns 0, -EINVAL (bad
 * argument, unreadable or unsuitable key: the cause is logged, never the
 * secret), -ENOENT (no such PEM file) or -ENOMEM. Free with
 * tg_jwt_verifier_free().
 */
int tg_jwt_verifier_create(tg_jwt_verifier_t **out, const char *alg, const void *secret,
                           size_t secret_len, const char *pubkey_pem_path, int leeway_s);

/** Release a verifier (NULL is fine). No tg_jwt_verify() may be running on it. */
void tg_jwt_verifier_free(tg_jwt_verifier_t *v);

/**
 * Verify a compact JWS of token_len bytes (no NUL needed) at time now_s.
 * Checks, in order: size and shape, header (alg, typ, crit), signature
 * (constant-time), then claims (exp, sub, types), then exp/nbf with leeway.
 * Returns 0 and fills *claims (caller frees with tg_jwt_claims_free), or a
 * TG_JWT_E* refusal / -EINVAL / -ENOMEM with *claims zeroed (freeing it is
 * still fine). Thread-safe: any number of threads may verify with one v.
 */
int tg_jwt_verify(const tg_jwt_verifier_t *v, const char *token, size_t token_len, int64_t now_s,
                  tg_jwt_claims_t *claims);

/**
 * Last second (exclusive) at which claims are still accepted by v: exp +
 * leeway, saturating. The gateway closes with 4001 from that time on.
 */
int64_t tg_jwt_deadline(const tg_jwt_verifier_t *v, const tg_jwt_claims_t *claims);

/** Free what tg_jwt_verify() put in *claims and zero it (NULL is fine). */
void tg_jwt_claims_free(tg_jwt_claims_t *claims);

/**
 * Stable metric label for a tg_jwt_verify() result: "ok", "malformed",
 * "bad_signature", "alg_mismatch", "expired", "not_yet_valid",
 * "missing_exp", "missing_sub", "bad_claim", "bad_header", "too_large",
 * "internal" (anything else). Static storage.
 */
const char *tg_jwt_reason(int rc);

/**
 * Lowercase hex SHA-256 of the token bytes into out (64 chars + NUL): the
 * revocation key is "revoked_token:<hex>". Returns 0, -EINVAL or -ENOMEM.
 */
int tg_jwt_sha256_hex(const char *token, size_t len, char out[65]);

/**
 * Mint an HS256 compact JWT (header {"alg":"HS256","typ":"JWT"}, payload
 * {"sub","roles"?,"portfolios"?,"iat","exp"}; roles/portfolios omitted when
 * empty) into out, NUL-terminated. Strings must be valid UTF-8 within the
 * verification limits. Returns the token length, -EINVAL (bad argument) or
 * -ENOSPC (cap too small).
 */
int tg_jwt_mint_hs256(const void *secret, size_t secret_len, const char *sub,
                      const char *const *roles, size_t n_roles, const char *const *portfolios,
                      size_t n_portfolios, int64_t iat, int64_t exp, char *out, size_t cap);

#endif
