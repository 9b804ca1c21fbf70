/*
 * The open-loop modes, sequence models and periodic concurrency against an
 * in-process fake backend that also plays a strict sequence server: it
 * counts every request of a sequence that was not started (or started
 * twice), every sequence left open, and how many requests of one sequence
 * are in flight at once. A request completes `delay_ns` after submit, with
 * `n_resp` responses spaced 1 ms apart (decoupled models).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "load/manager.h"
#include "load/periodic.h"
#include "load/record_batch.h"
#include "load/worker.h"

#define MAX_PENDING 1024
#define MAX_IDS 4096

/* --- the fake backend -------------------------------------------------- */

struct pending {
    void *tag;
    uint64_t due, start, seq_id;
    uint32_t left;      /* responses still to come */
    uint32_t stream;
};

struct fake_ctx {
    struct pending p[MAX_PENDING];
    size_t n;
};

static atomic_uint_fast64_t delay_ns;
static atomic_uint n_resp;
static atomic_uint_fast64_t submitted, answered;
static atomic_long outstanding, max_outstanding;

/* Sequence server state, shared by every fake client. */
static pthread_mutex_t seq_lock = PTHREAD_MUTEX_INITIALIZER;
struct id_state {
    bool active;
    int in_flight, max_in_flight;
};
static struct id_state ids[MAX_IDS];
static int violations, id_out_of_range, max_id_in_flight;
static uint64_t streams_seen; /* bit i: stream index i was used */

static void reset_fake(void)
{
    atomic_store(&delay_ns, 2 * NS_PER_MS);
    atomic_store(&n_resp, 1);
    atomic_store(&submitted, 0);
    atomic_store(&answered, 0);
    atomic_store(&outstanding, 0);
    atomic_store(&max_outstanding, 0);
    memset(ids, 0, sizeof(ids));
    violations = id_out_of_range = max_id_in_flight = 0;
    streams_seen = 0;
}

static int open_sequences(void)
{
    int n = 0;
    pthread_mutex_lock(&seq_lock);
    for (size_t i = 0; i < MAX_IDS; i++)
        n += ids[i].active;
    pthread_mutex_unlock(&seq_lock);
    return n;
}

static int fake_open(struct pa_client *c, struct pa_err *err)
{
    (void)err;
    c->ctx = calloc(1, sizeof(struct fake_ctx));
    return PA_OK;
}

static void fake_close(struct pa_client *c)
{
    free(c->ctx);
}

static int fake_prepare(struct pa_client *c, const struct pa_infer_desc *d,
                        struct pa_prepared **out, struct pa_err *err)
{
    (void)c;
    (void)d;
    (void)err;
    *out = malloc(1);
    return PA_OK;
}

static void fake_prepared_free(struct pa_client *c, struct pa_prepared *p)
{
    (void)c;
    free(p);
}

/* Requests of one client arrive in submit order: check them as a server would. */
static void seq_arrive(const struct pa_send *s)
{
    pthread_mutex_lock(&seq_lock);
    if (s->sequence_id >= MAX_IDS) {
        id_out_of_range++;
    } else {
        struct id_state *q = &ids[s->sequence_id];
        if (s->sequence_start)
            q->active = true;
        else if (!q->active)
            violations++;
        if (++q->in_flight > q->max_in_flight)
            q->max_in_flight = q->in_flight;
        if (q->in_flight > max_id_in_flight)
            max_id_in_flight = q->in_flight;
        if (s->sequence_end)
            q->active = false;
    }
    pthread_mutex_unlock(&seq_lock);
}

static int fake_submit(struct pa_client *c, struct pa_prepared *p, const struct pa_send *send,
                       struct pa_err *err)
{
    struct fake_ctx *x = c->ctx;
    (void)p;
    (void)err;
    assert_true(x->n < MAX_PENDING);
    atomic_fetch_add(&submitted, 1);
    if (send->sequence_id)
        seq_arrive(send);
    pthread_mutex_lock(&seq_lock);
    if (send->stream < 64)
        streams_seen |= 1ull << send->stream;
    pthread_mutex_unlock(&seq_lock);
    uint64_t now = clock_now_ns();
    uint32_t k = atomic_load(&n_resp);
    x->p[x->n++] = (struct pending){.tag = send->tag, .start = now, .seq_id = send->sequence_id,
                                    .due = now + atomic_load(&delay_ns), .left = k,
                                    .stream = send->stream};
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
    uint64_t wait = NS_PER_S;
    if (timeout_ms >= 0) {
        uint64_t ms = (uint64_t)timeout_ms;
        wait = ms * NS_PER_MS;
    }
    uint64_t deadline = now + wait;
    uint64_t earliest = UINT64_MAX;
    for (size_t i = 0; i < x->n; i++)
        if (x->p[i].due < earliest)
            earliest = x->p[i].due;
    clock_sleep_until_ns(earliest < deadline ? earliest : deadline);
    now = clock_now_ns();
    int delivered = 0;
    for (size_t i = 0; i < x->n;) {
        struct pending *q = &x->p[i];
        if (q->due > now) {
            i++;
            continue;
        }
        bool final = --q->left == 0;
        struct pa_response r = {.tag = q->tag, .arrival_ns = now, .final = final,
                                .total_ns = now - q->start, .send_ns = 1000, .recv_ns = 1000};
        if (final) {
            if (q->seq_id && q->seq_id < MAX_IDS) {
                pthread_mutex_lock(&seq_lock);
                ids[q->seq_id].in_flight--;
                pthread_mutex_unlock(&seq_lock);
            }
            x->p[i] = x->p[--x->n];
            atomic_fetch_sub(&outstanding, 1);
            atomic_fetch_add(&answered, 1);
        } else {
            q->due = now + NS_PER_MS;
            i++;
        }
        c->on_response(c->on_response_arg, &r);
        delivered++;
    }
    return delivered;
}

