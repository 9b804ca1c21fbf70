/*
 * What hpack.c, hpack_huffman.c and the HPACK unit tests share beyond
 * hpack.h: the Huffman code, the integer decoder, and a read-only view of
 * the dynamic table. Not for callers of the decoder.
 */
#ifndef PA_CLIENT_HPACK_INTERNAL_H
#define PA_CLIENT_HPACK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/hpack.h"

/* ---- Huffman code (RFC 7541 Appendix B) ---- */

#define HPACK_HUFFMAN_SYMBOLS 257 /* the 256 octets and EOS */
#define HPACK_HUFFMAN_EOS     256

struct hpack_huff_sym {
    uint32_t code; /* aligned to the least significant bit */
    uint8_t bits;
};

extern const struct hpack_huff_sym hpack_huffman_table[HPACK_HUFFMAN_SYMBOLS];

/*
 * Derives the decoding tables from hpack_huffman_table, once per process
 * (any thread may call it, any number of times). Returns false when the
 * table is not a complete canonical code, i.e. it was mistyped.
 */
bool hpack_huffman_init(void);

/*
 * Decodes the n Huffman-coded octets at src into dst, which must hold
 * HPACK_HUFFMAN_MAX_OUT(n) bytes, and sets *out_len. Returns -1 on EOS in
 * the string or padding that is 8 bits or longer or not all ones.
 * hpack_huffman_init must have run.
 */
int hpack_huffman_decode(const uint8_t *src, size_t n, char *dst, size_t *out_len);

/* Every code is at least 5 bits long, so n octets decode to at most 8n/5 symbols. */
#define HPACK_HUFFMAN_MAX_OUT(n) ((n) / 5 * 8 + ((n) % 5) * 8 / 5)

/* ---- integers (RFC 7541 §5.1) ---- */

/*
 * Decodes an integer with a prefix of prefix_bits (1..8) bits starting at
 * *p, and advances *p past it. Returns -1 when the input ends inside it,
 * when its value does not fit in 32 bits, or when it has more
 * continuation octets than a 32-bit value needs.
 */
int hpack_int_decode(const uint8_t **p, const uint8_t *end, unsigned prefix_bits, uint32_t *out);

/* ---- dynamic table, read-only (for tests and diagnostics) ---- */

/* Entry count, and the table's size in RFC 7541 §4.1 units (name + value + 32 each). */
size_t hpack_table_len(const struct hpack_decoder *d);
size_t hpack_table_size(const struct hpack_decoder *d);
/* The size limit set by the last size update (at first, max_table_size). */
size_t hpack_table_limit(const struct hpack_decoder *d);

/*
 * Entry i of the dynamic table, 1 being the newest (index 61 + i on the
 * wire). Returns false when there is no such entry. The strings stay
 * valid until the next hpack_decode.
 */
bool hpack_table_entry(const struct hpack_decoder *d, size_t i, const char **name, size_t *name_len,
                       const char **value, size_t *value_len);

#endif
