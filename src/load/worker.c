/*
 * Load worker threads (spec 04 §1-§2, §7, §9).
 *
 * Sync and async are one mechanism: the worker keeps `share` requests in
 * flight on its own client, submitting until the share is reached and then
 * polling the client for completions. A sync worker simply has a share of
 * at most 1, so it sends one request, waits for its final response and sends
 * the next. Completion callbacks run on this thread (inside
 * pa_client_poll), so slots, the data cursor and the RNG need no locking;
 * only the record batch is shared (with the profiler) and sits behind the
 * worker's mutex.
 *
 * Each in-flight request occupies a slot whose address is the request's tag.
 * Slots are allocated one by one when a share grows and then reused, so the
 * request loop does not allocate. A failed request is counted and its
 * message becomes the worker's first error; the worker then stops sending
 * (as the original does) and the profiler's health check ends the run.
 */
#include "load/worker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "load/record_batch.h"

#include "core/banned.h"

#define DEFAULT_POLL_MS 50
#define DEFAULT_DRAIN_MS 10000
/* Record capacity reserved per unit of share at each level start. */
#define RESERVE_PER_SHARE 4096
#define RESERVE_MAX 65536

enum err_state { ERR_NONE, ERR_SEND, ERR_CALLBACK };

struct slot {
    struct worker *w;
    const struct pa_dataset_step *step;
    uint64_t start_ns;
    uint64_t *resp;        /* arrival times; grows only for many-response requests */
    uint32_t n_resp, cap_resp;
    struct slot *next_free;
};

struct worker {
    const struct load_config *cfg;
    size_t index;
    const atomic_bool *stop;
    pthread_t thread;
    bool started, joined;

    pthread_mutex_t lock;  /* guards batch, ready; pairs with cond */
    pthread_cond_t cond;   /* share changed, stop, or startup done */
    struct pa_record_batch batch;
    bool ready;

    atomic_size_t share, active, in_flight;
    atomic_uint_fast64_t completed, total_ns, send_ns, recv_ns;
    atomic_uint_fast64_t idle_ns, sent, failed;
    atomic_int err_state;  /* set once, after `error` is written */
    struct pa_err error;

    /* Owned by the worker thread. */
    struct pa_client client;
    bool client_open;
    struct pa_prepared **prepared; /* stream_first[s] + step */
    size_t *stream_first;
    size_t n_prepared;
    struct slot **slots;
    size_t n_slots;
    struct slot *free_slots;
    uint64_t step_counter;
    struct rng rng;
};

static bool stopping(const struct worker *w)
{
    return atomic_load(w->stop);
}

static bool failed(const struct worker *w)
{
    return atomic_load_explicit(&w->err_state, memory_order_acquire) != ERR_NONE;
}

/* Only the worker thread sets errors, so "first error wins" needs no lock. */
static void set_error(struct worker *w, bool callback, int code, const char *msg)
{
    if (failed(w))
        return;
    pa_errorf(&w->error, code ? code : PA_EINTERNAL, "%s", msg ? msg : "unknown error");
    atomic_store_explicit(&w->err_state, callback ? ERR_CALLBACK : ERR_SEND,
                          memory_order_release);
}

static struct slot *slot_get(struct worker *w)
{
    struct slot *s = w->free_slots;
    if (s) {
        w->free_slots = s->next_free;
        return s;
    }
    /* Only when the share grew beyond every earlier share of this worker. */
    w->slots = xreallocarray(w->slots, w->n_slots + 1, sizeof(*w->slots));
    s = xcalloc(1, sizeof(*s));
    s->w = w;
    s->cap_resp = 4;
    s->resp = xmalloc(s->cap_resp * sizeof(*s->resp));
    w->slots[w->n_slots++] = s;
    return s;
}

static void slot_put(struct worker *w, struct slot *s)
{
    s->next_free = w->free_slots;
    w->free_slots = s;
    atomic_fetch_sub(&w->in_flight, 1);
}

/*
 * Step of stream 0 for the next request (spec 04 §7): (counter · B) mod N,
 * then counter += active workers. The counter starts at the worker index so
 * that workers spread over the data (the original's r23.10 started every
 * worker at 0; see the spec's defect table).
 */
static const struct pa_dataset_step *next_step(struct worker *w, struct pa_prepared **p)
{
    const struct pa_dataset_stream *st = &w->cfg->ds->streams[0];
    uint64_t b = w->cfg->batch_size ? w->cfg->batch_size : 1;
    size_t k = (size_t)((w->step_counter * b) % st->n_steps);
    size_t active = atomic_load(&w->active);
    w->step_counter += active ? active : 1;
    *p = w->prepared[w->stream_first[0] + k];
    return &st->steps[k];
}

