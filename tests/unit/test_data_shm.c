/*
 * --shared-memory system: region names, sizes and contents, registration
 * order through a fake control backend, unregister-all at start and end,
 * and cleanup of /dev/shm on release, on failures and from
 * data_shm_unlink_all().
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/datatype.h"
#include "data/shm.h"

/* ---- fake control backend: records every shared-memory call ---- */

struct call {
    char op[16];       /* "reg", "unreg_sys", "unreg_cuda" */
    char region[128];
    char key[160];
    uint64_t size;
};

struct recorder {
    struct call calls[64];
    size_t n;
    size_t fail_at; /* 1-based register call that fails; 0 = never */
    size_t n_reg;
};

static void record(struct recorder *r, const char *op, const char *region, const char *key,
                   uint64_t size)
{
    assert_true(r->n < 64);
    struct call *c = &r->calls[r->n++];
    snprintf(c->op, sizeof(c->op), "%s", op);
    snprintf(c->region, sizeof(c->region), "%s", region ? region : "");
    snprintf(c->key, sizeof(c->key), "%s", key ? key : "");
    c->size = size;
}

static int fake_register(struct pa_client *c, const char *region, const char *key,
                         uint64_t offset, uint64_t byte_size, struct pa_err *err)
{
    struct recorder *r = c->ctx;
    assert_int_equal(offset, 0);
    record(r, "reg", region, key, byte_size);
    if (r->fail_at && ++r->n_reg == r->fail_at)
        return pa_errorf(err, PA_ESERVER, "failed to register shared memory region '%s'", region);
    return PA_OK;
}

static int fake_unreg_sys(struct pa_client *c, const char *region, struct pa_err *err)
{
    (void)err;
    record(c->ctx, "unreg_sys", region, NULL, 0);
    return PA_OK;
}

static int fake_unreg_cuda(struct pa_client *c, const char *region, struct pa_err *err)
{
    (void)err;
    record(c->ctx, "unreg_cuda", region, NULL, 0);
    return PA_OK;
}

static const struct pa_client_ops fake_ops = {
    .register_system_shm = fake_register,
    .unregister_system_shm = fake_unreg_sys,
    .unregister_cuda_shm = fake_unreg_cuda,
};
static const struct pa_backend fake_backend = {
    .name = "fake", .kind = "TRITON", .flags = PA_BACKEND_SYSTEM_SHM, .ops = &fake_ops};

/* ---- model ---- */

struct fixture {
    struct pa_model model;
    struct pa_tensor_info in[4], out[4];
    struct pa_options opts;
    char prefix[32]; /* unique per process: tests may run in parallel */
    struct recorder rec;
    struct pa_client client;
};

static void tensor(struct pa_tensor_info *t, const char *name, const char *dt, size_t rank,
                   const int64_t *shape)
{
    memset(t, 0, sizeof(*t));
    t->name = xstrdup(name);
    t->datatype = xstrdup(dt);
    t->rank = rank;
    t->shape = xmalloc((rank ? rank : 1) * sizeof(int64_t));
    if (rank)
        memcpy(t->shape, shape, rank * sizeof(int64_t));
}

