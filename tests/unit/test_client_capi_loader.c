/*
 * Loading libtritonserver.so and starting the in-process server
 * (src/client/capi_loader.c), against the doubles of tests/capi/: the fake
 * server, a library without the entry points, a file that is not a library
 * and a directory without any library. Messages are the original's, and
 * every failure maps to exit code 99.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/capi_loader.h"

#ifndef PA_CAPI_TEST_DIR
#define PA_CAPI_TEST_DIR "" /* tests/capi/CMakeLists.txt not added: every test fails loudly */
#endif
#ifndef PA_MODELS_DIR
#define PA_MODELS_DIR ""
#endif

#define FAKE_ROOT PA_CAPI_TEST_DIR "/fake_tritonserver_root"
#define FAKE_LIB FAKE_ROOT "/lib/libtritonserver.so"

static int setup(void **state)
{
    (void)state;
    if (!PA_CAPI_TEST_DIR[0]) {
        fprintf(stderr, "tests/capi is not part of the build (add_subdirectory(capi))\n");
        return -1;
    }
    unsetenv("PA_FAKE_TRITON_API_VERSION");
    unsetenv("PA_FAKE_TRITON_NOT_READY");
    unsetenv("PA_FAKE_TRITON_RECORD");
    return 0;
}

/* Whether path is currently loaded in this process. */
static bool is_loaded(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (h)
        dlclose(h);
    return h != NULL;
}

