/*
 * Open MPI through dlopen (see mpi.h for the contract; spec 03 §9).
 *
 * The library is opened RTLD_GLOBAL because Open MPI loads its own
 * components (shared objects of the MCA framework) that resolve libmpi's
 * symbols from the global scope. Every entry point is resolved at
 * mpi_init, so a library that lacks one fails there with the original's
 * "Unable to obtain address of ..." text instead of at the first barrier.
 *
 * The handle is never closed once MPI_Init ran: Open MPI can leave exit
 * handlers and threads pointing into the library after MPI_Finalize, and
 * the original never unloads it either. A library that failed before
 * MPI_Init is closed at once.
 *
 * MPI return codes are not checked, as in the original: Open MPI's default
 * error handler (MPI_ERRORS_ARE_FATAL) aborts the whole job on a failure
 * before the call returns.
 */
#include "measure/mpi.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#include "core/banned.h"

/* Open MPI's MPI_Comm and MPI_Datatype are pointers to opaque structs. */
typedef int mpi_init_fn(int *argc, char ***argv);
typedef int mpi_comm_int_fn(void *comm, int *out);
typedef int mpi_barrier_fn(void *comm);
typedef int mpi_bcast_fn(void *buf, int count, void *datatype, int root, void *comm);
typedef int mpi_finalize_fn(void);
typedef int mpi_initialized_fn(int *flag);

struct mpi_lib {
    void *dl;
    mpi_init_fn *init;
    mpi_comm_int_fn *comm_size;
    mpi_comm_int_fn *comm_rank;
    mpi_barrier_fn *barrier;
    mpi_bcast_fn *bcast;
    mpi_finalize_fn *finalize;
    mpi_initialized_fn *is_initialized;
    void *comm_world; /* &ompi_mpi_comm_world, i.e. MPI_COMM_WORLD */
    void *int_type;   /* &ompi_mpi_int, i.e. MPI_INT */
};

_Static_assert(sizeof(void *) == sizeof(mpi_init_fn *),
               "function and object pointers differ in size");

static int symbol(void *dl, const char *name, void *out, size_t size, struct pa_err *err)
{
    void *sym = dlsym(dl, name);
    if (!sym)
        return pa_errorf(err, PA_EINVAL, "Unable to obtain address of `%s` symbol.", name);
    /* POSIX guarantees the round trip; memcpy avoids the object-to-function cast. */
    memcpy(out, &sym, size);
    return PA_OK;
}

static int resolve(struct mpi_lib *l, struct pa_err *err)
{
#define SYM(name, field)                                                   \
    do {                                                                   \
        int rc_ = symbol(l->dl, name, &l->field, sizeof(l->field), err);   \
        if (rc_)                                                           \
            return rc_;                                                    \
    } while (0)
    SYM("MPI_Init", init);
    SYM("MPI_Comm_size", comm_size);
    SYM("MPI_Comm_rank", comm_rank);
    SYM("MPI_Barrier", barrier);
    SYM("MPI_Bcast", bcast);
    SYM("MPI_Finalize", finalize);
    SYM("MPI_Initialized", is_initialized);
    SYM("ompi_mpi_comm_world", comm_world);
    SYM("ompi_mpi_int", int_type);
#undef SYM
    return PA_OK;
}

int mpi_init(struct mpi *m, struct pa_err *err)
{
    m->rank = 0;
    m->size = 1;
    m->lib = NULL;
    m->flags = NULL;
    m->initialized = false;
    if (!m->enabled)
        return PA_OK;

    struct mpi_lib *l = xcalloc(1, sizeof(*l));
    l->dl = dlopen(m->library ? m->library : PA_MPI_LIBRARY, RTLD_LAZY | RTLD_GLOBAL);
    if (!l->dl) {
        free(l);
        return pa_errorf(err, PA_EINVAL,
                         "Unable to load MPI library. If you are trying to run with MPI / "
                         "multiple models, check that '" PA_MPI_LIBRARY
                         "' is on `LD_LIBRARY_PATH` environment variable path.");
    }
    int rc = resolve(l, err);
    if (rc) {
        dlclose(l->dl);
        free(l);
        return rc;
    }

    /* MPI_Init with no arguments is valid since MPI-2; ours are already parsed. */
    int already = 0;
    l->is_initialized(&already);
    if (!already && l->init(NULL, NULL) != 0) {
        dlclose(l->dl);
        free(l);
        return pa_errorf(err, PA_EINTERNAL, "MPI_Init failed");
    }
    int size = 1, rank = 0;
    l->comm_size(l->comm_world, &size);
    l->comm_rank(l->comm_world, &rank);
    if (size < 1 || rank < 0 || rank >= size) {
        /* Only a broken library gets here; finalize what we started. */
        l->finalize();
        free(l);
        return pa_errorf(err, PA_EINTERNAL, "MPI reported rank %d of a world of size %d", rank,
                         size);
    }
    m->lib = l;
    m->size = size;
    m->rank = rank;
    m->flags = xcalloc((size_t)size, sizeof(*m->flags));
    m->initialized = true;
    return PA_OK;
}

bool mpi_is_run(const struct mpi *m)
{
    return m && m->enabled && m->initialized && m->size > 1;
}

void mpi_barrier(struct mpi *m)
{
    if (m->initialized)
        m->lib->barrier(m->lib->comm_world);
}

bool mpi_all_stable(struct mpi *m, bool mine)
{
    if (!m->initialized)
        return mine;
    /* Each rank owns its slot; the broadcast rooted at r fills slot r everywhere. */
    memset(m->flags, 0, (size_t)m->size * sizeof(*m->flags));
    m->flags[m->rank] = mine ? 1 : 0;
    for (int r = 0; r < m->size; r++)
        m->lib->bcast(&m->flags[r], 1, m->lib->int_type, r, m->lib->comm_world);
    for (int r = 0; r < m->size; r++)
        if (!m->flags[r])
            return false;
    return true;
}

void mpi_finalize(struct mpi *m)
{
    if (!m->initialized)
        return;
    m->lib->finalize();
    m->initialized = false;
    /* The library stays loaded (see the top of this file). */
    free(m->lib);
    m->lib = NULL;
    free(m->flags);
    m->flags = NULL;
}
