/*
 * HTTP/1.1 request heads and the incremental response parser of the
 * inference data path (see http_wire.h). Everything here runs per request
 * except http_head_build, so it is written to touch each byte once: the
 * head search resumes where it stopped, headers we do not need cost one
 * character test, and chunked bodies are decoded in place.
 */
#include "client/http_wire.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/http_codec.h"
#include "core/buf.h"
#include "core/xalloc.h"

#include "core/banned.h"

#define USER_AGENT "libcurl-agent/1.0"

/* ---- request heads ---- */

static bool name_is(const char *name, const char *want)
{
    return strcasecmp(name, want) == 0;
}

/* The -H header named `name`, or NULL. */
static const struct pa_header *user_header(const struct pa_header *hdrs, size_t n,
                                           const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (name_is(hdrs[i].name, name))
            return &hdrs[i];
    }
    return NULL;
}

static void must(int rc)
{
    /* struct buf fails only past its maximum, which a head never reaches. */
    if (rc != PA_OK)
        abort();
}

/* A built-in line, unless an -H header of the same name replaces or removes it. */
static void builtin(struct buf *b, const char *name, const char *value,
                    const struct pa_header *hdrs, size_t n)
{
    if (user_header(hdrs, n, name))
        return;
    must(buf_printf(b, "%s: %s\r\n", name, value));
}

void http_head_build(struct http_head *h, const char *target, const char *host,
                     const char *auth, bool json_ctype, const struct pa_header *hdrs,
                     size_t n_hdrs)
{
    struct buf b;
    buf_init(&b, 0);
    must(buf_printf(&b, "POST %s HTTP/1.1\r\n", target));
    /* curl's own lines come first, each replaceable by an -H header. */
    const struct pa_header *u = user_header(hdrs, n_hdrs, "Host");
    if (u) {
        if (*u->value)
            must(buf_printf(&b, "Host: %s\r\n", u->value));
    } else {
        must(buf_printf(&b, "Host: %s\r\n", host));
    }
    if (auth && !user_header(hdrs, n_hdrs, "Authorization"))
        must(buf_printf(&b, "%s\r\n", auth));
    builtin(&b, "User-Agent", USER_AGENT, hdrs, n_hdrs);
    builtin(&b, "Accept", "*/*", hdrs, n_hdrs);
    must(buf_append_str(&b, "Inference-Header-Content-Length: "));
    h->a = buf_detach(&b, &h->a_len);

    buf_init(&b, 0);
    must(buf_printf(&b, "\r\nContent-Type: %s\r\n",
                    json_ctype ? "application/json" : "application/octet-stream"));
    for (size_t i = 0; i < n_hdrs; i++) {
        const char *name = hdrs[i].name;
        if (!*hdrs[i].value || name_is(name, "Host") || name_is(name, "Content-Length"))
            continue;
        must(buf_printf(&b, "%s: %s\r\n", name, hdrs[i].value));
    }
    must(buf_append_str(&b, "Content-Length: "));
    h->b = buf_detach(&b, &h->b_len);
}

void http_head_release(struct http_head *h)
{
    free(h->a);
    free(h->b);
    h->a = h->b = NULL;
    h->a_len = h->b_len = 0;
}

size_t http_head_write(char *out, const struct http_head *h, size_t json_len, size_t body_len)
{
    char *p = out;
    memcpy(p, h->a, h->a_len);
    p += h->a_len;
    p += http_u64_dec(p, json_len);
    memcpy(p, h->b, h->b_len);
    p += h->b_len;
    p += http_u64_dec(p, body_len);
    memcpy(p, "\r\n\r\n", 4);
    return (size_t)(p + 4 - out);
}

/* ---- response parser ---- */

void http_parser_reset(struct http_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->json_len = -1;
    p->state = HP_HEAD;
}

static enum http_parse_rc bad(struct http_parser *p, const char *why)
{
    p->error = why;
    return HTTP_BAD;
}

/* Case-insensitive "does the header line start with name (which ends in ':')". */
static bool header_is(const char *line, size_t len, const char *name, size_t name_len)
{
    return len >= name_len && strncasecmp(line, name, name_len) == 0;
}

