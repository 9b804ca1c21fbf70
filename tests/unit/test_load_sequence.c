/*
 * Sequence slots (spec 04 §6): id allocation (counter mod range + start,
 * wrap, collision fallback), the length variation formula, start/end flags
 * and data steps, closing an open sequence, JSON stream choice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/rng.h"
#include "load/sequence.h"

static struct seq_params params(uint64_t start, uint64_t range)
{
    return (struct seq_params){.id_start = start, .id_range = range, .length = 20,
                               .variation = 20};
}

static void test_id_wrap(void **state)
{
    (void)state;
    struct seq_params p = params(1, 5);
    struct seq_table *t = seq_table_create(&p, NULL, 3);
    static const uint64_t expect[] = {1, 2, 3, 4, 5, 1, 2};
    for (size_t i = 0; i < 7; i++) {
        size_t slot = i % 3;
        uint64_t id = seq_table_next_id(t, slot);
        assert_int_equal(id, expect[i]);
        atomic_store(&t->slots[slot].id, id);
    }
    seq_table_free(t);
}

static void test_id_collision_keeps_previous(void **state)
{
    (void)state;
    struct seq_params p = params(10, 3);
    struct seq_table *t = seq_table_create(&p, NULL, 2);
    atomic_store(&t->slots[0].id, 10); /* candidate of counter 0 is held by slot 0 */
    atomic_store(&t->slots[1].id, 7);
    assert_int_equal(seq_table_next_id(t, 1), 7); /* keeps its own previous id */
    assert_int_equal(seq_table_next_id(t, 1), 11); /* counter moved on: free */
    /* A slot's own current id counts as "in use" too. */
    atomic_store(&t->slots[1].id, 12);
    assert_int_equal(seq_table_next_id(t, 1), 12);
    /* Wrapped: counter 3 -> 10 again, held by slot 0. */
    assert_int_equal(seq_table_next_id(t, 1), 12);
    seq_table_free(t);
}

/* A slot's first sequence never gets id 0 (the original's rule would send it). */
static void test_first_id_collision_draws_again(void **state)
{
    (void)state;
    struct seq_params p = params(5, 4); /* ids 5..8 */
    struct seq_table *t = seq_table_create(&p, NULL, 4);
    atomic_store(&t->slots[0].id, 5); /* counter 0's and 1's candidates are taken */
    atomic_store(&t->slots[1].id, 6);
    assert_int_equal(seq_table_next_id(t, 3), 7); /* slot 3 has no previous id */
    /* Every id of the range is held: a first sequence shares one rather than send 0. */
    struct seq_table *u = seq_table_create(&p, NULL, 5);
    for (size_t i = 0; i < 4; i++)
        atomic_store(&u->slots[i].id, 5 + i);
    uint64_t id = seq_table_next_id(u, 4);
    assert_true(id >= 5 && id <= 8);
    seq_table_free(u);
    seq_table_free(t);
}

static void test_length_formula(void **state)
{
    (void)state;
    assert_int_equal(seq_length(20, 20, 0.0), 16);
    assert_int_equal(seq_length(20, 20, 1.0), 24);
    assert_int_equal(seq_length(20, 20, 0.5), 20);
    assert_int_equal(seq_length(20, 20, 0.26), 19); /* -1.92 truncates to -1 */
    assert_int_equal(seq_length(20, 20, 0.74), 21); /* +1.92 truncates to +1 */
    assert_int_equal(seq_length(10, 0, 0.9), 10);
    assert_int_equal(seq_length(1, 200, 0.0), 1);   /* 1 - 2 <= 0 -> 1 */
    assert_int_equal(seq_length(5, 100, 0.0), 1);   /* 5 - 5 = 0 -> 1 */

    /* Default 20 ± 20 %: always within 16..24, centred on 20. */
    struct rng r;
    rng_seed(&r, 7);
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t l = seq_length(20, 20, rng_double(&r));
        assert_true(l >= 16 && l <= 24);
        sum += (double)l;
    }
    assert_true(sum / 10000 > 19.7 && sum / 10000 < 20.3);
}

/* A dataset with given step counts per stream (descriptions unused). */
struct ds_fixture {
    struct pa_dataset ds;
    struct pa_dataset_stream streams[3];
};

