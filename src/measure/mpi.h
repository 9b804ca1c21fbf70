/*
 * --enable-mpi (spec 03-measurement.md §9): several perf_analyzer processes
 * started by mpirun/mpiexec, one model each, that keep loading the server
 * until every one of them has a stable measurement.
 *
 * Open MPI is loaded at run time with dlopen("libmpi.so"), as the original
 * does, so the program neither links nor needs MPI unless --enable-mpi is
 * given. Only the Open MPI ABI is supported: MPI_COMM_WORLD and MPI_INT are
 * the addresses of the library's ompi_mpi_comm_world and ompi_mpi_int.
 *
 * Lifecycle, all on the main thread:
 *
 *     struct mpi m = {.enabled = opts->enable_mpi};
 *     mpi_init(&m, err);         right after option parsing
 *     mpi_barrier(&m);           before profiling starts
 *     ... per window: done = mpi_is_run(&m) ? mpi_all_stable(&m, stable) : stable
 *     mpi_barrier(&m);           after profiling ends
 *     mpi_finalize(&m);
 *
 * With enabled false every call is a no-op and mpi_is_run() is false.
 */
#ifndef PA_MEASURE_MPI_H
#define PA_MEASURE_MPI_H

#include <stdbool.h>

#include "pa/status.h"

/* What the original dlopens; the missing-library message names it too. */
#define PA_MPI_LIBRARY "libmpi.so"

struct mpi_lib;

struct mpi {
    /* Set by the caller before mpi_init. */
    bool enabled;        /* --enable-mpi */
    const char *library; /* NULL: PA_MPI_LIBRARY (tests load a fake by path) */

    /* Read-only after mpi_init; meaningful only while initialized. */
    int rank;
    int size;

    /* Private. */
    struct mpi_lib *lib;
    int *flags;          /* one stability flag per rank, allocated once */
    bool initialized;    /* MPI_Init succeeded and MPI_Finalize not yet called */
};

/*
 * Loads the library, resolves the Open MPI symbols and calls MPI_Init, then
 * reads the world size and this process's rank. No-op when !m->enabled.
 * Errors (exit 99): the original's "Unable to load MPI library. ..." when
 * the library cannot be loaded, "Unable to obtain address of `<sym>`
 * symbol." when one of the entry points is missing.
 */
PA_MUST_CHECK int mpi_init(struct mpi *m, struct pa_err *err);

/* An "MPI run": enabled, initialized and more than one rank. NULL: false. */
bool mpi_is_run(const struct mpi *m);

/* MPI_Barrier on MPI_COMM_WORLD; no-op unless initialized. */
void mpi_barrier(struct mpi *m);

/*
 * Exchanges every rank's stability flag: one int broadcast rooted at each
 * rank in turn (0..size-1), so every rank ends with the same vector.
 * Returns true when all ranks are stable. Collective: every rank must call
 * it after each window, the same number of times. Without an initialized
 * MPI it returns mine.
 */
bool mpi_all_stable(struct mpi *m, bool mine);

/* MPI_Finalize (once); frees what mpi_init allocated. Safe to call twice,
 * and on a zero-initialized struct whose mpi_init failed or never ran. */
void mpi_finalize(struct mpi *m);

#endif
