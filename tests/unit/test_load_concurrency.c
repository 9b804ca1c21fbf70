/*
 * Workers and the concurrency manager against an in-process fake backend:
 * submit() queues the request with a due time, poll() completes the due ones
 * after the simulated delay. The fake counts requests outstanding over all
 * clients, so the tests can check that the aggregate in-flight count equals
 * the requested concurrency at every level, up and down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "load/manager.h"
#include "load/record_batch.h"
#include "load/worker.h"

#define MAX_PENDING 256

/* --- the fake backend -------------------------------------------------- */

struct fake_prepared {
    size_t step;
};

struct fake_pending {
    void *tag;
    uint64_t due;
    uint64_t start;
    bool fail;
};

struct fake {
    struct fake_pending pending[MAX_PENDING];
    size_t n;
};

/* Global knobs and observations (atomics: every worker thread touches them). */
static atomic_uint_fast64_t delay_ns;
static atomic_long outstanding;     /* over all fake clients */
static atomic_long max_outstanding; /* since the last reset */
static atomic_uint_fast64_t submitted, answered;
static atomic_uint_fast64_t fail_after; /* requests after this many fail; 0 = never */
static atomic_int open_count, close_count;
/* Steps of the first few submissions per client index (by open order). */
#define TRACE 8
static size_t step_trace[8][TRACE];
static atomic_size_t n_trace[8];
static atomic_int next_client_id;

struct fake_ctx {
    struct fake f;
    int id;
};

static int fake_open(struct pa_client *c, struct pa_err *err)
{
    (void)err;
    struct fake_ctx *x = calloc(1, sizeof(*x));
    x->id = atomic_fetch_add(&next_client_id, 1);
    c->ctx = x;
    atomic_fetch_add(&open_count, 1);
    return PA_OK;
}

static void fake_close(struct pa_client *c)
{
    free(c->ctx);
    c->ctx = NULL;
    atomic_fetch_add(&close_count, 1);
}

static int fake_prepare(struct pa_client *c, const struct pa_infer_desc *desc,
                        struct pa_prepared **out, struct pa_err *err)
{
    (void)c;
    (void)err;
    struct fake_prepared *p = malloc(sizeof(*p));
    /* The test dataset stores the step number in the model version string. */
    p->step = (size_t)strtoul(desc->model_version, NULL, 10);
    *out = (struct pa_prepared *)(void *)p;
    return PA_OK;
}

static void fake_prepared_free(struct pa_client *c, struct pa_prepared *p)
{
    (void)c;
    free(p);
}

static int fake_submit(struct pa_client *c, struct pa_prepared *p, const struct pa_send *send,
                       struct pa_err *err)
{
    struct fake_ctx *x = c->ctx;
    const struct fake_prepared *fp = (const void *)p;
    (void)err;
    assert_true(x->f.n < MAX_PENDING);
    uint64_t k = atomic_fetch_add(&submitted, 1) + 1;
    uint64_t fa = atomic_load(&fail_after);
    size_t t = atomic_load(&n_trace[x->id % 8]);
    if (t < TRACE) {
        step_trace[x->id % 8][t] = fp->step;
        atomic_store(&n_trace[x->id % 8], t + 1);
    }
    uint64_t now = clock_now_ns();
    x->f.pending[x->f.n++] = (struct fake_pending){
        .tag = send->tag, .due = now + atomic_load(&delay_ns), .start = now,
        .fail = fa && k > fa};
    long o = atomic_fetch_add(&outstanding, 1) + 1;
    long m = atomic_load(&max_outstanding);
    while (o > m && !atomic_compare_exchange_weak(&max_outstanding, &m, o))
        ;
    return PA_OK;
}