static void on_response(void *arg, const struct pa_response *r)
{
    struct worker *w = arg;
    struct slot *s = r->tag;

    if (r->error) {
        atomic_fetch_add(&w->failed, 1);
        set_error(w, w->cfg->async, r->error, r->error_msg);
        slot_put(w, s);
        return;
    }
    if (s->n_resp == s->cap_resp) {
        s->cap_resp *= 2;
        s->resp = xreallocarray(s->resp, s->cap_resp, sizeof(*s->resp));
    }
    s->resp[s->n_resp++] = r->arrival_ns;
    if (!r->final)
        return;

    struct pa_record rec = {
        .start_ns = s->start_ns,
        .n_responses = s->n_resp,
    };
    if (r->null_response) {
        rec.flags |= PA_REC_NULL_LAST;
        rec.end_ns = s->n_resp >= 2 ? s->resp[s->n_resp - 2] : 0;
    } else {
        rec.end_ns = s->resp[s->n_resp - 1];
    }
    pthread_mutex_lock(&w->lock);
    record_batch_append(&w->batch, &rec, s->resp);
    pthread_mutex_unlock(&w->lock);

    atomic_fetch_add(&w->total_ns, r->total_ns);
    atomic_fetch_add(&w->send_ns, r->send_ns);
    atomic_fetch_add(&w->recv_ns, r->recv_ns);
    atomic_fetch_add(&w->completed, 1);

    if (w->cfg->validate && s->step->expected && s->step->n_expected && !r->null_response) {
        struct pa_err e = {0};
        if (w->cfg->validate(w->cfg->validate_arg, &w->client, r, s->step, &e)) {
            atomic_fetch_add(&w->failed, 1);
            set_error(w, w->cfg->async, e.code, e.msg);
        }
    }
    slot_put(w, s);
}

static int submit_one(struct worker *w)
{
    struct pa_prepared *p;
    struct slot *s = slot_get(w);
    struct pa_err e = {0};

    s->step = next_step(w, &p);
    s->n_resp = 0;
    struct pa_send send = {.tag = s};
    /* Counted first: a request that fails at once completes inside submit. */
    atomic_fetch_add(&w->in_flight, 1);
    uint64_t t0 = clock_now_ns();
    s->start_ns = t0;
    int rc = pa_client_submit(&w->client, p, &send, &e);
    atomic_fetch_add(&w->idle_ns, clock_now_ns() - t0);
    atomic_fetch_add(&w->sent, 1);
    if (rc) {
        slot_put(w, s);
        set_error(w, false, rc, e.msg);
    }
    return rc;
}

static int wait_responses(struct worker *w, int timeout_ms)
{
    struct pa_err e = {0};
    uint64_t t0 = clock_now_ns();
    int rc = pa_client_poll(&w->client, timeout_ms, &e);
    atomic_fetch_add(&w->idle_ns, clock_now_ns() - t0);
    if (rc < 0) {
        set_error(w, w->cfg->async, rc, e.msg);
        return rc;
    }
    return PA_OK;
}

static int startup(struct worker *w)
{
    const struct pa_dataset *ds = w->cfg->ds;
    struct pa_err e = {0};

    int rc = w->cfg->open_client(&w->client, w->cfg->opts, on_response, w, &e);
    if (rc) {
        set_error(w, false, rc, e.msg);
        return rc;
    }
    w->client_open = true;

    w->stream_first = xcalloc(ds->n_streams ? ds->n_streams : 1, sizeof(*w->stream_first));
    for (size_t s = 0; s < ds->n_streams; s++) {
        w->stream_first[s] = w->n_prepared;
        w->n_prepared += ds->streams[s].n_steps;
    }
    w->prepared = xcalloc(w->n_prepared ? w->n_prepared : 1, sizeof(*w->prepared));
    for (size_t s = 0; s < ds->n_streams; s++) {
        for (size_t k = 0; k < ds->streams[s].n_steps; k++) {
            rc = pa_client_prepare(&w->client, &ds->streams[s].steps[k].desc,
                                   &w->prepared[w->stream_first[s] + k], &e);
            if (rc) {
                set_error(w, false, rc, e.msg);
                return rc;
            }
        }
    }
    if (ds->n_streams == 0 || ds->streams[0].n_steps == 0) {
        set_error(w, false, PA_EDATA, "no input data to send");
        return PA_EDATA;
    }
    return PA_OK;
}

