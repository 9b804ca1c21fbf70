/*
 * The HPACK Huffman code (RFC 7541 Appendix B) and its decoder.
 *
 * The table is the RFC's, one {code, bits} pair per symbol, code aligned to
 * the least significant bit as in the RFC's "code as hex" column. The code
 * is canonical: codes of one length are consecutive and grow with the
 * symbol, and the first code of each length continues where the previous
 * length ended. So decoding needs no tree: for each length L, the codes
 * of length L are exactly the left-justified bit windows below
 * limit[L] and at or above limit[L - 1], and the symbol is found by its
 * rank among the codes of that length. Those per-length tables are derived
 * from the RFC table once per process (pthread_once), so the table typed
 * below stays the only source of truth; the unit tests check that the
 * derivation sees a canonical, complete code.
 */
#include "client/hpack-internal.h"

#include <assert.h>
#include <pthread.h>

#include "core/banned.h"

/* clang-format off */
const struct hpack_huff_sym hpack_huffman_table[HPACK_HUFFMAN_SYMBOLS] = {
    /*   0 -   7 */
    {0x1ff8, 13}, {0x7fffd8, 23}, {0xfffffe2, 28}, {0xfffffe3, 28},
    {0xfffffe4, 28}, {0xfffffe5, 28}, {0xfffffe6, 28}, {0xfffffe7, 28},
    /*   8 -  15 */
    {0xfffffe8, 28}, {0xffffea, 24}, {0x3ffffffc, 30}, {0xfffffe9, 28},
    {0xfffffea, 28}, {0x3ffffffd, 30}, {0xfffffeb, 28}, {0xfffffec, 28},
    /*  16 -  23 */
    {0xfffffed, 28}, {0xfffffee, 28}, {0xfffffef, 28}, {0xffffff0, 28},
    {0xffffff1, 28}, {0xffffff2, 28}, {0x3ffffffe, 30}, {0xffffff3, 28},
    /*  24 -  31 */
    {0xffffff4, 28}, {0xffffff5, 28}, {0xffffff6, 28}, {0xffffff7, 28},
    {0xffffff8, 28}, {0xffffff9, 28}, {0xffffffa, 28}, {0xffffffb, 28},
    /* ' ' ! " # $ % & ' */
    {0x14, 6}, {0x3f8, 10}, {0x3f9, 10}, {0xffa, 12},
    {0x1ff9, 13}, {0x15, 6}, {0xf8, 8}, {0x7fa, 11},
    /* ( ) * + , - . / */
    {0x3fa, 10}, {0x3fb, 10}, {0xf9, 8}, {0x7fb, 11},
    {0xfa, 8}, {0x16, 6}, {0x17, 6}, {0x18, 6},
    /* 0 1 2 3 4 5 6 7 */
    {0x0, 5}, {0x1, 5}, {0x2, 5}, {0x19, 6},
    {0x1a, 6}, {0x1b, 6}, {0x1c, 6}, {0x1d, 6},
    /* 8 9 : ; < = > ? */
    {0x1e, 6}, {0x1f, 6}, {0x5c, 7}, {0xfb, 8},
    {0x7ffc, 15}, {0x20, 6}, {0xffb, 12}, {0x3fc, 10},
    /* @ A B C D E F G */
    {0x1ffa, 13}, {0x21, 6}, {0x5d, 7}, {0x5e, 7},
    {0x5f, 7}, {0x60, 7}, {0x61, 7}, {0x62, 7},
    /* H I J K L M N O */
    {0x63, 7}, {0x64, 7}, {0x65, 7}, {0x66, 7},
    {0x67, 7}, {0x68, 7}, {0x69, 7}, {0x6a, 7},
    /* P Q R S T U V W */
    {0x6b, 7}, {0x6c, 7}, {0x6d, 7}, {0x6e, 7},
    {0x6f, 7}, {0x70, 7}, {0x71, 7}, {0x72, 7},
    /* X Y Z [ \ ] ^ _ */
    {0xfc, 8}, {0x73, 7}, {0xfd, 8}, {0x1ffb, 13},
    {0x7fff0, 19}, {0x1ffc, 13}, {0x3ffc, 14}, {0x22, 6},
    /* ` a b c d e f g */
    {0x7ffd, 15}, {0x3, 5}, {0x23, 6}, {0x4, 5},
    {0x24, 6}, {0x5, 5}, {0x25, 6}, {0x26, 6},
    /* h i j k l m n o */
    {0x27, 6}, {0x6, 5}, {0x74, 7}, {0x75, 7},
    {0x28, 6}, {0x29, 6}, {0x2a, 6}, {0x7, 5},
    /* p q r s t u v w */
    {0x2b, 6}, {0x76, 7}, {0x2c, 6}, {0x8, 5},
    {0x9, 5}, {0x2d, 6}, {0x77, 7}, {0x78, 7},
    /* x y z { | } ~ DEL */
    {0x79, 7}, {0x7a, 7}, {0x7b, 7}, {0x7ffe, 15},
    {0x7fc, 11}, {0x3ffd, 14}, {0x1ffd, 13}, {0xffffffc, 28},
    /* 128 - 135 */
    {0xfffe6, 20}, {0x3fffd2, 22}, {0xfffe7, 20}, {0xfffe8, 20},
    {0x3fffd3, 22}, {0x3fffd4, 22}, {0x3fffd5, 22}, {0x7fffd9, 23},
    /* 136 - 143 */
    {0x3fffd6, 22}, {0x7fffda, 23}, {0x7fffdb, 23}, {0x7fffdc, 23},
    {0x7fffdd, 23}, {0x7fffde, 23}, {0xffffeb, 24}, {0x7fffdf, 23},
    /* 144 - 151 */
    {0xffffec, 24}, {0xffffed, 24}, {0x3fffd7, 22}, {0x7fffe0, 23},
    {0xffffee, 24}, {0x7fffe1, 23}, {0x7fffe2, 23}, {0x7fffe3, 23},
    /* 152 - 159 */
    {0x7fffe4, 23}, {0x1fffdc, 21}, {0x3fffd8, 22}, {0x7fffe5, 23},
    {0x3fffd9, 22}, {0x7fffe6, 23}, {0x7fffe7, 23}, {0xffffef, 24},
    /* 160 - 167 */
    {0x3fffda, 22}, {0x1fffdd, 21}, {0xfffe9, 20}, {0x3fffdb, 22},
    {0x3fffdc, 22}, {0x7fffe8, 23}, {0x7fffe9, 23}, {0x1fffde, 21},
    /* 168 - 175 */
    {0x7fffea, 23}, {0x3fffdd, 22}, {0x3fffde, 22}, {0xfffff0, 24},
    {0x1fffdf, 21}, {0x3fffdf, 22}, {0x7fffeb, 23}, {0x7fffec, 23},
    /* 176 - 183 */
    {0x1fffe0, 21}, {0x1fffe1, 21}, {0x3fffe0, 22}, {0x1fffe2, 21},
    {0x7fffed, 23}, {0x3fffe1, 22}, {0x7fffee, 23}, {0x7fffef, 23},
    /* 184 - 191 */
    {0xfffea, 20}, {0x3fffe2, 22}, {0x3fffe3, 22}, {0x3fffe4, 22},
    {0x7ffff0, 23}, {0x3fffe5, 22}, {0x3fffe6, 22}, {0x7ffff1, 23},
    /* 192 - 199 */
    {0x3ffffe0, 26}, {0x3ffffe1, 26}, {0xfffeb, 20}, {0x7fff1, 19},
    {0x3fffe7, 22}, {0x7ffff2, 23}, {0x3fffe8, 22}, {0x1ffffec, 25},
    /* 200 - 207 */
    {0x3ffffe2, 26}, {0x3ffffe3, 26}, {0x3ffffe4, 26}, {0x7ffffde, 27},
    {0x7ffffdf, 27}, {0x3ffffe5, 26}, {0xfffff1, 24}, {0x1ffffed, 25},
    /* 208 - 215 */
    {0x7fff2, 19}, {0x1fffe3, 21}, {0x3ffffe6, 26}, {0x7ffffe0, 27},
    {0x7ffffe1, 27}, {0x3ffffe7, 26}, {0x7ffffe2, 27}, {0xfffff2, 24},
    /* 216 - 223 */
    {0x1fffe4, 21}, {0x1fffe5, 21}, {0x3ffffe8, 26}, {0x3ffffe9, 26},
    {0xffffffd, 28}, {0x7ffffe3, 27}, {0x7ffffe4, 27}, {0x7ffffe5, 27},
    /* 224 - 231 */
    {0xfffec, 20}, {0xfffff3, 24}, {0xfffed, 20}, {0x1fffe6, 21},
    {0x3fffe9, 22}, {0x1fffe7, 21}, {0x1fffe8, 21}, {0x7ffff3, 23},
    /* 232 - 239 */
    {0x3fffea, 22}, {0x3fffeb, 22}, {0x1ffffee, 25}, {0x1ffffef, 25},
    {0xfffff4, 24}, {0xfffff5, 24}, {0x3ffffea, 26}, {0x7ffff4, 23},
    /* 240 - 247 */
    {0x3ffffeb, 26}, {0x7ffffe6, 27}, {0x3ffffec, 26}, {0x3ffffed, 26},
    {0x7ffffe7, 27}, {0x7ffffe8, 27}, {0x7ffffe9, 27}, {0x7ffffea, 27},
    /* 248 - 255 */
    {0x7ffffeb, 27}, {0xffffffe, 28}, {0x7ffffec, 27}, {0x7ffffed, 27},
    {0x7ffffee, 27}, {0x7ffffef, 27}, {0x7fffff0, 27}, {0x3ffffee, 26},
    /* 256: EOS */
    {0x3fffffff, 30},
};
/* clang-format on */