static int fake_poll(struct pa_client *c, int timeout_ms, struct pa_err *err)
{
    struct fake_ctx *x = c->ctx;
    (void)err;
    uint64_t now = clock_now_ns();
    uint64_t wait_ns = NS_PER_S;
    if (timeout_ms >= 0) {
        uint64_t ms = (uint64_t)timeout_ms;
        wait_ns = ms * NS_PER_MS;
    }
    uint64_t deadline = now + wait_ns;
    if (x->f.n == 0) {
        clock_sleep_until_ns(deadline);
        return 0;
    }
    uint64_t earliest = UINT64_MAX;
    for (size_t i = 0; i < x->f.n; i++)
        if (x->f.pending[i].due < earliest)
            earliest = x->f.pending[i].due;
    clock_sleep_until_ns(earliest < deadline ? earliest : deadline);
    now = clock_now_ns();
    int delivered = 0;
    for (size_t i = 0; i < x->f.n;) {
        struct fake_pending p = x->f.pending[i];
        if (p.due > now) {
            i++;
            continue;
        }
        x->f.pending[i] = x->f.pending[--x->f.n];
        atomic_fetch_sub(&outstanding, 1);
        atomic_fetch_add(&answered, 1);
        struct pa_response r = {
            .tag = p.tag,
            .arrival_ns = now,
            .final = true,
            .total_ns = now - p.start,
            .send_ns = 1000,
            .recv_ns = 2000,
        };
        if (p.fail) {
            r.error = PA_ESERVER;
            r.error_msg = "boom";
        }
        c->on_response(c->on_response_arg, &r);
        delivered++;
    }
    return delivered;
}

static size_t fake_in_flight(const struct pa_client *c)
{
    const struct fake_ctx *x = c->ctx;
    return x->f.n;
}

static const struct pa_client_ops fake_ops = {
    .open = fake_open,
    .close = fake_close,
    .prepare = fake_prepare,
    .prepared_free = fake_prepared_free,
    .submit = fake_submit,
    .poll = fake_poll,
    .in_flight = fake_in_flight,
};

static const struct pa_backend fake_backend = {
    .name = "fake",
    .kind = "FAKE",
    .flags = PA_BACKEND_ASYNC,
    .ops = &fake_ops,
};

static int fake_client_open(struct pa_client *c, const struct pa_options *opts,
                            pa_response_fn *on_response, void *arg, struct pa_err *err)
{
    memset(c, 0, sizeof(*c));
    c->backend = &fake_backend;
    c->opts = opts;
    c->on_response = on_response;
    c->on_response_arg = arg;
    return c->backend->ops->open(c, err);
}

static void fake_client_close(struct pa_client *c)
{
    c->backend->ops->close(c);
}

/* --- fixtures ---------------------------------------------------------- */

#define N_STEPS 5

struct fixture {
    struct pa_options opts;
    struct pa_dataset ds;
    struct pa_dataset_stream stream;
    struct pa_dataset_step steps[N_STEPS];
    char versions[N_STEPS][8];
    struct load_config cfg;
};

static void reset_fake(void)
{
    atomic_store(&delay_ns, 5 * NS_PER_MS);
    atomic_store(&outstanding, 0);
    atomic_store(&max_outstanding, 0);
    atomic_store(&submitted, 0);
    atomic_store(&answered, 0);
    atomic_store(&fail_after, 0);
    atomic_store(&open_count, 0);
    atomic_store(&close_count, 0);
    atomic_store(&next_client_id, 0);
    for (size_t i = 0; i < 8; i++)
        atomic_store(&n_trace[i], 0);
}

static struct fixture *fixture_new(bool async, uint64_t max_threads)
{
    struct fixture *f = calloc(1, sizeof(*f));
    reset_fake();
    f->opts.max_threads = max_threads;
    f->opts.async = async;
    f->opts.batch_size = 1;
    for (size_t i = 0; i < N_STEPS; i++) {
        snprintf(f->versions[i], sizeof(f->versions[i]), "%zu", i);
        f->steps[i].desc.model_name = "m";
        f->steps[i].desc.model_version = f->versions[i];
    }
    f->stream.steps = f->steps;
    f->stream.n_steps = N_STEPS;
    f->ds.streams = &f->stream;
    f->ds.n_streams = 1;
    f->cfg = (struct load_config){
        .opts = &f->opts,
        .ds = &f->ds,
        .open_client = fake_client_open,
        .close_client = fake_client_close,
        .async = async,
        .batch_size = 1,
        .drain_timeout_ms = 2000,
        .poll_timeout_ms = 10,
    };
    return f;
}

static void set_level(struct load_manager *m, uint64_t c)
{
    struct pa_err err = {0};
    assert_int_equal(load_set_concurrency(m, c, &err), PA_OK);
}

/*
 * After a level is set, nothing may exceed C and C must be reached: observe
 * the fake's outstanding count for a while.
 */
