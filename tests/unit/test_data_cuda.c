/*
 * --shared-memory cuda with the project's fake libcudart
 * (tests/servers/fake_cudart: "device memory" is a POSIX shm segment
 * /pa_fake_cuda_<pid>_<n>, the IPC handle names it), loaded through
 * PA_CUDART_PATH exactly as a user would point perf_analyzer at a runtime.
 *
 * Checked: region names, sizes, device id and IPC handles registered
 * through a fake control backend; region contents read back through the
 * fake's cudaIpcOpenMemHandle as a server would; unregister-all before the
 * device memory is freed; nothing left in /dev/shm after release or after
 * failures; the one-line error without a usable runtime.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "data/cudart.h"
#include "data/dataset.h"
#include "data/datatype.h"

/* ---- where the fake runtime is: <dir of this binary>/servers/fake_cudart ---- */

static char fake_path[PATH_MAX + 64];

static void find_fake_cudart(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    assert_true(n > 0);
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    assert_non_null(slash);
    *slash = '\0';
    snprintf(fake_path, sizeof(fake_path), "%s/servers/fake_cudart/libcudart.so", exe);
    if (access(fake_path, R_OK) != 0)
        fail_msg("fake libcudart not found at %s: build the fake_cudart target first",
                 fake_path);
}

