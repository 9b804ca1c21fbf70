/*
 * HPACK decoding (RFC 7541) and the one literal form we encode (see
 * hpack.h). Runs once per response header block, so it allocates only to
 * grow, and it never trusts a length: every integer and string is checked
 * against the end of the block before it is used.
 *
 * The dynamic table keeps its entries' bytes in one buffer, oldest first,
 * and an index of (offset, lengths) in a ring. Inserting appends at the
 * end; evicting the oldest entry just moves the start forward. When the
 * end reaches the buffer's capacity the live bytes are moved to the front,
 * and the buffer grows to twice the live bytes plus the new entry if it is
 * smaller than that: so a byte is moved O(1) times on average, and the
 * buffer never exceeds twice the table size limit. An entry's name and
 * value are contiguous, so the field callback gets pointers straight into
 * the table.
 *
 * Huffman-coded strings are decoded into a scratch buffer, the name at
 * its start and the value after it. A literal with incremental indexing
 * whose name comes from the dynamic table copies that name into the
 * scratch buffer first: adding the new entry may evict the one holding the
 * name (RFC 7541 §4.4), and moving the live bytes would overwrite it.
 */
#include "client/hpack-internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#include "core/banned.h"

#define ENTRY_OVERHEAD 32 /* RFC 7541 §4.1: added to name and value lengths */
#define STATIC_LEN     61 /* entries in the static table; the dynamic table follows */

#define ENTRIES_MIN 16
#define DATA_MIN    256
#define SCRATCH_MIN 64

struct hpack_entry {
    size_t off; /* name at data + off, value right after it */
    size_t name_len;
    size_t value_len;
};

struct str {
    const char *p;
    size_t len;
};

/* ---- static table (RFC 7541 Appendix A) ---- */

struct static_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* clang-format off */
#define FIELD(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}
/* clang-format on */

static const struct static_field static_table[STATIC_LEN] = {
    FIELD(":authority", ""),
    FIELD(":method", "GET"),
    FIELD(":method", "POST"),
    FIELD(":path", "/"),
    FIELD(":path", "/index.html"),
    FIELD(":scheme", "http"),
    FIELD(":scheme", "https"),
    FIELD(":status", "200"),
    FIELD(":status", "204"),
    FIELD(":status", "206"),
    FIELD(":status", "304"),
    FIELD(":status", "400"),
    FIELD(":status", "404"),
    FIELD(":status", "500"),
    FIELD("accept-charset", ""),
    FIELD("accept-encoding", "gzip, deflate"),
    FIELD("accept-language", ""),
    FIELD("accept-ranges", ""),
    FIELD("accept", ""),
    FIELD("access-control-allow-origin", ""),
    FIELD("age", ""),
    FIELD("allow", ""),
    FIELD("authorization", ""),
    FIELD("cache-control", ""),
    FIELD("content-disposition", ""),
    FIELD("content-encoding", ""),
    FIELD("content-language", ""),
    FIELD("content-length", ""),
    FIELD("content-location", ""),
    FIELD("content-range", ""),
    FIELD("content-type", ""),
    FIELD("cookie", ""),
    FIELD("date", ""),
    FIELD("etag", ""),
    FIELD("expect", ""),
    FIELD("expires", ""),
    FIELD("from", ""),
    FIELD("host", ""),
    FIELD("if-match", ""),
    FIELD("if-modified-since", ""),
    FIELD("if-none-match", ""),
    FIELD("if-range", ""),
    FIELD("if-unmodified-since", ""),
    FIELD("last-modified", ""),
    FIELD("link", ""),
    FIELD("location", ""),
    FIELD("max-forwards", ""),
    FIELD("proxy-authenticate", ""),
    FIELD("proxy-authorization", ""),
    FIELD("range", ""),
    FIELD("referer", ""),
    FIELD("refresh", ""),
    FIELD("retry-after", ""),
    FIELD("server", ""),
    FIELD("set-cookie", ""),
    FIELD("strict-transport-security", ""),
    FIELD("transfer-encoding", ""),
    FIELD("user-agent", ""),
    FIELD("vary", ""),
    FIELD("via", ""),
    FIELD("www-authenticate", ""),
};

/* ---- lifecycle ---- */

void hpack_decoder_init(struct hpack_decoder *d, size_t max_table_size)
{
    memset(d, 0, sizeof(*d));
    d->max_table_size = max_table_size;
    d->limit = max_table_size;
    bool table_ok = hpack_huffman_init();
    assert(table_ok);
    (void)table_ok;
}