static void check_level(struct load_manager *m, uint64_t c)
{
    set_level(m, c);
    atomic_store(&max_outstanding, 0);
    for (int i = 0; i < 20; i++) {
        clock_sleep_ns(3 * NS_PER_MS);
        assert_true(load_in_flight(m) <= c);
        assert_true(atomic_load(&outstanding) <= (long)c);
    }
    assert_int_equal(atomic_load(&max_outstanding), (long)c);
}

static void run_levels(bool async, uint64_t max_threads, size_t expect_threads)
{
    struct fixture *f = fixture_new(async, max_threads);
    struct load_manager *m = load_manager_create(&f->cfg);
    struct pa_err err = {0};
    static const uint64_t levels[] = {1, 2, 3, 4, 3, 2, 1, 4};

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        check_level(m, levels[i]);
    assert_int_equal(load_threads(m), expect_threads);
    assert_int_equal(load_health(m, &err), PA_OK);

    struct pa_record_batch b = {0};
    load_collect(m, &b);
    assert_true(b.n > 50);
    assert_int_equal(b.n_responses, b.n);
    for (size_t i = 0; i < b.n; i++) {
        assert_true(b.records[i].end_ns >= b.records[i].start_ns + 5 * NS_PER_MS);
        assert_int_equal(b.records[i].n_responses, 1);
        assert_int_equal(b.response_ns[b.records[i].first_response], b.records[i].end_ns);
    }
    struct load_counters lc;
    load_counters(m, &lc);
    assert_true(lc.completed >= b.n);
    assert_int_equal(lc.send_ns, lc.completed * 1000);
    assert_true(load_take_sent(m) >= lc.completed);
    assert_true(load_idle_ns(m) > 0);
    record_batch_release(&b);

    load_stop(m);
    assert_int_equal(load_in_flight(m), 0);
    assert_int_equal(atomic_load(&outstanding), 0);
    assert_int_equal(atomic_load(&submitted), atomic_load(&answered));
    assert_int_equal(atomic_load(&close_count), atomic_load(&open_count));
    load_manager_free(m);
    free(f);
}

/* Async with 2 threads: shares above 1 per worker, re-sized at every level. */
static void test_async_levels_rebalance(void **state)
{
    (void)state;
    run_levels(true, 2, 2);
}

/* Sync: one thread per unit of concurrency, created on demand, never destroyed. */
static void test_sync_levels(void **state)
{
    (void)state;
    run_levels(false, 16, 4);
}

static void test_failures_async(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, 4);
    struct load_manager *m = load_manager_create(&f->cfg);
    struct pa_err err = {0};

    atomic_store(&fail_after, 10);
    set_level(m, 2);
    for (int i = 0; i < 200 && load_health(m, &err) == PA_OK; i++)
        clock_sleep_ns(2 * NS_PER_MS);
    assert_int_equal(load_health(m, &err), PA_ESERVER);
    assert_string_equal(err.msg, "Failed to retrieve results from inference request.");
    assert_true(load_failed(m) >= 1);

    /* A failed worker stops sending. */
    clock_sleep_ns(30 * NS_PER_MS);
    uint64_t sent = atomic_load(&submitted);
    clock_sleep_ns(30 * NS_PER_MS);
    assert_int_equal(atomic_load(&submitted), sent);

    load_stop(m);
    char buf[256] = {0};
    FILE *out = fmemopen(buf, sizeof(buf), "w");
    load_report_errors(m, out);
    fclose(out);
    assert_non_null(strstr(buf, "had error: boom\n"));
    assert_memory_equal(buf, "Thread [", 8);
    load_manager_free(m);
    free(f);
}

static void test_failures_sync(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(false, 1);
    struct load_manager *m = load_manager_create(&f->cfg);
    struct pa_err err = {0};

    atomic_store(&fail_after, 3);
    set_level(m, 1);
    for (int i = 0; i < 200 && load_health(m, &err) == PA_OK; i++)
        clock_sleep_ns(2 * NS_PER_MS);
    assert_int_equal(load_health(m, &err), PA_ESERVER);
    assert_string_equal(err.msg, "Failed to maintain requested inference load. Worker thread(s) "
                                 "failed to generate concurrent requests.");
    assert_int_equal(load_failed(m), 1);
    load_manager_free(m);
    free(f);
}