/* Number of live fake device allocations of this process. */
static size_t fake_segments(void)
{
    char prefix[64];
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    size_t n = 0;

    snprintf(prefix, sizeof(prefix), "pa_fake_cuda_%ld_", (long)getpid());
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

/* ---- fake control backend: records every shared-memory call ---- */

struct call {
    char op[16]; /* "reg_cuda", "unreg_sys", "unreg_cuda" */
    char region[128];
    unsigned char handle[CUDART_IPC_HANDLE_SIZE];
    int64_t device;
    uint64_t size;
    size_t live_segments; /* fake device allocations when the call was made */
};

struct recorder {
    struct call calls[32];
    size_t n;
    size_t fail_at; /* 1-based register call that fails; 0 = never */
    size_t n_reg;
};

static struct call *record(struct recorder *r, const char *op, const char *region)
{
    assert_true(r->n < 32);
    struct call *c = &r->calls[r->n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->op, sizeof(c->op), "%s", op);
    snprintf(c->region, sizeof(c->region), "%s", region ? region : "");
    c->live_segments = fake_segments();
    return c;
}

static int fake_register_cuda(struct pa_client *cl, const char *region, const void *raw_handle,
                              size_t handle_size, int64_t device_id, uint64_t byte_size,
                              struct pa_err *err)
{
    struct recorder *r = cl->ctx;
    struct call *c = record(r, "reg_cuda", region);

    assert_int_equal(handle_size, CUDART_IPC_HANDLE_SIZE);
    memcpy(c->handle, raw_handle, handle_size);
    c->device = device_id;
    c->size = byte_size;
    if (r->fail_at && ++r->n_reg == r->fail_at)
        return pa_errorf(err, PA_ESERVER, "failed to register CUDA shared memory region '%s'",
                         region);
    return PA_OK;
}

static int fake_register_sys(struct pa_client *cl, const char *region, const char *key,
                             uint64_t offset, uint64_t byte_size, struct pa_err *err)
{
    (void)key;
    (void)offset;
    (void)byte_size;
    (void)err;
    record(cl->ctx, "reg_sys", region);
    return PA_OK;
}

static int fake_unreg_sys(struct pa_client *cl, const char *region, struct pa_err *err)
{
    (void)err;
    record(cl->ctx, "unreg_sys", region);
    return PA_OK;
}

static int fake_unreg_cuda(struct pa_client *cl, const char *region, struct pa_err *err)
{
    (void)err;
    record(cl->ctx, "unreg_cuda", region);
    return PA_OK;
}

static const struct pa_client_ops fake_ops = {
    .register_system_shm = fake_register_sys,
    .register_cuda_shm = fake_register_cuda,
    .unregister_system_shm = fake_unreg_sys,
    .unregister_cuda_shm = fake_unreg_cuda,
};
static const struct pa_backend fake_backend = {
    .name = "fake", .kind = "TRITON", .flags = PA_BACKEND_CUDA_SHM, .ops = &fake_ops};

/* ---- reading a region back as a server does ---- */

struct ipc_handle {
    char reserved[CUDART_IPC_HANDLE_SIZE];
};

typedef int ipc_open_fn(void **p, struct ipc_handle h, unsigned flags);
typedef int ipc_close_fn(void *p);

/* Copies the first n bytes of the region behind handle into out. */
static void read_region(const unsigned char *handle, void *out, size_t n)
{
    void *dl = dlopen(fake_path, RTLD_NOW | RTLD_LOCAL);
    void *open_sym, *close_sym;
    ipc_open_fn *ipc_open;
    ipc_close_fn *ipc_close;
    struct ipc_handle h;
    void *mem = NULL;

    assert_non_null(dl);
    open_sym = dlsym(dl, "cudaIpcOpenMemHandle");
    close_sym = dlsym(dl, "cudaIpcCloseMemHandle");
    assert_non_null(open_sym);
    assert_non_null(close_sym);
    memcpy(&ipc_open, &open_sym, sizeof(ipc_open));
    memcpy(&ipc_close, &close_sym, sizeof(ipc_close));
    memcpy(h.reserved, handle, sizeof(h.reserved));
    assert_int_equal(ipc_open(&mem, h, 1), 0);
    memcpy(out, mem, n);
    assert_int_equal(ipc_close(mem), 0);
    dlclose(dl);
}

/* ---- model and data ---- */

struct fixture {
    struct pa_model model;
    struct pa_tensor_info in[2], out[2];
    struct pa_options opts;
    char *paths[1];
    char json[64];
    struct recorder rec;
    struct pa_client client;
    FILE *summary;
};

static void tensor(struct pa_tensor_info *t, const char *name, const char *dt, int64_t dim)
{
    memset(t, 0, sizeof(*t));
    t->name = xstrdup(name);
    t->datatype = xstrdup(dt);
    t->rank = 1;
    t->shape = xmalloc(sizeof(int64_t));
    t->shape[0] = dim;
}

/*
 * Inputs "a/IN" (INT32 [2], '/' dropped from region names) and "S" (BYTES
 * [1]); outputs "O" (INT32 [3]) and "V" (FP32 [-1]); batch 2; two JSON
 * steps, so each input has regions <in>_0_0 (steps 0,1) and <in>_0_1
 * (steps 1,0).
 */
static struct fixture *fixture_new(void)
{
    static const char doc[] =
        "{\"data\":[{\"a/IN\":[1,2],\"S\":[\"hi\"]},{\"a/IN\":[3,4],\"S\":[\"yo!\"]}]}";
    struct fixture *f = xcalloc(1, sizeof(*f));
    int fd;

    f->model.name = xstrdup("m");
    f->model.version = xstrdup("");
    f->model.max_batch_size = 4;
    f->model.inputs = f->in;
    f->model.outputs = f->out;
    tensor(&f->in[f->model.n_inputs++], "a/IN", "INT32", 2);
    tensor(&f->in[f->model.n_inputs++], "S", "BYTES", 1);
    tensor(&f->out[f->model.n_outputs++], "O", "INT32", 3);
    tensor(&f->out[f->model.n_outputs++], "V", "FP32", -1);

    snprintf(f->json, sizeof(f->json), "/tmp/pa_t_data_cuda_XXXXXX");
    fd = mkstemp(f->json);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, doc, sizeof(doc) - 1), (ssize_t)(sizeof(doc) - 1));
    close(fd);
    f->paths[0] = f->json;

    f->opts.batch_size = 2;
    f->opts.service_kind = PA_SK_TRITON;
    f->opts.string_length = 3;
    f->opts.output_shm_size = 1000;
    f->opts.shared_memory = PA_SHM_CUDA;
    f->opts.input_kind = PA_INPUT_FILES;
    f->opts.input_data_paths = f->paths;
    f->opts.n_input_data_paths = 1;
    f->client.backend = &fake_backend;
    f->client.ctx = &f->rec;
    f->summary = tmpfile();
    assert_non_null(f->summary);
    assert_int_equal(setenv(CUDART_PATH_ENV, fake_path, 1), 0);
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
    unlink(f->json);
    fclose(f->summary);
    unsetenv(CUDART_PATH_ENV);
    free(f);
}