/* Blocks while there is nothing to send and nothing in flight. */
static void park(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    while (!stopping(w) && (atomic_load(&w->share) == 0 || failed(w)))
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

static void run(struct worker *w)
{
    int poll_ms = (int)(w->cfg->poll_timeout_ms ? w->cfg->poll_timeout_ms : DEFAULT_POLL_MS);

    while (!stopping(w)) {
        size_t share = failed(w) ? 0 : atomic_load(&w->share);
        size_t in_flight = atomic_load(&w->in_flight);
        if (share == 0 && in_flight == 0) {
            park(w);
            continue;
        }
        while (in_flight < share && !stopping(w)) {
            if (submit_one(w))
                return;
            in_flight = atomic_load(&w->in_flight);
            share = failed(w) ? 0 : atomic_load(&w->share);
        }
        if (in_flight > 0 && wait_responses(w, poll_ms))
            return;
    }
}

/* Waits (bounded) for the requests still in flight, so none outlives the run. */
static void drain(struct worker *w)
{
    uint64_t ms = w->cfg->drain_timeout_ms ? w->cfg->drain_timeout_ms : DEFAULT_DRAIN_MS;
    uint64_t deadline = clock_now_ns() + ms * NS_PER_MS;
    struct pa_err e = {0};
    while (atomic_load(&w->in_flight) > 0 && clock_now_ns() < deadline)
        if (pa_client_poll(&w->client, DEFAULT_POLL_MS, &e) < 0)
            break;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int rc = startup(w);

    pthread_mutex_lock(&w->lock);
    w->ready = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);

    if (!rc)
        run(w);
    if (w->client_open) {
        drain(w);
        for (size_t i = 0; i < w->n_prepared; i++)
            pa_client_prepared_free(&w->client, w->prepared[i]);
        w->cfg->close_client(&w->client);
        w->client_open = false;
    }
    return NULL;
}

struct worker *worker_create(const struct load_config *cfg, size_t index, const atomic_bool *stop)
{
    struct worker *w = xcalloc(1, sizeof(*w));
    w->cfg = cfg;
    w->index = index;
    w->stop = stop;
    w->step_counter = index;
    rng_seed(&w->rng, (uint64_t)index + 1);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    atomic_init(&w->share, 0);
    atomic_init(&w->active, 0);
    atomic_init(&w->in_flight, 0);
    atomic_init(&w->err_state, ERR_NONE);
    return w;
}

int worker_start(struct worker *w, struct pa_err *err)
{
    if (pthread_create(&w->thread, NULL, worker_main, w))
        return pa_errorf(err, PA_EINTERNAL, "cannot start worker thread %zu", w->index);
    w->started = true;
    pthread_mutex_lock(&w->lock);
    while (!w->ready)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    return PA_OK;
}

void worker_set_share(struct worker *w, size_t share, size_t active)
{
    size_t reserve = share * RESERVE_PER_SHARE;
    pthread_mutex_lock(&w->lock);
    if (share)
        record_batch_reserve(&w->batch, reserve < RESERVE_MAX ? reserve : RESERVE_MAX,
                             reserve < RESERVE_MAX ? reserve : RESERVE_MAX);
    atomic_store(&w->active, active);
    atomic_store(&w->share, share);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

size_t worker_in_flight(const struct worker *w)
{
    return atomic_load(&w->in_flight);
}

size_t worker_share(const struct worker *w)
{
    return atomic_load(&w->share);
}

void worker_collect(struct worker *w, struct pa_record_batch *into)
{
    pthread_mutex_lock(&w->lock);
    record_batch_move(into, &w->batch);
    pthread_mutex_unlock(&w->lock);
}

void worker_counters(const struct worker *w, struct load_counters *out)
{
    out->completed = atomic_load(&w->completed);
    out->total_ns = atomic_load(&w->total_ns);
    out->send_ns = atomic_load(&w->send_ns);
    out->recv_ns = atomic_load(&w->recv_ns);
}

uint64_t worker_completed(const struct worker *w)
{
    return atomic_load(&w->completed);
}

uint64_t worker_failed(const struct worker *w)
{
    return atomic_load(&w->failed);
}

uint64_t worker_take_sent(struct worker *w)
{
    return atomic_exchange(&w->sent, 0);
}

void worker_reset_idle(struct worker *w)
{
    atomic_store(&w->idle_ns, 0);
}

uint64_t worker_idle_ns(const struct worker *w)
{
    return atomic_load(&w->idle_ns);
}

const struct pa_err *worker_error(const struct worker *w, bool *async_path)
{
    int st = atomic_load_explicit(&w->err_state, memory_order_acquire);
    if (st == ERR_NONE)
        return NULL;
    if (async_path)
        *async_path = st == ERR_CALLBACK;
    return &w->error;
}

void worker_wake(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void worker_join(struct worker *w)
{
    if (!w->started || w->joined)
        return;
    worker_wake(w);
    pthread_join(w->thread, NULL);
    w->joined = true;
}

void worker_free(struct worker *w)
{
    if (!w)
        return;
    worker_join(w);
    for (size_t i = 0; i < w->n_slots; i++) {
        free(w->slots[i]->resp);
        free(w->slots[i]);
    }
    free(w->slots);
    free(w->prepared);
    free(w->stream_first);
    record_batch_release(&w->batch);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
