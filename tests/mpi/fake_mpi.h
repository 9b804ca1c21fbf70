/*
 * The fake libmpi.so's control surface (fake_mpi.c), shared with the unit
 * test that dlopens the fake and scripts it.
 */
#ifndef PA_TESTS_FAKE_MPI_H
#define PA_TESTS_FAKE_MPI_H

#define FAKE_MAX_RANKS 16
#define FAKE_MAX_LOG 256

struct fake_mpi_state {
    int size, rank;
    int peer_value[FAKE_MAX_RANKS]; /* what rank r broadcasts (r != rank) */
    int fail_init;                  /* MPI_Init returns this when non-zero */

    int init_calls, initialized_calls, finalize_calls, barrier_calls;
    int size_calls, rank_calls;
    int bad_args;                   /* calls with a wrong handle, count or root */
    int initialized;                /* between MPI_Init and MPI_Finalize */
    int n_bcast;
    int bcast_root[FAKE_MAX_LOG];
    int bcast_value[FAKE_MAX_LOG];  /* the buffer's value after the call */
};

/* Exported by the fake (looked up with dlsym by the test). */
typedef struct fake_mpi_state *fake_mpi_state_fn(void);
/* Resets every counter; a world of `size`, this process is `rank`; rank r
 * broadcasts peer_values[r] (NULL: every peer broadcasts 1). */
typedef void fake_mpi_setup_fn(int size, int rank, const int *peer_values);

#endif