static void expect_reg(const struct fixture *f, size_t i, const char *region, uint64_t size)
{
    assert_true(i < f->rec.n);
    const struct call *c = &f->rec.calls[i];
    assert_string_equal(c->op, "reg_cuda");
    assert_string_equal(c->region, region);
    assert_int_equal(c->size, size);
    assert_int_equal(c->device, 0); /* the original always uses GPU 0 */
    assert_memory_equal(c->handle, "PAFK", 4); /* a handle the fake issued */
}

static void expect_unreg_all(const struct fixture *f, size_t i)
{
    assert_true(i + 1 < f->rec.n);
    assert_string_equal(f->rec.calls[i].op, "unreg_sys");
    assert_string_equal(f->rec.calls[i].region, "");
    assert_string_equal(f->rec.calls[i + 1].op, "unreg_cuda");
    assert_string_equal(f->rec.calls[i + 1].region, "");
}

/* ---- tests ---- */

static int setup(void **state)
{
    (void)state;
    find_fake_cudart();
    return 0;
}

static void test_cuda_regions(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct pa_dataset ds;
    struct pa_err err = {0};
    uint8_t got[32];

    assert_int_equal(fake_segments(), 0);
    assert_int_equal(dataset_build(&f->opts, &f->model, &f->client, f->summary, &ds, &err),
                     PA_OK);

    /* Unregister-all first, then outputs, then inputs x streams x steps. */
    assert_int_equal(f->rec.n, 8);
    expect_unreg_all(f, 0);
    expect_reg(f, 2, "O", 3 * 4 * 2);
    expect_reg(f, 3, "V", 1000 * 2);
    expect_reg(f, 4, "aIN_0_0", 2 * 4 * 2);
    expect_reg(f, 5, "aIN_0_1", 2 * 4 * 2);
    expect_reg(f, 6, "S_0_0", (4 + 2) + (4 + 3));
    expect_reg(f, 7, "S_0_1", (4 + 3) + (4 + 2));
    assert_int_equal(fake_segments(), 6);
    for (size_t i = 2; i < 8; i++) /* every region has its own allocation */
        for (size_t j = i + 1; j < 8; j++)
            assert_memory_not_equal(f->rec.calls[i].handle, f->rec.calls[j].handle,
                                    CUDART_IPC_HANDLE_SIZE);

    /* The device memory holds the batch payloads, ring order per start step. */
    static const int32_t in00[] = {1, 2, 3, 4}, in01[] = {3, 4, 1, 2};
    read_region(f->rec.calls[4].handle, got, sizeof(in00));
    assert_memory_equal(got, in00, sizeof(in00));
    read_region(f->rec.calls[5].handle, got, sizeof(in01));
    assert_memory_equal(got, in01, sizeof(in01));
    read_region(f->rec.calls[6].handle, got, 13);
    assert_memory_equal(got, "\x02\0\0\0hi\x03\0\0\0yo!", 13);
    read_region(f->rec.calls[7].handle, got, 13);
    assert_memory_equal(got, "\x03\0\0\0yo!\x02\0\0\0hi", 13);

    /* Descriptions point at the regions, not at host memory. */
    const struct pa_dataset_step *st = dataset_step(&ds, 0, 1);
    assert_null(st->expected);
    assert_int_equal(st->desc.n_inputs, 2);
    assert_null(st->desc.inputs[0].data);
    assert_string_equal(st->desc.inputs[0].shm_region, "aIN_0_1");
    assert_int_equal(st->desc.inputs[0].byte_size, 16);
    assert_int_equal(st->desc.inputs[0].shm_offset, 0);
    assert_string_equal(st->desc.inputs[1].shm_region, "S_0_1");
    assert_int_equal(st->desc.inputs[1].byte_size, 13);
    assert_string_equal(st->desc.outputs[0].shm_region, "O");
    assert_int_equal(st->desc.outputs[0].shm_byte_size, 24);
    assert_string_equal(st->desc.outputs[1].shm_region, "V");
    assert_int_equal(st->desc.outputs[1].shm_byte_size, 2000);

    /* Release: the server lets go of the regions before the memory is freed. */
    f->rec.n = 0;
    dataset_release(&ds, &f->client);
    assert_int_equal(f->rec.n, 2);
    expect_unreg_all(f, 0);
    assert_int_equal(f->rec.calls[1].live_segments, 6);
    assert_int_equal(fake_segments(), 0);
    assert_null(ds.priv);
    dataset_release(&ds, &f->client); /* twice is fine */
    fixture_free(f);
}

