/*
 * The concurrency load manager (spec 04 §2): creates workers on demand and
 * spreads the requested concurrency over them. See concurrency.h.
 */
#include "load/concurrency.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"

#include "core/banned.h"

/* Bound on waiting for surplus requests to finish after a level is lowered. */
#define SETTLE_TIMEOUT_NS (30 * NS_PER_S)
#define SETTLE_POLL_NS NS_PER_MS

struct concurrency_manager {
    struct load_config cfg;
    struct worker **workers;
    size_t n_workers;
    atomic_bool stop;
    bool stopped;
};

struct concurrency_manager *concurrency_create(const struct load_config *cfg)
{
    struct concurrency_manager *m = xcalloc(1, sizeof(*m));
    m->cfg = *cfg;
    atomic_init(&m->stop, false);
    return m;
}

static int add_worker(struct concurrency_manager *m, struct pa_err *err)
{
    struct worker *w = worker_create(&m->cfg, m->n_workers, &m->stop);
    int rc = worker_start(w, err);
    if (rc) {
        worker_free(w);
        return rc;
    }
    m->workers = xreallocarray(m->workers, m->n_workers + 1, sizeof(*m->workers));
    m->workers[m->n_workers++] = w;
    return PA_OK;
}

static bool settled(const struct concurrency_manager *m)
{
    for (size_t i = 0; i < m->n_workers; i++)
        if (worker_error(m->workers[i], NULL) == NULL &&
            worker_in_flight(m->workers[i]) > worker_share(m->workers[i]))
            return false;
    return true;
}

int concurrency_set(struct concurrency_manager *m, uint64_t concurrency, struct pa_err *err)
{
    /* A sync worker holds one request at most, so sync needs C threads. */
    uint64_t max_threads = m->cfg.async ? m->cfg.opts->max_threads : concurrency;
    if (max_threads == 0)
        max_threads = 1;
    while (m->n_workers < concurrency && m->n_workers < max_threads) {
        int rc = add_worker(m, err);
        if (rc)
            return rc;
    }

    size_t t = m->n_workers;
    if (t == 0)
        return PA_OK;
    size_t base = (size_t)(concurrency / t), extra = (size_t)(concurrency % t);
    size_t active = 0;
    for (size_t i = 0; i < t; i++)
        if (base + (i < extra ? 1 : 0) > 0)
            active++;
    for (size_t i = 0; i < t; i++)
        worker_set_share(m->workers[i], base + (i < extra ? 1 : 0), active);

    uint64_t deadline = clock_now_ns() + SETTLE_TIMEOUT_NS;
    while (!settled(m) && !atomic_load(&m->stop) && clock_now_ns() < deadline)
        clock_sleep_ns(SETTLE_POLL_NS);
    return PA_OK;
}

void concurrency_collect(struct concurrency_manager *m, struct pa_record_batch *into)
{
    for (size_t i = 0; i < m->n_workers; i++)
        worker_collect(m->workers[i], into);
}

int concurrency_health(struct concurrency_manager *m, struct pa_err *err)
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

void concurrency_counters(struct concurrency_manager *m, struct load_counters *out)
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

uint64_t concurrency_completed(struct concurrency_manager *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->n_workers; i++)
        n += worker_completed(m->workers[i]);
    return n;
}

uint64_t concurrency_failed(struct concurrency_manager *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->n_workers; i++)
        n += worker_failed(m->workers[i]);
    return n;
}

uint64_t concurrency_take_sent(struct concurrency_manager *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->n_workers; i++)
        n += worker_take_sent(m->workers[i]);
    return n;
}

void concurrency_reset_idle(struct concurrency_manager *m)
{
    for (size_t i = 0; i < m->n_workers; i++)
        worker_reset_idle(m->workers[i]);
}

uint64_t concurrency_idle_ns(struct concurrency_manager *m)
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

size_t concurrency_in_flight(struct concurrency_manager *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_workers; i++)
        n += worker_in_flight(m->workers[i]);
    return n;
}

size_t concurrency_threads(struct concurrency_manager *m)
{
    return m->n_workers;
}

void concurrency_stop(struct concurrency_manager *m)
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

void concurrency_report_errors(struct concurrency_manager *m, FILE *out)
{
    for (size_t i = 0; i < m->n_workers; i++) {
        const struct pa_err *e = worker_error(m->workers[i], NULL);
        if (e)
            fprintf(out, "Thread [%zu] had error: %s\n", i, e->msg);
    }
}

void concurrency_free(struct concurrency_manager *m)
{
    if (!m)
        return;
    concurrency_stop(m);
    for (size_t i = 0; i < m->n_workers; i++)
        worker_free(m->workers[i]);
    free(m->workers);
    free(m);
}
