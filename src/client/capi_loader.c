/*
 * Loading libtritonserver.so and the process-wide in-process server (see
 * capi_loader.h for the contract).
 *
 * The shape follows the original's TritonLoader: one loader per process, a
 * start-up that is retried by every new client while the server is not
 * ready, a "loaded model" that the first metadata/config call fixes for the
 * rest of the run, and a registry of in-process shared-memory regions. What
 * differs is only ownership: the original never unloads (its singleton dies
 * at exit), while here the last reference deletes the server and dlcloses
 * the library, so tests can load, fail and reload in one process, and
 * every failed start-up leaves nothing loaded behind it.
 */
#include "client/capi_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/xalloc.h"

#include "core/banned.h"

#define HEALTH_ROUNDS 10
#define DEFAULT_POLL_MS 500
#define NOT_READY_MSG "Model is not loaded and/or server is not ready"

/* dlsym hands back object pointers; function pointers must be the same size. */
_Static_assert(sizeof(void *) == sizeof(capi_api_version_fn *),
               "function and object pointers differ in size");
_Static_assert(CAPI_N_FUNCTIONS == 51, "spec 05 §1: 51 entry points");

/* ---- library ----------------------------------------------------------- */

static int path_exists(const char *path, struct pa_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return pa_errorf(err, PA_EINVAL, "Unable to find filepath: %s", path);
    return PA_OK;
}

/* One dlsym, with the original's message when the symbol is missing. */
static int entrypoint(void *dl, const char *name, void *fnp, size_t fn_size, struct pa_err *err)
{
    (void)dlerror();
    void *sym = dlsym(dl, name);
    const char *why = dlerror();
    if (why)
        return pa_errorf(err, PA_EINVAL,
                         "unable to find required entrypoint '%s' in backend library: %s", name,
                         why);
    if (!sym)
        return pa_errorf(err, PA_EINVAL,
                         "unable to find required entrypoint '%s' in backend library", name);
    /* POSIX guarantees the round trip; memcpy avoids the object-to-function cast. */
    memcpy(fnp, &sym, fn_size);
    return PA_OK;
}

int capi_lib_open(struct capi_lib *lib, const char *server_dir, struct pa_err *err)
{
    char *path = xasprintf("%s%s", server_dir, CAPI_LIBRARY_SUFFIX);
    int rc;

    memset(lib, 0, sizeof(*lib));
    rc = path_exists(path, err);
    if (rc)
        goto out;
    lib->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib->dl) {
        const char *why = dlerror();
        rc = pa_errorf(err, PA_EINVAL, "unable to load backend library: %s",
                       why ? why : "unknown dlopen error");
        goto out;
    }
#define CAPI_RESOLVE(field, symbol, type)                                                     \
    rc = entrypoint(lib->dl, #symbol, &lib->fn.field, sizeof(lib->fn.field), err);           \
    if (rc)                                                                                   \
        goto fail;
    CAPI_FUNCTIONS(CAPI_RESOLVE)
#undef CAPI_RESOLVE
    goto out;
fail:
    capi_lib_close(lib);
out:
    free(path);
    return rc;
}

void capi_lib_close(struct capi_lib *lib)
{
    if (!lib)
        return;
    if (lib->dl)
        dlclose(lib->dl);
    memset(lib, 0, sizeof(*lib));
}

int capi_lib_error(const struct capi_lib *lib, TRITONSERVER_Error *e, const char *what,
                   struct pa_err *err)
{
    pa_errorf(err, PA_ESERVER, "%s: %s - %s", what, lib->fn.error_code_string(e),
              lib->fn.error_message(e));
    lib->fn.error_delete(e);
    return PA_ESERVER;
}

int capi_lib_check_version(const struct capi_lib *lib, struct pa_err *err)
{
    uint32_t major = 0, minor = 0;
    TRITONSERVER_Error *e = lib->fn.api_version(&major, &minor);
    if (e) /* the original only reports this one and goes on to the comparison */
        lib->fn.error_delete(e);
    if (major != CAPI_API_VERSION_MAJOR || minor < CAPI_API_VERSION_MINOR)
        return pa_errorf(err, PA_EINVAL,
                         "triton server API version mismatch. \nExpected version major:%u, "
                         "minor:%u\n  Actual version major:%" PRIu32 ", minor:%" PRIu32,
                         CAPI_API_VERSION_MAJOR, CAPI_API_VERSION_MINOR, major, minor);
    return PA_OK;
}

/* ---- the loader -------------------------------------------------------- */

