/*
 * The in-process Triton server behind --service-kind triton_c_api: loading
 * <dir>/lib/libtritonserver.so into a function table, starting the server
 * and the process-wide state the original keeps in its TritonLoader
 * singleton (spec protocols/05-triton-c-api.md §1, §4; spec 06 §5).
 *
 * There is one loader per process, shared by every client instance (the
 * control client and each worker's): capi_loader_acquire() takes a
 * reference and, while the server is not ready, (re)tries the whole
 * start-up; the last capi_loader_release() deletes the server and unloads
 * the library. The loader's own state (readiness, the loaded model, the
 * shared-memory registry) is guarded by an internal mutex; the function
 * table is written only by start-up and read-only afterwards, so callers use
 * it without locking while they hold a reference.
 *
 * Messages are the original's (they are asserted by the unit tests): a
 * start-up failure is recorded in the loader but, exactly as in r23.10, the
 * backend does not report it at open(); it surfaces later as "Model is not
 * loaded and/or server is not ready".
 */
#ifndef PA_CLIENT_CAPI_LOADER_H
#define PA_CLIENT_CAPI_LOADER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/capi_api.h"
#include "pa/status.h"

/* One pointer per entry point of CAPI_FUNCTIONS, named by its field. */
struct capi_fns {
#define CAPI_FIELD(field, symbol, type) type *field;
    CAPI_FUNCTIONS(CAPI_FIELD)
#undef CAPI_FIELD
};

/* A loaded library. dl is NULL when nothing is loaded. */
struct capi_lib {
    void *dl;
    struct capi_fns fn;
};

/* Library path for a server directory: "<dir>/lib/libtritonserver.so". */
#define CAPI_LIBRARY_SUFFIX "/lib/libtritonserver.so"

/*
 * Opens "<server_dir>/lib/libtritonserver.so" with dlopen(RTLD_NOW |
 * RTLD_LOCAL) and resolves every entry point. On failure nothing stays
 * loaded (dlclose on every path) and err holds the original's text:
 *   "Unable to find filepath: <path>"       (no such library file)
 *   "unable to load backend library: <dlerror()>"
 *   "unable to find required entrypoint '<name>' in backend library: <dlerror()>"
 */
PA_MUST_CHECK int capi_lib_open(struct capi_lib *lib, const char *server_dir, struct pa_err *err);
/* dlclose + clear; NULL or never-opened ok. */
void capi_lib_close(struct capi_lib *lib);

/*
 * API version check: major must equal CAPI_API_VERSION_MAJOR and minor be
 * at least CAPI_API_VERSION_MINOR, else "triton server API version
 * mismatch. \nExpected version major:1, minor:25\n  Actual version
 * major:<M>, minor:<m>" (the original's three-line text).
 */
PA_MUST_CHECK int capi_lib_check_version(const struct capi_lib *lib, struct pa_err *err);

/*
 * Formats a TRITONSERVER error as the original reports it ("<what>: <code
 * string> - <message>"), deletes it and returns PA_ESERVER.
 */
int capi_lib_error(const struct capi_lib *lib, TRITONSERVER_Error *e, const char *what,
                   struct pa_err *err);

/* ---- the process-wide loader ------------------------------------------- */

struct capi_loader;

struct capi_start {
    const char *server_dir;     /* --triton-server-directory */
    const char *model_repo;     /* --model-repository */
    bool verbose;               /* extra verbose (-v -v): server log verbose 1 + log info */
    unsigned poll_ms;           /* health polls apart; 0 = 500 (tests shorten it) */
};

/*
 * Takes a reference on the process's loader, starting the server if it is
 * not ready yet: paths checked ("Unable to find filepath: <path>" for the
 * directory, the repository and the library), library opened, version
 * checked, options set, server created, up to 10 health polls ("failed to
 * find healthy inference server"). Always sets *out (the reference is taken
 * even when start-up fails, as the original's backend keeps going); returns
 * PA_OK or the start-up failure, which is also kept for
 * capi_loader_start_error().
 */
int capi_loader_acquire(const struct capi_start *s, struct capi_loader **out, struct pa_err *err);
/* Drops a reference; the last one deletes the server and unloads the library. NULL ok. */
void capi_loader_release(struct capi_loader *l);

/* Valid while a reference is held and capi_loader_ready(). */
const struct capi_lib *capi_loader_lib(const struct capi_loader *l);
TRITONSERVER_Server *capi_loader_server(const struct capi_loader *l);
bool capi_loader_ready(struct capi_loader *l);
/* The last start-up failure, or NULL when start-up succeeded. */
const char *capi_loader_start_error(struct capi_loader *l);

/*
 * Model version string to number (spec 02 §1.6): "" -> 1; not an integer
 * -> "Failed to get model version from specified version string '<v>'
 * (details: stol), version should be an integral value > 0"; negative ->
 * "invalid model version specified '<v>' , version should be an integral
 * value > 0".
 */
PA_MUST_CHECK int capi_parse_version(const char *s, int64_t *out, struct pa_err *err);

/*
 * Control plane (blocking), with the original's semantics: the first
 * metadata or config call "loads" the model (waits up to 10 polls for it to
 * be ready, errors ignored), after which the loaded (name, version) is used
 * for metadata. *out is a new cJSON tree the caller deletes.
 */
PA_MUST_CHECK int capi_loader_server_metadata(struct capi_loader *l, cJSON **out,
                                              struct pa_err *err);
PA_MUST_CHECK int capi_loader_model_metadata(struct capi_loader *l, const char *name,
                                             const char *version, cJSON **out,
                                             struct pa_err *err);
PA_MUST_CHECK int capi_loader_model_config(struct capi_loader *l, const char *name,
                                           const char *version, cJSON **out, struct pa_err *err);
/* name "" or NULL = all models. */
PA_MUST_CHECK int capi_loader_model_statistics(struct capi_loader *l, const char *name,
                                               const char *version, cJSON **out,
                                               struct pa_err *err);

/*
 * In-process "shared memory" (spec 05 §9): the region's POSIX object (key)
 * is mapped into this process and registered under name; requests then
 * hand its address to the server as CPU memory. Process-wide, like the
 * server.
 */
PA_MUST_CHECK int capi_loader_shm_register(struct capi_loader *l, const char *name,
                                           const char *key, uint64_t offset, uint64_t byte_size,
                                           struct pa_err *err);
/* name NULL = all. Unknown names are ignored. */
void capi_loader_shm_unregister(struct capi_loader *l, const char *name);
/*
 * Address and size of [offset, end) of a registered region. Unknown name ->
 * "Unable to find shared memory region: '<name>'".
 */
PA_MUST_CHECK int capi_loader_shm_find(struct capi_loader *l, const char *name, uint64_t offset,
                                       void **base, uint64_t *byte_size, struct pa_err *err);

#endif
