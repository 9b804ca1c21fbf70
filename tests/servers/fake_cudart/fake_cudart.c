/*
 * Fake libcudart.so for tests without a GPU.
 *
 * "Device memory" is a POSIX shared-memory segment: cudaMalloc creates and
 * maps one, cudaIpcGetMemHandle writes its name into the 64-byte handle,
 * and cudaIpcOpenMemHandle in another process maps the same segment. So the
 * CUDA shared-memory flow (client allocates, registers the handle, server
 * opens it, both copy with cudaMemcpy) runs for real between processes.
 * Two fake devices exist (0 and 1). Only the entry points perf_analyzer
 * and pa-test-server use are provided; error codes follow cudaError_t
 * (0 success, 1 cudaErrorInvalidValue, 2 cudaErrorMemoryAllocation,
 * 101 cudaErrorInvalidDevice).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAKE_MAGIC "PAFK"
#define MAX_ALLOCS 1024

enum { OK = 0, E_INVALID = 1, E_ALLOC = 2, E_DEVICE = 101 };

struct cudaIpcMemHandle_st {
    char reserved[64];
};

struct alloc {
    void *ptr;
    size_t size;
    char name[56];
    int owner; /* created by cudaMalloc here (unlink on free) */
};

static struct alloc allocs[MAX_ALLOCS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint counter;
static _Thread_local int current_device;

/* Every exported symbol is declared here first (-Wmissing-prototypes). */
int cudaMalloc(void **p, size_t size);
int cudaFree(void *p);
int cudaIpcGetMemHandle(struct cudaIpcMemHandle_st *h, void *p);
int cudaIpcOpenMemHandle(void **p, struct cudaIpcMemHandle_st h, unsigned flags);
int cudaIpcCloseMemHandle(void *p);
int cudaMemcpy(void *dst, const void *src, size_t n, int kind);
int cudaMemcpyAsync(void *dst, const void *src, size_t n, int kind, void *stream);
int cudaMemset(void *p, int v, size_t n);
int cudaSetDevice(int d);
int cudaGetDevice(int *d);
int cudaGetDeviceCount(int *n);
int cudaDeviceSynchronize(void);
int cudaGetLastError(void);
int cudaStreamCreate(void **s);
int cudaStreamDestroy(void *s);
int cudaStreamSynchronize(void *s);
int cudaRuntimeGetVersion(int *v);
int cudaDriverGetVersion(int *v);
const char *cudaGetErrorString(int e);
const char *cudaGetErrorName(int e);

static struct alloc *slot_for(const void *p)
{
    for (size_t i = 0; i < MAX_ALLOCS; i++)
        if (allocs[i].ptr && allocs[i].ptr == p)
            return &allocs[i];
    return NULL;
}

static struct alloc *new_slot(void)
{
    for (size_t i = 0; i < MAX_ALLOCS; i++)
        if (!allocs[i].ptr)
            return &allocs[i];
    return NULL;
}

static void *map_segment(const char *name, int create, size_t *size)
{
    int fd = shm_open(name, create ? O_RDWR | O_CREAT | O_EXCL : O_RDWR, 0600);
    struct stat sb;
    void *p;
    if (fd < 0)
        return NULL;
    if (create && ftruncate(fd, (off_t)(*size ? *size : 1))) {
        close(fd);
        shm_unlink(name);
        return NULL;
    }
    if (!create) {
        if (fstat(fd, &sb)) {
            close(fd);
            return NULL;
        }
        *size = (size_t)sb.st_size;
    }
    p = mmap(NULL, *size ? *size : 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        if (create)
            shm_unlink(name);
        return NULL;
    }
    return p;
}

int cudaMalloc(void **p, size_t size)
{
    struct alloc *a;
    char name[56];
    size_t sz = size;
    void *mem;
    snprintf(name, sizeof(name), "/pa_fake_cuda_%ld_%u", (long)getpid(),
             atomic_fetch_add(&counter, 1));
    mem = map_segment(name, 1, &sz);
    if (!mem)
        return E_ALLOC;
    pthread_mutex_lock(&lock);
    a = new_slot();
    if (a) {
        a->ptr = mem;
        a->size = sz ? sz : 1;
        a->owner = 1;
        snprintf(a->name, sizeof(a->name), "%s", name);
    }
    pthread_mutex_unlock(&lock);
    if (!a) {
        munmap(mem, sz ? sz : 1);
        shm_unlink(name);
        return E_ALLOC;
    }
    *p = mem;
    return OK;
}

static int release(void *p, int want_owner)
{
    struct alloc a, *s;
    pthread_mutex_lock(&lock);
    s = p ? slot_for(p) : NULL;
    if (!s || s->owner != want_owner) {
        pthread_mutex_unlock(&lock);
        return p ? E_INVALID : OK;
    }
    a = *s;
    memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&lock);
    munmap(a.ptr, a.size);
    if (a.owner)
        shm_unlink(a.name);
    return OK;
}

