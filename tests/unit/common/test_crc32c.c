/* test_crc32c.c - CRC-32C against the standard check value and known vectors. */
#include "tickgate/crc32c.h"

#include "tg_test.h"

TG_TEST(check_value)
{
    TG_CHECK_EQ_INT(tg_crc32c(0, "123456789", 9), 0xE3069283u);
    TG_CHECK_EQ_INT(tg__crc32c_sw(0, "123456789", 9), 0xE3069283u);
}

TG_TEST(empty_is_zero)
{
    TG_CHECK_EQ_INT(tg_crc32c(0, "", 0), 0);
    TG_CHECK_EQ_INT(tg__crc32c_sw(0, "", 0), 0);
}

/* RFC 3720 (iSCSI) B.4 vectors: 32 bytes of zeros / of 0xff. */
TG_TEST(rfc3720_vectors)
{
    unsigned char z[32], f[32], inc[32];
    memset(z, 0, sizeof z);
    memset(f, 0xff, sizeof f);
    for (int i = 0; i < 32; i++)
        inc[i] = (unsigned char)i;
    TG_CHECK_EQ_INT(tg_crc32c(0, z, 32), 0x8A9136AAu);
    TG_CHECK_EQ_INT(tg_crc32c(0, f, 32), 0x62A8AB43u);
    TG_CHECK_EQ_INT(tg_crc32c(0, inc, 32), 0x46DD794Eu);
}

/* Hardware and table paths agree at every length and misalignment, and
 * chaining pieces equals one pass. */
TG_TEST(paths_agree_and_chain)
{
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= sizeof buf; len += 7) {
            uint32_t a = tg_crc32c(0, buf + off, len);
            TG_CHECK(a == tg__crc32c_sw(0, buf + off, len));
            size_t h = len / 3;
            TG_CHECK(a == tg_crc32c(tg_crc32c(0, buf + off, h), buf + off + h, len - h));
        }
}

int main(void)
{
    return tg_test_run();
}
