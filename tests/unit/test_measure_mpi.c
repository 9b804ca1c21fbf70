/*
 * --enable-mpi (spec 03 §9): loading Open MPI, the missing-library and
 * missing-symbol errors, and the per-window stability exchange, against a
 * fake libmpi.so (tests/mpi/fake_mpi.c) that plays one rank of a scripted
 * world and logs every call.
 *
 * The fakes are built by tests/mpi/CMakeLists.txt, which passes their
 * folder as PA_FAKE_MPI_DIR. Without it (tests/mpi not added to the build)
 * the tests that need a fake are skipped, loudly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "../mpi/fake_mpi.h"
#include "measure/mpi.h"

#ifdef PA_FAKE_MPI_DIR
#define FAKE_LIB PA_FAKE_MPI_DIR "/fake/libmpi.so"
#define NOBCAST_LIB PA_FAKE_MPI_DIR "/nobcast/libmpi.so"
#endif

/* The test's own handle on the fake: the same object mpi_init opens. */
static void *fake_dl;
static struct fake_mpi_state *fake;
#ifdef PA_FAKE_MPI_DIR
static fake_mpi_setup_fn *fake_setup;
#endif

static int open_fake(void **state)
{
    (void)state;
#ifdef PA_FAKE_MPI_DIR
    fake_dl = dlopen(FAKE_LIB, RTLD_NOW | RTLD_GLOBAL);
    if (!fake_dl) {
        fprintf(stderr, "cannot open the fake libmpi: %s\n", dlerror());
        return -1;
    }
    fake_mpi_state_fn *get;
    void *a = dlsym(fake_dl, "fake_mpi_state"), *b = dlsym(fake_dl, "fake_mpi_setup");
    if (!a || !b)
        return -1;
    memcpy(&get, &a, sizeof(get));
    memcpy(&fake_setup, &b, sizeof(fake_setup));
    fake = get();
#endif
    return 0;
}

static int close_fake(void **state)
{
    (void)state;
    if (fake_dl)
        dlclose(fake_dl);
    return 0;
}

#ifdef PA_FAKE_MPI_DIR
#define NEED_FAKE() ((void)0)
#else
#define NEED_FAKE()                                                                    \
    do {                                                                               \
        fprintf(stderr, "SKIPPED: tests/mpi is not part of the build "                 \
                        "(add_subdirectory(mpi) in tests/CMakeLists.txt)\n");          \
        skip();                                                                        \
    } while (0)
#endif

/* A struct mpi on the fake, initialized as rank `rank` of `size`. */
static void init_on_fake(struct mpi *m, int size, int rank, const int *peers)
{
#ifdef PA_FAKE_MPI_DIR
    struct pa_err err = {0};
    fake_setup(size, rank, peers);
    memset(m, 0, sizeof(*m));
    m->enabled = true;
    m->library = FAKE_LIB;
    assert_int_equal(mpi_init(m, &err), PA_OK);
    assert_int_equal(err.code, 0);
#else
    (void)m;
    (void)size;
    (void)rank;
    (void)peers;
#endif
}

/* Without --enable-mpi nothing is loaded and every call is a no-op. */
static void test_disabled(void **state)
{
    (void)state;
    struct mpi m = {.enabled = false, .library = "/nonexistent/libmpi.so"};
    struct pa_err err = {0};
    assert_int_equal(mpi_init(&m, &err), PA_OK);
    assert_false(mpi_is_run(&m));
    assert_int_equal(m.size, 1);
    assert_int_equal(m.rank, 0);
    mpi_barrier(&m);
    assert_true(mpi_all_stable(&m, true));
    assert_false(mpi_all_stable(&m, false));
    mpi_finalize(&m);
    mpi_finalize(&m);
    assert_int_equal(err.code, 0);
}

