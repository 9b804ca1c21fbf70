/*
 * HPACK (src/client/hpack.c, hpack_huffman.c): the RFC 7541 Appendix C
 * examples field by field with the dynamic table after every block, the
 * Huffman table (shape, every symbol, the RFC's encoded strings), integer
 * limits, every kind of malformed block, size updates and eviction, a
 * randomised comparison of the dynamic table against a simple model, and
 * the literal encoder round-tripped through the decoder.
 *
 * C.5 and C.6 assume a table limited to 256 octets. They run twice: with
 * the decoder initialised to 256, and initialised to 4096 with a size
 * update to 256 (3f e1 01) in front of the first block.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/hpack-internal.h"
#include "client/hpack.h"

/* ================= helpers ================= */

/* Hex digits to bytes, spaces ignored; returns the byte count. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *c = hex; *c; c++) {
        if (*c == ' ')
            continue;
        int v = *c >= '0' && *c <= '9' ? *c - '0' : *c >= 'a' && *c <= 'f' ? *c - 'a' + 10 : -1;
        assert_true(v >= 0);
        if (hi < 0) {
            hi = v;
        } else {
            assert_true(n < cap);
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_true(hi < 0);
    return n;
}

/* Fields collected as "name: value\n" lines. */
struct fields {
    char text[8192];
    size_t len;
    size_t count;
};

static void collect(void *arg, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
    struct fields *f = arg;
    size_t room = sizeof(f->text) - f->len;
    int n = snprintf(f->text + f->len, room, "%.*s: %.*s\n", (int)name_len, name, (int)value_len,
                     value);
    assert_true(n >= 0 && (size_t)n < room);
    f->len += (size_t)n;
    f->count++;
}

static int decode_hex(struct hpack_decoder *d, const char *hex, struct fields *f)
{
    uint8_t block[1024];
    size_t n = unhex(hex, block, sizeof(block));
    memset(f, 0, sizeof(*f));
    return hpack_decode(d, block, n, collect, f);
}

/* The dynamic table, newest first, as "name: value" lines, and its size. */
static void assert_table(const struct hpack_decoder *d, const char *const *want, size_t n,
                         size_t size)
{
    assert_int_equal(hpack_table_len(d), n);
    assert_int_equal(hpack_table_size(d), size);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        size_t nl, vl;
        assert_true(hpack_table_entry(d, i + 1, &name, &nl, &value, &vl));
        char line[256];
        snprintf(line, sizeof(line), "%.*s: %.*s", (int)nl, name, (int)vl, value);
        assert_string_equal(line, want[i]);
    }
    const char *name, *value;
    size_t nl, vl;
    assert_false(hpack_table_entry(d, n + 1, &name, &nl, &value, &vl));
    assert_false(hpack_table_entry(d, 0, &name, &nl, &value, &vl));
}

