/* Base64 encoding and strict decoding (see base64.h). */
#include "core/base64.h"

#include <stdint.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void base64_encode(const void *in, size_t n, char *out)
{
    const uint8_t *p = in;
    size_t i = 0;
    char *o = out;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
        *o++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
        *o++ = '=';
    }
    *o = '\0';
}

size_t base64_decoded_max(size_t n)
{
    return (n + 3) / 4 * 3;
}

static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int base64_decode(const char *text, size_t len, void *out, size_t *out_len)
{
    uint8_t *o = out;
    size_t n = 0;

    if (len % 4 != 0)
        return PA_EINVAL;
    for (size_t i = 0; i < len; i += 4) {
        int pad = 0;
        uint32_t v = 0;
        for (size_t j = 0; j < 4; j++) {
            char c = text[i + j];
            int s;
            if (c == '=' && i + 4 == len && j >= 2) {
                pad++;
                s = 0;
            } else if (pad) {
                return PA_EINVAL; /* data after padding */
            } else if ((s = sextet(c)) < 0) {
                return PA_EINVAL;
            }
            v = v << 6 | (uint32_t)s;
        }
        o[n++] = (uint8_t)(v >> 16);
        if (pad < 2)
            o[n++] = (uint8_t)(v >> 8);
        if (pad < 1)
            o[n++] = (uint8_t)v;
    }
    *out_len = n;
    return PA_OK;
}
