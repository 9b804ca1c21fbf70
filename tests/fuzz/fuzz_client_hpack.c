/*
 * libFuzzer target for the HPACK decoder (src/client/hpack.h): a sequence
 * of header blocks decoded by one decoder, as on one HTTP/2 connection, so
 * the dynamic table carries over from block to block.
 *
 * Input layout: byte 0 picks the SETTINGS_HEADER_TABLE_SIZE the decoder is
 * created with (low 2 bits: 4096, 256, 64, 0); then blocks, each a 2-byte
 * big-endian length followed by that many bytes (a length past the end of
 * the input takes the rest). Each block is copied into a buffer of exactly
 * its size so that ASan sees any read past it. Decoding stops at the first
 * malformed block, as the connection would be torn down.
 *
 * Any crash, leak or undefined behavior is a bug: a hostile server must
 * only ever get -1. The target also checks what callers rely on:
 *   - every emitted name and value is readable for its whole length;
 *   - after each good block the table's size is the sum of its entries'
 *     sizes and within the limit, and the limit within what we advertise;
 *   - each emitted field, re-encoded with hpack_encode_literal, decodes
 *     to the same field on a fresh decoder and leaves its table empty.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/hpack-internal.h"
#include "client/hpack.h"
#include "core/xalloc.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct expect {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    unsigned seen;
};

static void compare(void *arg, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
    struct expect *e = arg;
    e->seen++;
    check(name_len == e->name_len && value_len == e->value_len);
    check(name_len == 0 || memcmp(name, e->name, name_len) == 0);
    check(value_len == 0 || memcmp(value, e->value, value_len) == 0);
}

static void on_field(void *arg, const char *name, size_t name_len, const char *value,
                     size_t value_len)
{
    (void)arg;
    (void)touch(name, name_len);
    (void)touch(value, value_len);

    size_t need = hpack_encode_literal(NULL, 0, 0, name, name_len, value, value_len);
    uint8_t *buf = xmalloc(need);
    check(hpack_encode_literal(buf, need, 0, name, name_len, value, value_len) == need);
    struct hpack_decoder again;
    hpack_decoder_init(&again, HPACK_DEFAULT_TABLE_SIZE);
    struct expect e = {name, name_len, value, value_len, 0};
    check(hpack_decode(&again, buf, need, compare, &e) == 0);
    check(e.seen == 1 && hpack_table_len(&again) == 0);
    hpack_decoder_free(&again);
    free(buf);
}

static void check_table(const struct hpack_decoder *d, size_t max_table_size)
{
    size_t sum = 0;
    for (size_t i = 1; i <= hpack_table_len(d); i++) {
        const char *name, *value;
        size_t nl, vl;
        check(hpack_table_entry(d, i, &name, &nl, &value, &vl));
        (void)touch(name, nl);
        (void)touch(value, vl);
        sum += nl + vl + 32;
    }
    check(sum == hpack_table_size(d));
    check(hpack_table_size(d) <= hpack_table_limit(d));
    check(hpack_table_limit(d) <= max_table_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t table_sizes[] = {HPACK_DEFAULT_TABLE_SIZE, 256, 64, 0};
    if (size < 1)
        return 0;
    size_t max_table_size = table_sizes[data[0] & 3];
    struct hpack_decoder d;
    hpack_decoder_init(&d, max_table_size);

    size_t pos = 1;
    while (pos + 2 <= size) {
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        uint8_t *block = xmalloc(len ? len : 1);
        if (len)
            memcpy(block, data + pos, len);
        pos += len;
        int rc = hpack_decode(&d, block, len, on_field, NULL);
        free(block);
        if (rc != 0) {
            check(rc == -1);
            /* A spent decoder refuses everything, and can still be freed. */
            static const uint8_t indexed_get[] = {0x82};
            check(hpack_decode(&d, indexed_get, 1, on_field, NULL) == -1);
            break;
        }
        check_table(&d, max_table_size);
    }
    hpack_decoder_free(&d);
    return 0;
}