/* Test-only Huffman encoder over the same table; returns the byte count. */
static size_t huff_encode(const void *src, size_t n, uint8_t *out)
{
    const uint8_t *s = src;
    uint64_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const struct hpack_huff_sym *sym = &hpack_huffman_table[s[i]];
        acc = acc << sym->bits | sym->code;
        bits += sym->bits;
        while (bits >= 8) {
            out[o++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    if (bits)
        out[o++] = (uint8_t)(acc << (8 - bits) | (0xffu >> bits)); /* EOS prefix as padding */
    return o;
}

/* Test-side integer encoder (RFC 7541 §5.1); returns the byte count. */
static size_t put_int(uint8_t *out, uint8_t flags, unsigned prefix_bits, size_t v)
{
    size_t max = ((size_t)1 << prefix_bits) - 1;
    size_t n = 0;
    if (v < max) {
        out[n++] = (uint8_t)(flags | v);
        return n;
    }
    out[n++] = (uint8_t)(flags | max);
    for (v -= max; v >= 0x80; v >>= 7)
        out[n++] = (uint8_t)(0x80 | (v & 0x7f));
    out[n++] = (uint8_t)v;
    return n;
}

/* A string literal, Huffman-coded or plain. */
static size_t put_str(uint8_t *out, const char *s, size_t n, bool huffman)
{
    if (!huffman) {
        size_t k = put_int(out, 0x00, 7, n);
        memcpy(out + k, s, n);
        return k + n;
    }
    uint8_t coded[1024];
    size_t c = huff_encode(s, n, coded);
    size_t k = put_int(out, 0x80, 7, c);
    memcpy(out + k, coded, c);
    return k + c;
}

/* ================= Huffman code ================= */

static void test_huffman_table_shape(void **state)
{
    (void)state;
    assert_true(hpack_huffman_init());
    /* A complete code: the Kraft sum is exactly 1 (in units of 2^-30). */
    uint64_t kraft = 0;
    for (unsigned s = 0; s < HPACK_HUFFMAN_SYMBOLS; s++) {
        unsigned bits = hpack_huffman_table[s].bits;
        assert_true(bits >= 5 && bits <= 30);
        assert_true(hpack_huffman_table[s].code < (uint32_t)1 << bits);
        kraft += (uint64_t)1 << (30 - bits);
    }
    assert_int_equal(kraft, (uint64_t)1 << 30);
    /* EOS is 30 ones; a few anchors from Appendix B. */
    assert_int_equal(hpack_huffman_table[HPACK_HUFFMAN_EOS].code, 0x3fffffff);
    assert_int_equal(hpack_huffman_table[HPACK_HUFFMAN_EOS].bits, 30);
    assert_int_equal(hpack_huffman_table['0'].code, 0x0);
    assert_int_equal(hpack_huffman_table['0'].bits, 5);
    assert_int_equal(hpack_huffman_table['a'].code, 0x3);
    assert_int_equal(hpack_huffman_table[' '].code, 0x14);
    assert_int_equal(hpack_huffman_table[' '].bits, 6);
    assert_int_equal(hpack_huffman_table[255].code, 0x3ffffee);
    assert_int_equal(hpack_huffman_table[255].bits, 26);
    assert_int_equal(hpack_huffman_table[10].code, 0x3ffffffc);
    assert_int_equal(hpack_huffman_table[10].bits, 30);
}

static void assert_huff(const char *hex, const char *want)
{
    uint8_t in[128];
    size_t n = unhex(hex, in, sizeof(in));
    char out[256];
    size_t got = 0;
    assert_true(HPACK_HUFFMAN_MAX_OUT(n) <= sizeof(out));
    assert_int_equal(hpack_huffman_decode(in, n, out, &got), 0);
    assert_int_equal(got, strlen(want));
    assert_memory_equal(out, want, got);
    /* And our test encoder produces the RFC's bytes. */
    uint8_t enc[128];
    assert_int_equal(huff_encode(want, strlen(want), enc), n);
    assert_memory_equal(enc, in, n);
}

static void test_huffman_rfc_strings(void **state)
{
    (void)state;
    assert_true(hpack_huffman_init());
    assert_huff("f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com");
    assert_huff("a8eb 1064 9cbf", "no-cache");
    assert_huff("25a8 49e9 5ba9 7d7f", "custom-key");
    assert_huff("25a8 49e9 5bb8 e8b4 bf", "custom-value");
    assert_huff("6402", "302");
    assert_huff("640e ff", "307");
    assert_huff("aec3 771a 4b", "private");
    assert_huff("d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff",
                "Mon, 21 Oct 2013 20:13:21 GMT");
    assert_huff("d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff",
                "Mon, 21 Oct 2013 20:13:22 GMT");
    assert_huff("9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3", "https://www.example.com");
    assert_huff("9bd9 ab", "gzip");
    assert_huff("94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f "
                "9587 3160 65c0 03ed 4ee5 b106 3d50 07",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1");
    assert_huff("", "");
}

/* Every octet alone (padded), all 256 in one string, and pseudo-random strings. */
static void test_huffman_round_trip(void **state)
{
    (void)state;
    assert_true(hpack_huffman_init());
    uint8_t coded[2048];
    char out[4096];
    size_t got;
    for (unsigned s = 0; s < 256; s++) {
        uint8_t c = (uint8_t)s;
        size_t n = huff_encode(&c, 1, coded);
        assert_int_equal(n, (hpack_huffman_table[s].bits + 7) / 8);
        assert_int_equal(hpack_huffman_decode(coded, n, out, &got), 0);
        assert_int_equal(got, 1);
        assert_int_equal((uint8_t)out[0], s);
    }
    uint8_t all[256];
    for (unsigned s = 0; s < 256; s++)
        all[s] = (uint8_t)(255 - s);
    size_t n = huff_encode(all, sizeof(all), coded);
    assert_int_equal(hpack_huffman_decode(coded, n, out, &got), 0);
    assert_int_equal(got, sizeof(all));
    assert_memory_equal(out, all, sizeof(all));

    uint32_t seed = 12345;
    for (int round = 0; round < 2000; round++) {
        uint8_t text[300];
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % sizeof(text);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            /* Mostly header-like characters, sometimes any octet. */
            text[i] = (uint8_t)((seed >> 24) < 32 ? seed >> 16 : 'a' + (seed >> 16) % 26);
        }
        n = huff_encode(text, len, coded);
        assert_true(HPACK_HUFFMAN_MAX_OUT(n) >= len);
        assert_int_equal(hpack_huffman_decode(coded, n, out, &got), 0);
        assert_int_equal(got, len);
        assert_memory_equal(out, text, len);
    }
}

static void test_huffman_errors(void **state)
{
    (void)state;
    assert_true(hpack_huffman_init());
    char out[64];
    size_t got;
    static const struct {
        const char *hex;
        const char *why;
    } bad[] = {
        {"00", "'0' then 3 bits of zero padding"},
        {"1e", "'a' (00011) then padding 110"},
        {"1fff", "'a' then 11 bits of padding"},
        {"ff", "8 bits of padding alone"},
        {"ffff ffff", "EOS (30 ones) then 2 bits of padding"},
        {"ffff fffc", "EOS is invalid even when the string ends right after it"},
        {"1fff ffff ff", "'a' then EOS"},
        {"fe", "'!' needs 10 bits: 7 ones then a zero is not padding"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t in[16];
        size_t n = unhex(bad[i].hex, in, sizeof(in));
        if (hpack_huffman_decode(in, n, out, &got) != -1)
            fail_msg("accepted %s (%s)", bad[i].hex, bad[i].why);
    }
    /* Padding of 1..7 ones is fine: '0' (5 bits) + 3 ones, 'a' 'a' (10 bits) + 6 ones. */
    uint8_t ok1[] = {0x07};
    assert_int_equal(hpack_huffman_decode(ok1, 1, out, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(out[0], '0');
    uint8_t ok2[] = {0x18, 0xff};
    assert_int_equal(hpack_huffman_decode(ok2, 2, out, &got), 0);
    assert_int_equal(got, 2);
    assert_memory_equal(out, "aa", 2);
}

/* ================= integers ================= */

static uint32_t int_ok(const char *hex, unsigned prefix_bits, size_t want_used)
{
    uint8_t in[16];
    size_t n = unhex(hex, in, sizeof(in));
    const uint8_t *p = in;
    uint32_t v = 0;
    assert_int_equal(hpack_int_decode(&p, in + n, prefix_bits, &v), 0);
    assert_int_equal((size_t)(p - in), want_used);
    return v;
}

static void int_bad(const char *hex, unsigned prefix_bits)
{
    uint8_t in[16];
    size_t n = unhex(hex, in, sizeof(in));
    const uint8_t *p = in;
    uint32_t v = 0;
    if (hpack_int_decode(&p, in + n, prefix_bits, &v) != -1)
        fail_msg("integer %s (prefix %u) accepted as %u", hex, prefix_bits, (unsigned)v);
    assert_ptr_equal(p, in); /* not advanced */
}

static void test_integers(void **state)
{
    (void)state;
    /* C.1.1-C.1.3; bits above the prefix belong to the representation and are ignored. */
    assert_int_equal(int_ok("0a", 5, 1), 10);
    assert_int_equal(int_ok("ea", 5, 1), 10);
    assert_int_equal(int_ok("1f9a 0a", 5, 3), 1337);
    assert_int_equal(int_ok("ff9a 0aff", 5, 3), 1337); /* stops after the last octet */
    assert_int_equal(int_ok("2a", 8, 1), 42);
    /* The prefix maximum itself needs a zero continuation octet. */
    assert_int_equal(int_ok("7f00", 7, 2), 127);
    assert_int_equal(int_ok("1e", 5, 1), 30);
    assert_int_equal(int_ok("1f00", 5, 2), 31);
    /* The largest value: 2^32 - 1 = 127 + 0xffffff80 (7f ff ff ff 0f with 7 bits each). */
    assert_int_equal(int_ok("7f80 ffff ff0f", 7, 6), UINT32_MAX);
    /* Zero padding in continuation octets is fine up to five of them. */
    assert_int_equal(int_ok("7f80 8080 8000", 7, 6), 127);

    int_bad("", 7);                  /* nothing */
    int_bad("7f", 7);                /* truncated after the prefix */
    int_bad("7f80", 7);              /* truncated after a continuation octet */
    int_bad("7f81 ffff ff0f", 7);    /* 2^32 */
    int_bad("7fff ffff ff7f", 7);    /* far above */
    int_bad("7f80 8080 8080 00", 7); /* six continuation octets */
    int_bad("ffff ffff ff0f", 8);    /* 255 + 0xfffffff... > 32 bits */
}

/* ================= RFC 7541 Appendix C ================= */

struct step {
    const char *hex;
    const char *fields;
    const char *table[6];
    size_t table_len;
    size_t table_size;
};

static void run_steps(struct hpack_decoder *d, const struct step *steps, size_t n,
                      const char *first_prefix)
{
    for (size_t i = 0; i < n; i++) {
        char hex[1024];
        snprintf(hex, sizeof(hex), "%s%s", i == 0 && first_prefix ? first_prefix : "",
                 steps[i].hex);
        struct fields f;
        assert_int_equal(decode_hex(d, hex, &f), 0);
        assert_string_equal(f.text, steps[i].fields);
        assert_table(d, steps[i].table, steps[i].table_len, steps[i].table_size);
    }
}

static void test_c2_literals_and_indexed(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {"400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
         "custom-key: custom-header\n",
         {"custom-key: custom-header"},
         1,
         55},
        {"040c 2f73 616d 706c 652f 7061 7468", ":path: /sample/path\n", {0}, 0, 0},
        {"1008 7061 7373 776f 7264 0673 6563 7265 74", "password: secret\n", {0}, 0, 0},
        {"82", ":method: GET\n", {0}, 0, 0},
    };
    /* Each C.2 example starts from an empty table. */
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct hpack_decoder d;
        hpack_decoder_init(&d, HPACK_DEFAULT_TABLE_SIZE);
        run_steps(&d, &steps[i], 1, NULL);
        hpack_decoder_free(&d);
    }
}

#define REQ1 ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n"
#define REQ2 REQ1 "cache-control: no-cache\n"
#define REQ3                                                                          \
    ":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\n" \
    "custom-key: custom-value\n"

static void test_c3_requests(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {"8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
         REQ1,
         {":authority: www.example.com"},
         1,
         57},
        {"8286 84be 5808 6e6f 2d63 6163 6865",
         REQ2,
         {"cache-control: no-cache", ":authority: www.example.com"},
         2,
         110},
        {"8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
         REQ3,
         {"custom-key: custom-value", "cache-control: no-cache", ":authority: www.example.com"},
         3,
         164},
    };
    struct hpack_decoder d;
    hpack_decoder_init(&d, HPACK_DEFAULT_TABLE_SIZE);
    run_steps(&d, steps, 3, NULL);
    hpack_decoder_free(&d);
}

static void test_c4_requests_huffman(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
         REQ1,
         {":authority: www.example.com"},
         1,
         57},
        {"8286 84be 5886 a8eb 1064 9cbf",
         REQ2,
         {"cache-control: no-cache", ":authority: www.example.com"},
         2,
         110},
        {"8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
         REQ3,
         {"custom-key: custom-value", "cache-control: no-cache", ":authority: www.example.com"},
         3,
         164},
    };
    struct hpack_decoder d;
    hpack_decoder_init(&d, HPACK_DEFAULT_TABLE_SIZE);
    run_steps(&d, steps, 3, NULL);
    hpack_decoder_free(&d);
}