struct shm_entry {
    char *name;
    void *map;
    size_t map_len;
    unsigned char *base;        /* map + offset */
    uint64_t byte_size;
};

struct capi_loader {
    pthread_mutex_t lock;       /* everything below */
    unsigned refs;
    struct capi_lib lib;
    TRITONSERVER_Server *server;
    bool ready;
    bool start_failed;
    char start_err[PA_ERR_MSG_MAX];
    unsigned poll_ms;           /* health and model-readiness polls apart */

    bool model_loaded;
    char *model_name;
    int64_t model_version;

    struct shm_entry *shm;
    size_t n_shm, cap_shm;
};

static struct capi_loader the_loader = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* `return tcheck(l, call, "what", err)`-style check of one TRITONSERVER call. */
#define TCHECK(l, call, what, err)                                                            \
    do {                                                                                      \
        TRITONSERVER_Error *e_ = (call);                                                      \
        if (e_)                                                                               \
            return capi_lib_error(&(l)->lib, e_, (what), (err));                              \
    } while (0)

static void shm_clear(struct capi_loader *l, size_t i)
{
    struct shm_entry *s = &l->shm[i];
    munmap(s->map, s->map_len);
    free(s->name);
    l->shm[i] = l->shm[--l->n_shm];
}

/* Everything start() may have left; the loader is then as if never started. */
static void teardown(struct capi_loader *l)
{
    while (l->n_shm)
        shm_clear(l, l->n_shm - 1);
    if (l->server) {
        TRITONSERVER_Error *e = l->lib.fn.server_delete(l->server);
        if (e)
            l->lib.fn.error_delete(e);
        l->server = NULL;
    }
    capi_lib_close(&l->lib);
    l->ready = false;
    l->model_loaded = false;
    free(l->model_name);
    l->model_name = NULL;
    l->model_version = 0;
}

static int set_options(struct capi_loader *l, TRITONSERVER_ServerOptions *o,
                       const struct capi_start *s, struct pa_err *err)
{
    const struct capi_fns *fn = &l->lib.fn;
    char *dir;

    TCHECK(l, fn->options_set_model_repo(o, s->model_repo), "setting model repository path", err);
    TCHECK(l, fn->options_set_cuda_pool(o, 0, 1073741824),
           "setting cuda memory pool byte size failed.", err);
    TCHECK(l, fn->options_set_log_verbose(o, s->verbose ? 1 : 0), "setting verbose logging level",
           err);
    TCHECK(l, fn->options_set_log_info(o, s->verbose), "setting if log verbose level is true", err);
    dir = xasprintf("%s/backends", s->server_dir);
    TRITONSERVER_Error *e = fn->options_set_backend_dir(o, dir);
    free(dir);
    if (e)
        return capi_lib_error(&l->lib, e, "setting backend directory", err);
    dir = xasprintf("%s/repoagents", s->server_dir);
    e = fn->options_set_repoagent_dir(o, dir);
    free(dir);
    if (e)
        return capi_lib_error(&l->lib, e, "setting repository agent directory", err);
    TCHECK(l, fn->options_set_strict_config(o, true), "setting strict model configuration", err);
    TCHECK(l, fn->options_set_min_cc(o, 0.0), "setting minimum supported CUDA compute capability",
           err);
    return PA_OK;
}

static int create_server(struct capi_loader *l, const struct capi_start *s, struct pa_err *err)
{
    const struct capi_fns *fn = &l->lib.fn;
    TRITONSERVER_ServerOptions *o = NULL;
    int rc;

    TCHECK(l, fn->options_new(&o), "creating server options", err);
    rc = set_options(l, o, s, err);
    if (rc == PA_OK) {
        TRITONSERVER_Error *e = fn->server_new(&l->server, o);
        if (e) {
            l->server = NULL;
            rc = capi_lib_error(&l->lib, e, "creating server", err);
        }
    }
    /* The server keeps copies of what it needs (spec 05 §3.2). */
    TRITONSERVER_Error *e = fn->options_delete(o);
    if (e && rc == PA_OK)
        return capi_lib_error(&l->lib, e, "deleting server options", err);
    if (e)
        fn->error_delete(e);
    return rc;
}

static int wait_healthy(struct capi_loader *l, unsigned poll_ms, struct pa_err *err)
{
    const struct capi_fns *fn = &l->lib.fn;
    for (unsigned round = 1;; round++) {
        bool live = false, ready = false;
        TCHECK(l, fn->server_is_live(l->server, &live), "unable to get server liveness", err);
        TCHECK(l, fn->server_is_ready(l->server, &ready), "unable to get server readiness", err);
        if (live && ready)
            return PA_OK;
        if (round >= HEALTH_ROUNDS)
            return pa_errorf(err, PA_ESERVER, "failed to find healthy inference server");
        clock_sleep_ns((uint64_t)poll_ms * NS_PER_MS);
    }
}

