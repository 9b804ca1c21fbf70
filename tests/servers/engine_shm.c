/*
 * Shared-memory registry (system and CUDA, one name space) and trace
 * settings.
 *
 * System regions are really shm_open'ed and mmap'ed, so inputs are read
 * from and outputs written to the client's memory (spec 07 §7). CUDA
 * regions go through libcudart loaded with dlopen: the IPC handle is
 * opened with cudaIpcOpenMemHandle and data moves with cudaMemcpy. With
 * the fake libcudart (tests/servers/fake_cudart) "device memory" is a POSIX
 * shm segment, so the CUDA path is testable without a GPU.
 *
 * Locking: e->shm_lock is taken exclusively to change the table and shared
 * by engine_infer() while it touches region memory, so unregister never
 * unmaps memory a request is using.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "engine-internal.h"

#include "core/banned.h"

enum { CUDA_MEMCPY_H2D = 1, CUDA_MEMCPY_D2H = 2, CUDA_IPC_LAZY_PEER = 1 };

struct shm_region *shm_find_locked(struct engine *e, const char *name)
{
    for (size_t i = 0; i < ENGINE_MAX_REGIONS; i++)
        if (e->regions[i].used && !strcmp(e->regions[i].name, name))
            return &e->regions[i];
    return NULL;
}

static int bounds(const struct shm_region *r, uint64_t off, uint64_t size,
                  struct engine_status *st)
{
    if (off > r->byte_size || size > r->byte_size - off)
        return engine_fail(st, ENGINE_INVALID_ARG,
                           "Invalid offset + byte size for shared memory region: '%s'", r->name);
    return ENGINE_OK;
}

static const char *cuda_err(const struct engine *e, int rc)
{
    return e->cuda.error_string ? e->cuda.error_string(rc) : "unknown CUDA error";
}

int shm_read(struct engine *e, const struct shm_region *r, uint64_t off, uint64_t size,
             const void **data, void *tmp, struct engine_status *st)
{
    if (bounds(r, off, size, st))
        return (int)st->code;
    if (!r->cuda) {
        *data = r->base + off;
        return ENGINE_OK;
    }
    if (size) {
        int rc = e->cuda.memcpy_(tmp, r->base + off, (size_t)size, CUDA_MEMCPY_D2H);
        if (rc)
            return engine_fail(st, ENGINE_INTERNAL,
                               "failed to copy from cuda shared memory region '%s': %s", r->name,
                               cuda_err(e, rc));
    }
    *data = tmp;
    return ENGINE_OK;
}

int shm_write(struct engine *e, const struct shm_region *r, uint64_t off, const void *data,
              size_t size, struct engine_status *st)
{
    if (bounds(r, off, size, st))
        return (int)st->code;
    if (!size)
        return ENGINE_OK;
    if (!r->cuda) {
        memcpy(r->base + off, data, size);
        return ENGINE_OK;
    }
    {
        int rc = e->cuda.memcpy_(r->base + off, data, size, CUDA_MEMCPY_H2D);
        if (rc)
            return engine_fail(st, ENGINE_INTERNAL,
                               "failed to copy to cuda shared memory region '%s': %s", r->name,
                               cuda_err(e, rc));
    }
    return ENGINE_OK;
}

static void region_release(struct engine *e, struct shm_region *r)
{
    if (r->cuda) {
        if (e->cuda.ipc_close && r->map)
            e->cuda.ipc_close(r->map);
    } else if (r->map) {
        munmap(r->map, r->map_len);
    }
    memset(r, 0, sizeof(*r));
}

void shm_release_all(struct engine *e)
{
    pthread_rwlock_wrlock(&e->shm_lock);
    for (size_t i = 0; i < ENGINE_MAX_REGIONS; i++)
        if (e->regions[i].used)
            region_release(e, &e->regions[i]);
    pthread_rwlock_unlock(&e->shm_lock);
    if (e->cuda.dl)
        dlclose(e->cuda.dl);
    memset(&e->cuda, 0, sizeof(e->cuda));
}

/* A free slot for a new region name, or an error (duplicate / full). */
static struct shm_region *new_slot_locked(struct engine *e, const char *name,
                                          struct engine_status *st)
{
    if (!name || !*name || strlen(name) >= ENGINE_NAME_MAX) {
        engine_fail(st, ENGINE_INVALID_ARG, "invalid shared memory region name");
        return NULL;
    }
    if (shm_find_locked(e, name)) {
        engine_fail(st, ENGINE_ALREADY_EXISTS, "shared memory region '%s' already in manager",
                    name);
        return NULL;
    }
    for (size_t i = 0; i < ENGINE_MAX_REGIONS; i++)
        if (!e->regions[i].used)
            return &e->regions[i];
    engine_fail(st, ENGINE_UNAVAILABLE, "too many shared memory regions");
    return NULL;
}