#define DATE1  "date: Mon, 21 Oct 2013 20:13:21 GMT"
#define DATE2  "date: Mon, 21 Oct 2013 20:13:22 GMT"
#define LOC    "location: https://www.example.com"
#define COOKIE "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
#define RESP1  ":status: 302\ncache-control: private\n" DATE1 "\n" LOC "\n"
#define RESP2  ":status: 307\ncache-control: private\n" DATE1 "\n" LOC "\n"
#define RESP3 \
    ":status: 200\ncache-control: private\n" DATE2 "\n" LOC "\ncontent-encoding: gzip\n" COOKIE "\n"

static const struct step c5_steps[] = {
    {"4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 "
     "303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
     RESP1,
     {LOC, DATE1, "cache-control: private", ":status: 302"},
     4,
     222},
    {"4803 3330 37c1 c0bf", RESP2, {":status: 307", LOC, DATE1, "cache-control: private"}, 4, 222},
    {"88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 "
     "677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 "
     "553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
     RESP3,
     {COOKIE, "content-encoding: gzip", DATE2},
     3,
     215},
};

static const struct step c6_steps[] = {
    {"4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e "
     "919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
     RESP1,
     {LOC, DATE1, "cache-control: private", ":status: 302"},
     4,
     222},
    {"4883 640e ffc1 c0bf", RESP2, {":status: 307", LOC, DATE1, "cache-control: private"}, 4, 222},
    {"88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 "
     "821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed "
     "4ee5 b106 3d50 07",
     RESP3,
     {COOKIE, "content-encoding: gzip", DATE2},
     3,
     215},
};

