/*
 * Raw data sets (data-internal.h) and the two simple sources: generated
 * data (--input-data random|zero, the default) and a directory holding one
 * file per tensor.
 *
 * Generated data mirrors the original byte for byte where that is
 * observable: random bytes come from glibc's unseeded rand() sequence (the
 * original calls rand() once per byte without seeding, so every run sends
 * the same bytes), produced from a private random_r state so no other
 * rand() user can shift it. One buffer the size of the largest input is
 * generated and every input takes its prefix, so all inputs share leading
 * bytes, as in the original.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "data/data-internal.h"
#include "data/datatype.h"
#include "core/banned.h"

/* The original's alphabet: note the second 'a' and the missing 'p'. */
static const char string_alphabet[] =
    "abcdefghijklmnaoqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890 .?!";

void data_raw_init(struct data_raw *raw, const struct pa_model *model)
{
    memset(raw, 0, sizeof(*raw));
    raw->model = model;
}

static void tensors_free(struct data_tensor *t, size_t n)
{
    if (!t)
        return;
    for (size_t i = 0; i < n; i++) {
        free(t[i].data);
        free(t[i].shape);
    }
    free(t);
}

void data_raw_release(struct data_raw *raw)
{
    for (size_t s = 0; s < raw->n_streams; s++) {
        struct data_stream *st = &raw->streams[s];
        for (size_t k = 0; k < st->n_steps; k++) {
            tensors_free(st->steps[k].in, raw->model->n_inputs);
            tensors_free(st->steps[k].out, raw->model->n_outputs);
        }
        free(st->steps);
    }
    free(raw->streams);
    raw->streams = NULL;
    raw->n_streams = raw->cap = 0;
}

size_t data_raw_add_stream(struct data_raw *raw)
{
    if (raw->n_streams == raw->cap) {
        raw->cap = raw->cap ? raw->cap * 2 : 4;
        raw->streams = xreallocarray(raw->streams, raw->cap, sizeof(*raw->streams));
    }
    memset(&raw->streams[raw->n_streams], 0, sizeof(*raw->streams));
    return raw->n_streams++;
}

struct data_step *data_raw_add_step(struct data_raw *raw, size_t stream)
{
    struct data_stream *st;
    struct data_step *step;

    while (raw->n_streams <= stream)
        (void)data_raw_add_stream(raw);
    st = &raw->streams[stream];
    if (st->n_steps == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 8;
        st->steps = xreallocarray(st->steps, st->cap, sizeof(*st->steps));
    }
    step = &st->steps[st->n_steps++];
    step->in = xcalloc(raw->model->n_inputs ? raw->model->n_inputs : 1, sizeof(*step->in));
    step->out = NULL;
    return step;
}

static void tensor_set(struct data_tensor *t, uint8_t *data, size_t len,
                       const struct pa_tensor_info *info)
{
    t->data = data;
    t->len = len;
    t->rank = info->rank;
    t->shape = xmalloc((info->rank ? info->rank : 1) * sizeof(*t->shape));
    if (info->rank)
        memcpy(t->shape, info->shape, info->rank * sizeof(*t->shape));
    t->present = true;
}

static int dynamic_shape_error(const char *name, struct pa_err *err)
{
    return pa_errorf(err, PA_EDATA,
                     "input %s contains dynamic shape, provide shapes to send along with the "
                     "request",
                     name);
}

static int too_large_error(const char *name, struct pa_err *err)
{
    return pa_errorf(err, PA_EDATA, "the shape of tensor '%s' is too large", name);
}

static uint64_t nondeterministic_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
           (uint64_t)getpid() << 32;
}

static int generate_strings(const struct pa_tensor_info *info, const struct pa_options *opts,
                            struct rng *rng, struct data_tensor *t, struct pa_err *err)
{
    size_t n, len;
    struct buf b;
    char *tmp = NULL;
    const char *elem;

