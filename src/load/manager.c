/*
 * The load manager (spec 04 §2-§4): creates workers and spreads the level
 * (a concurrency, or a schedule) over them. See manager.h.
 */
#include "load/manager.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "load/schedule.h"
#include "load/sequence.h"

#include "core/banned.h"

/* Bound on waiting for surplus requests to finish after a level is lowered. */
#define SETTLE_TIMEOUT_NS (30 * NS_PER_S)
#define SETTLE_POLL_NS NS_PER_MS
/* Bound on a worker's pause: closing sequences and draining are bounded too. */
#define PAUSE_TIMEOUT_NS (60 * NS_PER_S)

struct load_manager {
    struct load_config cfg;
    struct worker **workers;
    size_t n_workers;
    atomic_bool stop;
    bool stopped;
    struct seq_table *seq;     /* sequence models */
    struct load_schedule sched; /* open loop: the current level's schedule */
};

struct load_manager *load_manager_create(const struct load_config *cfg)
{
    struct load_manager *m = xcalloc(1, sizeof(*m));
    m->cfg = *cfg;
    atomic_init(&m->stop, false);
    return m;
}

static int add_worker(struct load_manager *m, bool planned, struct pa_err *err)
{
    struct worker *w = worker_create(&m->cfg, m->n_workers, &m->stop, m->seq, planned);
    int rc = worker_start(w, err);
    if (rc) {
        worker_free(w);
        return rc;
    }
    m->workers = xreallocarray(m->workers, m->n_workers + 1, sizeof(*m->workers));
    m->workers[m->n_workers++] = w;
    return PA_OK;
}

static void ensure_sequences(struct load_manager *m, size_t n_slots)
{
    const struct pa_options *o = m->cfg.opts;
    if (!m->cfg.sequence || m->seq)
        return;
    struct seq_params p = {
        .id_start = o->sequence_id_start,
        .id_range = o->sequence_id_range,
        .length = o->sequence_length,
        .variation = o->sequence_length_variation,
        .length_given = o->sequence_length_given,
        .json_data = m->cfg.json_data,
    };
    m->seq = seq_table_create(&p, m->cfg.ds, n_slots);
}

/* Pauses every worker: each closes its sequences, drains and parks. */
static int pause_all(struct load_manager *m, struct pa_err *err)
{
    for (size_t i = 0; i < m->n_workers; i++)
        worker_request_pause(m->workers[i]);
    for (size_t i = 0; i < m->n_workers; i++)
        if (!worker_wait_paused(m->workers[i], PAUSE_TIMEOUT_NS))
            return pa_errorf(err, PA_ETIMEDOUT,
                             "worker thread %zu did not finish its requests in flight", i);
    return PA_OK;
}

static void resume_all(struct load_manager *m)
{
    for (size_t i = 0; i < m->n_workers; i++)
        worker_resume(m->workers[i]);
}

/* ⌊n/t⌋ + 1 for the first n mod t. */
static size_t part(size_t n, size_t t, size_t i)
{
    return n / t + (i < n % t ? 1 : 0);
}

static bool settled(const struct load_manager *m)
{
    for (size_t i = 0; i < m->n_workers; i++)
        if (worker_error(m->workers[i], NULL) == NULL &&
            worker_in_flight(m->workers[i]) > worker_share(m->workers[i]))
            return false;
    return true;
}

/* Sequence model: pause, hand out slot ranges, resume (spec 04 §2 steps 1-4). */
static int set_concurrency_sequences(struct load_manager *m, size_t c, size_t max_threads,
                                     struct pa_err *err)
{
    const struct pa_options *o = m->cfg.opts;
    /* Slots sized after the sync-mode end adjustment: the spec's slot fix. */
    uint64_t slots = o->concurrency_start > o->concurrency_end ? o->concurrency_start
                                                               : o->concurrency_end;
    ensure_sequences(m, (size_t)(slots > c ? slots : c));
    if (c > m->seq->n_slots)
        return pa_errorf(err, PA_EINTERNAL, "concurrency %zu exceeds the %zu sequence slots", c,
                         m->seq->n_slots);

