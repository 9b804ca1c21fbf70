/*
 * HPACK header-block decoding (RFC 7541) for our HTTP/2 client: the static
 * table, the dynamic table (with size updates and eviction), integer and
 * string literals, Huffman-coded strings. One decoder per HTTP/2 connection
 * (the dynamic table is connection state), used by one thread.
 *
 * Memory: the decoder allocates only when its dynamic table storage or its
 * scratch buffer for Huffman-decoded strings must grow, so once a
 * connection has seen its largest headers, decoding allocates nothing. The
 * table storage never exceeds about twice max_table_size; the scratch
 * buffer holds one decoded name and value, at most 8/5 of the block size.
 *
 * Internal to src/client (and its unit tests).
 */
#ifndef PA_CLIENT_HPACK_H
#define PA_CLIENT_HPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The protocol's initial SETTINGS_HEADER_TABLE_SIZE (RFC 7540 §6.5.2). */
#define HPACK_DEFAULT_TABLE_SIZE 4096

struct hpack_entry;

/* Callers must not touch the fields: init, decode and free only. */
struct hpack_decoder {
    size_t max_table_size; /* our SETTINGS_HEADER_TABLE_SIZE: the most an update may set */
    size_t limit;          /* the table's size limit, from the last size update */
    size_t size;           /* sum of entry sizes (name + value + 32) */

    /* Entries in a ring, oldest at `oldest`; the capacity is a power of two. */
    struct hpack_entry *entries;
    size_t n_entries;
    size_t entries_cap;
    size_t oldest;

    /* Entry bytes, oldest first, live in data[data_start, data_end). */
    char *data;
    size_t data_cap;
    size_t data_start;
    size_t data_end;

    char *scratch; /* Huffman-decoded name and value of one field */
    size_t scratch_cap;

    bool failed; /* a block was malformed: the decoder is unusable */
};

/*
 * max_table_size: SETTINGS_HEADER_TABLE_SIZE we advertise (the limit a size
 * update may ask for). The table starts with that limit, which is safe
 * whatever the peer's encoder uses: a larger decoder table only keeps
 * entries the encoder no longer refers to.
 */
void hpack_decoder_init(struct hpack_decoder *d, size_t max_table_size);
/* Releases the decoder's memory; d may be NULL, or a decoder after a failed decode. */
void hpack_decoder_free(struct hpack_decoder *d);

/*
 * Called once per decoded header field, in order. Strings are not
 * NUL-terminated and valid only during the call. It must not call back
 * into the decoder.
 */
typedef void hpack_field_fn(void *arg, const char *name, size_t name_len, const char *value,
                            size_t value_len);

/*
 * Decodes one complete header block (the concatenated HEADERS + CONTINUATION
 * payloads). Returns 0, or -1 when the block is malformed (a COMPRESSION_ERROR
 * for the connection: bad index, truncated integer/string, integer overflow,
 * invalid Huffman code or padding, EOS symbol in a string, table size update
 * above the maximum or not at the start of the block). After -1 the decoder
 * must not be used again (the connection is torn down; a further call
 * returns -1 at once), but it must still be safe to hpack_decoder_free().
 * Fields before the error have been passed to fn already.
 */
int hpack_decode(struct hpack_decoder *d, const uint8_t *block, size_t len, hpack_field_fn *fn,
                 void *arg);

/*
 * Encoding, the only form our client sends: a literal header field without
 * indexing (RFC 7541 §6.2.2), with a new name (first byte 0x00) when
 * name_index is 0, else with the static table's name index (4-bit prefix,
 * 1..61; name is then ignored and may be NULL), and plain (non-Huffman)
 * string literals. Writes at most `cap` bytes to out and returns the
 * encoded length (which may exceed cap: then nothing was written and the
 * caller retries with a bigger buffer; out may be NULL when cap is 0).
 */
size_t hpack_encode_literal(uint8_t *out, size_t cap, unsigned name_index, const char *name,
                            size_t name_len, const char *value, size_t value_len);

#endif