void hpack_decoder_free(struct hpack_decoder *d)
{
    if (!d)
        return;
    free(d->entries);
    free(d->data);
    free(d->scratch);
    memset(d, 0, sizeof(*d));
}

/* ---- dynamic table ---- */

/* The entry `age` places after the oldest (0 = the oldest). */
static struct hpack_entry *entry_at(const struct hpack_decoder *d, size_t age)
{
    return &d->entries[(d->oldest + age) & (d->entries_cap - 1)];
}

static void evict_oldest(struct hpack_decoder *d)
{
    const struct hpack_entry *e = &d->entries[d->oldest];
    size_t bytes = e->name_len + e->value_len;
    d->size -= bytes + ENTRY_OVERHEAD;
    d->data_start += bytes;
    d->oldest = (d->oldest + 1) & (d->entries_cap - 1);
    if (--d->n_entries == 0)
        d->data_start = d->data_end = 0;
}

/* Evicts the oldest entries until the table's size is at most limit. */
static void evict_to(struct hpack_decoder *d, size_t limit)
{
    /* Every entry counts at least ENTRY_OVERHEAD, so size > 0 means an entry is left. */
    while (d->size > limit)
        evict_oldest(d);
}

static void entries_grow(struct hpack_decoder *d)
{
    size_t cap = d->entries_cap ? 2 * d->entries_cap : ENTRIES_MIN;
    struct hpack_entry *grown = xreallocarray(NULL, cap, sizeof(*grown));
    for (size_t i = 0; i < d->n_entries; i++)
        grown[i] = *entry_at(d, i);
    free(d->entries);
    d->entries = grown;
    d->entries_cap = cap;
    d->oldest = 0;
}

/* Makes room for `bytes` more at data_end: moves the live bytes to the front, grows if needed. */
static void data_make_room(struct hpack_decoder *d, size_t bytes)
{
    size_t live = d->data_end - d->data_start;
    if (d->data_start) {
        memmove(d->data, d->data + d->data_start, live);
        for (size_t i = 0; i < d->n_entries; i++)
            entry_at(d, i)->off -= d->data_start;
        d->data_start = 0;
        d->data_end = live;
    }
    /*
     * Twice the need, so that the next move is at least that many
     * inserted bytes away. live + bytes is at most the size limit.
     */
    size_t want = 2 * (live + bytes);
    if (want < DATA_MIN)
        want = DATA_MIN;
    if (d->data_cap < want) {
        d->data = xrealloc(d->data, want);
        d->data_cap = want;
    }
}

/*
 * Adds an entry as the newest (RFC 7541 §4.4). Neither string may point
 * into the table's own bytes. An entry larger than the limit empties the
 * table and is not added; that is not an error.
 */
static void table_insert(struct hpack_decoder *d, struct str name, struct str value)
{
    size_t room = d->limit;
    if (name.len > room || value.len > room - name.len ||
        ENTRY_OVERHEAD > room - name.len - value.len) {
        evict_to(d, 0);
        return;
    }
    size_t bytes = name.len + value.len;
    evict_to(d, d->limit - bytes - ENTRY_OVERHEAD);
    if (!d->data || d->data_cap - d->data_end < bytes)
        data_make_room(d, bytes);
    if (d->n_entries == d->entries_cap)
        entries_grow(d);

    char *at = d->data + d->data_end;
    memcpy(at, name.p, name.len);
    memcpy(at + name.len, value.p, value.len);
    struct hpack_entry *e = entry_at(d, d->n_entries);
    e->off = d->data_end;
    e->name_len = name.len;
    e->value_len = value.len;
    d->n_entries++;
    d->data_end += bytes;
    d->size += bytes + ENTRY_OVERHEAD;
}

/* The field at `index` of the combined index space (RFC 7541 §2.3.3). */
static int lookup(const struct hpack_decoder *d, uint32_t index, struct str *name,
                  struct str *value)
{
    if (index == 0)
        return -1;
    if (index <= STATIC_LEN) {
        const struct static_field *f = &static_table[index - 1];
        *name = (struct str){f->name, f->name_len};
        *value = (struct str){f->value, f->value_len};
        return 0;
    }
    size_t newest_first = index - STATIC_LEN; /* 1 = the newest entry */
    if (newest_first > d->n_entries)
        return -1;
    const struct hpack_entry *e = entry_at(d, d->n_entries - newest_first);
    *name = (struct str){d->data + e->off, e->name_len};
    *value = (struct str){d->data + e->off + e->name_len, e->value_len};
    return 0;
}

