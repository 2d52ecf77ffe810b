/* token.h - HS256 token minting for tickgate-bench's --secret.
 *
 * include/tickgate/jwt.h declares tg_jwt_mint_hs256(), but its implementation
 * had not landed when the bench was written and the bench must also build on
 * its own (gcc bench/tickgate-bench/\*.c), so it mints with OpenSSL's HMAC
 * here: a dozen lines, same wire form.
 */
#ifndef TG_BENCH_TOKEN_H
#define TG_BENCH_TOKEN_H

#include <stddef.h>
#include <stdint.h>

/**
 * Mint {"sub":sub,"roles":["admin"],"iat":now,"exp":now+ttl_s} signed with
 * HS256 into out (NUL-terminated). Returns the length, or -ENOSPC / -EIO.
 */
int tg_bench_token_mint(const char *secret, const char *sub, int64_t now_s, int64_t ttl_s,
                        char *out, size_t cap);

#endif