int engine_shm_register(struct engine *e, const char *name, const char *key, uint64_t offset,
                        uint64_t byte_size, struct engine_status *st)
{
    struct shm_region *r;
    struct stat sb;
    long page = sysconf(_SC_PAGESIZE);
    uint64_t aligned, lead;
    void *map;
    int fd, rc = ENGINE_OK;

    if (!key || !*key || strlen(key) >= ENGINE_NAME_MAX)
        return engine_fail(st, ENGINE_INVALID_ARG, "invalid shared memory key");
    if (byte_size == 0)
        return engine_fail(st, ENGINE_INVALID_ARG,
                           "failed to register shared memory region '%s': byte_size must be "
                           "greater than 0",
                           name);
    pthread_rwlock_wrlock(&e->shm_lock);
    r = new_slot_locked(e, name, st);
    if (!r) {
        pthread_rwlock_unlock(&e->shm_lock);
        return (int)st->code;
    }
    fd = shm_open(key, O_RDWR, 0);
    if (fd < 0) {
        rc = engine_fail(st, ENGINE_INTERNAL, "Unable to open shared memory region: '%s'", key);
        goto out;
    }
    if (fstat(fd, &sb) || (uint64_t)sb.st_size < offset ||
        (uint64_t)sb.st_size - offset < byte_size) {
        close(fd);
        rc = engine_fail(st, ENGINE_INVALID_ARG,
                         "failed to register shared memory region '%s': '%s' holds fewer than "
                         "%" PRIu64 " bytes at offset %" PRIu64,
                         name, key, byte_size, offset);
        goto out;
    }
    /* mmap needs a page-aligned file offset */
    aligned = offset - offset % (uint64_t)page;
    lead = offset - aligned;
    map = mmap(NULL, (size_t)(byte_size + lead), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
               (off_t)aligned);
    close(fd);
    if (map == MAP_FAILED) {
        rc = engine_fail(st, ENGINE_INTERNAL, "Unable to map shared memory region: '%s': %s", key,
                         strerror(errno));
        goto out;
    }
    memset(r, 0, sizeof(*r));
    r->used = true;
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->key, sizeof(r->key), "%s", key);
    r->offset = offset;
    r->byte_size = byte_size;
    r->map = map;
    r->map_len = (size_t)(byte_size + lead);
    r->base = (unsigned char *)map + lead;
out:
    pthread_rwlock_unlock(&e->shm_lock);
    return rc;
}

static int unregister_kind(struct engine *e, bool cuda, const char *name)
{
    pthread_rwlock_wrlock(&e->shm_lock);
    for (size_t i = 0; i < ENGINE_MAX_REGIONS; i++) {
        struct shm_region *r = &e->regions[i];
        if (r->used && r->cuda == cuda && (!name || !*name || !strcmp(r->name, name)))
            region_release(e, r);
    }
    pthread_rwlock_unlock(&e->shm_lock);
    return ENGINE_OK;
}

int engine_shm_unregister(struct engine *e, const char *name, struct engine_status *st)
{
    (void)st;
    return unregister_kind(e, false, name);
}

int engine_cuda_shm_unregister(struct engine *e, const char *name, struct engine_status *st)
{
    (void)st;
    return unregister_kind(e, true, name);
}

int engine_shm_list(struct engine *e, bool cuda, const char *name, struct engine_shm_info *out,
                    size_t max, struct engine_status *st)
{
    int n = 0;
    pthread_rwlock_rdlock(&e->shm_lock);
    for (size_t i = 0; i < ENGINE_MAX_REGIONS; i++) {
        const struct shm_region *r = &e->regions[i];
        if (!r->used || r->cuda != cuda || (name && *name && strcmp(r->name, name)))
            continue;
        if ((size_t)n < max) {
            struct engine_shm_info *o = &out[n];
            memset(o, 0, sizeof(*o));
            snprintf(o->name, sizeof(o->name), "%s", r->name);
            snprintf(o->key, sizeof(o->key), "%s", r->key);
            o->offset = r->offset;
            o->byte_size = r->byte_size;
            o->device_id = r->device_id;
        }
        n++;
    }
    pthread_rwlock_unlock(&e->shm_lock);
    if (n == 0 && name && *name) {
        engine_fail(st, ENGINE_NOT_FOUND, "Unable to find %s shared memory region: '%s'",
                    cuda ? "cuda" : "system", name);
        return -1;
    }
    return n;
}

