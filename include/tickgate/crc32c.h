/* crc32c.h - CRC-32C (Castagnoli), the checksum of journal records.
 *
 * Hand-written because no library in Debian 12 exports CRC32C (zlib has only
 * CRC-32/IEEE, and pulling in a storage library for 40 lines is not worth it).
 * Uses the SSE4.2 crc32 instruction when the CPU has it, a byte table
 * otherwise; both give identical results. Pure and thread-safe.
 */
#ifndef TICKGATE_CRC32C_H
#define TICKGATE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/**
 * Continue a CRC-32C over `len` bytes of `buf`. Start with crc = 0; the result
 * of one call can be passed as `crc` to the next to checksum data in pieces.
 * tg_crc32c(0, "123456789", 9) == 0xE3069283 (the standard check value).
 */
uint32_t tg_crc32c(uint32_t crc, const void *buf, size_t len);

/** Internal: the table implementation only, so tests can compare both paths. */
uint32_t tg__crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
