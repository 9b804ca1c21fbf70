/*
 * Standard base64 (RFC 4648 alphabet, '=' padding), as used by "b64" values
 * in --input-data JSON.
 */
#ifndef PA_CORE_BASE64_H
#define PA_CORE_BASE64_H

#include <stddef.h>

#include "pa/status.h"

/* Bytes base64_encode writes for n input bytes, excluding the NUL. */
size_t base64_encoded_len(size_t n);
/* Writes base64_encoded_len(n) characters plus a NUL into out. */
void base64_encode(const void *in, size_t n, char *out);
/* Upper bound of decoded bytes for a text of length n. */
size_t base64_decoded_max(size_t n);
/*
 * Decodes text (whitespace not allowed) into out, which holds at least
 * base64_decoded_max(len) bytes. Returns PA_OK and sets *out_len, or
 * PA_EINVAL on a character outside the alphabet or bad padding.
 */
PA_MUST_CHECK int base64_decode(const char *text, size_t len, void *out, size_t *out_len);

#endif