    switch (shape_elements(info->shape, info->rank, &n)) {
    case SHAPE_VARIABLE:
        return dynamic_shape_error(info->name, err);
    case SHAPE_OVERFLOW:
        return too_large_error(info->name, err);
    case SHAPE_OK:
        break;
    }
    if (opts->string_data) {
        elem = opts->string_data;
        len = strlen(elem);
    } else {
        if (opts->string_length > 1u << 30)
            return pa_errorf(err, PA_EDATA, "--string-length %llu is too large",
                             (unsigned long long)opts->string_length);
        len = (size_t)opts->string_length;
        tmp = xmalloc(len + 1);
        elem = tmp;
    }
    buf_init(&b, BUF_DEFAULT_MAX);
    for (size_t i = 0; i < n; i++) {
        if (tmp) /* a fresh random string per element */
            for (size_t c = 0; c < len; c++)
                tmp[c] = string_alphabet[rng_below(rng, sizeof(string_alphabet) - 1)];
        if (bytes_append_element(&b, elem, len) != PA_OK) {
            free(tmp);
            buf_release(&b);
            return too_large_error(info->name, err);
        }
    }
    free(tmp);
    size_t out_len;
    uint8_t *data = (uint8_t *)buf_detach(&b, &out_len);
    tensor_set(t, data, out_len, info);
    return PA_OK;
}

int data_load_generated(struct data_raw *raw, const struct pa_options *opts, struct pa_err *err)
{
    const struct pa_model *m = raw->model;
    size_t max_size = 0;
    struct data_step *step;
    uint8_t *pool;
    struct rng rng;
    int rc = PA_OK;

    for (size_t i = 0; i < m->n_inputs; i++)
        if (m->inputs[i].is_shape_tensor)
            return pa_errorf(err, PA_EDATA,
                             "can not generate data for shape tensor '%s', user-provided data "
                             "is needed.",
                             m->inputs[i].name);

    step = data_raw_add_step(raw, 0);
    rng_seed(&rng, nondeterministic_seed());
    for (size_t i = 0; i < m->n_inputs; i++) {
        const struct pa_tensor_info *info = &m->inputs[i];
        enum data_type dt = datatype_from_name(info->datatype);
        size_t size;

        if (dt == DT_BYTES) {
            rc = generate_strings(info, opts, &rng, &step->in[i], err);
            if (rc != PA_OK)
                return rc;
            continue;
        }
        if (dt == DT_INVALID)
            return pa_errorf(err, PA_EDATA, "datatype %s of input '%s' is not supported",
                             info->datatype, info->name);
        switch (shape_byte_size(info->shape, info->rank, dt, &size)) {
        case SHAPE_VARIABLE:
            return dynamic_shape_error(info->name, err);
        case SHAPE_OVERFLOW:
            return too_large_error(info->name, err);
        case SHAPE_OK:
            break;
        }
        if (size > max_size)
            max_size = size;
    }

    pool = xcalloc(max_size ? max_size : 1, 1);
    if (opts->input_kind != PA_INPUT_ZERO) {
        struct random_data rd;
        char state[128];
        int32_t r;

        memset(&rd, 0, sizeof(rd));
        initstate_r(1, state, sizeof(state), &rd);
        for (size_t i = 0; i < max_size; i++) {
            random_r(&rd, &r);
            pool[i] = (uint8_t)r; /* the original stores rand() into a char */
        }
    }
    for (size_t i = 0; i < m->n_inputs; i++) {
        const struct pa_tensor_info *info = &m->inputs[i];
        enum data_type dt = datatype_from_name(info->datatype);
        size_t size = 0;
        uint8_t *copy = NULL;

        if (dt == DT_BYTES)
            continue;
        (void)shape_byte_size(info->shape, info->rank, dt, &size); /* checked above */
        if (size) {
            copy = xmalloc(size);
            memcpy(copy, pool, size);
        }
        tensor_set(&step->in[i], copy, size, info);
    }
    free(pool);
    return PA_OK;
}

/*
 * Reads a whole file. *missing_ok: a missing or empty file is not an error
 * (output files of directory mode); then *data stays NULL.
 */
