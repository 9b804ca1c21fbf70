/*
 * The TorchServe request body (spec 06 §4, protocols/04-torchserve.md §2):
 * multipart/form-data with exactly one part named `data` holding the bytes
 * of the file the step's TORCHSERVE_INPUT names. libcurl's mime API would
 * produce the same bytes; the framing is ours so that it is testable and
 * streamed straight from the file at send time:
 *
 *   --<boundary>\r\n
 *   Content-Disposition: form-data; name="data"\r\n
 *   \r\n
 *   <file bytes>\r\n
 *   --<boundary>--\r\n
 *
 * with the boundary in libcurl's form (24 dashes + 16 hex digits) and no
 * Content-Type or filename in the part, as libcurl sends a data part.
 *
 * Internal to src/client/ (torchserve.c and its tests).
 */
#ifndef PA_CLIENT_TORCHSERVE_H
#define PA_CLIENT_TORCHSERVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pa/client.h"
#include "pa/status.h"

#define TS_BOUNDARY_LEN 40
/* Longest head/tail for a TS_BOUNDARY_LEN boundary. */
#define TS_HEAD_MAX (TS_BOUNDARY_LEN + 64)
#define TS_TAIL_MAX (TS_BOUNDARY_LEN + 8)

/* out (TS_BOUNDARY_LEN + 1 bytes) = 24 dashes + 16 lower-case hex digits of `random`. */
void ts_make_boundary(char *out, uint64_t random);

/* Writes the part head / body tail for boundary into out; returns the length. */
size_t ts_part_head(char *out, const char *boundary);
size_t ts_part_tail(char *out, const char *boundary);

/* One request body being streamed: head, then the file from fd, then tail. */
struct ts_body {
    const char *head;
    size_t head_len;
    int fd;
    uint64_t file_len;
    const char *tail;
    size_t tail_len;
    uint64_t pos;               /* bytes handed out so far */
};

static inline uint64_t ts_body_len(const struct ts_body *b)
{
    return b->head_len + b->file_len + b->tail_len;
}

/*
 * Copies up to n next bytes of the body into dst. Returns the count (0 at
 * the end), or -1 when the file cannot be read or ends early (it shrank).
 */
ssize_t ts_body_read(struct ts_body *b, char *dst, size_t n);
/* Moves to offset pos (libcurl rewinds to resend on a new connection). -1 if out of range. */
int ts_body_seek(struct ts_body *b, uint64_t pos);

/*
 * The file path of a TORCHSERVE_INPUT tensor: its first BYTES element
 * (4-byte little-endian length prefix stripped), NUL-terminated in a new
 * string. The original used the whole buffer after the first prefix, which
 * is the same for the single element TorchServe input data holds.
 */
PA_MUST_CHECK int ts_input_path(const struct pa_input *in, char **path, struct pa_err *err);

#endif
