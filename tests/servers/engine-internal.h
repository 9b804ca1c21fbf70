/*
 * Engine internals shared by engine*.c only. Front ends use engine.h.
 */
#ifndef PA_TEST_SERVER_ENGINE_INTERNAL_H
#define PA_TEST_SERVER_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine.h"

#define ENGINE_MAX_MODELS 64
#define ENGINE_MAX_REGIONS 256
#define ENGINE_MAX_SEQUENCES 1024
#define ENGINE_MAX_BATCH_STATS 16

/* Counters of one (model, version); guarded by engine_model.stats_lock. */
struct version_stats {
    int64_t version;
    struct engine_model_stats s;
};

/*
 * One live correlation id of a sequence model. Requests of a sequence take
 * a ticket on arrival and run when `serving` reaches it, so they execute in
 * arrival order and never concurrently (spec 07 §5).
 */
struct seq_slot {
    bool in_use;
    bool active;                  /* sequence started and not ended/expired */
    struct engine_corr_id id;
    int64_t sum;                  /* accumulate model state */
    uint64_t last_ns;             /* last request, for the idle timeout */
    uint64_t next_ticket;
    uint64_t serving;
    unsigned waiters;             /* requests holding a ticket */
};

struct engine_model {
    struct engine_model_info info;
    struct engine *e;
    bool final_with_data;         /* decoupled: last data response is final */
    uint64_t delay_min_ns, delay_max_ns; /* from the model file or --delay-ms M=... */
    bool delay_set;
    const struct engine_model *step_models[8]; /* ensemble steps, resolved */

    pthread_mutex_t stats_lock;
    struct version_stats *vstats; /* one per version */

    pthread_mutex_t seq_lock;
    pthread_cond_t seq_cond;
    struct seq_slot *seqs;        /* ENGINE_MAX_SEQUENCES, sequence models only */
};

struct shm_region {
    bool used;
    bool cuda;
    char name[ENGINE_NAME_MAX];
    char key[ENGINE_NAME_MAX];
    uint64_t offset;
    uint64_t byte_size;
    int64_t device_id;
    unsigned char *base;          /* start of the region (mapping + offset adjustment) */
    void *map;                    /* system: mmap result; CUDA: device pointer */
    size_t map_len;
};

/* cudaIpcMemHandle_t: passed by value to cudaIpcOpenMemHandle. */
struct cuda_ipc_handle {
    char reserved[64];
};

/* libcudart entry points we use, resolved with dlsym. */
struct cudart {
    void *dl;
    int (*set_device)(int);
    int (*ipc_open)(void **, struct cuda_ipc_handle, unsigned);
    int (*ipc_close)(void *);
    int (*memcpy_)(void *, const void *, size_t, int);
    const char *(*error_string)(int);
};

struct engine {
    struct engine_model *models[ENGINE_MAX_MODELS];
    size_t n_models;
    struct engine_knobs knobs;
    uint64_t start_ns;
    atomic_uint_fast64_t infer_counter; /* for drop_every */

    pthread_rwlock_t shm_lock;
    struct shm_region regions[ENGINE_MAX_REGIONS];
    pthread_mutex_t cuda_lock;    /* loading libcudart */
    struct cudart cuda;
    char *cudart_path;

    pthread_mutex_t trace_lock;
    cJSON *trace_global;
    cJSON *trace_models;          /* object: model -> partial settings */
};

/* engine_models.c */
int models_load_dir(struct engine *e, const char *dir, char *err, size_t errlen);
void model_free(struct engine_model *m);

/* engine.c */
struct version_stats *model_vstats(struct engine_model *m, int64_t version);

/* engine_shm.c: resolve a region under the shared lock held by the caller. */
struct shm_region *shm_find_locked(struct engine *e, const char *name);
int shm_read(struct engine *e, const struct shm_region *r, uint64_t off, uint64_t size,
             const void **data, void *tmp, struct engine_status *st);
int shm_write(struct engine *e, const struct shm_region *r, uint64_t off, const void *data,
              size_t size, struct engine_status *st);
void shm_release_all(struct engine *e);
void trace_free(struct engine *e);

#endif