/* The table limited to 256 by init, or by a size update at the start of the first block. */
static void run_responses(const struct step *steps)
{
    struct hpack_decoder d;
    hpack_decoder_init(&d, 256);
    run_steps(&d, steps, 3, NULL);
    hpack_decoder_free(&d);

    hpack_decoder_init(&d, HPACK_DEFAULT_TABLE_SIZE);
    run_steps(&d, steps, 3, "3fe101");
    assert_int_equal(hpack_table_limit(&d), 256);
    hpack_decoder_free(&d);
}

static void test_c5_responses(void **state)
{
    (void)state;
    run_responses(c5_steps);
}

static void test_c6_responses_huffman(void **state)
{
    (void)state;
    run_responses(c6_steps);
}

/* ================= malformed blocks ================= */

static void test_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        const char *why;
    } bad[] = {
        {"ff", "indexed: integer truncated after the prefix"},
        {"ff80", "indexed: integer truncated in a continuation"},
        {"ffff ffff ff0f", "indexed: integer above 2^32 - 1"},
        {"ff80 8080 8080 00", "indexed: six continuation octets"},
        {"80", "index 0"},
        {"be", "index 62 with an empty dynamic table"},
        {"ff00", "index 127"},
        {"82 be", "out of range after a good field"},
        {"40", "literal: name missing"},
        {"4005 6162", "literal: name shorter than its length"},
        {"4003 6162 63", "literal: value missing"},
        {"4001 6105 6263", "literal: value shorter than its length"},
        {"407f", "literal: name length truncated"},
        {"7f00 0161", "literal: name index 63 with an empty dynamic table"},
        {"0f2f 0161", "literal without indexing: name index 62, empty table"},
        {"1f2f 0161", "never indexed: name index 62, empty table"},
        {"0081 0001 61", "Huffman name with zero padding"},
        {"0001 6181 00", "Huffman value with zero padding"},
        {"0082 1fff 0161", "Huffman name with 11 bits of padding"},
        {"0084 ffff ffff 0161", "EOS in a Huffman name"},
        {"0001 6185 1fff ffff ff", "EOS in a Huffman value"},
        {"3fe2 1f", "size update to 4097, above the 4096 we advertise"},
        {"3fff ffff ff0f", "size update above 2^32 - 1"},
        {"82 20", "size update after a field"},
        {"4001 6101 62 3fe1 01", "size update after a literal"},
        {"3f", "size update truncated"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hpack_decoder d;
        hpack_decoder_init(&d, HPACK_DEFAULT_TABLE_SIZE);
        struct fields f;
        if (decode_hex(&d, bad[i].hex, &f) != -1)
            fail_msg("accepted %s (%s)", bad[i].hex, bad[i].why);
        /* The decoder is spent: even a good block is refused now. */
        assert_int_equal(decode_hex(&d, "82", &f), -1);
        assert_int_equal(f.count, 0);
        hpack_decoder_free(&d);
        hpack_decoder_free(&d); /* twice is fine too */
    }
    hpack_decoder_free(NULL);
}

