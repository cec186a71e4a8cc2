/*
 * crc32c.h
 *	  CRC-32C (Castagnoli), bit-identical to PostgreSQL's pg_crc32c.
 *	  Engine: no server headers.
 *
 * The polynomial is 0x1EDC6F41, processed reflected (0x82F63B78); the
 * register starts at 0xFFFFFFFF and the result is xored with 0xFFFFFFFF,
 * exactly like INIT_CRC32C / COMP_CRC32C / FIN_CRC32C, so checksums stored
 * by earlier builds still verify.  Check value: crc32c("123456789") is
 * 0xE3069283.
 *
 *	  uint32_t crc = CRC32C_INIT;				INIT_CRC32C(crc)
 *	  crc = crc32c_update(crc, data, len);		COMP_CRC32C(crc, data, len)
 *	  crc = CRC32C_FINISH(crc);				FIN_CRC32C(crc)
 *
 * crc32c_update uses the SSE4.2 crc32 instruction when the CPU has it
 * (checked at run time) and portable slicing-by-8 tables otherwise; both
 * give the same bits (test/unit/test_format.c compares them).
 */
#ifndef RECGAN_CRC32C_H
#define RECGAN_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRC32C_INIT 0xFFFFFFFFu
#define CRC32C_FINISH(crc) ((uint32_t) ((crc) ^ 0xFFFFFFFFu))

/* Continue a CRC-32C register over len bytes (no initial or final xor). */
extern uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);

/* The finished CRC-32C of len bytes. */
extern uint32_t crc32c(const void *data, size_t len);

/* crc32c_update in portable C (slicing-by-8), whatever the CPU. */
extern uint32_t crc32c_update_table(uint32_t crc, const void *data, size_t len);

/* True when crc32c_update_sse42 may be called: x86-64 with SSE4.2. */
extern bool crc32c_have_sse42(void);

/* crc32c_update with the SSE4.2 instruction; only if crc32c_have_sse42(). */
extern uint32_t crc32c_update_sse42(uint32_t crc, const void *data, size_t len);

#endif							/* RECGAN_CRC32C_H */