/* The original's text and exit code 99 (spec 03 §9, 00 §2 "fix": no abort). */
static void test_missing_library(void **state)
{
    (void)state;
    struct mpi m = {.enabled = true, .library = "/nonexistent/dir/libmpi.so"};
    struct pa_err err = {0};
    int rc = mpi_init(&m, &err);
    assert_int_not_equal(rc, PA_OK);
    assert_int_equal(pa_exit_code(rc), 99);
    assert_string_equal(err.msg,
                        "Unable to load MPI library. If you are trying to run with MPI / "
                        "multiple models, check that 'libmpi.so' is on `LD_LIBRARY_PATH` "
                        "environment variable path.");
    assert_false(mpi_is_run(&m));
    mpi_finalize(&m); /* nothing to do, must not crash */
}

static void test_missing_symbol(void **state)
{
    (void)state;
    NEED_FAKE();
#ifdef PA_FAKE_MPI_DIR
    struct mpi m = {.enabled = true, .library = NOBCAST_LIB};
    struct pa_err err = {0};
    int rc = mpi_init(&m, &err);
    assert_int_equal(pa_exit_code(rc), 99);
    assert_string_equal(err.msg, "Unable to obtain address of `MPI_Bcast` symbol.");
    assert_false(mpi_is_run(&m));
    mpi_finalize(&m);
#endif
}

/* MPI_Init once, world size and rank read on MPI_COMM_WORLD. */
static void test_init_reads_world(void **state)
{
    (void)state;
    NEED_FAKE();
    struct mpi m;
    init_on_fake(&m, 4, 2, NULL);
    assert_int_equal(fake->init_calls, 1);
    assert_int_equal(fake->size_calls, 1);
    assert_int_equal(fake->rank_calls, 1);
    assert_int_equal(fake->bad_args, 0);
    assert_int_equal(m.size, 4);
    assert_int_equal(m.rank, 2);
    assert_true(mpi_is_run(&m));
    mpi_finalize(&m);
    assert_int_equal(fake->finalize_calls, 1);
    assert_false(mpi_is_run(&m));
    mpi_finalize(&m); /* once only */
    assert_int_equal(fake->finalize_calls, 1);
}

/* mpirun with one rank is not an "MPI run": the profiler then uses its own flag. */
static void test_single_rank_is_not_a_run(void **state)
{
    (void)state;
    NEED_FAKE();
    struct mpi m;
    init_on_fake(&m, 1, 0, NULL);
    assert_false(mpi_is_run(&m));
    assert_true(mpi_all_stable(&m, true));
    assert_false(mpi_all_stable(&m, false));
    mpi_finalize(&m);
}

/* A library someone already initialized is not initialized twice. */
static void test_already_initialized(void **state)
{
    (void)state;
    NEED_FAKE();
#ifdef PA_FAKE_MPI_DIR
    struct mpi m = {.enabled = true, .library = FAKE_LIB};
    struct pa_err err = {0};
    fake_setup(2, 1, NULL);
    fake->initialized = 1;
    assert_int_equal(mpi_init(&m, &err), PA_OK);
    assert_int_equal(fake->init_calls, 0);
    assert_true(mpi_is_run(&m));
    mpi_finalize(&m);
#endif
}

static void test_init_failure(void **state)
{
    (void)state;
    NEED_FAKE();
#ifdef PA_FAKE_MPI_DIR
    struct mpi m = {.enabled = true, .library = FAKE_LIB};
    struct pa_err err = {0};
    fake_setup(2, 0, NULL);
    fake->fail_init = 16;
    int rc = mpi_init(&m, &err);
    assert_int_equal(pa_exit_code(rc), 99);
    assert_string_equal(err.msg, "MPI_Init failed");
    assert_false(mpi_is_run(&m));
    mpi_finalize(&m);
    assert_int_equal(fake->finalize_calls, 0);
#endif
}