static void test_empty_block(void **state)
{
    (void)state;
    struct hpack_decoder d;
    hpack_decoder_init(&d, HPACK_DEFAULT_TABLE_SIZE);
    struct fields f = {0};
    assert_int_equal(hpack_decode(&d, NULL, 0, collect, &f), 0);
    assert_int_equal(f.count, 0);
    hpack_decoder_free(&d);
}

/* ================= size updates and eviction ================= */

static void test_size_updates(void **state)
{
    (void)state;
    struct hpack_decoder d;
    struct fields f;
    hpack_decoder_init(&d, HPACK_DEFAULT_TABLE_SIZE);
    assert_int_equal(hpack_table_limit(&d), 4096);

    /* The maximum itself, then several updates in a row before the first field. */
    assert_int_equal(decode_hex(&d, "3fe1 1f 82", &f), 0);
    assert_int_equal(hpack_table_limit(&d), 4096);
    assert_int_equal(decode_hex(&d, "20 3fe1 01 82", &f), 0);
    assert_string_equal(f.text, ":method: GET\n");
    assert_int_equal(hpack_table_limit(&d), 256);
    /* An update alone is a valid block. */
    assert_int_equal(decode_hex(&d, "3fe1 1f", &f), 0);
    assert_int_equal(f.count, 0);

    /* Shrinking evicts from the oldest: C.3's table (164) down to 100 keeps only custom-key. */
    hpack_decoder_free(&d);
    hpack_decoder_init(&d, HPACK_DEFAULT_TABLE_SIZE);
    assert_int_equal(decode_hex(&d, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", &f), 0);
    assert_int_equal(decode_hex(&d, "8286 84be 5808 6e6f 2d63 6163 6865", &f), 0);
    assert_int_equal(
        decode_hex(&d, "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
                   &f),
        0);
    assert_int_equal(hpack_table_size(&d), 164);
    assert_int_equal(decode_hex(&d, "3f45", &f), 0); /* 31 + 69 = 100 */
    static const char *const kept[] = {"custom-key: custom-value"};
    assert_table(&d, kept, 1, 54);
    /* 0 empties the table; growing again keeps it empty. */
    assert_int_equal(decode_hex(&d, "20 3fe1 1f", &f), 0);
    assert_table(&d, NULL, 0, 0);
    assert_int_equal(decode_hex(&d, "be", &f), -1);
    hpack_decoder_free(&d);

    /* A decoder that advertises 0: every entry is too large, which is not an error. */
    hpack_decoder_init(&d, 0);
    assert_int_equal(decode_hex(&d, "4001 6101 62 20", &f), -1); /* update after a field */
    hpack_decoder_free(&d);
    hpack_decoder_init(&d, 0);
    assert_int_equal(decode_hex(&d, "20 4001 6101 62", &f), 0);
    assert_string_equal(f.text, "a: b\n");
    assert_table(&d, NULL, 0, 0);
    assert_int_equal(decode_hex(&d, "21", &f), -1); /* above 0 */
    hpack_decoder_free(&d);
}

static void test_entry_larger_than_table(void **state)
{
    (void)state;
    struct hpack_decoder d;
    struct fields f;
    hpack_decoder_init(&d, HPACK_DEFAULT_TABLE_SIZE);
    assert_int_equal(decode_hex(&d, "3f45 4001 6101 62", &f), 0); /* limit 100, a: b (34) */
    static const char *const one[] = {"a: b"};
    assert_table(&d, one, 1, 34);

    /* 69 octets of name and value: 101 > 100. Emitted, table emptied, no error. */
    uint8_t block[256];
    char name[40], value[29];
    memset(name, 'n', sizeof(name));
    memset(value, 'v', sizeof(value));
    size_t n = 0;
    block[n++] = 0x40;
    n += put_str(block + n, name, sizeof(name), false);
    n += put_str(block + n, value, sizeof(value), true);
    memset(&f, 0, sizeof(f));
    assert_int_equal(hpack_decode(&d, block, n, collect, &f), 0);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.len, sizeof(name) + sizeof(value) + 3);
    assert_table(&d, NULL, 0, 0);

    /* Exactly the limit (68 octets + 32 = 100) fits. */
    n = 0;
    block[n++] = 0x40;
    n += put_str(block + n, name, sizeof(name) - 1, false);
    n += put_str(block + n, value, sizeof(value), false);
    assert_int_equal(hpack_decode(&d, block, n, collect, &f), 0);
    assert_int_equal(hpack_table_len(&d), 1);
    assert_int_equal(hpack_table_size(&d), 100);
    hpack_decoder_free(&d);
}

/*
 * A literal with incremental indexing whose name is that of a dynamic
 * entry the insertion evicts (RFC 7541 §4.4), in a layout where the
 * table's live bytes are moved over the evicted name's bytes.
 */
static void test_name_of_evicted_entry(void **state)
{
    (void)state;
    struct hpack_decoder d;
    struct fields f = {0};
    hpack_decoder_init(&d, 256);
    uint8_t block[512];
    char v[160];
    memset(v, 'x', sizeof(v));
    size_t n;

    /* P (p: 100 x) at 0, A (a: "") at 101, B (name: v) at 102. */
    n = 0;
    block[n++] = 0x40;
    n += put_str(block + n, "p", 1, false);
    n += put_str(block + n, v, 100, false);
    block[n++] = 0x40;
    n += put_str(block + n, "a", 1, false);
    n += put_str(block + n, "", 0, false);
    block[n++] = 0x40;
    n += put_str(block + n, "name", 4, true);
    n += put_str(block + n, "v", 1, false);
    /* C (c: 109 x) evicts P; the table is A B C, 212 octets. */
    block[n++] = 0x40;
    n += put_str(block + n, "c", 1, false);
    n += put_str(block + n, v, 109, false);
    assert_int_equal(hpack_decode(&d, block, n, collect, &f), 0);
    assert_int_equal(hpack_table_size(&d), 33 + 37 + 142);

    /* Name index 63 (B), value 60 x: evicts A and B, keeps C. */
    n = put_int(block, 0x40, 6, 63);
    n += put_str(block + n, v, 60, true);
    memset(&f, 0, sizeof(f));
    assert_int_equal(hpack_decode(&d, block, n, collect, &f), 0);
    char want_field[128];
    snprintf(want_field, sizeof(want_field), "name: %.60s\n", v);
    assert_string_equal(f.text, want_field);
    char c_line[160], n_line[80];
    snprintf(c_line, sizeof(c_line), "c: %.109s", v);
    snprintf(n_line, sizeof(n_line), "name: %.60s", v);
    const char *const want[] = {n_line, c_line};
    assert_table(&d, want, 2, 96 + 142);

    /* Without indexing, a dynamic name is used in place. */
    n = 0;
    block[n++] = 0x0f;
    block[n++] = 0x2f; /* 15 + 47 = 62 */
    n += put_str(block + n, "z", 1, false);
    memset(&f, 0, sizeof(f));
    assert_int_equal(hpack_decode(&d, block, n, collect, &f), 0);
    snprintf(want_field, sizeof(want_field), "name: z\n");
    assert_string_equal(f.text, want_field);
    assert_table(&d, want, 2, 96 + 142);
    hpack_decoder_free(&d);
}

/* ================= the dynamic table against a model ================= */

#define MODEL_MAX 256
#define STR_MAX   96

struct model_entry {
    char name[STR_MAX];
    size_t name_len;
    char value[STR_MAX];
    size_t value_len;
};

struct model {
    struct model_entry e[MODEL_MAX]; /* newest first */
    size_t n;
    size_t size;
    size_t limit;
};

static void model_evict_to(struct model *m, size_t limit)
{
    while (m->size > limit) {
        struct model_entry *old = &m->e[--m->n];
        m->size -= old->name_len + old->value_len + 32;
    }
}

static void model_insert(struct model *m, const char *name, size_t nl, const char *value, size_t vl)
{
    struct model_entry fresh; /* copied first: the name may be an entry about to go */
    memcpy(fresh.name, name, nl);
    fresh.name_len = nl;
    memcpy(fresh.value, value, vl);
    fresh.value_len = vl;
    size_t size = nl + vl + 32;
    if (size > m->limit) {
        model_evict_to(m, 0);
        return;
    }
    model_evict_to(m, m->limit - size);
    assert_true(m->n < MODEL_MAX);
    memmove(&m->e[1], &m->e[0], m->n * sizeof(m->e[0]));
    m->e[0] = fresh;
    m->n++;
    m->size += size;
}

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static size_t random_text(uint32_t *s, char *out, size_t max)
{
    size_t n = rng_next(s) % (max + 1);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(' ' + rng_next(s) % 95);
    return n;
}

static void append_field(struct fields *want, const char *name, size_t nl, const char *value,
                         size_t vl)
{
    collect(want, name, nl, value, vl);
}

/*
 * Random blocks of literals (new names, static names, dynamic names,
 * Huffman or not), indexed references to dynamic entries and size
 * updates, checked field by field and table by table against the model.
 */
static void test_table_model(void **state)
{
    (void)state;
    const size_t max = 1024;
    struct hpack_decoder d;
    hpack_decoder_init(&d, max);
    struct model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->limit = max;
    uint32_t seed = 0x9e3779b9;
    static struct fields want, got;
    uint8_t block[4096];

    for (int round = 0; round < 3000; round++) {
        size_t n = 0;
        memset(&want, 0, sizeof(want));
        if (rng_next(&seed) % 8 == 0) {
            size_t limit =
                rng_next(&seed) % 4 == 0 ? rng_next(&seed) % 100 : rng_next(&seed) % (max + 1);
            n += put_int(block + n, 0x20, 5, limit);
            model_evict_to(m, limit);
            m->limit = limit;
        }
        int fields = 1 + (int)(rng_next(&seed) % 6);
        for (int k = 0; k < fields; k++) {
            uint32_t kind = rng_next(&seed) % 10;
            bool huff = rng_next(&seed) % 2;
            char name[STR_MAX], value[STR_MAX];
            size_t nl, vl;
            if (kind < 2 && m->n > 0) {
                /* Indexed dynamic entry. */
                size_t i = rng_next(&seed) % m->n;
                n += put_int(block + n, 0x80, 7, 62 + i);
                append_field(&want, m->e[i].name, m->e[i].name_len, m->e[i].value,
                             m->e[i].value_len);
                continue;
            }
            vl = random_text(&seed, value, STR_MAX - 1);
            bool indexing = kind < 7;
            uint8_t flags = indexing ? 0x40 : (rng_next(&seed) % 2 ? 0x10 : 0x00);
            unsigned prefix = indexing ? 6 : 4;
            if (kind < 5 && m->n > 0) {
                /* Name of a dynamic entry, maybe one this insertion evicts. */
                size_t i = rng_next(&seed) % m->n;
                nl = m->e[i].name_len;
                memcpy(name, m->e[i].name, nl);
                n += put_int(block + n, flags, prefix, 62 + i);
            } else if (kind == 5) {
                n += put_int(block + n, flags, prefix, 31); /* content-type */
                memcpy(name, "content-type", 12);
                nl = 12;
            } else {
                nl = random_text(&seed, name, STR_MAX - 1);
                n += put_int(block + n, flags, prefix, 0);
                n += put_str(block + n, name, nl, huff);
            }
            n += put_str(block + n, value, vl, !huff);
            append_field(&want, name, nl, value, vl);
            if (indexing)
                model_insert(m, name, nl, value, vl);
        }
        assert_true(n <= sizeof(block));
        memset(&got, 0, sizeof(got));
        assert_int_equal(hpack_decode(&d, block, n, collect, &got), 0);
        assert_int_equal(got.count, want.count);
        assert_string_equal(got.text, want.text);

        assert_int_equal(hpack_table_len(&d), m->n);
        assert_int_equal(hpack_table_size(&d), m->size);
        assert_int_equal(hpack_table_limit(&d), m->limit);
        for (size_t i = 0; i < m->n; i++) {
            const char *name, *value;
            size_t nl, vl;
            assert_true(hpack_table_entry(&d, i + 1, &name, &nl, &value, &vl));
            assert_int_equal(nl, m->e[i].name_len);
            assert_memory_equal(name, m->e[i].name, nl);
            assert_int_equal(vl, m->e[i].value_len);
            assert_memory_equal(value, m->e[i].value, vl);
        }
    }
    /* Growth is bounded by the advertised maximum. */
    assert_true(d.data_cap <= 2 * max);
    assert_true(d.entries_cap <= 2 * (max / 32));
    hpack_decoder_free(&d);
    free(m);
}

/* Once the largest fields were seen, decoding the same kind of blocks allocates nothing. */
static void test_steady_state_no_growth(void **state)
{
    (void)state;
    struct hpack_decoder d;
    hpack_decoder_init(&d, 256);
    struct fields f;
    /* C.5.1 and C.6.1 refer to static names only, so they can repeat forever. */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(decode_hex(&d, c5_steps[0].hex, &f), 0);
        assert_int_equal(decode_hex(&d, c6_steps[0].hex, &f), 0);
    }
    const char *data = d.data;
    const char *scratch = d.scratch;
    const void *entries = d.entries;
    size_t caps[3] = {d.data_cap, d.scratch_cap, d.entries_cap};
    for (int i = 0; i < 500; i++) {
        assert_int_equal(decode_hex(&d, c5_steps[0].hex, &f), 0);
        assert_string_equal(f.text, RESP1);
        assert_int_equal(decode_hex(&d, c6_steps[0].hex, &f), 0);
        assert_string_equal(f.text, RESP1);
        assert_int_equal(decode_hex(&d, "c1 c0 bf be", &f), 0);
    }
    assert_ptr_equal(d.data, data);
    assert_ptr_equal(d.scratch, scratch);
    assert_ptr_equal(d.entries, entries);
    assert_int_equal(d.data_cap, caps[0]);
    assert_int_equal(d.scratch_cap, caps[1]);
    assert_int_equal(d.entries_cap, caps[2]);
    static const char *const table[] = {LOC, DATE1, "cache-control: private", ":status: 302"};
    assert_table(&d, table, 4, 222);
    hpack_decoder_free(&d);
}

