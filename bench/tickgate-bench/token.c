/* token.c - HS256 minting with OpenSSL HMAC (see token.h for why it is here). */
#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* base64url without padding (RFC 7515 §2). */
static size_t b64url(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
    }
    return o;
}

int tg_bench_token_mint(const char *secret, const char *sub, int64_t now_s, int64_t ttl_s,
                        char *out, size_t cap)
{
    static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char payload[512];
    int pl = snprintf(payload, sizeof(payload),
                      "{\"sub\":\"%s\",\"roles\":[\"admin\"],\"iat\":%lld,\"exp\":%lld}", sub,
                      (long long)now_s, (long long)(now_s + ttl_s));
    if (pl < 0 || (size_t)pl >= sizeof(payload))
        return -ENOSPC;
    size_t need = (sizeof(hdr) * 4 / 3 + 4) + ((size_t)pl * 4 / 3 + 4) + 48;
    if (cap < need)
        return -ENOSPC;
    size_t o = b64url((const unsigned char *)hdr, sizeof(hdr) - 1, out);
    out[o++] = '.';
    o += b64url((const unsigned char *)payload, (size_t)pl, out + o);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)out, o, mac,
              &maclen))
        return -EIO;
    out[o++] = '.';
    o += b64url(mac, maclen, out + o);
    out[o] = 0;
    return (int)o;
}