static int read_whole_file(const char *path, bool missing_ok, uint8_t **data, size_t *len,
                           struct pa_err *err)
{
    struct buf b;
    char chunk[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    *data = NULL;
    *len = 0;
    if (fd < 0) {
        if (missing_ok)
            return PA_OK;
        return pa_errorf(err, PA_EDATA, "failed to open file '%s'", path);
    }
    buf_init(&b, BUF_DEFAULT_MAX);
    for (;;) {
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (buf_append(&b, chunk, (size_t)n) != PA_OK) {
            n = -1;
            break;
        }
    }
    close(fd);
    if (n < 0) {
        buf_release(&b);
        if (missing_ok)
            return PA_OK;
        return pa_errorf(err, PA_EDATA, "failed to open file '%s'", path);
    }
    if (b.len == 0) {
        buf_release(&b);
        if (missing_ok)
            return PA_OK;
        return pa_errorf(err, PA_EDATA, "file '%s' is empty", path);
    }
    *data = (uint8_t *)buf_detach(&b, len);
    return PA_OK;
}

/*
 * Text file -> BYTES elements, one per line as std::getline splits them:
 * '\n' ends a line and is dropped, a final line needs no '\n', '\r' stays.
 */
static uint8_t *lines_to_bytes(const uint8_t *text, size_t len, size_t *n_lines, size_t *out_len)
{
    struct buf b;
    size_t start = 0, count = 0;

    buf_init(&b, BUF_DEFAULT_MAX);
    while (start < len) {
        const uint8_t *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (bytes_append_element(&b, text + start, end - start) != PA_OK)
            abort(); /* cannot outgrow BUF_DEFAULT_MAX: the file fit in one buffer */
        count++;
        start = end + 1;
    }
    *n_lines = count;
    return (uint8_t *)buf_detach(&b, out_len);
}

static int read_dir_tensor(const char *dir, const struct pa_tensor_info *info, bool is_input,
                           struct data_tensor *t, struct pa_err *err)
{
    enum data_type dt = datatype_from_name(info->datatype);
    char *path = xasprintf("%s/%s", dir, info->name);
    uint8_t *data = NULL;
    size_t len = 0, want;
    int rc;

    rc = read_whole_file(path, !is_input, &data, &len, err);
    free(path);
    if (rc != PA_OK || !data)
        return rc;

    if (dt == DT_BYTES) {
        size_t lines, enc_len;
        uint8_t *enc = lines_to_bytes(data, len, &lines, &enc_len);
        free(data);
        data = enc;
        len = enc_len;
        if (is_input) {
            switch (shape_elements(info->shape, info->rank, &want)) {
            case SHAPE_VARIABLE:
                free(data);
                return dynamic_shape_error(info->name, err);
            case SHAPE_OVERFLOW:
                free(data);
                return too_large_error(info->name, err);
            case SHAPE_OK:
                break;
            }
            if (lines != want) {
                free(data);
                return pa_errorf(err, PA_EDATA, "provided data for input %s has %zu elements, "
                                 "expect %zu", info->name, lines, want);
            }
        }
    } else if (is_input) {
        if (dt == DT_INVALID) {
            free(data);
            return pa_errorf(err, PA_EDATA, "datatype %s of input '%s' is not supported",
                             info->datatype, info->name);
        }
        switch (shape_byte_size(info->shape, info->rank, dt, &want)) {
        case SHAPE_VARIABLE:
            free(data);
            return dynamic_shape_error(info->name, err);
        case SHAPE_OVERFLOW:
            free(data);
            return too_large_error(info->name, err);
        case SHAPE_OK:
            break;
        }
        if (len != want) {
            free(data);
            return pa_errorf(err, PA_EDATA,
                             "provided data for input %s has byte size %zu, expect %zu",
                             info->name, len, want);
        }
    }
    /* Outputs are taken as they are: a wrong size shows up as a validation failure. */
    tensor_set(t, data, len, info);
    return PA_OK;
}

int data_load_directory(struct data_raw *raw, const char *dir, struct pa_err *err)
{
    const struct pa_model *m = raw->model;
    struct data_step *step = data_raw_add_step(raw, 0);
    bool any_output = false;
    int rc;

    for (size_t i = 0; i < m->n_inputs; i++) {
        rc = read_dir_tensor(dir, &m->inputs[i], true, &step->in[i], err);
        if (rc != PA_OK)
            return rc;
    }
    if (m->n_outputs == 0)
        return PA_OK;
    step->out = xcalloc(m->n_outputs, sizeof(*step->out));
    for (size_t j = 0; j < m->n_outputs; j++) {
        rc = read_dir_tensor(dir, &m->outputs[j], false, &step->out[j], err);
        if (rc != PA_OK)
            return rc;
        any_output |= step->out[j].present;
    }
    if (!any_output) {
        free(step->out);
        step->out = NULL;
    }
    return PA_OK;
}