/* ================= encoder ================= */

/* want_name: the static table's name for name_index, or NULL when name_index is 0. */
static void assert_round_trip(unsigned name_index, const char *name, size_t nl, const char *value,
                              size_t vl, const char *want_name)
{
    size_t wl = want_name ? strlen(want_name) : nl;
    if (!want_name)
        want_name = name;
    size_t need = hpack_encode_literal(NULL, 0, name_index, name, nl, value, vl);
    assert_true(need > 0);
    uint8_t *buf = malloc(need + 1);
    assert_non_null(buf);
    /* One byte short: nothing written, same length returned. */
    memset(buf, 0xaa, need + 1);
    assert_int_equal(hpack_encode_literal(buf, need - 1, name_index, name, nl, value, vl), need);
    for (size_t i = 0; i < need + 1; i++)
        assert_int_equal(buf[i], 0xaa);
    assert_int_equal(hpack_encode_literal(buf, need + 1, name_index, name, nl, value, vl), need);
    assert_int_equal(buf[need], 0xaa);
    assert_int_equal(buf[0] & 0xf0, 0x00); /* literal without indexing */

    struct hpack_decoder d;
    hpack_decoder_init(&d, HPACK_DEFAULT_TABLE_SIZE);
    static struct fields f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(hpack_decode(&d, buf, need, collect, &f), 0);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.len, wl + 2 + vl + 1);
    assert_memory_equal(f.text, want_name, wl);
    assert_memory_equal(f.text + wl, ": ", 2);
    assert_memory_equal(f.text + wl + 2, value, vl);
    assert_table(&d, NULL, 0, 0); /* never indexed by the peer's decoder state either */
    hpack_decoder_free(&d);
    free(buf);
}