/* With extra verbosity the original fetches (and drops) the server metadata once. */
static int touch_metadata(struct capi_loader *l, struct pa_err *err)
{
    const struct capi_fns *fn = &l->lib.fn;
    TRITONSERVER_Message *m = NULL;
    const char *base;
    size_t size;

    TCHECK(l, fn->server_metadata(l->server, &m), "unable to get server metadata message", err);
    TRITONSERVER_Error *e = fn->message_json(m, &base, &size);
    if (e) {
        fn->message_delete(m);
        return capi_lib_error(&l->lib, e, "unable to serialize server metadata message", err);
    }
    TCHECK(l, fn->message_delete(m), "deleting status metadata", err);
    return PA_OK;
}

static int start(struct capi_loader *l, const struct capi_start *s, struct pa_err *err)
{
    int rc;

    l->poll_ms = s->poll_ms ? s->poll_ms : DEFAULT_POLL_MS;
    rc = path_exists(s->server_dir, err);
    if (!rc)
        rc = path_exists(s->model_repo, err);
    if (!rc)
        rc = capi_lib_open(&l->lib, s->server_dir, err);
    if (!rc)
        rc = capi_lib_check_version(&l->lib, err);
    if (!rc)
        rc = create_server(l, s, err);
    if (!rc)
        rc = wait_healthy(l, l->poll_ms, err);
    if (!rc && s->verbose)
        rc = touch_metadata(l, err);
    if (rc)
        teardown(l);
    else
        l->ready = true;
    return rc;
}

int capi_loader_acquire(const struct capi_start *s, struct capi_loader **out, struct pa_err *err)
{
    struct capi_loader *l = &the_loader;
    struct pa_err e = {0};
    int rc = PA_OK;

    pthread_mutex_lock(&l->lock);
    l->refs++;
    *out = l;
    if (!l->ready) {
        teardown(l);
        rc = start(l, s, &e);
        l->start_failed = rc != PA_OK;
        snprintf(l->start_err, sizeof(l->start_err), "%s", rc ? e.msg : "");
    }
    pthread_mutex_unlock(&l->lock);
    if (rc)
        pa_errorf(err, rc, "%s", e.msg);
    return rc;
}

void capi_loader_release(struct capi_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    if (l->refs > 0 && --l->refs == 0) {
        teardown(l);
        l->start_failed = false;
        l->start_err[0] = '\0';
    }
    pthread_mutex_unlock(&l->lock);
}

const struct capi_lib *capi_loader_lib(const struct capi_loader *l)
{
    return &l->lib;
}

TRITONSERVER_Server *capi_loader_server(const struct capi_loader *l)
{
    return l->server;
}

bool capi_loader_ready(struct capi_loader *l)
{
    pthread_mutex_lock(&l->lock);
    bool ready = l->ready;
    pthread_mutex_unlock(&l->lock);
    return ready;
}

const char *capi_loader_start_error(struct capi_loader *l)
{
    pthread_mutex_lock(&l->lock);
    const char *msg = l->start_failed ? l->start_err : NULL;
    pthread_mutex_unlock(&l->lock);
    return msg;
}

/* ---- model and control plane ------------------------------------------ */

int capi_parse_version(const char *s, int64_t *out, struct pa_err *err)
{
    char *end;
    long long v;

    if (!s || !s[0]) {
        *out = 1;
        return PA_OK;
    }
    /* std::stol: leading blanks and a sign allowed, trailing text ignored. */
    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || errno == ERANGE)
        return pa_errorf(err, PA_EINVAL,
                         "Failed to get model version from specified version string '%s' "
                         "(details: stol), version should be an integral value > 0",
                         s);
    if (v < 0)
        return pa_errorf(err, PA_EINVAL,
                         "invalid model version specified '%s' , version should be an integral "
                         "value > 0",
                         s);
    *out = (int64_t)v;
    return PA_OK;
}