/* Inputs "<p>/IN" (INT32 [2]) and "<p>S" (BYTES [1]); outputs "<p>O" INT32 [3], "<p>V" [-1]. */
static struct fixture *fixture_new(void)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    int64_t s2[] = {2}, s1[] = {1}, s3[] = {3}, var[] = {-1};
    char name[64];

    snprintf(f->prefix, sizeof(f->prefix), "pa_t_data_%d", (int)getpid());
    f->model.name = xstrdup("m");
    f->model.version = xstrdup("");
    f->model.max_batch_size = 4;
    f->model.inputs = f->in;
    f->model.outputs = f->out;
    snprintf(name, sizeof(name), "%s/IN", f->prefix); /* '/' is dropped from region names */
    tensor(&f->in[f->model.n_inputs++], name, "INT32", 1, s2);
    snprintf(name, sizeof(name), "%sS", f->prefix);
    tensor(&f->in[f->model.n_inputs++], name, "BYTES", 1, s1);
    snprintf(name, sizeof(name), "%sO", f->prefix);
    tensor(&f->out[f->model.n_outputs++], name, "INT32", 1, s3);
    snprintf(name, sizeof(name), "%sV", f->prefix);
    tensor(&f->out[f->model.n_outputs++], name, "FP32", 1, var);

    f->opts.batch_size = 2;
    f->opts.service_kind = PA_SK_TRITON;
    f->opts.string_length = 3;
    f->opts.output_shm_size = 1000;
    f->opts.shared_memory = PA_SHM_SYSTEM;
    f->client.backend = &fake_backend;
    f->client.ctx = &f->rec;
    return f;
}

static void fixture_free(struct fixture *f)
{
    for (size_t i = 0; i < f->model.n_inputs; i++) {
        free(f->in[i].name);
        free(f->in[i].datatype);
        free(f->in[i].shape);
    }
    for (size_t i = 0; i < f->model.n_outputs; i++) {
        free(f->out[i].name);
        free(f->out[i].datatype);
        free(f->out[i].shape);
    }
    free(f->model.name);
    free(f->model.version);
    free(f);
}

