/*
 * Shared memory for --shared-memory system|cuda (spec 05 §9): regions named
 * after the tensors, registered with the server through the control client
 * and removed on release and on every error path. System regions are POSIX
 * shared memory objects; CUDA regions are device memory of the runtime in
 * priv->cuda (cudart.h), registered by IPC handle.
 *
 * A process-wide list of the keys currently created is kept so that a fatal
 * signal can still remove them: data_shm_unlink_all() is async-signal-safe
 * (it only walks a list published with atomics and calls shm_unlink) and
 * may be called from a signal handler or any thread.
 */
#ifndef PA_DATA_SHM_H
#define PA_DATA_SHM_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/options.h"
#include "model/model.h"
#include "pa/client.h"
#include "pa/status.h"

struct dataset_priv;
struct pa_dataset;

/* Unlinks every region this process created and has not released yet. */
void data_shm_unlink_all(void);

/*
 * Moves every input payload of the assembled ds into its own region
 * ("<input>_<stream>_<step>"), creates one region per output ("<output>"),
 * registers them all through control and points the descriptions at them.
 * opts->shared_memory chooses the kind; for CUDA, priv->cuda must hold the
 * loaded runtime (dataset_build hands it over). Errors: the original's
 * texts; regions created so far are left in priv for data_shm_teardown.
 */
PA_MUST_CHECK int data_shm_setup(struct pa_dataset *ds, const struct pa_options *opts,
                                 const struct pa_model *model, struct pa_client *control,
                                 struct pa_err *err);

/*
 * Unregisters all regions on the server (when registration began), then
 * unmaps and unlinks system regions or frees device memory and unloads the
 * CUDA runtime.
 */
void data_shm_teardown(struct dataset_priv *priv, struct pa_client *control);

/* The original's region name of a tensor: the name without any '/' or '\'. */
void data_shm_tensor_name(const char *tensor, char *out, size_t out_size);

#endif