/* TritonLoader::LoadModel: lock held. */
static int load_model(struct capi_loader *l, const char *name, const char *version,
                      struct pa_err *err)
{
    int64_t v = 0;
    if (!l->ready)
        return pa_errorf(err, PA_ESERVER, "server is not ready, abort!");
    free(l->model_name);
    l->model_name = xstrdup(name);
    int rc = capi_parse_version(version, &v, err);
    if (rc)
        return rc;
    l->model_version = v;
    for (unsigned round = 1;; round++) {
        bool ready = false;
        TCHECK(l, l->lib.fn.model_is_ready(l->server, l->model_name, v, &ready),
               "unable to get model readiness", err);
        if (ready)
            break;
        if (round >= HEALTH_ROUNDS)
            return pa_errorf(err, PA_ESERVER, "model failed to be ready in 10 iterations");
        clock_sleep_ns((uint64_t)l->poll_ms * NS_PER_MS);
    }
    l->model_loaded = true;
    return PA_OK;
}

/* Serializes, parses and deletes a message. */
static int message_to_json(struct capi_loader *l, TRITONSERVER_Message *m, const char *ser_what,
                           const char *del_what, const char *doc, cJSON **out,
                           struct pa_err *err)
{
    const struct capi_fns *fn = &l->lib.fn;
    const char *base = NULL;
    size_t size = 0;

    TRITONSERVER_Error *e = fn->message_json(m, &base, &size);
    if (e) {
        fn->message_delete(m);
        return capi_lib_error(&l->lib, e, ser_what, err);
    }
    /* Not NUL-terminated by contract: parse exactly size bytes. */
    cJSON *j = cJSON_ParseWithLength(base, size);
    if (!j) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= base && at <= base + size ? (size_t)(at - base) : 0;
        fn->message_delete(m);
        return pa_errorf(err, PA_EPROTO,
                         "error: failed to parse %s from JSON: Invalid value. at %zu", doc, off);
    }
    e = fn->message_delete(m);
    if (e) {
        cJSON_Delete(j);
        return capi_lib_error(&l->lib, e, del_what, err);
    }
    *out = j;
    return PA_OK;
}

int capi_loader_server_metadata(struct capi_loader *l, cJSON **out, struct pa_err *err)
{
    TRITONSERVER_Message *m = NULL;
    TRITONSERVER_Error *e;
    int rc;

    pthread_mutex_lock(&l->lock);
    if (!l->ready) {
        rc = pa_errorf(err, PA_ESERVER, NOT_READY_MSG);
        goto out;
    }
    e = l->lib.fn.server_metadata(l->server, &m);
    if (e) {
        rc = capi_lib_error(&l->lib, e, "unable to get server metadata message", err);
        goto out;
    }
    rc = message_to_json(l, m, "unable to serialize server metadata message",
                         "deleting status metadata", "server metadata", out, err);
out:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static bool has_version(const cJSON *meta, int64_t v)
{
    char want[32];
    const cJSON *it;
    snprintf(want, sizeof(want), "%" PRId64, v);
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(meta, "versions"))
    {
        if (cJSON_IsString(it) && !strcmp(it->valuestring, want))
            return true;
    }
    return false;
}

static int model_metadata_locked(struct capi_loader *l, cJSON **out, struct pa_err *err)
{
    TRITONSERVER_Message *m = NULL;
    cJSON *j = NULL;

    TCHECK(l, l->lib.fn.model_metadata(l->server, l->model_name, l->model_version, &m),
           "unable to get model metadata message", err);
    int rc = message_to_json(l, m, "unable to serialize model status protobuf",
                             "deleting status protobuf", "model metadata", &j, err);
    if (rc)
        return rc;
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "name"));
    if (!name || strcmp(name, l->model_name)) {
        cJSON_Delete(j);
        return pa_errorf(err, PA_ESERVER, "unable to find metadata for model");
    }
    if (!has_version(j, l->model_version)) {
        cJSON_Delete(j);
        return pa_errorf(err, PA_ESERVER, "unable to find version %" PRId64 " status for model",
                         l->model_version);
    }
    *out = j;
    return PA_OK;
}

