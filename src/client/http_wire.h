/*
 * HTTP/1.1 framing for the inference data path: request heads and an
 * incremental response parser. No I/O and no allocation: the caller owns
 * the connection buffer, reads into it and hands the bytes to the parser.
 *
 * Request head. A prepared request fixes everything but two numbers, so the
 * head is a template of two parts around them:
 *
 *   a: "POST <target> HTTP/1.1\r\nHost: ...\r\n...Inference-Header-Content-Length: "
 *      <json length>
 *   b: "\r\nContent-Type: ...\r\n<-H headers>Content-Length: "
 *      <body length> "\r\n\r\n"
 *
 * Header order and values are libcurl's for the same request (Host,
 * Authorization, User-Agent, Accept, then the custom lines), so a server
 * sees what the curl data path used to send.
 *
 * Response parser. http_parse() is fed the connection buffer each time
 * bytes were appended to it; it parses the status line and the headers it
 * needs (Content-Length, Transfer-Encoding: chunked, Connection,
 * Inference-Header-Content-Length), skips 1xx interim responses, and
 * decodes a chunked body in place, so that the body always ends up
 * contiguous at buf + body_off. Fields marked "result" are for the caller
 * to read; the rest is the parser's.
 *
 * Internal to src/client (and its unit tests).
 */
#ifndef PA_CLIENT_HTTP_WIRE_H
#define PA_CLIENT_HTTP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/options.h"
#include "pa/status.h"

/* ---- request heads ---- */

struct http_head {
    char *a;            /* up to and including "Inference-Header-Content-Length: " */
    size_t a_len;
    char *b;            /* from the CRLF after that value to "Content-Length: " */
    size_t b_len;
};

/* Longest head http_head_write produces for this template. */
#define HTTP_HEAD_NUMS_MAX (2 * 20 + 4)
static inline size_t http_head_max(const struct http_head *h)
{
    return h->a_len + h->b_len + HTTP_HEAD_NUMS_MAX;
}

/*
 * Builds the template of a POST to target (origin form, "/v2/..."). host is
 * the Host value ("h", "h:port", "[v6]:port"); auth is a complete
 * "Authorization: ..." line without CRLF, or NULL. -H headers with the name
 * Host, User-Agent, Accept or Authorization replace the built-in line (as
 * in curl); an -H header with an empty value only removes the built-in line
 * of that name; a Content-Length -H header is not sent (the framing is
 * ours). Release with http_head_release.
 */
void http_head_build(struct http_head *h, const char *target, const char *host,
                     const char *auth, bool json_ctype, const struct pa_header *hdrs,
                     size_t n_hdrs);
void http_head_release(struct http_head *h);

/* Writes the head for one send into out (http_head_max bytes); returns its length. */
size_t http_head_write(char *out, const struct http_head *h, size_t json_len, size_t body_len);

/* ---- response parser ---- */

enum http_parse_rc {
    HTTP_MORE,          /* need more bytes */
    HTTP_DONE,          /* one whole response is in the buffer */
    HTTP_BAD,           /* not a valid HTTP/1.x response (parser.error says why) */
};

enum http_parse_state {
    HP_HEAD,
    HP_BODY_LEN,        /* Content-Length body */
    HP_BODY_EOF,        /* no length: the body ends when the server closes */
    HP_CHUNK_SIZE,
    HP_CHUNK_DATA,
    HP_CHUNK_CRLF,
    HP_TRAILER,
    HP_DONE,
};

/* Largest response head accepted (status line + headers). */
#define HTTP_HEAD_MAX ((size_t)64 * 1024)

struct http_parser {
    /* Results, valid once the head is parsed (state > HP_HEAD). */
    int status;
    long json_len;          /* Inference-Header-Content-Length, -1 = absent */
    bool keep_alive;        /* the connection may carry another request */
    size_t body_off;        /* the body starts at buf + body_off */
    size_t body_len;        /* body bytes so far (all of them once HTTP_DONE) */
    size_t extra;           /* bytes after the response (HTTP_DONE): a broken server */
    size_t need;            /* buffer size that would hold the whole response, 0 = unknown */
    const char *error;      /* HTTP_BAD: what was wrong (static text) */

    enum http_parse_state state;
    size_t pos;             /* head: the next line to parse; chunked: raw position */
    uint64_t left;          /* Content-Length or chunk bytes still to come */
    bool have_len;          /* head: a Content-Length was seen (in left) */
    bool chunked;           /* head: Transfer-Encoding ends in chunked */
};

void http_parser_reset(struct http_parser *p);

/*
 * Parses buf[0..*len) after bytes were appended at the end. May move bytes
 * inside buf (1xx responses dropped, chunk framing removed) and then lowers
 * *len. When it returns HTTP_MORE with *len == the buffer's capacity, the
 * caller must grow the buffer (to at least p->need when that is set).
 */
enum http_parse_rc http_parse(struct http_parser *p, char *buf, size_t *len);

/* The server closed the connection: HTTP_DONE if that ends the body, else HTTP_BAD. */
enum http_parse_rc http_parse_eof(struct http_parser *p);

#endif