/* The fake's recorded call names (and clears them); the fake must be loaded. */
static void fake_calls(char *out, size_t cap)
{
    void *h = dlopen(FAKE_LIB, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    size_t (*calls)(char *, size_t);
    void *sym = dlsym(h, "fake_tritonserver_calls");
    assert_non_null(sym);
    memcpy(&calls, &sym, sizeof(sym));
    calls(out, cap);
    dlclose(h);
}

static void test_no_library(void **state)
{
    (void)state;
    struct capi_lib lib;
    struct pa_err err = {0};
    int rc = capi_lib_open(&lib, PA_CAPI_TEST_DIR "/nolib_root", &err);
    assert_int_not_equal(rc, PA_OK);
    assert_string_equal(err.msg, "Unable to find filepath: " PA_CAPI_TEST_DIR
                                 "/nolib_root/lib/libtritonserver.so");
    assert_int_equal(pa_exit_code(rc), 99);
    assert_null(lib.dl);
}

static void test_not_a_library(void **state)
{
    (void)state;
    struct capi_lib lib;
    struct pa_err err = {0};
    int rc = capi_lib_open(&lib, PA_CAPI_TEST_DIR "/badelf_root", &err);
    assert_int_not_equal(rc, PA_OK);
    const char *want = "unable to load backend library: " PA_CAPI_TEST_DIR
                       "/badelf_root/lib/libtritonserver.so: ";
    assert_memory_equal(err.msg, want, strlen(want));
    assert_int_equal(pa_exit_code(rc), 99);
    assert_null(lib.dl);
}

static void test_missing_entrypoint(void **state)
{
    (void)state;
    struct capi_lib lib;
    struct pa_err err = {0};
    const char *path = PA_CAPI_TEST_DIR "/nosym_root/lib/libtritonserver.so";
    int rc = capi_lib_open(&lib, PA_CAPI_TEST_DIR "/nosym_root", &err);
    assert_int_not_equal(rc, PA_OK);
    /* The first symbol (ApiVersion) exists; the second is the one named. */
    const char *want = "unable to find required entrypoint 'TRITONSERVER_ServerOptionsNew' in "
                       "backend library: ";
    assert_memory_equal(err.msg, want, strlen(want));
    assert_non_null(strstr(err.msg, "undefined symbol: TRITONSERVER_ServerOptionsNew"));
    assert_int_equal(pa_exit_code(rc), 99);
    /* dlclose on the failure path: nothing of it stays loaded. */
    assert_null(lib.dl);
    assert_false(is_loaded(path));
}

static void test_open_resolves_every_entrypoint(void **state)
{
    (void)state;
    struct capi_lib lib;
    struct pa_err err = {0};
    assert_int_equal(capi_lib_open(&lib, FAKE_ROOT, &err), PA_OK);
    assert_non_null(lib.dl);
    size_t n = 0;
#define CHECK_FIELD(field, symbol, type)                                                      \
    assert_non_null(lib.fn.field);                                                            \
    n++;
    CAPI_FUNCTIONS(CHECK_FIELD)
#undef CHECK_FIELD
    assert_int_equal(n, 51);
    assert_int_equal(capi_lib_check_version(&lib, &err), PA_OK);
    assert_true(is_loaded(FAKE_LIB));
    capi_lib_close(&lib);
    assert_null(lib.dl);
    assert_false(is_loaded(FAKE_LIB));
}

static void test_version_check(void **state)
{
    (void)state;
    struct capi_lib lib;
    struct pa_err err = {0};
    assert_int_equal(capi_lib_open(&lib, FAKE_ROOT, &err), PA_OK);

    setenv("PA_FAKE_TRITON_API_VERSION", "1.20", 1);
    int rc = capi_lib_check_version(&lib, &err);
    assert_int_not_equal(rc, PA_OK);
    assert_string_equal(err.msg, "triton server API version mismatch. \n"
                                 "Expected version major:1, minor:25\n"
                                 "  Actual version major:1, minor:20");
    assert_int_equal(pa_exit_code(rc), 99);

    setenv("PA_FAKE_TRITON_API_VERSION", "2.30", 1);
    assert_int_not_equal(capi_lib_check_version(&lib, &err), PA_OK);
    assert_non_null(strstr(err.msg, "Actual version major:2, minor:30"));

    /* A newer minor is compatible. */
    setenv("PA_FAKE_TRITON_API_VERSION", "1.31", 1);
    assert_int_equal(capi_lib_check_version(&lib, &err), PA_OK);
    unsetenv("PA_FAKE_TRITON_API_VERSION");
    capi_lib_close(&lib);
}

static void test_parse_version(void **state)
{
    (void)state;
    struct pa_err err = {0};
    int64_t v = 0;
    assert_int_equal(capi_parse_version("", &v, &err), PA_OK);
    assert_int_equal(v, 1); /* empty means 1, never "latest" */
    assert_int_equal(capi_parse_version("3", &v, &err), PA_OK);
    assert_int_equal(v, 3);
    assert_int_equal(capi_parse_version("7abc", &v, &err), PA_OK); /* std::stol */
    assert_int_equal(v, 7);
    assert_int_not_equal(capi_parse_version("abc", &v, &err), PA_OK);
    assert_string_equal(err.msg, "Failed to get model version from specified version string "
                                 "'abc' (details: stol), version should be an integral value > 0");
    assert_int_not_equal(capi_parse_version("-2", &v, &err), PA_OK);
    assert_string_equal(err.msg, "invalid model version specified '-2' , version should be an "
                                 "integral value > 0");
}

static struct capi_start start_args(const char *dir, const char *repo)
{
    struct capi_start s = {.server_dir = dir, .model_repo = repo, .poll_ms = 1};
    return s;
}

static void test_acquire_missing_directory(void **state)
{
    (void)state;
    struct capi_loader *l = NULL;
    struct pa_err err = {0};
    struct capi_start s = start_args(PA_CAPI_TEST_DIR "/no_such_dir", PA_MODELS_DIR);
    int rc = capi_loader_acquire(&s, &l, &err);
    assert_int_not_equal(rc, PA_OK);
    assert_non_null(l);
    assert_string_equal(err.msg, "Unable to find filepath: " PA_CAPI_TEST_DIR "/no_such_dir");
    assert_string_equal(capi_loader_start_error(l), err.msg);
    assert_false(capi_loader_ready(l));

    /* As in r23.10 the failure surfaces at the first metadata call. */
    cJSON *j = NULL;
    struct pa_err e2 = {0};
    rc = capi_loader_model_metadata(l, "simple", "", &j, &e2);
    assert_int_not_equal(rc, PA_OK);
    assert_string_equal(e2.msg, "Model is not loaded and/or server is not ready");
    assert_int_equal(pa_exit_code(rc), 99);
    capi_loader_release(l);
}

static void test_acquire_missing_repository(void **state)
{
    (void)state;
    struct capi_loader *l = NULL;
    struct pa_err err = {0};
    struct capi_start s = start_args(FAKE_ROOT, "/no/such/repository");
    assert_int_not_equal(capi_loader_acquire(&s, &l, &err), PA_OK);
    assert_string_equal(err.msg, "Unable to find filepath: /no/such/repository");
    assert_false(is_loaded(FAKE_LIB));
    capi_loader_release(l);
}

static void test_acquire_library_missing_symbols(void **state)
{
    (void)state;
    struct capi_loader *l = NULL;
    struct pa_err err = {0};
    struct capi_start s = start_args(PA_CAPI_TEST_DIR "/nosym_root", PA_MODELS_DIR);
    assert_int_not_equal(capi_loader_acquire(&s, &l, &err), PA_OK);
    assert_non_null(strstr(err.msg, "unable to find required entrypoint "
                                    "'TRITONSERVER_ServerOptionsNew'"));
    capi_loader_release(l);
}

static void test_acquire_version_mismatch(void **state)
{
    (void)state;
    struct capi_loader *l = NULL;
    struct pa_err err = {0};
    struct capi_start s = start_args(FAKE_ROOT, PA_MODELS_DIR);
    setenv("PA_FAKE_TRITON_API_VERSION", "1.24", 1);
    assert_int_not_equal(capi_loader_acquire(&s, &l, &err), PA_OK);
    unsetenv("PA_FAKE_TRITON_API_VERSION");
    assert_non_null(strstr(err.msg, "triton server API version mismatch."));
    assert_false(is_loaded(FAKE_LIB)); /* dlclose on this path too */
    cJSON *j = NULL;
    assert_int_not_equal(capi_loader_server_metadata(l, &j, &err), PA_OK);
    assert_string_equal(err.msg, "Model is not loaded and/or server is not ready");
    capi_loader_release(l);
}

static void test_acquire_server_never_ready(void **state)
{
    (void)state;
    struct capi_loader *l = NULL;
    struct pa_err err = {0};
    char calls[8192];
    struct capi_start s = start_args(FAKE_ROOT, PA_MODELS_DIR);
    setenv("PA_FAKE_TRITON_NOT_READY", "1", 1);
    setenv("PA_FAKE_TRITON_RECORD", "1", 1);
    /* Load the library ourselves too, so its record survives the loader's dlclose. */
    void *keep = dlopen(FAKE_LIB, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(keep);
    fake_calls(calls, sizeof(calls));
    assert_int_not_equal(capi_loader_acquire(&s, &l, &err), PA_OK);
    unsetenv("PA_FAKE_TRITON_NOT_READY");
    unsetenv("PA_FAKE_TRITON_RECORD");
    assert_string_equal(err.msg, "failed to find healthy inference server");
    fake_calls(calls, sizeof(calls));
    size_t polls = 0;
    for (const char *p = calls; (p = strstr(p, "ServerIsReady\n")); p++)
        polls++;
    assert_int_equal(polls, 10); /* 10 rounds, then give up */
    assert_non_null(strstr(calls, "ServerDelete\n")); /* nothing left behind */
    dlclose(keep);
    capi_loader_release(l);
}

static void test_start_call_sequence(void **state)
{
    (void)state;
    struct capi_loader *l = NULL;
    struct pa_err err = {0};
    char calls[8192];
    struct capi_start s = start_args(FAKE_ROOT, PA_MODELS_DIR);
    void *keep = dlopen(FAKE_LIB, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(keep);
    fake_calls(calls, sizeof(calls));
    setenv("PA_FAKE_TRITON_RECORD", "1", 1);
    assert_int_equal(capi_loader_acquire(&s, &l, &err), PA_OK);
    fake_calls(calls, sizeof(calls));
    assert_string_equal(calls, "ApiVersion\n"
                               "ServerOptionsNew\n"
                               "ServerOptionsSetModelRepositoryPath\n"
                               "ServerOptionsSetCudaMemoryPoolByteSize\n"
                               "ServerOptionsSetLogVerbose(0)\n"
                               "ServerOptionsSetLogInfo(false)\n"
                               "ServerOptionsSetBackendDirectory\n"
                               "ServerOptionsSetRepoAgentDirectory\n"
                               "ServerOptionsSetStrictModelConfig\n"
                               "ServerOptionsSetMinSupportedComputeCapability\n"
                               "ServerNew\n"
                               "ServerOptionsDelete\n"
                               "ServerIsLive\n"
                               "ServerIsReady\n");
    assert_true(capi_loader_ready(l));
    assert_null(capi_loader_start_error(l));

    /* A second reference shares the running server: no second start-up. */
    struct capi_loader *l2 = NULL;
    assert_int_equal(capi_loader_acquire(&s, &l2, &err), PA_OK);
    assert_ptr_equal(l, l2);
    fake_calls(calls, sizeof(calls));
    assert_string_equal(calls, "");
    capi_loader_release(l2);
    assert_true(capi_loader_ready(l));
    capi_loader_release(l);
    fake_calls(calls, sizeof(calls));
    assert_string_equal(calls, "ServerDelete\n");
    unsetenv("PA_FAKE_TRITON_RECORD");
    dlclose(keep);
    assert_false(is_loaded(FAKE_LIB));
}

static void test_start_extra_verbose(void **state)
{
    (void)state;
    struct capi_loader *l = NULL;
    struct pa_err err = {0};
    char calls[8192];
    struct capi_start s = start_args(FAKE_ROOT, PA_MODELS_DIR);
    s.verbose = true;
    void *keep = dlopen(FAKE_LIB, RTLD_NOW | RTLD_LOCAL);
    fake_calls(calls, sizeof(calls));
    setenv("PA_FAKE_TRITON_RECORD", "1", 1);
    assert_int_equal(capi_loader_acquire(&s, &l, &err), PA_OK);
    unsetenv("PA_FAKE_TRITON_RECORD");
    fake_calls(calls, sizeof(calls));
    assert_non_null(strstr(calls, "ServerOptionsSetLogVerbose(1)\n"
                                  "ServerOptionsSetLogInfo(true)\n"));
    const char *tail = "ServerIsLive\nServerIsReady\nServerMetadata\nMessageSerializeToJson\n"
                       "MessageDelete\n";
    size_t n = strlen(calls), t = strlen(tail);
    assert_true(n >= t);
    assert_string_equal(calls + n - t, tail);
    capi_loader_release(l);
    dlclose(keep);
}

static void test_control_plane(void **state)
{
    (void)state;
    struct capi_loader *l = NULL;
    struct pa_err err = {0};
    struct capi_start s = start_args(FAKE_ROOT, PA_MODELS_DIR);
    cJSON *j = NULL;
    assert_int_equal(capi_loader_acquire(&s, &l, &err), PA_OK);

    /* Statistics before the model is loaded: the original's refusal. */
    assert_int_not_equal(capi_loader_model_statistics(l, "simple", "", &j, &err), PA_OK);
    assert_string_equal(err.msg, "Trying to get model statistics while server is not started "
                                 "or model is not ready");

    assert_int_equal(capi_loader_server_metadata(l, &j, &err), PA_OK);
    bool has_stats = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "extensions"))
    {
        has_stats |= cJSON_IsString(it) && !strcmp(it->valuestring, "statistics");
    }
    assert_true(has_stats);
    cJSON_Delete(j);

    assert_int_equal(capi_loader_model_metadata(l, "simple", "", &j, &err), PA_OK);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "name")), "simple");
    const cJSON *versions = cJSON_GetObjectItem(j, "versions");
    assert_int_equal(cJSON_GetArraySize(versions), 1);
    assert_string_equal(cJSON_GetArrayItem(versions, 0)->valuestring, "1");
    const cJSON *in0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "inputs"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(in0, "datatype")), "INT32");
    /* batching model: the metadata shape leads with -1 */
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(in0, "shape"), 0)->valueint, -1);
    cJSON_Delete(j);

    assert_int_equal(capi_loader_model_config(l, "simple", "", &j, &err), PA_OK);
    assert_int_equal(cJSON_GetObjectItem(j, "max_batch_size")->valueint, 8);
    cJSON_Delete(j);

    /* The loaded model is fixed: metadata keeps answering for it. */
    assert_int_equal(capi_loader_model_metadata(l, "identity_fp32", "", &j, &err), PA_OK);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "name")), "simple");
    cJSON_Delete(j);

    /* Config of another model (composing models) with the loaded version. */
    assert_int_equal(capi_loader_model_config(l, "identity_fp32", "", &j, &err), PA_OK);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "name")), "identity_fp32");
    cJSON_Delete(j);
    assert_int_not_equal(capi_loader_model_config(l, "nope", "", &j, &err), PA_OK);
    assert_non_null(strstr(err.msg, "unable to get model config message: Not found - "));

    assert_int_equal(capi_loader_model_statistics(l, "simple", "", &j, &err), PA_OK);
    const cJSON *st = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "model_stats"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(st, "name")), "simple");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(st, "version")), "1");
    cJSON_Delete(j);
    /* "" = every model */
    assert_int_equal(capi_loader_model_statistics(l, NULL, "", &j, &err), PA_OK);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(j, "model_stats")) > 1);
    cJSON_Delete(j);
    assert_int_not_equal(capi_loader_model_statistics(l, "simple", "x", &j, &err), PA_OK);
    assert_non_null(strstr(err.msg, "Failed to get model version from specified version string"));
    capi_loader_release(l);
}