#define MIN_BITS 5
#define MAX_BITS 30

/*
 * Derived once from hpack_huffman_table. For a length L: first[L] is its
 * smallest code, limit[L] the left-justified (32-bit) end of its codes, so
 * a 32-bit window w starts with a code of length L iff
 * limit[L - 1] <= w < limit[L]; its symbol is by_code[rank[L] + code - first[L]].
 */
static struct {
    uint32_t first[MAX_BITS + 1];
    uint64_t limit[MAX_BITS + 1];
    uint16_t rank[MAX_BITS + 1];
    uint16_t by_code[HPACK_HUFFMAN_SYMBOLS];
    bool canonical;
} dec;

static pthread_once_t dec_once = PTHREAD_ONCE_INIT;

static void derive_decoder(void)
{
    unsigned count[MAX_BITS + 1] = {0};
    for (unsigned s = 0; s < HPACK_HUFFMAN_SYMBOLS; s++)
        count[hpack_huffman_table[s].bits]++;

    /* Canonical assignment from the lengths alone; the table must agree. */
    uint32_t code = 0;
    unsigned rank = 0;
    for (unsigned len = 1; len <= MAX_BITS; len++) {
        dec.first[len] = code;
        dec.rank[len] = (uint16_t)rank;
        code += count[len];
        rank += count[len];
        dec.limit[len] = (uint64_t)code << (32 - len);
        code <<= 1;
    }
    /* Complete (Kraft sum exactly 1): the last length ends at 2^30. */
    bool ok = count[0] == 0 && dec.limit[MAX_BITS] == (uint64_t)1 << 32;

    unsigned next[MAX_BITS + 1] = {0};
    for (unsigned s = 0; s < HPACK_HUFFMAN_SYMBOLS; s++) {
        unsigned len = hpack_huffman_table[s].bits;
        uint32_t c = hpack_huffman_table[s].code;
        if (len < MIN_BITS || c != dec.first[len] + next[len]) {
            ok = false;
            break;
        }
        dec.by_code[dec.rank[len] + next[len]++] = (uint16_t)s;
    }
    dec.canonical = ok;
    assert(ok);
}