    int rc = pause_all(m, err);
    if (rc)
        return rc;
    while (m->n_workers < c && m->n_workers < max_threads) {
        rc = add_worker(m, true, err);
        if (rc)
            return rc;
        if (!worker_wait_paused(m->workers[m->n_workers - 1], PAUSE_TIMEOUT_NS))
            return pa_errorf(err, PA_ETIMEDOUT, "worker thread %zu did not start",
                             m->n_workers - 1);
    }
    size_t t = m->n_workers, active = 0, offset = 0;
    if (t == 0)
        return PA_OK;
    for (size_t i = 0; i < t; i++)
        if (part(c, t, i))
            active++;
    for (size_t i = 0; i < t; i++) {
        struct worker_plan plan = {.active = active, .slot_first = offset,
                                   .n_slots = part(c, t, i)};
        offset += plan.n_slots;
        worker_set_plan(m->workers[i], &plan);
    }
    resume_all(m);
    return PA_OK;
}

int load_set_concurrency(struct load_manager *m, uint64_t concurrency, struct pa_err *err)
{
    /* A sync worker holds one request at most, so sync needs C threads. */
    uint64_t max_threads = m->cfg.async ? m->cfg.opts->max_threads : concurrency;
    if (max_threads == 0)
        max_threads = 1;
    if (m->cfg.sequence)
        return set_concurrency_sequences(m, (size_t)concurrency, (size_t)max_threads, err);

    while (m->n_workers < concurrency && m->n_workers < max_threads) {
        int rc = add_worker(m, false, err);
        if (rc)
            return rc;
    }
    size_t t = m->n_workers;
    if (t == 0)
        return PA_OK;
    size_t c = (size_t)concurrency, active = 0;
    for (size_t i = 0; i < t; i++)
        if (part(c, t, i))
            active++;
    for (size_t i = 0; i < t; i++)
        worker_set_share(m->workers[i], part(c, t, i), active);

    uint64_t deadline = clock_now_ns() + SETTLE_TIMEOUT_NS;
    while (!settled(m) && !atomic_load(&m->stop) && clock_now_ns() < deadline)
        clock_sleep_ns(SETTLE_POLL_NS);
    return PA_OK;
}

/* Open-loop thread count and slot-list length (spec 04 §3 "Threads and contexts"). */
static void open_loop_shape(const struct load_manager *m, size_t *threads, size_t *ids)
{
    const struct pa_options *o = m->cfg.opts;
    size_t t = (size_t)(o->max_threads ? o->max_threads : 1);
    size_t s = (size_t)(o->num_of_sequences ? o->num_of_sequences : 1);
    if (m->cfg.sequence) {
        *threads = t < s ? t : s;
        *ids = s;
    } else {
        *threads = t;
        *ids = t;
    }
}

/* Pauses the open-loop workers (creating them the first time). */
static int open_loop_pause(struct load_manager *m, struct pa_err *err)
{
    size_t t, ids;
    open_loop_shape(m, &t, &ids);
    ensure_sequences(m, ids);
    int rc = pause_all(m, err);
    if (rc)
        return rc;
    while (m->n_workers < t) {
        rc = add_worker(m, true, err);
        if (rc)
            return rc;
        if (!worker_wait_paused(m->workers[m->n_workers - 1], PAUSE_TIMEOUT_NS))
            return pa_errorf(err, PA_ETIMEDOUT, "worker thread %zu did not start",
                             m->n_workers - 1);
    }
    return PA_OK;
}

/* Gives every paused worker its schedule and slots, one common start, and resumes. */
static void open_loop_resume(struct load_manager *m)
{
    size_t t = m->n_workers, s = m->seq ? m->seq->n_slots : 0, offset = 0;
    uint64_t start = clock_now_ns();
    for (size_t i = 0; i < t; i++) {
        struct worker_plan plan = {
            .active = t,
            .schedule = &m->sched.workers[i],
            .level_start_ns = start,
            .serial = m->cfg.opts->serial_sequences,
        };
        if (m->seq) {
            plan.slot_first = offset;
            plan.n_slots = part(s, t, i);
            offset += plan.n_slots;
        }
        worker_set_plan(m->workers[i], &plan);
    }
    resume_all(m);
}