size_t hpack_table_len(const struct hpack_decoder *d)
{
    return d->n_entries;
}

size_t hpack_table_size(const struct hpack_decoder *d)
{
    return d->size;
}

size_t hpack_table_limit(const struct hpack_decoder *d)
{
    return d->limit;
}

bool hpack_table_entry(const struct hpack_decoder *d, size_t i, const char **name, size_t *name_len,
                       const char **value, size_t *value_len)
{
    if (i == 0 || i > d->n_entries)
        return false;
    struct str n = {0}, v = {0};
    if (lookup(d, (uint32_t)(STATIC_LEN + i), &n, &v) != 0)
        return false;
    *name = n.p;
    *name_len = n.len;
    *value = v.p;
    *value_len = v.len;
    return true;
}

/* ---- primitives (RFC 7541 §5) ---- */

int hpack_int_decode(const uint8_t **p, const uint8_t *end, unsigned prefix_bits, uint32_t *out)
{
    const uint8_t *at = *p;
    if (at == end)
        return -1;
    uint32_t prefix_max = (1u << prefix_bits) - 1;
    uint64_t v = *at++ & prefix_max;
    if (v == prefix_max) {
        /*
         * 7 bits per continuation octet: a 32-bit value needs at most 5.
         * A sixth is refused even when the extra octets are zero padding,
         * so a peer cannot make us spin on an endless integer.
         */
        for (unsigned shift = 0;; shift += 7) {
            if (at == end || shift > 28)
                return -1;
            uint8_t b = *at++;
            v += (uint64_t)(b & 0x7f) << shift;
            if (v > UINT32_MAX)
                return -1;
            if (!(b & 0x80))
                break;
        }
    }
    *out = (uint32_t)v;
    *p = at;
    return 0;
}

/* Grows the scratch buffer to hold `need` bytes; what it held is kept. */
static void scratch_reserve(struct hpack_decoder *d, size_t need)
{
    if (d->scratch_cap >= need)
        return;
    size_t cap = 2 * d->scratch_cap;
    if (cap < SCRATCH_MIN)
        cap = SCRATCH_MIN;
    if (cap < need)
        cap = need;
    d->scratch = xrealloc(d->scratch, cap);
    d->scratch_cap = cap;
}

/*
 * A string literal (§5.2) at *p. A Huffman-coded one is decoded into the
 * scratch buffer at offset *used, which then grows by its length: the
 * buffer may move, so earlier strings in it must be re-pointed.
 */
static int read_string(struct hpack_decoder *d, const uint8_t **p, const uint8_t *end, size_t *used,
                       struct str *out)
{
    const uint8_t *at = *p;
    if (at == end)
        return -1;
    bool huffman = *at & 0x80;
    uint32_t n;
    if (hpack_int_decode(&at, end, 7, &n) < 0 || n > (size_t)(end - at))
        return -1;
    if (!huffman) {
        *out = (struct str){(const char *)at, n};
    } else if (n == 0) {
        *out = (struct str){"", 0};
    } else {
        scratch_reserve(d, *used + HPACK_HUFFMAN_MAX_OUT((size_t)n));
        char *dst = d->scratch + *used;
        size_t got;
        if (hpack_huffman_decode(at, n, dst, &got) < 0)
            return -1;
        *out = (struct str){dst, got};
        *used += got;
    }
    *p = at + n;
    return 0;
}

/* ---- field representations (RFC 7541 §6) ---- */

static int indexed_field(struct hpack_decoder *d, const uint8_t **p, const uint8_t *end,
                         hpack_field_fn *fn, void *arg)
{
    uint32_t index;
    struct str name, value;
    if (hpack_int_decode(p, end, 7, &index) < 0 || lookup(d, index, &name, &value) < 0)
        return -1;
    fn(arg, name.p, name.len, value.p, value.len);
    return 0;
}