static void test_bad_rank(void **state)
{
    (void)state;
    NEED_FAKE();
#ifdef PA_FAKE_MPI_DIR
    struct mpi m = {.enabled = true, .library = FAKE_LIB};
    struct pa_err err = {0};
    fake_setup(2, 5, NULL);
    int rc = mpi_init(&m, &err);
    assert_int_equal(pa_exit_code(rc), 99);
    assert_string_equal(err.msg, "MPI reported rank 5 of a world of size 2");
    assert_false(mpi_is_run(&m));
#endif
}

static void test_barrier(void **state)
{
    (void)state;
    NEED_FAKE();
    struct mpi m;
    init_on_fake(&m, 2, 0, NULL);
    mpi_barrier(&m);
    mpi_barrier(&m);
    assert_int_equal(fake->barrier_calls, 2);
    assert_int_equal(fake->bad_args, 0);
    mpi_finalize(&m);
    mpi_barrier(&m); /* after finalize: no call into MPI */
    assert_int_equal(fake->barrier_calls, 2);
}

/*
 * One exchange = one int broadcast per rank, rooted at 0, 1, ..., N-1 in
 * that order; this rank sends its own flag when it is the root and learns
 * every other rank's flag from the others.
 */
static void test_exchange_protocol(void **state)
{
    (void)state;
    NEED_FAKE();
    struct mpi m;
    const int peers[3] = {1, 0, 1}; /* rank 1 is us; its scripted value is unused */
    init_on_fake(&m, 3, 1, peers);

    assert_true(mpi_all_stable(&m, true));
    assert_int_equal(fake->n_bcast, 3);
    for (int r = 0; r < 3; r++)
        assert_int_equal(fake->bcast_root[r], r);
    assert_int_equal(fake->bcast_value[0], 1); /* received from rank 0 */
    assert_int_equal(fake->bcast_value[1], 1); /* our own flag, sent */
    assert_int_equal(fake->bcast_value[2], 1); /* received from rank 2 */
    assert_int_equal(fake->bad_args, 0);

    /* Our own instability is what we send, and it makes the answer false. */
    assert_false(mpi_all_stable(&m, false));
    assert_int_equal(fake->n_bcast, 6);
    assert_int_equal(fake->bcast_root[4], 1);
    assert_int_equal(fake->bcast_value[4], 0);
    mpi_finalize(&m);
}

/* A stable rank is not done while any other rank is unstable (spec 03 §9). */
static void test_waits_for_every_rank(void **state)
{
    (void)state;
    NEED_FAKE();
#ifdef PA_FAKE_MPI_DIR
    struct mpi m;
    const int peers[4] = {1, 1, 1, 0};
    init_on_fake(&m, 4, 0, peers);
    assert_false(mpi_all_stable(&m, true)); /* rank 3 not stable yet */
    fake->peer_value[3] = 1;
    fake->peer_value[1] = 0;
    assert_false(mpi_all_stable(&m, true)); /* now rank 1 is not */
    fake->peer_value[1] = 1;
    assert_true(mpi_all_stable(&m, true)); /* everyone */
    assert_int_equal(fake->n_bcast, 12);
    /* Flags from the previous exchange never leak into the next one. */
    fake->peer_value[2] = 0;
    assert_false(mpi_all_stable(&m, true));
    assert_int_equal(fake->bcast_value[14], 0);
    assert_int_equal(fake->bad_args, 0);
    mpi_finalize(&m);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_missing_library),
        cmocka_unit_test(test_missing_symbol),
        cmocka_unit_test(test_init_reads_world),
        cmocka_unit_test(test_single_rank_is_not_a_run),
        cmocka_unit_test(test_already_initialized),
        cmocka_unit_test(test_init_failure),
        cmocka_unit_test(test_bad_rank),
        cmocka_unit_test(test_barrier),
        cmocka_unit_test(test_exchange_protocol),
        cmocka_unit_test(test_waits_for_every_rank),
    };
    return cmocka_run_group_tests(tests, open_fake, close_fake);
}
