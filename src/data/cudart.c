/*
 * libcudart through dlopen (see cudart.h).
 *
 * The entry points are declared here with plain C types: cudaError_t and
 * cudaMemcpyKind are enums (int-sized), cudaIpcMemHandle_t is a 64-byte
 * struct passed by pointer. Function pointers are fetched with dlsym and
 * copied with memcpy, since ISO C has no conversion from void * to a
 * function pointer.
 */
#include "data/cudart.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "core/banned.h"

enum { CUDA_SUCCESS = 0, CUDA_MEMCPY_HOST_TO_DEVICE = 1 };

typedef int cuda_set_device_fn(int device);
typedef int cuda_malloc_fn(void **dev, size_t size);
typedef int cuda_free_fn(void *dev);
typedef int cuda_memcpy_fn(void *dst, const void *src, size_t n, int kind);
typedef int cuda_ipc_get_mem_handle_fn(void *handle, void *dev);
typedef const char *cuda_get_error_string_fn(int code);

struct cudart {
    void *dl;
    cuda_set_device_fn *set_device;
    cuda_malloc_fn *malloc_;
    cuda_free_fn *free_;
    cuda_memcpy_fn *memcpy_;
    cuda_ipc_get_mem_handle_fn *ipc_get_mem_handle;
    cuda_get_error_string_fn *get_error_string; /* optional */
};

/* Tried in order when PA_CUDART_PATH is unset: the dev symlink, then the runtime sonames. */
static const char *const default_names[] = {"libcudart.so", "libcudart.so.13",
                                            "libcudart.so.12", "libcudart.so.11.0"};

/* dlsym into a function pointer of any type; false when the symbol is missing. */
static bool sym(void *dl, const char *name, void *fn_ptr, size_t fn_size)
{
    void *p = dlsym(dl, name);

    _Static_assert(sizeof(void *) == sizeof(cuda_malloc_fn *),
                   "function pointers must have the size of void *");
    if (!p)
        return false;
    memcpy(fn_ptr, &p, fn_size);
    return true;
}

#define SYM(dl, name, field) sym((dl), (name), &(field), sizeof(field))

int cudart_open(struct cudart **out, struct pa_err *err)
{
    const char *path = getenv(CUDART_PATH_ENV);
    struct cudart *rt;
    char why[512];
    void *dl = NULL;

    *out = NULL;
    if (path && *path) {
        dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!dl)
            snprintf(why, sizeof(why), "%s", dlerror());
    } else {
        for (size_t i = 0; !dl && i < sizeof(default_names) / sizeof(default_names[0]); i++) {
            dl = dlopen(default_names[i], RTLD_NOW | RTLD_LOCAL);
            /* Report why the first (canonical) name failed, not the last. */
            if (!dl && i == 0)
                snprintf(why, sizeof(why), "%s", dlerror());
        }
    }
    if (!dl)
        return pa_errorf(err, PA_EUNSUPPORTED,
                         "Cuda shared memory is not supported: unable to load the CUDA runtime: %s",
                         why);

    rt = xcalloc(1, sizeof(*rt));
    rt->dl = dl;
    if (!SYM(dl, "cudaSetDevice", rt->set_device) || !SYM(dl, "cudaMalloc", rt->malloc_) ||
        !SYM(dl, "cudaFree", rt->free_) || !SYM(dl, "cudaMemcpy", rt->memcpy_) ||
        !SYM(dl, "cudaIpcGetMemHandle", rt->ipc_get_mem_handle)) {
        snprintf(why, sizeof(why), "%s", dlerror());
        dlclose(dl);
        free(rt);
        return pa_errorf(err, PA_EUNSUPPORTED,
                         "Cuda shared memory is not supported: unable to load the CUDA runtime: %s",
                         why);
    }
    (void)SYM(dl, "cudaGetErrorString", rt->get_error_string);
    *out = rt;
    return PA_OK;
}

void cudart_close(struct cudart *rt)
{
    if (!rt)
        return;
    dlclose(rt->dl);
    free(rt);
}

/* The runtime's text for code; never NULL. */
static const char *error_string(const struct cudart *rt, int code)
{
    const char *s = rt->get_error_string ? rt->get_error_string(code) : NULL;
    return s ? s : "unknown CUDA error";
}

int cudart_alloc(struct cudart *rt, size_t size, void **dev, struct pa_err *err)
{
    int rc;

    *dev = NULL;
    rc = rt->malloc_(dev, size);
    if (rc != CUDA_SUCCESS) {
        *dev = NULL;
        return pa_errorf(err, PA_EIO,
                         "unable to allocate memory of %zu bytes on gpu for output: %s", size,
                         error_string(rt, rc));
    }
    return PA_OK;
}

int cudart_ipc_handle(struct cudart *rt, void *dev, int device,
                      unsigned char handle[CUDART_IPC_HANDLE_SIZE], struct pa_err *err)
{
    int rc = rt->set_device(device);

    if (rc != CUDA_SUCCESS)
        return pa_errorf(err, PA_EIO, "unable to set device to %d: %s", device,
                         error_string(rt, rc));
    memset(handle, 0, CUDART_IPC_HANDLE_SIZE);
    rc = rt->ipc_get_mem_handle(handle, dev);
    if (rc != CUDA_SUCCESS)
        return pa_errorf(err, PA_EIO, "unable to get IPC handle for device pointer: %s",
                         error_string(rt, rc));
    return PA_OK;
}

int cudart_copy_to_device(struct cudart *rt, void *dev, const void *src, size_t n,
                          const char *region, struct pa_err *err)
{
    int rc;

    if (n == 0)
        return PA_OK;
    rc = rt->memcpy_(dev, src, n, CUDA_MEMCPY_HOST_TO_DEVICE);
    if (rc != CUDA_SUCCESS)
        return pa_errorf(err, PA_EIO, "unable to copy data to cuda shared memory region '%s': %s",
                         region, error_string(rt, rc));
    return PA_OK;
}

int cudart_free(struct cudart *rt, void *dev, struct pa_err *err)
{
    int rc = rt->free_(dev);

    if (rc != CUDA_SUCCESS)
        return pa_errorf(err, PA_EIO, "%s", error_string(rt, rc));
    return PA_OK;
}