/* §6.2: prefix_bits is 6 with incremental indexing, 4 without or never indexed. */
static int literal_field(struct hpack_decoder *d, const uint8_t **p, const uint8_t *end,
                         unsigned prefix_bits, bool indexing, hpack_field_fn *fn, void *arg)
{
    uint32_t name_index;
    if (hpack_int_decode(p, end, prefix_bits, &name_index) < 0)
        return -1;
    struct str name, value;
    size_t used = 0;
    bool name_in_scratch = false;
    if (name_index == 0) {
        if (read_string(d, p, end, &used, &name) < 0)
            return -1;
        name_in_scratch = used > 0;
    } else {
        struct str ignored_value;
        if (lookup(d, name_index, &name, &ignored_value) < 0)
            return -1;
        if (indexing && name_index > STATIC_LEN && name.len > 0) {
            scratch_reserve(d, name.len);
            memcpy(d->scratch, name.p, name.len);
            used = name.len;
            name_in_scratch = true;
        }
    }
    if (read_string(d, p, end, &used, &value) < 0)
        return -1;
    if (name_in_scratch)
        name.p = d->scratch; /* the value may have moved the buffer */
    if (indexing)
        table_insert(d, name, value);
    fn(arg, name.p, name.len, value.p, value.len);
    return 0;
}

/* §6.3; allowed only before the block's first field (§4.2). */
static int size_update(struct hpack_decoder *d, const uint8_t **p, const uint8_t *end)
{
    uint32_t limit;
    if (hpack_int_decode(p, end, 5, &limit) < 0 || limit > d->max_table_size)
        return -1;
    evict_to(d, limit);
    d->limit = limit;
    return 0;
}

int hpack_decode(struct hpack_decoder *d, const uint8_t *block, size_t len, hpack_field_fn *fn,
                 void *arg)
{
    if (d->failed)
        return -1;
    if (len == 0)
        return 0;
    const uint8_t *p = block;
    const uint8_t *end = block + len;
    bool fields_seen = false;
    while (p < end) {
        uint8_t first = *p;
        bool update = (first & 0xe0) == 0x20;
        int rc;
        if (update)
            rc = fields_seen ? -1 : size_update(d, &p, end);
        else if (first & 0x80)
            rc = indexed_field(d, &p, end, fn, arg);
        else if (first & 0x40)
            rc = literal_field(d, &p, end, 6, true, fn, arg);
        else /* 0000 without indexing, 0001 never indexed (high nibble): the same to a decoder */
            rc = literal_field(d, &p, end, 4, false, fn, arg);
        if (rc < 0) {
            d->failed = true;
            return -1;
        }
        fields_seen = fields_seen || !update;
    }
    return 0;
}

/* ---- encoding ---- */

static size_t int_len(unsigned prefix_bits, size_t v)
{
    size_t prefix_max = ((size_t)1 << prefix_bits) - 1;
    if (v < prefix_max)
        return 1;
    size_t n = 2;
    for (v -= prefix_max; v >= 0x80; v >>= 7)
        n++;
    return n;
}

static uint8_t *put_int(uint8_t *p, uint8_t flags, unsigned prefix_bits, size_t v)
{
    size_t prefix_max = ((size_t)1 << prefix_bits) - 1;
    if (v < prefix_max) {
        *p++ = (uint8_t)(flags | v);
        return p;
    }
    *p++ = (uint8_t)(flags | prefix_max);
    for (v -= prefix_max; v >= 0x80; v >>= 7)
        *p++ = (uint8_t)(0x80 | (v & 0x7f));
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put_string(uint8_t *p, const char *s, size_t n)
{
    p = put_int(p, 0x00, 7, n); /* H = 0: plain octets */
    if (n)
        memcpy(p, s, n);
    return p + n;
}

size_t hpack_encode_literal(uint8_t *out, size_t cap, unsigned name_index, const char *name,
                            size_t name_len, const char *value, size_t value_len)
{
    assert(name_index <= STATIC_LEN);
    /* Lengths this large cannot be sent anyway; keep the sum below from wrapping. */
    if (name_len > SIZE_MAX / 4 || value_len > SIZE_MAX / 4)
        return SIZE_MAX;
    size_t need = int_len(4, name_index) + int_len(7, value_len) + value_len;
    if (name_index == 0)
        need += int_len(7, name_len) + name_len;
    if (need > cap)
        return need;
    /* High nibble 0000: literal without indexing, name index in the low 4 bits (0 = new name). */
    uint8_t *p = put_int(out, 0x00, 4, name_index);
    if (name_index == 0)
        p = put_string(p, name, name_len);
    p = put_string(p, value, value_len);
    assert((size_t)(p - out) == need);
    return need;
}