static size_t fake_in_flight(const struct pa_client *c)
{
    return ((const struct fake_ctx *)c->ctx)->n;
}

static const struct pa_client_ops fake_ops = {
    .open = fake_open, .close = fake_close, .prepare = fake_prepare,
    .prepared_free = fake_prepared_free, .submit = fake_submit, .poll = fake_poll,
    .in_flight = fake_in_flight,
};

static const struct pa_backend fake_backend = {
    .name = "fake", .kind = "FAKE", .flags = PA_BACKEND_ASYNC, .ops = &fake_ops};

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

struct fixture {
    struct pa_options opts;
    struct pa_dataset ds;
    struct pa_dataset_stream stream;
    struct pa_dataset_step steps[3];
    struct load_config cfg;
};

static struct fixture *fixture_new(bool async, uint64_t max_threads, bool sequence)
{
    struct fixture *f = calloc(1, sizeof(*f));
    reset_fake();
    f->opts.max_threads = max_threads;
    f->opts.async = async;
    f->opts.batch_size = 1;
    f->opts.max_trials = 10;
    f->opts.measurement_interval_ms = 500;
    f->opts.num_of_sequences = 4;
    f->opts.sequence_id_start = 1;
    f->opts.sequence_id_range = UINT32_MAX;
    f->opts.sequence_length = 5;
    f->opts.sequence_length_variation = 20;
    f->opts.request_distribution = PA_DIST_CONSTANT;
    for (size_t i = 0; i < 3; i++)
        f->steps[i].desc.model_name = "m";
    f->stream.steps = f->steps;
    f->stream.n_steps = 3;
    f->ds.streams = &f->stream;
    f->ds.n_streams = 1;
    f->cfg = (struct load_config){
        .opts = &f->opts, .ds = &f->ds, .open_client = fake_client_open,
        .close_client = fake_client_close, .async = async, .batch_size = 1,
        .drain_timeout_ms = 2000, .poll_timeout_ms = 10, .sequence = sequence};
    return f;
}

/* Sends due this long before the stop must have been made, even if late. */
#define STOP_MARGIN_NS (100 * NS_PER_MS)

static void run_for(uint64_t ms)
{
    clock_sleep_ns(ms * NS_PER_MS);
}

/* --- request rate ------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Constant 200/s over 2 async threads: on time, every 5 ms, never early. */
static void test_rate_constant(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, 2, false);
    struct load_manager *m = load_manager_create(&f->cfg);
    struct pa_err err = {0};

    uint64_t t0 = clock_now_ns();
    assert_int_equal(load_set_rate(m, 200, &err), PA_OK);
    assert_int_equal(load_threads(m), 2);
    run_for(300);
    uint64_t stop_at = clock_now_ns();
    uint64_t due = (stop_at - t0) / (5 * NS_PER_MS); /* sends due by now */
    load_stop(m);
    struct pa_record_batch b = {0};
    load_collect(m, &b);
    /* never more than scheduled; a good part even on a loaded machine */
    assert_true(b.n <= due + 1 && b.n >= due / 4);
    uint64_t *sched = calloc(b.n, sizeof(*sched));
    uint64_t *lateness = calloc(b.n, sizeof(*lateness));
    for (size_t i = 0; i < b.n; i++) {
        const struct pa_record *r = &b.records[i];
        assert_true(r->scheduled_ns != 0);
        assert_true(r->start_ns >= r->scheduled_ns); /* a deadline is never anticipated */
        lateness[i] = r->start_ns - r->scheduled_ns;
        sched[i] = r->scheduled_ns;
    }
    /* Blocking waits are precise: the typical send is well within 2 ms. */
    qsort(lateness, b.n, sizeof(*lateness), cmp_u64);
    assert_true(lateness[b.n / 2] < 2 * NS_PER_MS);
    free(lateness);
    qsort(sched, b.n, sizeof(*sched), cmp_u64);
    /* Round robin at 1/R. (A thread running late when stop came may leave
     * a hole among the last sends, so only those well before it count.) */
    for (size_t i = 1; i < b.n && sched[i] + STOP_MARGIN_NS < stop_at; i++)
        assert_int_equal(sched[i] - sched[i - 1], 5 * NS_PER_MS);
    free(sched);
    record_batch_release(&b);
    assert_int_equal(load_health(m, &err), PA_OK);
    load_manager_free(m);
    free(f);
}