static void make_ds(struct ds_fixture *f, const size_t *steps, size_t n)
{
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < n; i++)
        f->streams[i].n_steps = steps[i];
    f->ds.streams = f->streams;
    f->ds.n_streams = n;
}

static void test_flags_and_steps(void **state)
{
    (void)state;
    struct ds_fixture f;
    const size_t steps[] = {1};
    make_ds(&f, steps, 1);
    struct seq_params p = params(1, 100);
    p.variation = 0; /* length exactly 20 */
    struct seq_table *t = seq_table_create(&p, &f.ds, 1);
    struct rng r;
    rng_seed(&r, 1);
    struct seq_request q;

    for (int round = 0; round < 2; round++) {
        for (uint64_t k = 0; k < 20; k++) {
            assert_true(seq_table_next(t, 0, &r, false, &q));
            assert_int_equal(q.id, (uint64_t)round + 1);
            assert_int_equal(q.start, k == 0);
            assert_int_equal(q.end, k == 19);
            assert_int_equal(q.step, 0);
        }
        assert_false(seq_table_open(t, 0));
    }

    /* Length 1: both flags on the one request. */
    p.length = 1;
    struct seq_table *one = seq_table_create(&p, &f.ds, 1);
    assert_true(seq_table_next(one, 0, &r, false, &q));
    assert_true(q.start && q.end);
    seq_table_free(one);
    seq_table_free(t);
}

static void test_close_open_sequence(void **state)
{
    (void)state;
    struct ds_fixture f;
    const size_t steps[] = {4};
    make_ds(&f, steps, 1);
    struct seq_params p = params(1, 100);
    p.variation = 0;
    p.length = 10;
    p.json_data = true;
    p.length_given = true; /* JSON data, but the given length wins (data wraps) */
    struct seq_table *t = seq_table_create(&p, &f.ds, 1);
    struct rng r;
    rng_seed(&r, 1);
    struct seq_request q;

    assert_false(seq_table_next(t, 0, &r, true, &q)); /* nothing open: nothing sent */
    for (size_t k = 0; k < 3; k++) {
        assert_true(seq_table_next(t, 0, &r, false, &q));
        assert_int_equal(q.step, k % 4);
    }
    assert_true(seq_table_open(t, 0));
    assert_true(seq_table_next(t, 0, &r, true, &q));
    assert_false(q.start);
    assert_true(q.end);
    assert_int_equal(q.id, 1);
    assert_int_equal(q.step, (10 - 1) % 4); /* remaining forced to 1 */
    assert_false(seq_table_open(t, 0));
    assert_false(seq_table_next(t, 0, &r, true, &q));
    /* The next request starts a new sequence with a new id. */
    assert_true(seq_table_next(t, 0, &r, false, &q));
    assert_true(q.start);
    assert_int_equal(q.id, 2);
    seq_table_free(t);
}

/* JSON data without --sequence-length: length = the stream's steps; stream random. */
static void test_json_streams(void **state)
{
    (void)state;
    struct ds_fixture f;
    const size_t steps[] = {2, 5, 7};
    make_ds(&f, steps, 3);
    struct seq_params p = params(1, 1000);
    p.json_data = true;
    struct seq_table *t = seq_table_create(&p, &f.ds, 1);
    struct rng r;
    rng_seed(&r, 3);
    struct seq_request q;
    int seen[3] = {0};

    for (int s = 0; s < 60; s++) {
        assert_true(seq_table_next(t, 0, &r, false, &q));
        assert_true(q.start);
        size_t stream = q.stream, len = steps[stream], k = 1;
        seen[stream]++;
        assert_int_equal(q.step, 0);
        while (!q.end) {
            assert_true(seq_table_next(t, 0, &r, false, &q));
            assert_int_equal(q.stream, stream);
            assert_int_equal(q.step, k);
            k++;
        }
        assert_int_equal(k, len);
    }
    for (int i = 0; i < 3; i++)
        assert_true(seen[i] > 5); /* uniformly random, not always the first */
    seq_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_wrap),
        cmocka_unit_test(test_id_collision_keeps_previous),
        cmocka_unit_test(test_first_id_collision_draws_again),
        cmocka_unit_test(test_length_formula),
        cmocka_unit_test(test_flags_and_steps),
        cmocka_unit_test(test_close_open_sequence),
        cmocka_unit_test(test_json_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