int cudaFree(void *p)
{
    return release(p, 1);
}

int cudaIpcGetMemHandle(struct cudaIpcMemHandle_st *h, void *p)
{
    struct alloc *a;
    int rc = E_INVALID;
    pthread_mutex_lock(&lock);
    a = slot_for(p);
    if (a && h) {
        memset(h->reserved, 0, sizeof(h->reserved));
        memcpy(h->reserved, FAKE_MAGIC, 4);
        snprintf(h->reserved + 4, sizeof(h->reserved) - 4, "%s", a->name);
        rc = OK;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int cudaIpcOpenMemHandle(void **p, struct cudaIpcMemHandle_st h, unsigned flags)
{
    char name[60];
    size_t size = 0;
    struct alloc *a;
    void *mem;
    (void)flags;
    if (memcmp(h.reserved, FAKE_MAGIC, 4) || !memchr(h.reserved + 4, '\0', 60))
        return E_INVALID;
    memcpy(name, h.reserved + 4, sizeof(name));
    mem = map_segment(name, 0, &size);
    if (!mem)
        return E_INVALID;
    pthread_mutex_lock(&lock);
    a = new_slot();
    if (a) {
        a->ptr = mem;
        a->size = size ? size : 1;
        a->owner = 0;
        snprintf(a->name, sizeof(a->name), "%s", name);
    }
    pthread_mutex_unlock(&lock);
    if (!a) {
        munmap(mem, size ? size : 1);
        return E_ALLOC;
    }
    *p = mem;
    return OK;
}

int cudaIpcCloseMemHandle(void *p)
{
    return release(p, 0);
}

int cudaMemcpy(void *dst, const void *src, size_t n, int kind)
{
    if (kind < 0 || kind > 4 || (n && (!dst || !src)))
        return E_INVALID;
    if (n)
        memmove(dst, src, n);
    return OK;
}

int cudaMemcpyAsync(void *dst, const void *src, size_t n, int kind, void *stream)
{
    (void)stream;
    return cudaMemcpy(dst, src, n, kind);
}

int cudaMemset(void *p, int v, size_t n)
{
    if (n && !p)
        return E_INVALID;
    memset(p, v, n);
    return OK;
}

int cudaSetDevice(int d)
{
    if (d < 0 || d > 1)
        return E_DEVICE;
    current_device = d;
    return OK;
}

int cudaGetDevice(int *d)
{
    *d = current_device;
    return OK;
}

int cudaGetDeviceCount(int *n)
{
    *n = 2;
    return OK;
}

int cudaDeviceSynchronize(void)
{
    return OK;
}

int cudaGetLastError(void)
{
    return OK;
}

int cudaStreamCreate(void **s)
{
    static int token;
    *s = &token;
    return OK;
}

int cudaStreamDestroy(void *s)
{
    (void)s;
    return OK;
}

int cudaStreamSynchronize(void *s)
{
    (void)s;
    return OK;
}

int cudaRuntimeGetVersion(int *v)
{
    *v = 12020;
    return OK;
}

int cudaDriverGetVersion(int *v)
{
    *v = 12020;
    return OK;
}

const char *cudaGetErrorString(int e)
{
    switch (e) {
    case OK: return "no error";
    case E_INVALID: return "invalid argument";
    case E_ALLOC: return "out of memory";
    case E_DEVICE: return "invalid device ordinal";
    default: return "unknown error";
    }
}

const char *cudaGetErrorName(int e)
{
    switch (e) {
    case OK: return "cudaSuccess";
    case E_INVALID: return "cudaErrorInvalidValue";
    case E_ALLOC: return "cudaErrorMemoryAllocation";
    case E_DEVICE: return "cudaErrorInvalidDevice";
    default: return "cudaErrorUnknown";
    }
}