static void test_cuda_register_failure_cleans_up(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct pa_dataset ds;
    struct pa_err err = {0};

    /* The third registration (first input region) fails. */
    f->rec.fail_at = 3;
    assert_int_equal(dataset_build(&f->opts, &f->model, &f->client, f->summary, &ds, &err),
                     PA_ESERVER);
    assert_string_equal(err.msg, "Unable to init infer data manager: failed to register CUDA "
                                 "shared memory region 'aIN_0_0'");
    assert_null(ds.priv);
    assert_int_equal(fake_segments(), 0);
    expect_unreg_all(f, f->rec.n - 2);
    assert_int_equal(f->rec.calls[f->rec.n - 1].live_segments, 3); /* freed after unregister */
    fixture_free(f);
}

static void test_cuda_alloc_failure(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct pa_dataset ds;
    struct pa_err err = {0};
    char msg[256];

    /* More "device memory" than can be mapped: the fake's cudaMalloc fails. */
    f->opts.output_shm_size = UINT64_C(1) << 60;
    assert_int_equal(dataset_build(&f->opts, &f->model, &f->client, f->summary, &ds, &err),
                     PA_EIO);
    snprintf(msg, sizeof(msg), "Unable to init infer data manager: unable to allocate memory of "
                               "%llu bytes on gpu for output: out of memory",
             (unsigned long long)(UINT64_C(1) << 61));
    assert_string_equal(err.msg, msg);
    assert_null(ds.priv);
    assert_int_equal(fake_segments(), 0);
    /* "O" was registered before "V" failed; both kinds are unregistered again. */
    assert_string_equal(f->rec.calls[2].op, "reg_cuda");
    expect_unreg_all(f, f->rec.n - 2);
    fixture_free(f);
}

static void test_cuda_no_runtime(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct pa_dataset ds;
    struct pa_err err = {0};

    /* No library at the path: one line naming the reason, nothing sent. */
    assert_int_equal(setenv(CUDART_PATH_ENV, "/nonexistent/libcudart.so", 1), 0);
    assert_int_equal(dataset_build(&f->opts, &f->model, &f->client, f->summary, &ds, &err),
                     PA_EUNSUPPORTED);
    assert_string_equal(err.msg, "Unable to init infer data manager: Cuda shared memory is "
                                 "not supported: unable to load the CUDA runtime: "
                                 "/nonexistent/libcudart.so: cannot open shared object file: "
                                 "No such file or directory");
    assert_null(strchr(err.msg, '\n'));
    assert_int_equal(pa_exit_code(PA_EUNSUPPORTED), 99);
    assert_int_equal(f->rec.n, 0);
    assert_null(ds.priv);

    /* A library that is not a CUDA runtime: the missing entry point is named. */
    assert_int_equal(setenv(CUDART_PATH_ENV, "libm.so.6", 1), 0);
    assert_int_equal(dataset_build(&f->opts, &f->model, &f->client, f->summary, &ds, &err),
                     PA_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "Unable to init infer data manager: Cuda shared memory is "
                                    "not supported: unable to load the CUDA runtime: "));
    assert_non_null(strstr(err.msg, "cudaSetDevice"));
    assert_int_equal(f->rec.n, 0);
    fixture_free(f);
}