/* Stop waits for the requests in flight and answers every one of them. */
static void test_stop_drains(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, 2);
    struct load_manager *m = load_manager_create(&f->cfg);

    atomic_store(&delay_ns, 150 * NS_PER_MS);
    set_level(m, 4);
    clock_sleep_ns(20 * NS_PER_MS);
    assert_int_equal(load_in_flight(m), 4);
    uint64_t t0 = clock_now_ns();
    load_stop(m);
    uint64_t took = clock_now_ns() - t0;
    assert_true(took >= 50 * NS_PER_MS); /* it did wait */
    assert_true(took < 2 * NS_PER_S);
    assert_int_equal(load_in_flight(m), 0);
    assert_int_equal(atomic_load(&submitted), atomic_load(&answered));

    struct pa_record_batch b = {0};
    load_collect(m, &b);
    assert_true(b.n >= 4); /* the drained requests were recorded too */
    record_batch_release(&b);
    load_manager_free(m);
    free(f);
}

/* JSON step selection: worker i starts at step i·B and strides by the active count. */
static void test_step_selection(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, 2);
    struct load_manager *m = load_manager_create(&f->cfg);

    atomic_store(&delay_ns, 20 * NS_PER_MS);
    set_level(m, 2); /* two workers, one request each: strictly sequential per worker */
    clock_sleep_ns(100 * NS_PER_MS);
    load_stop(m);
    for (int id = 0; id < 2; id++) {
        /* Clients open in worker order: client id == worker index. */
        size_t n = atomic_load(&n_trace[id]);
        assert_true(n >= 3);
        for (size_t k = 0; k < n; k++)
            assert_int_equal(step_trace[id][k], ((size_t)id + 2 * k) % N_STEPS);
    }
    load_manager_free(m);
    free(f);
}

static int validate_count;
static int fail_validation(void *arg, const struct pa_client *c, const struct pa_response *r,
                           const struct pa_dataset_step *step, struct pa_err *err)
{
    (void)arg;
    (void)c;
    (void)r;
    (void)step;
    validate_count++; /* only the one worker thread calls this */
    return pa_errorf(err, PA_EDATA, "Output doesn't match expected output");
}

static void test_validation_hook(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(false, 1);
    static const struct pa_expected_output expected = {.name = "OUT", .data = "x", .byte_size = 1};
    f->steps[0].expected = &expected;
    f->steps[0].n_expected = 1;
    f->cfg.validate = fail_validation;
    struct load_manager *m = load_manager_create(&f->cfg);
    struct pa_err err = {0};

    set_level(m, 1);
    for (int i = 0; i < 200 && load_health(m, &err) == PA_OK; i++)
        clock_sleep_ns(2 * NS_PER_MS);
    load_stop(m);
    assert_int_equal(load_health(m, &err), PA_ESERVER);
    assert_int_equal(validate_count, 1);
    char buf[256] = {0};
    FILE *out = fmemopen(buf, sizeof(buf), "w");
    load_report_errors(m, out);
    fclose(out);
    assert_string_equal(buf, "Thread [0] had error: Output doesn't match expected output\n");
    load_manager_free(m);
    free(f);
}

static void test_record_batch_move(void **state)
{
    (void)state;
    struct pa_record_batch a = {0}, b = {0};
    uint64_t r1[] = {10, 11}, r2[] = {20};
    record_batch_append(&a, &(struct pa_record){.start_ns = 1, .end_ns = 11, .n_responses = 2},
                        r1);
    record_batch_append(&b, &(struct pa_record){.start_ns = 2, .end_ns = 20, .n_responses = 1},
                        r2);
    record_batch_move(&a, &b);
    assert_int_equal(a.n, 2);
    assert_int_equal(b.n, 0);
    assert_int_equal(a.records[1].first_response, 2);
    assert_int_equal(a.response_ns[a.records[1].first_response], 20);
    record_batch_release(&a);
    record_batch_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_batch_move),
        cmocka_unit_test(test_async_levels_rebalance),
        cmocka_unit_test(test_sync_levels),
        cmocka_unit_test(test_failures_async),
        cmocka_unit_test(test_failures_sync),
        cmocka_unit_test(test_stop_drains),
        cmocka_unit_test(test_step_selection),
        cmocka_unit_test(test_validation_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