bool hpack_huffman_init(void)
{
    pthread_once(&dec_once, derive_decoder);
    return dec.canonical;
}

int hpack_huffman_decode(const uint8_t *src, size_t n, char *dst, size_t *out_len)
{
    /* The next input bits, left-justified: the top `have` bits are valid. */
    uint64_t acc = 0;
    unsigned have = 0;
    size_t in = 0, out = 0;

    for (;;) {
        while (have <= 56 && in < n) {
            acc |= (uint64_t)src[in++] << (56 - have);
            have += 8;
        }
        if (have == 0)
            break;
        uint32_t window = (uint32_t)(acc >> 32);
        unsigned len = MIN_BITS;
        while (len < MAX_BITS && window >= dec.limit[len])
            len++;
        /*
         * A code longer than the bits left can only be padding: the input
         * is used up (the refill above stops early only with 57+ bits).
         */
        if (len > have)
            break;
        unsigned sym = dec.by_code[dec.rank[len] + (window >> (32 - len)) - dec.first[len]];
        if (sym == HPACK_HUFFMAN_EOS)
            return -1;
        dst[out++] = (char)sym;
        acc <<= len;
        have -= len;
    }
    /* Padding: the most significant bits of EOS (all ones), fewer than 8. */
    if (have > 7)
        return -1;
    if (have && acc >> (64 - have) != ((uint64_t)1 << have) - 1)
        return -1;
    *out_len = out;
    return 0;
}