static void test_cuda_backend_without_cuda_shm(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct pa_dataset ds;
    struct pa_err err = {0};
    static const struct pa_client_ops sys_only = {
        .register_system_shm = fake_register_sys,
        .unregister_system_shm = fake_unreg_sys,
    };
    static const struct pa_backend capi = {
        .name = "capi", .kind = "TRITON_C_API", .ops = &sys_only};
    struct pa_client c = {.backend = &capi, .ctx = &f->rec};

    assert_int_equal(dataset_build(&f->opts, &f->model, &c, f->summary, &ds, &err),
                     PA_EUNSUPPORTED);
    assert_string_equal(err.msg, "Unable to init infer data manager: client backend of kind "
                                 "TRITON_C_API does not support CreateSharedMemoryRegion()");
    assert_int_equal(fake_segments(), 0);
    assert_null(ds.priv);
    fixture_free(f);
}

static void test_cuda_optional_inputs(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    struct pa_dataset ds;
    struct pa_err err = {0};

    f->in[1].optional = true;
    assert_int_equal(dataset_build(&f->opts, &f->model, &f->client, f->summary, &ds, &err),
                     PA_EUNSUPPORTED);
    assert_string_equal(err.msg, "Unable to init infer data manager: Shared memory support in "
                                 "Perf Analyzer does not support optional inputs at this time");
    assert_int_equal(f->rec.n, 0);
    assert_int_equal(fake_segments(), 0);
    assert_null(ds.priv);
    fixture_free(f);
}

static void test_cudart_direct(void **state)
{
    (void)state;
    struct cudart *rt;
    struct pa_err err = {0};
    unsigned char handle[CUDART_IPC_HANDLE_SIZE];
    uint8_t back[5];
    void *dev;

    assert_int_equal(setenv(CUDART_PATH_ENV, fake_path, 1), 0);
    assert_int_equal(cudart_open(&rt, &err), PA_OK);
    assert_int_equal(cudart_alloc(rt, 5, &dev, &err), PA_OK);
    assert_int_equal(cudart_copy_to_device(rt, dev, "abcde", 5, "r", &err), PA_OK);
    assert_int_equal(cudart_ipc_handle(rt, dev, 0, handle, &err), PA_OK);
    read_region(handle, back, sizeof(back));
    assert_memory_equal(back, "abcde", 5);

    /* The fake has devices 0 and 1 only. */
    assert_int_equal(cudart_ipc_handle(rt, dev, 7, handle, &err), PA_EIO);
    assert_string_equal(err.msg, "unable to set device to 7: invalid device ordinal");
    assert_int_equal(cudart_free(rt, dev, &err), PA_OK);
    assert_int_equal(cudart_free(rt, dev, &err), PA_EIO); /* not allocated any more */
    assert_string_equal(err.msg, "invalid argument");
    assert_int_equal(fake_segments(), 0);
    cudart_close(rt);
    cudart_close(NULL);
    unsetenv(CUDART_PATH_ENV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cuda_regions),
        cmocka_unit_test(test_cuda_register_failure_cleans_up),
        cmocka_unit_test(test_cuda_alloc_failure),
        cmocka_unit_test(test_cuda_no_runtime),
        cmocka_unit_test(test_cuda_backend_without_cuda_shm),
        cmocka_unit_test(test_cuda_optional_inputs),
        cmocka_unit_test(test_cudart_direct),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