/* One sync thread, 20 ms per request, 200/s asked: most sends are late. */
static void test_rate_delayed(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(false, 1, false);
    struct load_manager *m = load_manager_create(&f->cfg);
    struct pa_err err = {0};

    atomic_store(&delay_ns, 20 * NS_PER_MS);
    uint64_t t0 = clock_now_ns();
    assert_int_equal(load_set_rate(m, 200, &err), PA_OK);
    run_for(300);
    load_stop(m);
    /* One request at a time, 20 ms each (the drained one included). */
    uint64_t capacity = (clock_now_ns() - t0) / (20 * NS_PER_MS) + 1;
    struct pa_record_batch b = {0};
    load_collect(m, &b);
    assert_true(b.n >= 3 && b.n <= capacity);
    size_t delayed = 0;
    for (size_t i = 0; i < b.n; i++) {
        const struct pa_record *r = &b.records[i];
        uint64_t latency = r->end_ns - r->start_ns;
        uint64_t sched_latency = r->end_ns - r->scheduled_ns;
        if (r->flags & PA_REC_DELAYED) {
            delayed++;
            assert_true(r->start_ns > r->scheduled_ns);
            assert_true(sched_latency > latency);
        } else {
            assert_true(r->start_ns >= r->scheduled_ns);
        }
    }
    assert_true(delayed >= b.n - 1); /* only the first can be on time */
    assert_true(atomic_load(&max_outstanding) == 1);
    record_batch_release(&b);
    load_manager_free(m);
    free(f);
}

/* --- sequences --------------------------------------------------------- */

static void check_sequence_records(struct load_manager *m, size_t *ends)
{
    struct pa_record_batch b = {0};
    load_collect(m, &b);
    *ends = 0;
    for (size_t i = 0; i < b.n; i++) {
        assert_true(b.records[i].sequence_id >= 1);
        if (b.records[i].flags & PA_REC_SEQUENCE_END)
            (*ends)++;
    }
    record_batch_release(&b);
}

static void sequence_levels(bool async, uint64_t max_threads)
{
    struct fixture *f = fixture_new(async, max_threads, true);
    f->opts.concurrency_start = 1;
    f->opts.concurrency_end = 3;
    struct load_manager *m = load_manager_create(&f->cfg);
    struct pa_err err = {0};
    static const uint64_t levels[] = {1, 3, 2, 3, 1};

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        assert_int_equal(load_set_concurrency(m, levels[i], &err), PA_OK);
        atomic_store(&max_outstanding, 0);
        run_for(60);
        assert_true(atomic_load(&max_outstanding) <= (long)levels[i]);
        assert_true(atomic_load(&max_outstanding) >= 1);
    }
    load_stop(m);
    size_t ends;
    check_sequence_records(m, &ends);
    assert_true(ends >= 5);
    assert_int_equal(violations, 0);        /* every sequence started before use */
    assert_int_equal(open_sequences(), 0);  /* closed at level changes and at stop */
    assert_int_equal(max_id_in_flight, 1);  /* closed loop: one request per sequence */
    assert_int_equal(id_out_of_range, 0);
    assert_int_equal(atomic_load(&submitted), atomic_load(&answered));
    assert_int_equal(load_health(m, &err), PA_OK);
    load_manager_free(m);
    free(f);
}

static void test_sequences_async(void **state)
{
    (void)state;
    sequence_levels(true, 2); /* shares > 1: several slots per worker */
}

static void test_sequences_sync(void **state)
{
    (void)state;
    sequence_levels(false, 16);
}

/* Request rate on a sequence model: serial keeps one request per sequence. */
static void rate_sequences(bool serial, int *max_in_flight, uint64_t *streams)
{
    struct fixture *f = fixture_new(true, 2, true);
    f->opts.serial_sequences = serial;
    f->opts.num_of_sequences = 3;
    f->opts.sequence_length = 50;
    struct load_manager *m = load_manager_create(&f->cfg);
    struct pa_err err = {0};

    atomic_store(&delay_ns, 30 * NS_PER_MS);
    assert_int_equal(load_set_rate(m, 400, &err), PA_OK);
    assert_int_equal(load_threads(m), 2); /* min(max threads, sequences) */
    run_for(150);
    assert_int_equal(load_set_rate(m, 200, &err), PA_OK);
    run_for(100);
    load_stop(m);
    assert_int_equal(violations, 0);
    assert_int_equal(open_sequences(), 0);
    *max_in_flight = max_id_in_flight;
    *streams = streams_seen;
    size_t ends;
    check_sequence_records(m, &ends);
    load_manager_free(m);
    free(f);
}