static cJSON *status_json(struct engine *e, bool cuda, const char *name, struct engine_status *st)
{
    struct engine_shm_info info[ENGINE_MAX_REGIONS];
    int n = engine_shm_list(e, cuda, name, info, ENGINE_MAX_REGIONS, st);
    cJSON *arr;
    if (n < 0)
        return NULL;
    arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", info[i].name);
        if (cuda) {
            cJSON_AddNumberToObject(o, "device_id", (double)info[i].device_id);
        } else {
            cJSON_AddStringToObject(o, "key", info[i].key);
            cJSON_AddNumberToObject(o, "offset", (double)info[i].offset);
        }
        cJSON_AddNumberToObject(o, "byte_size", (double)info[i].byte_size);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

cJSON *engine_shm_status_json(struct engine *e, const char *name, struct engine_status *st)
{
    return status_json(e, false, name, st);
}

cJSON *engine_cuda_shm_status_json(struct engine *e, const char *name, struct engine_status *st)
{
    return status_json(e, true, name, st);
}

void engine_set_cudart_path(struct engine *e, const char *path)
{
    free(e->cudart_path);
    e->cudart_path = path ? xstrdup(path) : NULL;
}

/* Loads libcudart once; false with st when it is not available. */
static bool cudart_load(struct engine *e, struct engine_status *st)
{
    bool ok;
    pthread_mutex_lock(&e->cuda_lock);
    if (!e->cuda.dl) {
        const char *path = e->cudart_path ? e->cudart_path : getenv("PA_CUDART_PATH");
        void *dl = dlopen(path && *path ? path : "libcudart.so", RTLD_NOW | RTLD_LOCAL);
        if (dl) {
            /* dlsym returns object pointers; POSIX guarantees the conversion */
            *(void **)&e->cuda.set_device = dlsym(dl, "cudaSetDevice");
            *(void **)&e->cuda.ipc_open = dlsym(dl, "cudaIpcOpenMemHandle");
            *(void **)&e->cuda.ipc_close = dlsym(dl, "cudaIpcCloseMemHandle");
            *(void **)&e->cuda.memcpy_ = dlsym(dl, "cudaMemcpy");
            *(void **)&e->cuda.error_string = dlsym(dl, "cudaGetErrorString");
            if (e->cuda.set_device && e->cuda.ipc_open && e->cuda.ipc_close && e->cuda.memcpy_) {
                e->cuda.dl = dl;
            } else {
                dlclose(dl);
                memset(&e->cuda, 0, sizeof(e->cuda));
            }
        }
    }
    ok = e->cuda.dl != NULL;
    pthread_mutex_unlock(&e->cuda_lock);
    if (!ok)
        engine_fail(st, ENGINE_UNSUPPORTED,
                    "failed to register CUDA shared memory region: GPUs are not supported "
                    "(libcudart could not be loaded)");
    return ok;
}

int engine_cuda_shm_register(struct engine *e, const char *name, const void *raw_handle,
                             size_t handle_len, int64_t device_id, uint64_t byte_size,
                             struct engine_status *st)
{
    struct cuda_ipc_handle h;
    struct shm_region *r;
    void *ptr = NULL;
    int crc, rc = ENGINE_OK;

    if (handle_len != sizeof(h.reserved))
        return engine_fail(st, ENGINE_INVALID_ARG,
                           "'raw_handle' of cuda shared memory region '%s' must be %zu bytes, "
                           "got %zu",
                           name, sizeof(h.reserved), handle_len);
    if (byte_size == 0 || device_id < 0 || device_id > 1024)
        return engine_fail(st, ENGINE_INVALID_ARG,
                           "failed to register cuda shared memory region '%s': bad byte_size or "
                           "device_id",
                           name);
    if (!cudart_load(e, st))
        return (int)st->code;
    memcpy(h.reserved, raw_handle, sizeof(h.reserved));
    pthread_rwlock_wrlock(&e->shm_lock);
    r = new_slot_locked(e, name, st);
    if (!r) {
        rc = (int)st->code;
        goto out;
    }
    if ((crc = e->cuda.set_device((int)device_id)) != 0 ||
        (crc = e->cuda.ipc_open(&ptr, h, CUDA_IPC_LAZY_PEER)) != 0) {
        rc = engine_fail(st, ENGINE_INTERNAL,
                         "failed to open CUDA IPC handle for region '%s': %s", name,
                         cuda_err(e, crc));
        goto out;
    }
    memset(r, 0, sizeof(*r));
    r->used = true;
    r->cuda = true;
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->byte_size = byte_size;
    r->device_id = device_id;
    r->map = ptr;
    r->base = ptr;
out:
    pthread_rwlock_unlock(&e->shm_lock);
    return rc;
}

/* ------------------------------------------------------------------- trace */

static cJSON *trace_defaults(void)
{
    cJSON *o = cJSON_CreateObject(), *lv = cJSON_CreateArray();
    cJSON_AddItemToArray(lv, cJSON_CreateString("OFF"));
    cJSON_AddItemToObject(o, "trace_level", lv);
    cJSON_AddStringToObject(o, "trace_rate", "1000");
    cJSON_AddStringToObject(o, "trace_count", "-1");
    cJSON_AddStringToObject(o, "log_frequency", "0");
    cJSON_AddStringToObject(o, "trace_file", "");
    cJSON_AddStringToObject(o, "trace_mode", "triton");
    return o;
}

void trace_free(struct engine *e)
{
    cJSON_Delete(e->trace_global);
    cJSON_Delete(e->trace_models);
    e->trace_global = e->trace_models = NULL;
}

static bool int_string(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static int check_update(const cJSON *update, bool model_level, struct engine_status *st)
{
    const cJSON *kv;
    if (!cJSON_IsObject(update))
        return engine_fail(st, ENGINE_INVALID_ARG, "trace setting request must be a JSON object");
    cJSON_ArrayForEach(kv, update) {
        const char *k = kv->string;
        if (cJSON_IsNull(kv)) {
            if (!model_level)
                return engine_fail(st, ENGINE_INVALID_ARG,
                                   "clearing setting '%s' is only allowed for a model", k);
            continue;
        }
        if (!strcmp(k, "trace_level")) {
            const cJSON *x;
            if (!cJSON_IsArray(kv))
                return engine_fail(st, ENGINE_INVALID_ARG,
                                   "expect an array of strings for 'trace_level'");
            cJSON_ArrayForEach(x, kv) {
                if (!cJSON_IsString(x) || (strcmp(x->valuestring, "OFF") &&
                                           strcmp(x->valuestring, "TIMESTAMPS") &&
                                           strcmp(x->valuestring, "TENSORS")))
                    return engine_fail(st, ENGINE_INVALID_ARG,
                                       "unsupported trace level for 'trace_level'");
            }
        } else if (!strcmp(k, "trace_file") || !strcmp(k, "trace_mode")) {
            if (!cJSON_IsString(kv))
                return engine_fail(st, ENGINE_INVALID_ARG, "expect a string for '%s'", k);
        } else if (!strcmp(k, "trace_rate") || !strcmp(k, "trace_count") ||
                   !strcmp(k, "log_frequency")) {
            if (!cJSON_IsString(kv) || !int_string(kv->valuestring))
                return engine_fail(st, ENGINE_INVALID_ARG,
                                   "expect a string holding an integer for '%s'", k);
        } else {
            return engine_fail(st, ENGINE_INVALID_ARG, "unknown trace setting '%s'", k);
        }
    }
    return ENGINE_OK;
}

static void apply(cJSON *dst, const cJSON *update)
{
    const cJSON *kv;
    cJSON_ArrayForEach(kv, update) {
        cJSON_DeleteItemFromObjectCaseSensitive(dst, kv->string);
        if (!cJSON_IsNull(kv))
            cJSON_AddItemToObject(dst, kv->string, cJSON_Duplicate(kv, true));
    }
}

cJSON *engine_trace_setting(struct engine *e, const char *model, const cJSON *update,
                            struct engine_status *st)
{
    cJSON *result = NULL, *mine;
    if (model) {
        const struct engine_model *m;
        int64_t v;
        if (engine_find(e, model, NULL, &m, &v, st))
            return NULL;
    }
    if (update && check_update(update, model != NULL, st))
        return NULL;
    pthread_mutex_lock(&e->trace_lock);
    if (!e->trace_global) {
        e->trace_global = trace_defaults();
        e->trace_models = cJSON_CreateObject();
    }
    if (!model) {
        if (update)
            apply(e->trace_global, update);
        result = cJSON_Duplicate(e->trace_global, true);
    } else {
        mine = cJSON_GetObjectItemCaseSensitive(e->trace_models, model);
        if (!mine) {
            mine = cJSON_CreateObject();
            cJSON_AddItemToObject(e->trace_models, model, mine);
        }
        if (update)
            apply(mine, update);
        /* model settings fall back to the global ones */
        result = cJSON_Duplicate(e->trace_global, true);
        apply(result, mine);
    }
    pthread_mutex_unlock(&e->trace_lock);
    return result;
}
