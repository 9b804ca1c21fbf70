/*
 * RapidJSON-compatible JSON reader for --input-data files (see jsonr.h).
 *
 * Recursive descent over a bounded depth. Finished values are pushed on one
 * scratch stack and moved into an exact-size array when their container
 * closes, so a long numeric array costs one allocation, not one per element.
 * Error codes and offsets follow RapidJSON's reader (kParseNanAndInfFlag,
 * no full-precision flag): the offset is where the bad character was seen,
 * except for numbers that are too big (offset of the number) and bad escapes
 * (offset of the backslash).
 */
#include "data/jsonr.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "core/banned.h"

struct parser {
    const char *text;
    size_t len;
    size_t pos;
    struct jr_value *stack; /* finished values waiting for their container */
    size_t sp, cap;
    struct buf sbuf;        /* scratch for strings with escapes */
    enum jr_error error;
    size_t error_offset;
};

static void value_free(struct jr_value *v);

static char peek(const struct parser *ps)
{
    return ps->pos < ps->len ? ps->text[ps->pos] : '\0';
}

static bool consume(struct parser *ps, char c)
{
    if (ps->pos < ps->len && ps->text[ps->pos] == c) {
        ps->pos++;
        return true;
    }
    return false;
}

static void skip_ws(struct parser *ps)
{
    while (ps->pos < ps->len) {
        char c = ps->text[ps->pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            break;
        ps->pos++;
    }
}

static bool fail(struct parser *ps, enum jr_error e, size_t offset)
{
    ps->error = e;
    ps->error_offset = offset;
    return false;
}

static struct jr_value *push(struct parser *ps)
{
    if (ps->sp == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 64;
        ps->stack = xreallocarray(ps->stack, ps->cap, sizeof(*ps->stack));
    }
    struct jr_value *v = &ps->stack[ps->sp++];
    memset(v, 0, sizeof(*v));
    return v;
}

/* Moves the top n stack values into a new exact-size array. */
static struct jr_value *pop_list(struct parser *ps, size_t n)
{
    struct jr_value *items = NULL;

    if (n) {
        items = xmalloc(n * sizeof(*items));
        memcpy(items, &ps->stack[ps->sp - n], n * sizeof(*items));
        ps->sp -= n;
    }
    return items;
}

static bool parse_value(struct parser *ps, unsigned depth);

static bool parse_literal(struct parser *ps, const char *rest, enum jr_type type)
{
    ps->pos++; /* first letter, already matched by the caller */
    for (const char *r = rest; *r; r++)
        if (!consume(ps, *r))
            return fail(ps, JR_VALUE_INVALID, ps->pos);
    push(ps)->type = (uint8_t)type;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool hex4(struct parser *ps, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        int h = hexval(peek(ps));
        if (h < 0)
            return false;
        ps->pos++;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return true;
}

static void append_utf8(struct buf *b, unsigned cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (buf_append(b, u, n) != PA_OK)
        abort(); /* only past BUF_DEFAULT_MAX, which a parsed file cannot reach */
}

static bool parse_escape(struct parser *ps)
{
    size_t esc = ps->pos; /* RapidJSON reports escape errors at the backslash */
    char c, out;
    unsigned cp, lo;

    ps->pos++;
    c = peek(ps);
    switch (c) {
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case '/': out = '/'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'u':
        ps->pos++;
        if (!hex4(ps, &cp))
            return fail(ps, JR_STRING_UNICODE_ESCAPE_INVALID_HEX, esc);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!consume(ps, '\\') || !consume(ps, 'u'))
                return fail(ps, JR_STRING_UNICODE_SURROGATE_INVALID, esc);
            if (!hex4(ps, &lo))
                return fail(ps, JR_STRING_UNICODE_ESCAPE_INVALID_HEX, esc);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(ps, JR_STRING_UNICODE_SURROGATE_INVALID, esc);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        append_utf8(&ps->sbuf, cp);
        return true;
    default:
        return fail(ps, JR_STRING_ESCAPE_INVALID, esc);
    }
    ps->pos++;
    if (buf_append(&ps->sbuf, &out, 1) != PA_OK)
        abort();
    return true;
}

static bool parse_string(struct parser *ps)
{
    size_t run;

    ps->pos++; /* opening quote */
    buf_reset(&ps->sbuf);
    for (;;) {
        /* Copy plain runs in one go. */
        run = ps->pos;
        while (run < ps->len) {
            unsigned char c = (unsigned char)ps->text[run];
            if (c == '"' || c == '\\' || c < 0x20)
                break;
            run++;
        }
        if (run > ps->pos && buf_append(&ps->sbuf, ps->text + ps->pos, run - ps->pos) != PA_OK)
            abort();
        ps->pos = run;

        unsigned char c = (unsigned char)peek(ps);
        if (c == '"') {
            ps->pos++;
            break;
        }
        if (c == '\\') {
            if (!parse_escape(ps))
                return false;
            continue;
        }
        return fail(ps, c == '\0' ? JR_STRING_MISS_QUOTATION : JR_STRING_INVALID_ENCODING,
                    ps->pos);
    }

    struct jr_value *v = push(ps);
    v->type = JR_STRING;
    v->v.str.len = ps->sbuf.len;
    v->v.str.s = xmalloc(ps->sbuf.len + 1);
    if (ps->sbuf.len)
        memcpy(v->v.str.s, ps->sbuf.data, ps->sbuf.len);
    v->v.str.s[ps->sbuf.len] = '\0';
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void set_integer(struct jr_value *v, bool minus, uint64_t acc)
{
    v->type = JR_NUMBER;
    if (minus) {
        /* acc <= 2^63 here; -2^63 is representable */
        int64_t i = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
        v->v.i = i;
        v->flags = JR_INT64;
        if (i >= INT32_MIN)
            v->flags |= JR_INT;
        if (i == 0) /* "-0": RapidJSON stores it as the int 0 */
            v->flags |= JR_UINT | JR_UINT64;
        return;
    }
    v->flags = JR_UINT64;
    if (acc <= UINT32_MAX)
        v->flags |= JR_UINT;
    if (acc <= INT32_MAX)
        v->flags |= JR_INT;
    if (acc <= INT64_MAX) {
        v->flags |= JR_INT64;
        v->v.i = (int64_t)acc;
    } else {
        v->v.u = acc;
    }
}

static bool parse_number(struct parser *ps)
{
    size_t start = ps->pos;
    bool minus = consume(ps, '-');
    bool is_double = false;
    uint64_t acc = 0;
    /* RapidJSON switches to double past these (|value| > 2^64-1 or 2^63). */
    const uint64_t limit_div = minus ? 922337203685477580ULL : 1844674407370955161ULL;
    const int limit_last = minus ? 8 : 5;

    if (peek(ps) == '0') {
        ps->pos++;
    } else if (peek(ps) >= '1' && peek(ps) <= '9') {
        while (is_digit(peek(ps))) {
            int d = peek(ps) - '0';
            if (!is_double) {
                if (acc > limit_div || (acc == limit_div && d > limit_last))
                    is_double = true;
                else
                    acc = acc * 10 + (uint64_t)d;
            }
            ps->pos++;
        }
    } else if (consume(ps, 'N')) {
        if (!consume(ps, 'a') || !consume(ps, 'N'))
            return fail(ps, JR_VALUE_INVALID, ps->pos);
        struct jr_value *v = push(ps);
        v->type = JR_NUMBER;
        v->flags = JR_DOUBLE;
        v->v.d = minus ? -NAN : NAN;
        return true;
    } else if (consume(ps, 'I')) {
        if (!consume(ps, 'n') || !consume(ps, 'f'))
            return fail(ps, JR_VALUE_INVALID, ps->pos);
        if (peek(ps) == 'i') {
            for (const char *r = "inity"; *r; r++)
                if (!consume(ps, *r))
                    return fail(ps, JR_VALUE_INVALID, ps->pos);
        }
        struct jr_value *v = push(ps);
        v->type = JR_NUMBER;
        v->flags = JR_DOUBLE;
        v->v.d = minus ? -INFINITY : INFINITY;
        return true;
    } else {
        return fail(ps, JR_VALUE_INVALID, ps->pos);
    }

    if (consume(ps, '.')) {
        if (!is_digit(peek(ps)))
            return fail(ps, JR_NUMBER_MISS_FRACTION, ps->pos);
        while (is_digit(peek(ps)))
            ps->pos++;
        is_double = true;
    }
    if (consume(ps, 'e') || consume(ps, 'E')) {
        if (!consume(ps, '+'))
            (void)consume(ps, '-');
        if (!is_digit(peek(ps)))
            return fail(ps, JR_NUMBER_MISS_EXPONENT, ps->pos);
        while (is_digit(peek(ps)))
            ps->pos++;
        is_double = true;
    }

    if (!is_double) {
        set_integer(push(ps), minus, acc);
        return true;
    }

    /* strtod needs a terminated copy; the literal is validated already. */
    size_t n = ps->pos - start;
    char small[64];
    char *copy = n < sizeof(small) ? small : xmalloc(n + 1);
    memcpy(copy, ps->text + start, n);
    copy[n] = '\0';
    errno = 0;
    double d = strtod(copy, NULL);
    if (copy != small)
        free(copy);
    if (isinf(d))
        return fail(ps, JR_NUMBER_TOO_BIG, start);

    struct jr_value *v = push(ps);
    v->type = JR_NUMBER;
    v->flags = JR_DOUBLE;
    v->v.d = d;
    return true;
}

static bool parse_object(struct parser *ps, unsigned depth)
{
    size_t base = ps->sp;

    ps->pos++; /* '{' */
    skip_ws(ps);
    if (!consume(ps, '}')) {
        for (;;) {
            if (peek(ps) != '"')
                return fail(ps, JR_OBJECT_MISS_NAME, ps->pos);
            if (!parse_string(ps))
                return false;
            skip_ws(ps);
            if (!consume(ps, ':'))
                return fail(ps, JR_OBJECT_MISS_COLON, ps->pos);
            skip_ws(ps);
            if (!parse_value(ps, depth + 1))
                return false;
            skip_ws(ps);
            if (consume(ps, ',')) {
                skip_ws(ps);
            } else if (consume(ps, '}')) {
                break;
            } else {
                return fail(ps, JR_OBJECT_MISS_COMMA_OR_CURLY, ps->pos);
            }
        }
    }
    size_t n = ps->sp - base;
    struct jr_value *items = pop_list(ps, n);
    struct jr_value *v = push(ps);
    v->type = JR_OBJECT;
    v->v.list.items = items;
    v->v.list.n = n / 2;
    return true;
}

static bool parse_array(struct parser *ps, unsigned depth)
{
    size_t base = ps->sp;

    ps->pos++; /* '[' */
    skip_ws(ps);
    if (!consume(ps, ']')) {
        for (;;) {
            if (!parse_value(ps, depth + 1))
                return false;
            skip_ws(ps);
            if (consume(ps, ',')) {
                skip_ws(ps);
            } else if (consume(ps, ']')) {
                break;
            } else {
                return fail(ps, JR_ARRAY_MISS_COMMA_OR_SQUARE, ps->pos);
            }
        }
    }
    size_t n = ps->sp - base;
    struct jr_value *items = pop_list(ps, n);
    struct jr_value *v = push(ps);
    v->type = JR_ARRAY;
    v->v.list.items = items;
    v->v.list.n = n;
    return true;
}

static bool parse_value(struct parser *ps, unsigned depth)
{
    if (depth > JR_MAX_DEPTH)
        return fail(ps, JR_UNSPECIFIC, ps->pos);
    switch (peek(ps)) {
    case 'n':
        return parse_literal(ps, "ull", JR_NULL);
    case 't':
        return parse_literal(ps, "rue", JR_TRUE);
    case 'f':
        return parse_literal(ps, "alse", JR_FALSE);
    case '"':
        return parse_string(ps);
    case '{':
        return parse_object(ps, depth);
    case '[':
        return parse_array(ps, depth);
    default:
        return parse_number(ps);
    }
}

bool jr_parse(struct jr_doc *doc, const char *text, size_t len)
{
    struct parser ps = {.text = text, .len = len};
    const char *nul = memchr(text, '\0', len);
    bool ok;

    memset(doc, 0, sizeof(*doc));
    if (nul)
        ps.len = (size_t)(nul - text);
    buf_init(&ps.sbuf, BUF_DEFAULT_MAX);

    skip_ws(&ps);
    if (peek(&ps) == '\0') {
        ok = fail(&ps, JR_DOCUMENT_EMPTY, ps.pos);
    } else {
        ok = parse_value(&ps, 0);
        if (ok) {
            skip_ws(&ps);
            if (peek(&ps) != '\0')
                ok = fail(&ps, JR_ROOT_NOT_SINGULAR, ps.pos);
        }
    }

    if (ok) {
        doc->root = ps.stack[0];
        ps.sp = 0;
    } else {
        doc->error = ps.error;
        doc->error_offset = ps.error_offset;
        for (size_t i = 0; i < ps.sp; i++)
            value_free(&ps.stack[i]);
    }
    free(ps.stack);
    buf_release(&ps.sbuf);
    return ok;
}

static void value_free(struct jr_value *v)
{
    size_t n;

    switch (v->type) {
    case JR_STRING:
        free(v->v.str.s);
        break;
    case JR_ARRAY:
    case JR_OBJECT:
        n = v->type == JR_OBJECT ? v->v.list.n * 2 : v->v.list.n;
        for (size_t i = 0; i < n; i++)
            value_free(&v->v.list.items[i]);
        free(v->v.list.items);
        break;
    default:
        break;
    }
    v->type = JR_NULL;
}

void jr_free(struct jr_doc *doc)
{
    value_free(&doc->root);
}

const struct jr_value *jr_get(const struct jr_value *obj, const char *key)
{
    size_t klen;

    if (!jr_is_object(obj))
        return NULL;
    klen = strlen(key);
    for (size_t i = 0; i < obj->v.list.n; i++) {
        const struct jr_value *k = &obj->v.list.items[2 * i];
        if (k->v.str.len == klen && memcmp(k->v.str.s, key, klen) == 0)
            return &obj->v.list.items[2 * i + 1];
    }
    return NULL;
}

double jr_number(const struct jr_value *v)
{
    if (v->flags & JR_DOUBLE)
        return v->v.d;
    if (v->flags & JR_INT64)
        return (double)v->v.i;
    return (double)v->v.u;
}

int64_t jr_i64(const struct jr_value *v)
{
    return (v->flags & JR_INT64) ? v->v.i : (int64_t)v->v.u;
}

uint64_t jr_u64(const struct jr_value *v)
{
    return (v->flags & JR_INT64) ? (uint64_t)v->v.i : v->v.u;
}