static void test_serial_sequences_rule(void **state)
{
    (void)state;
    int serial_max, free_max;
    uint64_t streams;
    rate_sequences(true, &serial_max, &streams);
    assert_int_equal(serial_max, 1);
    rate_sequences(false, &free_max, &streams);
    assert_true(free_max > 1); /* random slot choice piles requests on one sequence */
    /* Thread 0 drives 2 slots, thread 1 one: streams 0 and 1 are used. */
    assert_int_equal(streams, 3);
}

/* Custom intervals run the same open loop with the file's gaps. */
static void test_custom_intervals(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, 4, false);
    struct load_manager *m = load_manager_create(&f->cfg);
    struct pa_err err = {0};
    const uint64_t gaps[] = {2 * NS_PER_MS, 3 * NS_PER_MS, 5 * NS_PER_MS};

    uint64_t t0 = clock_now_ns();
    assert_int_equal(load_set_custom(m, gaps, 3, &err), PA_OK);
    run_for(205);
    uint64_t stop_at = clock_now_ns();
    /* 3 per 10 ms, the first 2 and 5 ms into each 10 ms: at most 2 more than 3/10 ms */
    uint64_t due = (stop_at - t0) * 3 / (10 * NS_PER_MS) + 2;
    load_stop(m);
    struct pa_record_batch b = {0};
    load_collect(m, &b);
    assert_true(b.n <= due + 1 && b.n >= due / 4);
    uint64_t *sched = calloc(b.n, sizeof(*sched));
    for (size_t i = 0; i < b.n; i++) {
        assert_true(b.records[i].start_ns >= b.records[i].scheduled_ns);
        sched[i] = b.records[i].scheduled_ns;
    }
    qsort(sched, b.n, sizeof(*sched), cmp_u64);
    static const uint64_t gap_ms[] = {3, 5, 2};
    for (size_t i = 1; i < b.n && sched[i] + STOP_MARGIN_NS < stop_at; i++)
        assert_int_equal(sched[i] - sched[i - 1], gap_ms[(i - 1) % 3] * NS_PER_MS);
    free(sched);
    record_batch_release(&b);
    load_manager_free(m);
    free(f);
}

/* --- periodic concurrency ---------------------------------------------- */

static void test_periodic(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, 16, false);
    f->opts.periodic_start = 2;
    f->opts.periodic_end = 6;
    f->opts.periodic_step = 2;
    f->opts.request_period = 3;
    atomic_store(&n_resp, 5);
    atomic_store(&delay_ns, NS_PER_MS);
    atomic_bool stop;
    atomic_init(&stop, false);
    struct pa_record_batch b = {0};
    struct pa_err err = {0};

    assert_int_equal(periodic_run(&f->cfg, &stop, &b, &err), PA_OK);
    assert_int_equal(b.n, 6);
    assert_int_equal(atomic_load(&submitted), 6);
    assert_int_equal(streams_seen, 0x3f); /* one stream per request */
    uint64_t starts[6];
    for (size_t i = 0; i < b.n; i++) {
        assert_int_equal(b.records[i].n_responses, 5);
        starts[i] = b.records[i].start_ns;
    }
    qsort(starts, 6, sizeof(*starts), cmp_u64);
    /* Batches of 2: the next starts once both reached 3 responses (≥ 3 ms later). */
    assert_true(starts[2] - starts[1] >= 3 * NS_PER_MS);
    assert_true(starts[4] - starts[3] >= 3 * NS_PER_MS);
    record_batch_release(&b);

    /* A period longer than the responses: the original's fatal error. */
    f->opts.request_period = 9;
    reset_fake();
    atomic_store(&n_resp, 5);
    assert_int_equal(periodic_run(&f->cfg, &stop, &b, &err), PA_EINVAL);
    assert_string_equal(err.msg,
                        "Request received final response before request period was reached. "
                        "Request period must be at most the total number of responses "
                        "received by any request.");
    record_batch_release(&b);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_constant),
        cmocka_unit_test(test_rate_delayed),
        cmocka_unit_test(test_sequences_async),
        cmocka_unit_test(test_sequences_sync),
        cmocka_unit_test(test_serial_sequences_rule),
        cmocka_unit_test(test_custom_intervals),
        cmocka_unit_test(test_periodic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
