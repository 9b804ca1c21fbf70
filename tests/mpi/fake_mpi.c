/*
 * A fake Open MPI libmpi.so for the unit tests of src/measure/mpi.c.
 *
 * It exports the nine symbols perf_analyzer resolves (spec 03 §9), with
 * Open MPI's names and calling shapes, and plays one rank of a world whose
 * other ranks are scripted by the test: fake_mpi_setup() sets the world
 * size, this process's rank and what each other rank broadcasts. Every call
 * is counted, and every broadcast's root and value are logged, so a test
 * can check the protocol (one int per rank, roots 0..N-1, MPI_INT on
 * MPI_COMM_WORLD) and not only the result.
 *
 * Built twice: as is, and with FAKE_MPI_NO_BCAST (a library without
 * MPI_Bcast, for the missing-symbol error).
 */
#include <string.h>

#include "fake_mpi.h"

#define EXPORT __attribute__((visibility("default")))
/*
 * The handles: MPI_COMM_WORLD and MPI_INT are these objects' addresses.
 * The no-MPI_Bcast variant keeps them private: it is loaded next to the
 * full fake (both RTLD_GLOBAL), where two exported definitions would be an
 * ODR violation, and mpi_init stops at the missing MPI_Bcast before it
 * looks them up.
 */
#ifdef FAKE_MPI_NO_BCAST
#define FAKE_DATA static __attribute__((unused))
#else
#define FAKE_DATA EXPORT
#endif
FAKE_DATA struct fake_mpi_object { char tag[16]; } ompi_mpi_comm_world = {"comm_world"},
                                                ompi_mpi_int = {"int"};

/* Open MPI's signatures, MPI_Comm and MPI_Datatype being opaque pointers. */
EXPORT int MPI_Init(int *argc, char ***argv);
EXPORT int MPI_Initialized(int *flag);
EXPORT int MPI_Finalize(void);
EXPORT int MPI_Comm_size(void *comm, int *size);
EXPORT int MPI_Comm_rank(void *comm, int *rank);
EXPORT int MPI_Barrier(void *comm);
EXPORT int MPI_Bcast(void *buf, int count, void *datatype, int root, void *comm);
EXPORT fake_mpi_state_fn fake_mpi_state;
EXPORT fake_mpi_setup_fn fake_mpi_setup;
EXPORT void fake_mpi_set_peer(int rank, int value);

static struct fake_mpi_state st = {.size = 1};

EXPORT struct fake_mpi_state *fake_mpi_state(void)
{
    return &st;
}

/* Resets every counter and scripts a world of `size` ranks. */
EXPORT void fake_mpi_setup(int size, int rank, const int *peer_values)
{
    memset(&st, 0, sizeof(st));
    st.size = size;
    st.rank = rank;
    for (int r = 0; r < size && r < FAKE_MAX_RANKS; r++)
        st.peer_value[r] = peer_values ? peer_values[r] : 1;
}

EXPORT void fake_mpi_set_peer(int rank, int value)
{
    if (rank >= 0 && rank < FAKE_MAX_RANKS)
        st.peer_value[rank] = value;
}

EXPORT int MPI_Init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    st.init_calls++;
    if (st.fail_init)
        return st.fail_init;
    st.initialized = 1;
    return 0;
}

EXPORT int MPI_Initialized(int *flag)
{
    st.initialized_calls++;
    *flag = st.initialized;
    return 0;
}

EXPORT int MPI_Finalize(void)
{
    st.finalize_calls++;
    st.initialized = 0;
    return 0;
}

static void check_comm(const void *comm)
{
    if (comm != &ompi_mpi_comm_world)
        st.bad_args++;
}

EXPORT int MPI_Comm_size(void *comm, int *size)
{
    check_comm(comm);
    st.size_calls++;
    *size = st.size;
    return 0;
}

EXPORT int MPI_Comm_rank(void *comm, int *rank)
{
    check_comm(comm);
    st.rank_calls++;
    *rank = st.rank;
    return 0;
}

EXPORT int MPI_Barrier(void *comm)
{
    check_comm(comm);
    if (!st.initialized)
        st.bad_args++;
    st.barrier_calls++;
    return 0;
}

#ifndef FAKE_MPI_NO_BCAST
EXPORT int MPI_Bcast(void *buf, int count, void *datatype, int root, void *comm)
{
    check_comm(comm);
    if (datatype != &ompi_mpi_int || count != 1 || root < 0 || root >= st.size ||
        !st.initialized)
        st.bad_args++;
    int *v = buf;
    /* The root's buffer is the source; everyone else receives the root's value. */
    if (root != st.rank && root >= 0 && root < FAKE_MAX_RANKS)
        *v = st.peer_value[root];
    if (st.n_bcast < FAKE_MAX_LOG) {
        st.bcast_root[st.n_bcast] = root;
        st.bcast_value[st.n_bcast] = *v;
    }
    st.n_bcast++;
    return 0;
}
#endif