/* Number of /dev/shm entries whose name starts with the fixture's prefix. */
static size_t shm_entries(const struct fixture *f)
{
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, f->prefix, strlen(f->prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static void expect_call(const struct fixture *f, size_t i, const char *op, const char *region,
                        uint64_t size)
{
    char key[160];
    assert_true(i < f->rec.n);
    const struct call *c = &f->rec.calls[i];
    assert_string_equal(c->op, op);
    assert_string_equal(c->region, region);
    if (strcmp(op, "reg") == 0) {
        snprintf(key, sizeof(key), "/%s", region);
        assert_string_equal(c->key, key);
        assert_int_equal(c->size, size);
    }
}

static void test_shm_regions(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct pa_dataset ds;
    struct pa_err err = {0};
    char name[128];

    assert_int_equal(dataset_build(&f->opts, &f->model, &f->client, NULL, &ds, &err), PA_OK);

    /* unregister-all first, then outputs (name order), then inputs x streams x steps. */
    assert_int_equal(f->rec.n, 6);
    expect_call(f, 0, "unreg_sys", "", 0);
    expect_call(f, 1, "unreg_cuda", "", 0);
    snprintf(name, sizeof(name), "%sO", f->prefix);
    expect_call(f, 2, "reg", name, 3 * 4 * 2);       /* batch-1 size x B */
    snprintf(name, sizeof(name), "%sV", f->prefix);
    expect_call(f, 3, "reg", name, 1000 * 2);        /* variable: --output-shared-memory-size x B */
    snprintf(name, sizeof(name), "%sIN_0_0", f->prefix);
    expect_call(f, 4, "reg", name, 2 * 4 * 2);
    snprintf(name, sizeof(name), "%sS_0_0", f->prefix);
    expect_call(f, 5, "reg", name, 2 * (4 + 3));
    assert_int_equal(shm_entries(f), 4);

    /* Descriptions point at the regions. */
    const struct pa_dataset_step *st = dataset_step(&ds, 0, 0);
    assert_null(st->expected);
    assert_int_equal(st->desc.n_inputs, 2);
    const struct pa_input *in = &st->desc.inputs[0];
    snprintf(name, sizeof(name), "%sIN_0_0", f->prefix);
    assert_null(in->data);
    assert_string_equal(in->shm_region, name);
    assert_int_equal(in->byte_size, 16);
    assert_int_equal(in->shm_offset, 0);
    assert_int_equal(in->rank, 2);
    assert_int_equal(in->shape[0], 2);
    snprintf(name, sizeof(name), "%sV", f->prefix);
    assert_string_equal(st->desc.outputs[1].shm_region, name);
    assert_int_equal(st->desc.outputs[1].shm_byte_size, 2000);

    /* The region holds the payload: B copies of the random batch-1 data. */
    char key[160];
    snprintf(key, sizeof(key), "/%sS_0_0", f->prefix);
    int fd = shm_open(key, O_RDONLY, 0);
    assert_true(fd >= 0);
    uint8_t *p = mmap(NULL, 14, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(p != MAP_FAILED);
    close(fd);
    assert_int_equal(le32_load(p), 3);
    assert_memory_equal(p, p + 7, 7);
    munmap(p, 14);

    f->rec.n = 0;
    dataset_release(&ds, &f->client);
    assert_int_equal(f->rec.n, 2);
    expect_call(f, 0, "unreg_sys", "", 0);
    expect_call(f, 1, "unreg_cuda", "", 0);
    assert_int_equal(shm_entries(f), 0);
    assert_null(ds.priv);
    dataset_release(&ds, &f->client); /* twice is fine */
    fixture_free(f);
}

static void test_shm_failures_clean_up(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct pa_dataset ds;
    struct pa_err err = {0};
    char msg[256];

    /* The third registration (first input) fails: everything is removed again. */
    f->rec.fail_at = 3;
    assert_int_equal(dataset_build(&f->opts, &f->model, &f->client, NULL, &ds, &err),
                     PA_ESERVER);
    snprintf(msg, sizeof(msg), "Unable to init infer data manager: failed to register shared "
                               "memory region '%sIN_0_0'", f->prefix);
    assert_string_equal(err.msg, msg);
    assert_null(ds.priv);
    assert_int_equal(shm_entries(f), 0);
    assert_string_equal(f->rec.calls[f->rec.n - 2].op, "unreg_sys");
    assert_string_equal(f->rec.calls[f->rec.n - 1].op, "unreg_cuda");

    /* A backend that cannot do shared memory. */
    static const struct pa_client_ops no_ops = {0};
    static const struct pa_backend tfs = {.name = "tfserving", .kind = "TENSORFLOW_SERVING",
                                          .ops = &no_ops};
    struct pa_client c = {.backend = &tfs};
    assert_int_equal(dataset_build(&f->opts, &f->model, &c, NULL, &ds, &err), PA_EUNSUPPORTED);
    assert_string_equal(err.msg, "Unable to init infer data manager: client backend of kind "
                                 "TENSORFLOW_SERVING does not support CreateSharedMemoryRegion()");
    assert_int_equal(shm_entries(f), 0);
    fixture_free(f);
}

static void test_shm_unlink_all(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct pa_dataset ds;
    struct pa_err err = {0};

    assert_int_equal(dataset_build(&f->opts, &f->model, &f->client, NULL, &ds, &err), PA_OK);
    assert_int_equal(shm_entries(f), 4);
    data_shm_unlink_all(); /* what a fatal-signal handler calls */
    assert_int_equal(shm_entries(f), 0);
    dataset_release(&ds, &f->client);

    /* Keys of released regions are not touched again; a new build reuses the list. */
    assert_int_equal(dataset_build(&f->opts, &f->model, &f->client, NULL, &ds, &err), PA_OK);
    assert_int_equal(shm_entries(f), 4);
    dataset_release(&ds, &f->client);
    assert_int_equal(shm_entries(f), 0);
    fixture_free(f);
}

static void test_tensor_region_name(void **state)
{
    (void)state;
    char out[16];
    data_shm_tensor_name("a/b\\c", out, sizeof(out));
    assert_string_equal(out, "abc");
    data_shm_tensor_name("abcdefghijklmnopqrstuvwxyz", out, sizeof(out));
    assert_string_equal(out, "abcdefghijklmno");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shm_regions),
        cmocka_unit_test(test_shm_failures_clean_up),
        cmocka_unit_test(test_shm_unlink_all),
        cmocka_unit_test(test_tensor_region_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