static const char *skip_ows(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

/* Decimal value of s..end (whitespace around allowed); false if not a number. */
static bool parse_dec(const char *s, const char *end, uint64_t *out)
{
    s = skip_ows(s, end);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (s == end || end - s > 18)
        return false;
    uint64_t v = 0;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* Whether the comma-separated value s..end contains token (case-insensitive). */
static bool has_token(const char *s, const char *end, const char *token)
{
    size_t tl = strlen(token);
    while (s < end) {
        s = skip_ows(s, end);
        if (s >= end)
            break;
        const char *e = memchr(s, ',', (size_t)(end - s));
        const char *te = e ? e : end;
        while (te > s && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        if ((size_t)(te - s) == tl && strncasecmp(s, token, tl) == 0)
            return true;
        if (!e)
            break;
        s = e + 1;
    }
    return false;
}

/* "HTTP/1.x NNN[ reason]" in line..vend. */
static enum http_parse_rc status_line(struct http_parser *p, const char *line, const char *vend)
{
    size_t sl = (size_t)(vend - line);
    if (sl < 5 || memcmp(line, "HTTP/", 5) != 0)
        return bad(p, "not an HTTP response");
    if (sl < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ' || (sl > 12 && line[12] != ' '))
        return bad(p, "malformed status line");
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return bad(p, "malformed status line");
        status = status * 10 + (line[i] - '0');
    }
    p->status = status;
    p->keep_alive = line[7] == '1';
    return HTTP_MORE;
}

/* One header line; only four names matter, the rest cost a character test or two. */
static enum http_parse_rc header_line(struct http_parser *p, const char *line, const char *vend)
{
    static const char cl[] = "content-length:";
    static const char ihcl[] = "inference-header-content-length:";
    static const char te[] = "transfer-encoding:";
    static const char conn[] = "connection:";
    size_t ll = (size_t)(vend - line);

    switch (line[0] | 0x20) {
    case 'c':
        if (ll < sizeof(conn) - 1)
            break;
        if ((line[3] | 0x20) == 't' && header_is(line, ll, cl, sizeof(cl) - 1)) {
            if (!parse_dec(line + sizeof(cl) - 1, vend, &p->left))
                return bad(p, "bad Content-Length");
            p->have_len = true;
        } else if ((line[3] | 0x20) == 'n' && header_is(line, ll, conn, sizeof(conn) - 1)) {
            if (has_token(line + sizeof(conn) - 1, vend, "close"))
                p->keep_alive = false;
            else if (has_token(line + sizeof(conn) - 1, vend, "keep-alive"))
                p->keep_alive = true;
        }
        break;
    case 'i':
        if (header_is(line, ll, ihcl, sizeof(ihcl) - 1)) {
            uint64_t v;
            if (parse_dec(line + sizeof(ihcl) - 1, vend, &v))
                p->json_len = (long)v;
        }
        break;
    case 't':
        if (header_is(line, ll, te, sizeof(te) - 1) &&
            has_token(line + sizeof(te) - 1, vend, "chunked"))
            p->chunked = true;
        break;
    default:
        break;
    }
    return HTTP_MORE;
}

/* The head is complete (head_len bytes): choose the body framing. */
static void head_done(struct http_parser *p, size_t head_len)
{
    p->body_off = head_len;
    p->body_len = 0;
    p->pos = head_len;
    if (p->status == 204 || p->status == 304) {
        p->state = HP_DONE;
    } else if (p->chunked) {
        p->state = HP_CHUNK_SIZE; /* chunked wins over Content-Length (RFC 9112 §6.3) */
        p->left = 0;
    } else if (p->have_len) {
        p->state = HP_BODY_LEN;
        p->need = head_len + (size_t)p->left;
    } else {
        p->state = HP_BODY_EOF;
        p->keep_alive = false;
    }
}

/*
 * Parses the complete head lines from p->pos on, in one pass: each line is
 * looked at once, when its newline has arrived. Drops interim (1xx)
 * responses. Leaves p->state past HP_HEAD once the empty line was seen.
 */
static enum http_parse_rc parse_head(struct http_parser *p, char *buf, size_t *len)
{
    for (;;) {
        size_t n = *len;
        const char *line = buf + p->pos;
        const char *nl = memchr(line, '\n', n - p->pos);
        if (!nl) {
            if (n > HTTP_HEAD_MAX)
                return bad(p, "response header too large");
            if (p->pos == 0 && n >= 5 && memcmp(buf, "HTTP/", 5) != 0)
                return bad(p, "not an HTTP response");
            return HTTP_MORE;
        }
        const char *vend = nl > line && nl[-1] == '\r' ? nl - 1 : nl;
        size_t next = (size_t)(nl + 1 - buf);
        enum http_parse_rc rc = HTTP_MORE;
        if (p->pos == 0) {
            rc = status_line(p, line, vend);
        } else if (vend == line) {
            if (p->status >= 100 && p->status < 200) {
                /* An interim response (100 Continue, 103 Early Hints): drop it, parse on. */
                memmove(buf, buf + next, n - next);
                *len = n - next;
                http_parser_reset(p);
                continue;
            }
            head_done(p, next);
            return HTTP_MORE;
        } else {
            rc = header_line(p, line, vend);
        }
        if (rc != HTTP_MORE)
            return rc;
        p->pos = next;
        if (next > HTTP_HEAD_MAX)
            return bad(p, "response header too large");
    }
}

/* Chunked body: decodes raw bytes at p->pos into the body, in place. */
static enum http_parse_rc parse_chunks(struct http_parser *p, char *buf, size_t *len)
{
    size_t n = *len;
    while (p->state != HP_DONE) {
        if (p->state == HP_CHUNK_DATA) {
            size_t avail = n - p->pos;
            size_t take = avail < p->left ? avail : (size_t)p->left;
            if (take == 0)
                break;
            char *dst = buf + p->body_off + p->body_len;
            if (dst != buf + p->pos)
                memmove(dst, buf + p->pos, take);
            p->body_len += take;
            p->pos += take;
            p->left -= take;
            if (p->left == 0)
                p->state = HP_CHUNK_CRLF;
            continue;
        }
        if (p->state == HP_CHUNK_CRLF) {
            if (n - p->pos < 2)
                break;
            if (buf[p->pos] != '\r' || buf[p->pos + 1] != '\n')
                return bad(p, "bad chunk framing");
            p->pos += 2;
            p->state = HP_CHUNK_SIZE;
            continue;
        }
        /* A line: chunk size (hex, optional ";ext") or a trailer line. */
        const char *s = buf + p->pos;
        const char *nl = memchr(s, '\n', n - p->pos);
        if (!nl) {
            if (n - p->pos > 1024)
                return bad(p, "chunk size line too long");
            break;
        }
        size_t ll = (size_t)(nl - s) + 1;
        if (p->state == HP_TRAILER) {
            p->pos += ll;
            if (ll <= 2) /* the empty line: end of the response */
                p->state = HP_DONE;
            continue;
        }
        uint64_t size = 0;
        size_t digits = 0;
        for (; s < nl; s++, digits++) {
            int d;
            char c = *s;
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                d = (c | 0x20) - 'a' + 10;
            else
                break;
            if (digits >= 15)
                return bad(p, "chunk too large");
            size = size * 16 + (uint64_t)d;
        }
        if (digits == 0 || (*s != ';' && *s != '\r' && *s != ' ' && *s != '\t'))
            return bad(p, "bad chunk size");
        p->pos += ll;
        p->left = size;
        p->state = size ? HP_CHUNK_DATA : HP_TRAILER;
    }
    /* Drop the framing we consumed: undecoded bytes move down behind the body. */
    size_t body_end = p->body_off + p->body_len;
    if (p->pos > body_end) {
        memmove(buf + body_end, buf + p->pos, n - p->pos);
        n -= p->pos - body_end;
        p->pos = body_end;
    }
    *len = n;
    if (p->state == HP_DONE) {
        p->extra = n - body_end;
        return HTTP_DONE;
    }
    /* Room for at least the rest of this chunk. */
    if (p->state == HP_CHUNK_DATA)
        p->need = n + (size_t)p->left;
    return HTTP_MORE;
}

enum http_parse_rc http_parse(struct http_parser *p, char *buf, size_t *len)
{
    if (p->state == HP_HEAD) {
        enum http_parse_rc rc = parse_head(p, buf, len);
        if (rc != HTTP_MORE || p->state == HP_HEAD)
            return rc;
    }

    size_t n = *len;
    switch (p->state) {
    case HP_BODY_LEN: {
        size_t have = n - p->body_off;
        if (have >= p->left) {
            p->body_len = (size_t)p->left;
            p->extra = have - p->body_len;
            p->state = HP_DONE;
            return HTTP_DONE;
        }
        p->body_len = have;
        return HTTP_MORE;
    }
    case HP_BODY_EOF:
        p->body_len = n - p->body_off;
        return HTTP_MORE;
    case HP_DONE:
        p->extra = n - p->body_off - p->body_len;
        return HTTP_DONE;
    default:
        return parse_chunks(p, buf, len);
    }
}

enum http_parse_rc http_parse_eof(struct http_parser *p)
{
    if (p->state == HP_BODY_EOF) {
        p->state = HP_DONE;
        return HTTP_DONE;
    }
    if (p->state == HP_DONE)
        return HTTP_DONE;
    return bad(p, p->state == HP_HEAD ? "connection closed before the response"
                                      : "connection closed in the middle of the response");
}
