/*
 * The CUDA runtime for --shared-memory cuda, loaded with dlopen at run time
 * (spec 09: "optional CUDA runtime loaded dynamically"), so perf_analyzer
 * has no build dependency on CUDA and runs without it as long as CUDA
 * shared memory is not asked for.
 *
 * The library is $PA_CUDART_PATH when set, else the first of libcudart.so,
 * libcudart.so.13, libcudart.so.12, libcudart.so.11.0 that loads. Only the calls the
 * original makes are used: cudaMalloc, cudaSetDevice, cudaIpcGetMemHandle,
 * cudaMemcpy (host to device), cudaFree, plus cudaGetErrorString for
 * messages when the library has it.
 *
 * Used from the thread that builds the dataset only.
 */
#ifndef PA_DATA_CUDART_H
#define PA_DATA_CUDART_H

#include <stddef.h>

#include "pa/status.h"

/* Size of a cudaIpcMemHandle_t, as sent to the server. */
#define CUDART_IPC_HANDLE_SIZE 64

/* Environment variable naming the libcudart to load. */
#define CUDART_PATH_ENV "PA_CUDART_PATH"

struct cudart;

/*
 * Loads the runtime. Without a usable one: PA_EUNSUPPORTED, "Cuda shared
 * memory is not supported: unable to load the CUDA runtime: <dlerror>".
 */
PA_MUST_CHECK int cudart_open(struct cudart **out, struct pa_err *err);
/* Unloads it; NULL is fine. Free every allocation first. */
void cudart_close(struct cudart *rt);

/* cudaMalloc on the current device (0 unless set): the original's message on failure. */
PA_MUST_CHECK int cudart_alloc(struct cudart *rt, size_t size, void **dev, struct pa_err *err);
/* cudaSetDevice(device) then cudaIpcGetMemHandle(dev) into handle. */
PA_MUST_CHECK int cudart_ipc_handle(struct cudart *rt, void *dev, int device,
                                    unsigned char handle[CUDART_IPC_HANDLE_SIZE],
                                    struct pa_err *err);
/* cudaMemcpy host to device; region names the target in the message. */
PA_MUST_CHECK int cudart_copy_to_device(struct cudart *rt, void *dev, const void *src, size_t n,
                                        const char *region, struct pa_err *err);
/* cudaFree; on failure the runtime's error text in err. */
PA_MUST_CHECK int cudart_free(struct cudart *rt, void *dev, struct pa_err *err);

#endif