static void test_encode_literal(void **state)
{
    (void)state;
    uint8_t out[64];
    /* Byte for byte: new name, and a static name index in the 4-bit prefix. */
    assert_int_equal(hpack_encode_literal(out, sizeof(out), 0, "a", 1, "b", 1), 5);
    assert_memory_equal(out,
                        "\x00\x01"
                        "a"
                        "\x01"
                        "b",
                        5);
    assert_int_equal(hpack_encode_literal(out, sizeof(out), 4, NULL, 0, "/x", 2), 4);
    assert_memory_equal(out, "\x04\x02/x", 4);
    /* Index 15 no longer fits 4 bits: 0f 00. 61: 0f 2e. */
    assert_int_equal(hpack_encode_literal(out, sizeof(out), 15, NULL, 0, "", 0), 3);
    assert_memory_equal(out, "\x0f\x00\x00", 3);
    assert_int_equal(hpack_encode_literal(out, sizeof(out), 61, NULL, 0, "", 0), 3);
    assert_memory_equal(out, "\x0f\x2e\x00", 3);
    /* Cap 0 with no buffer gives the length. */
    assert_int_equal(hpack_encode_literal(NULL, 0, 0, "a", 1, "b", 1), 5);

    assert_round_trip(0, "x-request-id", 12, "42", 2, NULL);
    assert_round_trip(0, "", 0, "", 0, NULL);
    assert_round_trip(31, NULL, 0, "application/json", 16, "content-type");
    assert_round_trip(1, NULL, 0, "localhost:8001", 14, ":authority");
    assert_round_trip(15, NULL, 0, "utf-8", 5, "accept-charset");
    assert_round_trip(61, NULL, 0, "Basic", 5, "www-authenticate");
    assert_round_trip(58, NULL, 0, "grpc-c/1.0", 10, "user-agent");
    char big[3000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    assert_round_trip(0, big, 126, big, 127, NULL);
    /* Lengths across the 7-bit prefix boundary and multi-octet lengths. */
    for (size_t len = 120; len < 135; len++)
        assert_round_trip(0, big + 1, len, big, len, NULL);
    assert_round_trip(45, NULL, 0, big, sizeof(big), "link");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huffman_table_shape),
        cmocka_unit_test(test_huffman_rfc_strings),
        cmocka_unit_test(test_huffman_round_trip),
        cmocka_unit_test(test_huffman_errors),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_c2_literals_and_indexed),
        cmocka_unit_test(test_c3_requests),
        cmocka_unit_test(test_c4_requests_huffman),
        cmocka_unit_test(test_c5_responses),
        cmocka_unit_test(test_c6_responses_huffman),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_empty_block),
        cmocka_unit_test(test_size_updates),
        cmocka_unit_test(test_entry_larger_than_table),
        cmocka_unit_test(test_name_of_evicted_entry),
        cmocka_unit_test(test_table_model),
        cmocka_unit_test(test_steady_state_no_growth),
        cmocka_unit_test(test_encode_literal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
