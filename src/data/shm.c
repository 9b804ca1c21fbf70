/*
 * Shared memory regions, system and CUDA (see shm.h).
 *
 * System: keys are "/<region>" as the original creates them: O_CREAT
 * without O_EXCL, owner read/write, so a region left behind by a killed run
 * is simply reused. Each key is published in a lock-free list before the
 * region is sized, so data_shm_unlink_all() from a signal handler sees every
 * region that may exist on disk. List nodes are never freed (a handler may
 * be walking them); released nodes are marked free and reused.
 *
 * CUDA: the same regions (names, sizes, order), but each is device memory
 * on GPU 0 from the dlopen'ed runtime (cudart.h), registered by its IPC
 * handle; inputs are copied host to device. Device memory is freed after
 * the server has unregistered it. Nothing of it is on disk for a signal
 * handler to remove (the driver frees it when the process ends).
 */
#include "data/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "data/cudart.h"
#include "data/data-internal.h"
#include "data/datatype.h"
#include "core/banned.h"

#define SHM_KEY_MAX 256 /* "/" + NAME_MAX + NUL */

enum { KEY_FREE, KEY_CLAIMED, KEY_LIVE };

struct key_node {
    struct key_node *next; /* immutable once published */
    atomic_int state;
    char key[SHM_KEY_MAX];
};

static _Atomic(struct key_node *) key_head;

struct shm_region {
    char *name;            /* region name as registered (arena) */
    char key[SHM_KEY_MAX]; /* system: "/<name>"; CUDA: "" */
    void *addr;            /* system: mapping (NULL when size is 0) */
    void *dev;             /* CUDA: device pointer from cudaMalloc */
    size_t size;
    struct key_node *node;
};

static struct key_node *key_publish(const char *key)
{
    struct key_node *n;

    for (n = atomic_load(&key_head); n; n = n->next) {
        int expect = KEY_FREE;
        if (atomic_compare_exchange_strong(&n->state, &expect, KEY_CLAIMED))
            break;
    }
    if (!n) {
        n = xcalloc(1, sizeof(*n));
        atomic_init(&n->state, KEY_CLAIMED);
        n->next = atomic_load(&key_head);
        while (!atomic_compare_exchange_weak(&key_head, &n->next, n))
            ;
    }
    snprintf(n->key, sizeof(n->key), "%s", key);
    atomic_store(&n->state, KEY_LIVE);
    return n;
}

static void key_retire(struct key_node *n)
{
    if (n)
        atomic_store(&n->state, KEY_FREE);
}

void data_shm_unlink_all(void)
{
    for (struct key_node *n = atomic_load(&key_head); n; n = n->next)
        if (atomic_load(&n->state) == KEY_LIVE)
            (void)shm_unlink(n->key);
}

void data_shm_tensor_name(const char *tensor, char *out, size_t out_size)
{
    size_t n = 0;

    if (out_size == 0)
        return;
    for (; *tensor && n + 1 < out_size; tensor++)
        if (*tensor != '/' && *tensor != '\\')
            out[n++] = *tensor;
    out[n] = '\0';
}

static struct shm_region *region_add(struct dataset_priv *priv)
{
    if (priv->n_regions == priv->cap_regions) {
        priv->cap_regions = priv->cap_regions ? priv->cap_regions * 2 : 16;
        priv->regions = xreallocarray(priv->regions, priv->cap_regions, sizeof(*priv->regions));
    }
    struct shm_region *r = &priv->regions[priv->n_regions];
    memset(r, 0, sizeof(*r));
    return r;
}

/* Device memory for one region; on failure nothing is left to free. */
static int region_create_cuda(struct dataset_priv *priv, struct shm_region *r,
                              struct shm_region **out, struct pa_err *err)
{
    int rc = cudart_alloc(priv->cuda, r->size, &r->dev, err);

    if (rc != PA_OK)
        return rc;
    priv->n_regions++; /* from here on teardown frees it */
    *out = r;
    return PA_OK;
}

/* Creates, sizes and maps one region; on failure it is left for teardown. */
static int region_create(struct dataset_priv *priv, const char *name, size_t size,
                         struct shm_region **out, struct pa_err *err)
{
    struct shm_region *r;
    int fd, e;