int capi_loader_model_metadata(struct capi_loader *l, const char *name, const char *version,
                               cJSON **out, struct pa_err *err)
{
    struct pa_err ignored;
    int rc;

    pthread_mutex_lock(&l->lock);
    /* r23.10 ignores what loading the model reports (spec 06 §5). */
    if (!l->model_loaded)
        (void)load_model(l, name, version, &ignored);
    if (!l->model_loaded || !l->ready)
        rc = pa_errorf(err, PA_ESERVER, NOT_READY_MSG);
    else
        rc = model_metadata_locked(l, out, err);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int capi_loader_model_config(struct capi_loader *l, const char *name, const char *version,
                             cJSON **out, struct pa_err *err)
{
    struct pa_err ignored;
    TRITONSERVER_Message *m = NULL;
    TRITONSERVER_Error *e;
    int rc;

    pthread_mutex_lock(&l->lock);
    if (!l->model_loaded)
        (void)load_model(l, name, version, &ignored);
    if (!l->model_loaded || !l->ready) {
        rc = pa_errorf(err, PA_ESERVER, NOT_READY_MSG);
        goto out;
    }
    /* Composing models are asked for with the loaded model's version (spec 05 §4.2). */
    e = l->lib.fn.model_config(l->server, name, l->model_version, 1, &m);
    if (e) {
        rc = capi_lib_error(&l->lib, e, "unable to get model config message", err);
        goto out;
    }
    rc = message_to_json(l, m, "unable to serialize model config status protobuf",
                         "deleting server config status protobuf", "model config", out, err);
out:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int capi_loader_model_statistics(struct capi_loader *l, const char *name, const char *version,
                                 cJSON **out, struct pa_err *err)
{
    TRITONSERVER_Message *m = NULL;
    TRITONSERVER_Error *e;
    int64_t v = 0;
    int rc;

    pthread_mutex_lock(&l->lock);
    if (!l->ready || !l->model_loaded) {
        rc = pa_errorf(err, PA_ESERVER,
                       "Trying to get model statistics while server is not started or model is "
                       "not ready");
        goto out;
    }
    rc = capi_parse_version(version, &v, err);
    if (rc)
        goto out;
    e = l->lib.fn.model_statistics(l->server, name ? name : "", v, &m);
    if (e) {
        rc = capi_lib_error(&l->lib, e, "getting model statistics from server", err);
        goto out;
    }
    rc = message_to_json(l, m, "serializing message to json",
                         "deleting inference statistics message", "server metadata", out, err);
out:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

/* ---- in-process shared memory ------------------------------------------ */

static struct shm_entry *shm_lookup(struct capi_loader *l, const char *name)
{
    for (size_t i = 0; i < l->n_shm; i++)
        if (!strcmp(l->shm[i].name, name))
            return &l->shm[i];
    return NULL;
}

int capi_loader_shm_register(struct capi_loader *l, const char *name, const char *key,
                             uint64_t offset, uint64_t byte_size, struct pa_err *err)
{
    int rc = PA_OK;
    pthread_mutex_lock(&l->lock);
    if (shm_lookup(l, name)) {
        rc = pa_errorf(err, PA_EINVAL, "shared memory region '%s' already in manager", name);
        goto out;
    }
    if (offset > SIZE_MAX - byte_size || byte_size == 0) {
        rc = pa_errorf(err, PA_EINVAL, "invalid size of shared memory region '%s'", name);
        goto out;
    }
    int fd = shm_open(key, O_RDWR, 0);
    if (fd < 0) {
        rc = pa_errorf(err, PA_EIO, "unable to open shared memory region '%s' (key '%s'): %s",
                       name, key, strerror(errno));
        goto out;
    }
    size_t len = (size_t)(offset + byte_size);
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int saved = errno;
    close(fd);
    if (map == MAP_FAILED) {
        rc = pa_errorf(err, PA_EIO, "unable to map shared memory region '%s': %s", name,
                       strerror(saved));
        goto out;
    }
    if (l->n_shm == l->cap_shm) {
        l->cap_shm = l->cap_shm ? 2 * l->cap_shm : 16;
        l->shm = xreallocarray(l->shm, l->cap_shm, sizeof(*l->shm));
    }
    l->shm[l->n_shm++] = (struct shm_entry){
        .name = xstrdup(name),
        .map = map,
        .map_len = len,
        .base = (unsigned char *)map + offset,
        .byte_size = byte_size,
    };
out:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

void capi_loader_shm_unregister(struct capi_loader *l, const char *name)
{
    pthread_mutex_lock(&l->lock);
    for (size_t i = l->n_shm; i-- > 0;)
        if (!name || !strcmp(l->shm[i].name, name))
            shm_clear(l, i);
    pthread_mutex_unlock(&l->lock);
}

int capi_loader_shm_find(struct capi_loader *l, const char *name, uint64_t offset, void **base,
                         uint64_t *byte_size, struct pa_err *err)
{
    int rc = PA_OK;
    pthread_mutex_lock(&l->lock);
    struct shm_entry *s = shm_lookup(l, name);
    if (!s)
        rc = pa_errorf(err, PA_EINVAL, "Unable to find shared memory region: '%s'", name);
    else if (offset > s->byte_size)
        rc = pa_errorf(err, PA_EINVAL,
                       "offset %" PRIu64 " is beyond the end of shared memory region '%s'", offset,
                       name);
    else {
        *base = s->base + offset;
        *byte_size = s->byte_size - offset;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}