static void test_unknown_model(void **state)
{
    (void)state;
    struct capi_loader *l = NULL;
    struct pa_err err = {0};
    struct capi_start s = start_args(FAKE_ROOT, PA_MODELS_DIR);
    cJSON *j = NULL;
    assert_int_equal(capi_loader_acquire(&s, &l, &err), PA_OK);
    /* "model failed to be ready in 10 iterations" is swallowed, as in r23.10 */
    assert_int_not_equal(capi_loader_model_metadata(l, "nope", "", &j, &err), PA_OK);
    assert_string_equal(err.msg, "Model is not loaded and/or server is not ready");
    /* a version the model does not have */
    capi_loader_release(l);
    assert_int_equal(capi_loader_acquire(&s, &l, &err), PA_OK);
    assert_int_not_equal(capi_loader_model_metadata(l, "simple", "4", &j, &err), PA_OK);
    assert_string_equal(err.msg, "Model is not loaded and/or server is not ready");
    capi_loader_release(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_no_library, setup),
        cmocka_unit_test_setup(test_not_a_library, setup),
        cmocka_unit_test_setup(test_missing_entrypoint, setup),
        cmocka_unit_test_setup(test_open_resolves_every_entrypoint, setup),
        cmocka_unit_test_setup(test_version_check, setup),
        cmocka_unit_test_setup(test_parse_version, setup),
        cmocka_unit_test_setup(test_acquire_missing_directory, setup),
        cmocka_unit_test_setup(test_acquire_missing_repository, setup),
        cmocka_unit_test_setup(test_acquire_library_missing_symbols, setup),
        cmocka_unit_test_setup(test_acquire_version_mismatch, setup),
        cmocka_unit_test_setup(test_acquire_server_never_ready, setup),
        cmocka_unit_test_setup(test_start_call_sequence, setup),
        cmocka_unit_test_setup(test_start_extra_verbose, setup),
        cmocka_unit_test_setup(test_control_plane, setup),
        cmocka_unit_test_setup(test_unknown_model, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