    if (strlen(name) + 2 > SHM_KEY_MAX)
        return pa_errorf(err, PA_EIO, "shared memory region name '%s' is too long", name);
    if ((uint64_t)size > (uint64_t)INT64_MAX)
        return pa_errorf(err, PA_EIO, "shared memory region '%s' is too large", name);
    r = region_add(priv);
    r->name = data_arena_strdup(&priv->arena, name);
    r->size = size;
    if (priv->cuda)
        return region_create_cuda(priv, r, out, err);
    snprintf(r->key, sizeof(r->key), "/%s", name);

    fd = shm_open(r->key, O_RDWR | O_CREAT, S_IRUSR | S_IWUSR);
    if (fd < 0)
        return pa_errorf(err, PA_EIO, "unable to create shared memory region '%s': %s", r->key,
                         strerror(errno));
    r->node = key_publish(r->key);
    priv->n_regions++; /* from here on teardown unlinks it */
    if (ftruncate(fd, (off_t)size) != 0) {
        e = errno;
        close(fd);
        return pa_errorf(err, PA_EIO, "unable to initialize the size of shared memory region "
                         "'%s' to %zu bytes: %s", r->key, size, strerror(e));
    }
    if (size) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            e = errno;
            close(fd);
            return pa_errorf(err, PA_EIO, "unable to map shared memory region '%s': %s",
                             r->key, strerror(e));
        }
        r->addr = p;
    }
    close(fd);
    *out = r;
    return PA_OK;
}

/* Copies len bytes of payload to the start of region r. */
static int region_fill(struct dataset_priv *priv, struct shm_region *r, const void *data,
                       size_t len, struct pa_err *err)
{
    if (priv->cuda)
        return cudart_copy_to_device(priv->cuda, r->dev, data, len, r->name, err);
    if (len)
        memcpy(r->addr, data, len);
    return PA_OK;
}

static int region_register(struct dataset_priv *priv, struct pa_client *control,
                           const struct shm_region *r, struct pa_err *err)
{
    const struct pa_client_ops *ops = control->backend->ops;
    unsigned char handle[CUDART_IPC_HANDLE_SIZE];
    int rc;

    if (!priv->cuda)
        return ops->register_system_shm(control, r->name, r->key, 0, (uint64_t)r->size, err);
    /* The original's CreateCUDAIPCHandle: select GPU 0, then take the handle. */
    rc = cudart_ipc_handle(priv->cuda, r->dev, 0, handle, err);
    if (rc != PA_OK)
        return rc;
    return ops->register_cuda_shm(control, r->name, handle, sizeof(handle), 0,
                                  (uint64_t)r->size, err);
}

static void unregister_all(struct pa_client *control)
{
    const struct pa_client_ops *ops = control->backend->ops;
    struct pa_err ignored;

    if (ops->unregister_system_shm)
        (void)ops->unregister_system_shm(control, NULL, &ignored);
    if (ops->unregister_cuda_shm)
        (void)ops->unregister_cuda_shm(control, NULL, &ignored);
}

static size_t batch_steps(const struct pa_options *opts, const struct pa_model *m)
{
    return m->max_batch_size > 0 && opts->batch_size > 0 ? (size_t)opts->batch_size : 1;
}

static int setup_outputs(struct dataset_priv *priv, const struct pa_options *opts,
                         const struct pa_model *m, struct pa_client *control,
                         struct pa_err *err)
{
    size_t b = batch_steps(opts, m);
    char name[SHM_KEY_MAX];

    for (size_t j = 0; j < m->n_outputs; j++) {
        const struct pa_tensor_info *info = &m->outputs[j];
        size_t one, size;
        struct shm_region *r;
        int rc;

        /* BYTES and variable-shape outputs get --output-shared-memory-size per batch entry. */
        if (shape_byte_size(info->shape, info->rank, datatype_from_name(info->datatype),
                            &one) != SHAPE_OK) {
            if (opts->output_shm_size > SIZE_MAX)
                return pa_errorf(err, PA_EIO, "--output-shared-memory-size is too large");
            one = (size_t)opts->output_shm_size;
        }
        if (__builtin_mul_overflow(one, b, &size))
            return pa_errorf(err, PA_EIO, "shared memory for output '%s' is too large",
                             info->name);
        data_shm_tensor_name(info->name, name, sizeof(name));
        rc = region_create(priv, name, size, &r, err);
        if (rc == PA_OK)
            rc = region_register(priv, control, r, err);
        if (rc != PA_OK)
            return rc;
        priv->outputs[j].shm_region = r->name;
        priv->outputs[j].shm_byte_size = (uint64_t)size;
        priv->outputs[j].shm_offset = 0;
    }
    return PA_OK;
}