int load_set_rate(struct load_manager *m, double rate, struct pa_err *err)
{
    const struct pa_options *o = m->cfg.opts;
    int rc = open_loop_pause(m, err);
    if (rc)
        return rc;
    size_t t, ids;
    open_loop_shape(m, &t, &ids);
    /* Poisson covers the longest a level can last; constant repeats one round. */
    uint64_t max_duration = o->max_trials * o->measurement_interval_ms * NS_PER_MS;
    rc = schedule_rate(&m->sched, rate, o->request_distribution, m->n_workers, ids, max_duration,
                       err);
    if (rc)
        return rc;
    open_loop_resume(m);
    return PA_OK;
}

int load_set_custom(struct load_manager *m, const uint64_t *gaps_ns, size_t n_gaps,
                    struct pa_err *err)
{
    int rc = open_loop_pause(m, err);
    if (rc)
        return rc;
    size_t t, ids;
    open_loop_shape(m, &t, &ids);
    rc = schedule_custom(&m->sched, gaps_ns, n_gaps, m->n_workers, ids, err);
    if (rc)
        return rc;
    open_loop_resume(m);
    return PA_OK;
}

void load_collect(struct load_manager *m, struct pa_record_batch *into)
{
    for (size_t i = 0; i < m->n_workers; i++)
        worker_collect(m->workers[i], into);
}

int load_health(struct load_manager *m, struct pa_err *err)
{
    bool send_failed = false, callback_failed = false;
    for (size_t i = 0; i < m->n_workers; i++) {
        bool async_path = false;
        if (worker_error(m->workers[i], &async_path)) {
            if (async_path)
                callback_failed = true;
            else
                send_failed = true;
        }
    }
    if (send_failed)
        return pa_errorf(err, PA_ESERVER,
                         "Failed to maintain requested inference load. Worker thread(s) failed "
                         "to generate concurrent requests.");
    if (callback_failed)
        return pa_errorf(err, PA_ESERVER, "Failed to retrieve results from inference request.");
    return PA_OK;
}

void load_counters(struct load_manager *m, struct load_counters *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < m->n_workers; i++) {
        struct load_counters c;
        worker_counters(m->workers[i], &c);
        out->completed += c.completed;
        out->total_ns += c.total_ns;
        out->send_ns += c.send_ns;
        out->recv_ns += c.recv_ns;
    }
}

uint64_t load_completed(struct load_manager *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->n_workers; i++)
        n += worker_completed(m->workers[i]);
    return n;
}

uint64_t load_failed(struct load_manager *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->n_workers; i++)
        n += worker_failed(m->workers[i]);
    return n;
}

uint64_t load_take_sent(struct load_manager *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->n_workers; i++)
        n += worker_take_sent(m->workers[i]);
    return n;
}

void load_reset_idle(struct load_manager *m)
{
    for (size_t i = 0; i < m->n_workers; i++)
        worker_reset_idle(m->workers[i]);
}

uint64_t load_idle_ns(struct load_manager *m)
{
    uint64_t sum = 0, n = 0;
    for (size_t i = 0; i < m->n_workers; i++) {
        uint64_t idle = worker_idle_ns(m->workers[i]);
        if (idle) {
            sum += idle;
            n++;
        }
    }
    return n ? sum / n : 0;
}

size_t load_in_flight(struct load_manager *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_workers; i++)
        n += worker_in_flight(m->workers[i]);
    return n;
}

size_t load_threads(struct load_manager *m)
{
    return m->n_workers;
}

void load_stop(struct load_manager *m)
{
    if (!m || m->stopped)
        return;
    atomic_store(&m->stop, true);
    for (size_t i = 0; i < m->n_workers; i++)
        worker_wake(m->workers[i]);
    /* Joined but not freed: their errors are reported afterwards. */
    for (size_t i = 0; i < m->n_workers; i++)
        worker_join(m->workers[i]);
    m->stopped = true;
}

void load_report_errors(struct load_manager *m, FILE *out)
{
    for (size_t i = 0; i < m->n_workers; i++) {
        const struct pa_err *e = worker_error(m->workers[i], NULL);
        if (e)
            fprintf(out, "Thread [%zu] had error: %s\n", i, e->msg);
    }
}

void load_manager_free(struct load_manager *m)
{
    if (!m)
        return;
    load_stop(m);
    for (size_t i = 0; i < m->n_workers; i++)
        worker_free(m->workers[i]);
    free(m->workers);
    schedule_release(&m->sched);
    seq_table_free(m->seq);
    free(m);
}