static int setup_inputs(struct pa_dataset *ds, const struct pa_model *m,
                        struct pa_client *control, struct pa_err *err)
{
    struct dataset_priv *priv = ds->priv;
    char tn[SHM_KEY_MAX], name[SHM_KEY_MAX + 64];

    /* Input-major order, as the original creates them. */
    for (size_t i = 0; i < m->n_inputs; i++) {
        data_shm_tensor_name(m->inputs[i].name, tn, sizeof(tn));
        for (size_t s = 0; s < ds->n_streams; s++) {
            for (size_t k = 0; k < ds->streams[s].n_steps; k++) {
                struct pa_input *in = &priv->input_pools[s][k * priv->n_inputs + i];
                struct shm_region *r;
                int rc;

                snprintf(name, sizeof(name), "%s_%zu_%zu", tn, s, k);
                rc = region_create(priv, name, in->byte_size, &r, err);
                if (rc == PA_OK)
                    rc = region_fill(priv, r, in->data, in->byte_size, err);
                if (rc == PA_OK)
                    rc = region_register(priv, control, r, err);
                if (rc != PA_OK)
                    return rc;
                in->data = NULL;
                in->shm_region = r->name;
                in->shm_offset = 0;
            }
        }
    }
    return PA_OK;
}

int data_shm_setup(struct pa_dataset *ds, const struct pa_options *opts,
                   const struct pa_model *model, struct pa_client *control,
                   struct pa_err *err)
{
    struct dataset_priv *priv = ds->priv;
    bool cuda = opts->shared_memory == PA_SHM_CUDA;
    const struct pa_client_ops *ops;
    int rc;

    for (size_t i = 0; i < model->n_inputs; i++)
        if (model->inputs[i].optional)
            return pa_errorf(err, PA_EUNSUPPORTED,
                             "Shared memory support in Perf Analyzer does not support optional "
                             "inputs at this time");
    if (!control)
        return pa_errorf(err, PA_EINTERNAL, "shared memory needs a control client");
    if (cuda && !priv->cuda)
        return pa_errorf(err, PA_EINTERNAL, "CUDA shared memory needs the CUDA runtime");
    ops = control->backend->ops;
    if (cuda ? !ops->register_cuda_shm : !ops->register_system_shm)
        return pa_errorf(err, PA_EUNSUPPORTED,
                         "client backend of kind %s does not support CreateSharedMemoryRegion()",
                         control->backend->kind);

    /* Leftovers of an earlier run would clash with our names: start clean. */
    unregister_all(control);
    priv->shm_registering = true;
    rc = setup_outputs(priv, opts, model, control, err);
    if (rc == PA_OK)
        rc = setup_inputs(ds, model, control, err);
    return rc;
}

void data_shm_teardown(struct dataset_priv *priv, struct pa_client *control)
{
    if (priv->shm_registering && control) {
        const struct pa_client_ops *ops = control->backend->ops;
        struct pa_err e;
        bool failed = false;

        if (ops->unregister_system_shm && ops->unregister_system_shm(control, NULL, &e) != PA_OK)
            failed = true;
        if (ops->unregister_cuda_shm && ops->unregister_cuda_shm(control, NULL, &e) != PA_OK)
            failed = true;
        if (failed)
            log_warnx("Unable to unregister all shared memory regions");
    }
    for (size_t i = 0; i < priv->n_regions; i++) {
        struct shm_region *r = &priv->regions[i];
        struct pa_err e;

        if (priv->cuda) {
            if (cudart_free(priv->cuda, r->dev, &e) != PA_OK)
                log_warnx("unable to free cuda shared memory region '%s': %s", r->name, e.msg);
            continue;
        }
        if (r->addr && munmap(r->addr, r->size) != 0)
            log_warnx("Unable to unmap shared memory with key (%s): Starting: %p, size: %zu",
                      r->name, r->addr, r->size);
        if (shm_unlink(r->key) != 0 && errno != ENOENT)
            log_warnx("Unable to unlink shared memory with key: %s", r->name);
        key_retire(r->node);
    }
    cudart_close(priv->cuda);
    priv->cuda = NULL;
    free(priv->regions);
    priv->regions = NULL;
    priv->n_regions = priv->cap_regions = 0;
    priv->shm_registering = false;
}
