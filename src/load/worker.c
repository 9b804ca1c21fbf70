/*
 * Load worker threads (spec 04 §1-§3, §6-§7, §9).
 *
 * Sync and async are one mechanism: the worker keeps requests in flight on
 * its own client, submitting and then polling the client for completions.
 * A sync worker simply never has more than one request in flight, so it
 * sends one request, waits for its final response and sends the next.
 * Completion callbacks run on this thread (inside pa_client_poll), so
 * request slots, sequence contexts, the data cursor and the RNG need no
 * locking; only the record batch (shared with the profiler) and the plan
 * (set by the manager while the worker is paused) sit behind the mutex.
 *
 * Each in-flight request occupies a request slot whose address is the
 * request's tag. Slots are allocated one by one when the number in flight
 * grows beyond every earlier level and then reused, so the request loop does
 * not allocate once a level runs. A failed request is counted and its
 * message becomes the worker's first error; the worker then stops sending
 * (as the original does) and the profiler's health check ends the run.
 *
 * Open loop: the n-th send of a level is due at level_start + schedule_at(n)
 * on CLOCK_MONOTONIC. The worker blocks until then: in the client's poll (so
 * completions are handled while waiting) when requests are in flight and
 * at least 1 ms remains, otherwise in clock_nanosleep. It never spins. A
 * request whose deadline has already passed is sent at once and flagged
 * delayed; late slots are never skipped (the original's catch-up bursts).
 */
#include "load/worker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "load/record_batch.h"

#include "core/banned.h"

#define DEFAULT_POLL_MS 50
#define DEFAULT_DRAIN_MS 10000
/* Longest single sleep of the open loop, so stop and pause are seen quickly. */
#define SLEEP_SLICE_NS (50 * NS_PER_MS)
/* Record capacity reserved per unit of share at each level start. */
#define RESERVE_PER_SHARE 4096
#define RESERVE_MAX 65536

enum err_state { ERR_NONE, ERR_SEND, ERR_CALLBACK };

/* One sequence slot driven by this worker (a "context" of the original). */
struct ctx {
    size_t slot;          /* index into the sequence table */
    size_t in_flight;
    bool queued;          /* in the free FIFO */
};

/* One request in flight. */
struct req {
    struct worker *w;
    const struct pa_dataset_step *step;
    struct ctx *ctx;      /* sequence requests only */
    uint64_t start_ns, scheduled_ns, seq_id;
    uint32_t flags;       /* PA_REC_SEQUENCE_END, PA_REC_DELAYED */
    uint64_t *resp;       /* arrival times; grows only for many-response requests */
    uint32_t n_resp, cap_resp;
    struct req *next_free;
};

struct worker {
    const struct load_config *cfg;
    size_t index;
    const atomic_bool *stop;
    pthread_t thread;
    bool started, joined;

    pthread_mutex_t lock;  /* guards batch, ready, paused, ended, plan; pairs with cond */
    pthread_cond_t cond;   /* share/plan changed, pause/resume, stop, startup done */
    struct pa_record_batch batch;
    bool ready, paused, ended;
    struct worker_plan plan;
    bool planned;          /* follows plans (sequence or open loop), not shares */

    atomic_bool pause_req;
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
    struct req **reqs;
    size_t n_reqs;
    struct req *free_reqs;
    uint64_t step_counter;
    struct rng rng;
    int poll_ms;

    struct worker_plan cur; /* the plan in force */
    uint64_t sched_n;       /* sends of this level so far (open loop) */
    struct seq_table *seq;  /* NULL: not a sequence model */
    struct ctx *ctxs;       /* cur.n_slots entries in use; room for every slot */
    size_t n_ctx;
    size_t *fifo;           /* ring of free context indices */
    size_t fifo_head, fifo_len, fifo_cap;
};

static bool stopping(const struct worker *w)
{
    return atomic_load(w->stop);
}

static bool pause_requested(const struct worker *w)
{
    return atomic_load(&w->pause_req);
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

static void add_idle(struct worker *w, uint64_t since)
{
    atomic_fetch_add(&w->idle_ns, clock_now_ns() - since);
}

/* --- sequence contexts ------------------------------------------------- */

/* Closed loop and serial sequences: at most one request per sequence in flight. */
static bool one_per_ctx(const struct worker *w)
{
    return w->cur.schedule == NULL || w->cur.serial;
}

static void fifo_push(struct worker *w, struct ctx *cx)
{
    if (cx->queued || w->fifo_len == w->fifo_cap)
        return;
    w->fifo[(w->fifo_head + w->fifo_len) % w->fifo_cap] = (size_t)(cx - w->ctxs);
    w->fifo_len++;
    cx->queued = true;
}

static struct ctx *fifo_pop(struct worker *w)
{
    if (w->fifo_len == 0)
        return NULL;
    struct ctx *cx = &w->ctxs[w->fifo[w->fifo_head]];
    w->fifo_head = (w->fifo_head + 1) % w->fifo_cap;
    w->fifo_len--;
    cx->queued = false;
    return cx;
}

/* Takes the plan set while paused: contexts, FIFO, schedule position. */
static void apply_plan(struct worker *w)
{
    size_t n = w->seq ? w->cur.n_slots : 0;
    if (w->seq && (w->cur.slot_first > w->seq->n_slots ||
                   n > w->seq->n_slots - w->cur.slot_first))
        n = 0; /* a plan beyond the table is a manager bug; send nothing */
    w->n_ctx = n;
    w->fifo_head = w->fifo_len = 0;
    for (size_t i = 0; i < n; i++) {
        w->ctxs[i] = (struct ctx){.slot = w->cur.slot_first + i};
        if (one_per_ctx(w))
            fifo_push(w, &w->ctxs[i]);
    }
    w->sched_n = 0;
    atomic_store(&w->active, w->cur.active);
    atomic_store(&w->share, w->cur.schedule ? 1 : n);
}

/* --- request slots ----------------------------------------------------- */

static struct req *req_get(struct worker *w)
{
    struct req *r = w->free_reqs;
    if (r) {
        w->free_reqs = r->next_free;
        return r;
    }
    /* Only when more requests are in flight than ever before on this worker. */
    w->reqs = xreallocarray(w->reqs, w->n_reqs + 1, sizeof(*w->reqs));
    r = xcalloc(1, sizeof(*r));
    r->w = w;
    r->cap_resp = 4;
    r->resp = xmalloc(r->cap_resp * sizeof(*r->resp));
    w->reqs[w->n_reqs++] = r;
    return r;
}

static void req_free(struct worker *w, struct req *r)
{
    r->next_free = w->free_reqs;
    w->free_reqs = r;
}

/* A request is over (answered or failed): give back its context and slot. */
static void req_done(struct worker *w, struct req *r)
{
    struct ctx *cx = r->ctx;
    if (cx) {
        cx->in_flight--;
        if (cx->in_flight == 0 && one_per_ctx(w))
            fifo_push(w, cx);
    }
    req_free(w, r);
    atomic_fetch_sub(&w->in_flight, 1);
}

/*
 * Step of stream 0 for the next non-sequence request (spec 04 §7):
 * (counter · B) mod N, then counter += active workers. The counter starts at
 * the worker index so that workers spread over the data (the original's
 * r23.10 started every worker at 0; see the spec's defect table).
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

static void on_response(void *arg, const struct pa_response *resp)
{
    struct worker *w = arg;
    struct req *r = resp->tag;

    if (resp->error) {
        atomic_fetch_add(&w->failed, 1);
        set_error(w, w->cfg->async, resp->error, resp->error_msg);
        req_done(w, r);
        return;
    }
    if (r->n_resp == r->cap_resp) {
        r->cap_resp *= 2;
        r->resp = xreallocarray(r->resp, r->cap_resp, sizeof(*r->resp));
    }
    r->resp[r->n_resp++] = resp->arrival_ns;
    if (!resp->final)
        return;

    struct pa_record rec = {
        .start_ns = r->start_ns,
        .scheduled_ns = r->scheduled_ns,
        .sequence_id = r->seq_id,
        .n_responses = r->n_resp,
        .flags = r->flags,
    };
    if (resp->null_response) {
        rec.flags |= PA_REC_NULL_LAST;
        rec.end_ns = r->n_resp >= 2 ? r->resp[r->n_resp - 2] : 0;
    } else {
        rec.end_ns = r->resp[r->n_resp - 1];
    }
    pthread_mutex_lock(&w->lock);
    record_batch_append(&w->batch, &rec, r->resp);
    pthread_mutex_unlock(&w->lock);

    atomic_fetch_add(&w->total_ns, resp->total_ns);
    atomic_fetch_add(&w->send_ns, resp->send_ns);
    atomic_fetch_add(&w->recv_ns, resp->recv_ns);
    atomic_fetch_add(&w->completed, 1);

    if (w->cfg->validate && r->step->expected && r->step->n_expected && !resp->null_response) {
        struct pa_err e = {0};
        if (w->cfg->validate(w->cfg->validate_arg, &w->client, resp, r->step, &e)) {
            atomic_fetch_add(&w->failed, 1);
            set_error(w, w->cfg->async, e.code, e.msg);
        }
    }
    req_done(w, r);
}

/*
 * Sends one request: a non-sequence request (cx NULL) or the next request of
 * context cx (with close, its sequence's final request; nothing is sent
 * when no sequence is open). Returns non-zero only when the client broke.
 */
static int send_request(struct worker *w, struct ctx *cx, bool close, uint64_t scheduled_ns,
                        bool delayed)
{
    const struct pa_dataset *ds = w->cfg->ds;
    struct pa_send send = {0};
    struct pa_prepared *p;
    struct pa_err e = {0};
    struct seq_request sr;

    if (cx && !seq_table_next(w->seq, cx->slot, &w->rng, close, &sr))
        return PA_OK;
    struct req *r = req_get(w);
    r->ctx = cx;
    r->n_resp = 0;
    r->scheduled_ns = scheduled_ns;
    r->flags = delayed ? PA_REC_DELAYED : 0;
    r->seq_id = 0;
    if (cx) {
        size_t st = sr.stream % ds->n_streams;
        size_t k = sr.step % ds->streams[st].n_steps;
        p = w->prepared[w->stream_first[st] + k];
        r->step = &ds->streams[st].steps[k];
        r->seq_id = sr.id;
        if (sr.end)
            r->flags |= PA_REC_SEQUENCE_END;
        send.sequence_id = sr.id;
        send.sequence_start = sr.start;
        send.sequence_end = sr.end;
        /* One stream per context, as the original has one client per context. */
        send.stream = (uint32_t)(cx - w->ctxs);
        cx->in_flight++;
    } else {
        r->step = next_step(w, &p);
    }
    send.tag = r;
    /* Counted first: a request that fails at once completes inside submit. */
    atomic_fetch_add(&w->in_flight, 1);
    uint64_t t0 = clock_now_ns();
    r->start_ns = t0;
    int rc = pa_client_submit(&w->client, p, &send, &e);
    add_idle(w, t0);
    atomic_fetch_add(&w->sent, 1);
    if (rc) {
        req_done(w, r);
        set_error(w, false, rc, e.msg);
    }
    return rc;
}

static int wait_responses(struct worker *w, int timeout_ms)
{
    struct pa_err e = {0};
    uint64_t t0 = clock_now_ns();
    int rc = pa_client_poll(&w->client, timeout_ms, &e);
    add_idle(w, t0);
    if (rc < 0) {
        set_error(w, w->cfg->async, rc, e.msg);
        return rc;
    }
    return PA_OK;
}

/* Sync mode: the request just sent is answered before the next one. */
static int finish_blocking(struct worker *w)
{
    while (!w->cfg->async && atomic_load(&w->in_flight) > 0)
        if (wait_responses(w, w->poll_ms))
            return -1;
    return PA_OK;
}

/* --- startup, parking, pausing ---------------------------------------- */

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
    while (!stopping(w) && !pause_requested(w) && atomic_load(&w->in_flight) == 0 &&
           (atomic_load(&w->share) == 0 || failed(w)))
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

/*
 * Sends the final request of every open sequence of this worker (spec 04
 * §6 "closing"), each once the sequence has nothing else in flight so the
 * server sees its requests in order. Bounded by the drain timeout.
 */
static void close_sequences(struct worker *w)
{
    if (!w->seq || !w->client_open)
        return;
    uint64_t ms = w->cfg->drain_timeout_ms ? w->cfg->drain_timeout_ms : DEFAULT_DRAIN_MS;
    uint64_t deadline = clock_now_ns() + ms * NS_PER_MS;
    for (;;) {
        bool waiting = false;
        for (size_t i = 0; i < w->n_ctx && !failed(w); i++) {
            struct ctx *cx = &w->ctxs[i];
            if (!seq_table_open(w->seq, cx->slot))
                continue;
            if (cx->in_flight > 0) {
                waiting = true;
                continue;
            }
            if (send_request(w, cx, true, 0, false) || finish_blocking(w))
                return;
        }
        if (!waiting || failed(w) || clock_now_ns() >= deadline)
            return;
        if (wait_responses(w, w->poll_ms))
            return;
    }
}

/* Waits (bounded) for the requests still in flight, so none outlives the level or run. */
static void drain(struct worker *w)
{
    uint64_t ms = w->cfg->drain_timeout_ms ? w->cfg->drain_timeout_ms : DEFAULT_DRAIN_MS;
    uint64_t deadline = clock_now_ns() + ms * NS_PER_MS;
    struct pa_err e = {0};
    while (w->client_open && atomic_load(&w->in_flight) > 0 && clock_now_ns() < deadline)
        if (pa_client_poll(&w->client, DEFAULT_POLL_MS, &e) < 0)
            break;
}

/* Level change of a planned worker: close, drain, park until resumed, take the plan. */
static void pause_here(struct worker *w)
{
    close_sequences(w);
    drain(w);
    pthread_mutex_lock(&w->lock);
    w->paused = true;
    pthread_cond_broadcast(&w->cond);
    while (pause_requested(w) && !stopping(w))
        pthread_cond_wait(&w->cond, &w->lock);
    w->paused = false;
    bool resumed = !stopping(w);
    if (resumed)
        w->cur = w->plan;
    pthread_mutex_unlock(&w->lock);
    if (resumed)
        apply_plan(w);
}

/* --- the three loops --------------------------------------------------- */

/* Closed loop, non-sequence model: keep `share` requests in flight. */
static int share_turn(struct worker *w)
{
    size_t share = failed(w) ? 0 : atomic_load(&w->share);
    size_t in_flight = atomic_load(&w->in_flight);
    if (share == 0 && in_flight == 0) {
        park(w);
        return PA_OK;
    }
    while (in_flight < share && !stopping(w)) {
        if (send_request(w, NULL, false, 0, false))
            return -1;
        in_flight = atomic_load(&w->in_flight);
        share = failed(w) ? 0 : atomic_load(&w->share);
    }
    if (in_flight > 0)
        return wait_responses(w, w->poll_ms);
    return PA_OK;
}

/* Closed loop, sequence model: every free context sends its next request. */
static int sequence_turn(struct worker *w)
{
    struct ctx *cx;
    while (!failed(w) && !stopping(w) && !pause_requested(w) && (cx = fifo_pop(w))) {
        if (send_request(w, cx, false, 0, false))
            return -1;
        if (!w->cfg->async)
            break; /* one blocking request at a time */
    }
    if (atomic_load(&w->in_flight) > 0)
        return wait_responses(w, w->poll_ms);
    park(w);
    return PA_OK;
}

/*
 * Blocks until the monotonic deadline, handling completions meanwhile.
 * False when stop or pause interrupted the wait (or the client broke).
 */
static bool wait_until(struct worker *w, uint64_t due)
{
    for (;;) {
        if (stopping(w) || pause_requested(w) || failed(w))
            return false;
        uint64_t now = clock_now_ns();
        if (now >= due)
            return true;
        uint64_t rem = due - now;
        if (w->cfg->async && atomic_load(&w->in_flight) > 0 && rem >= NS_PER_MS) {
            uint64_t ms = rem / NS_PER_MS;
            if (ms > (uint64_t)w->poll_ms)
                ms = (uint64_t)w->poll_ms;
            if (wait_responses(w, (int)ms))
                return false;
            continue;
        }
        if (w->cfg->async && atomic_load(&w->in_flight) > 0 && wait_responses(w, 0))
            return false;
        /* Less than the client's 1 ms granularity left, or nothing in flight. */
        clock_sleep_until_ns(rem > SLEEP_SLICE_NS ? now + SLEEP_SLICE_NS : due);
        add_idle(w, now);
    }
}

/* Open loop: one send at its scheduled time (spec 04 §3 worker loop). */
static int schedule_turn(struct worker *w)
{
    if (failed(w)) {
        if (atomic_load(&w->in_flight) > 0)
            return wait_responses(w, w->poll_ms);
        park(w);
        return PA_OK;
    }
    /* Serial sequences: every sequence busy, so wait for one to come back. */
    if (w->seq && w->cur.serial && w->fifo_len == 0) {
        if (w->n_ctx == 0) {
            park(w);
            return PA_OK;
        }
        return wait_responses(w, w->poll_ms);
    }
    uint64_t due = w->cur.level_start_ns + schedule_at(w->cur.schedule, w->sched_n);
    /* Late: send now and say so; never skip a slot. */
    bool delayed = clock_now_ns() > due;
    if (!delayed && !wait_until(w, due))
        return PA_OK;
    w->sched_n++;

    struct ctx *cx = NULL;
    if (w->seq) {
        if (w->n_ctx == 0)
            return PA_OK;
        cx = w->cur.serial ? fifo_pop(w) : &w->ctxs[rng_below(&w->rng, w->n_ctx)];
        if (!cx)
            return PA_OK;
    }
    if (send_request(w, cx, false, due, delayed))
        return -1;
    return finish_blocking(w);
}

static void run(struct worker *w)
{
    while (!stopping(w)) {
        int rc;
        if (pause_requested(w)) {
            pause_here(w);
            continue;
        }
        if (w->cur.schedule)
            rc = schedule_turn(w);
        else if (w->seq)
            rc = sequence_turn(w);
        else
            rc = share_turn(w);
        if (rc)
            return;
    }
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
        close_sequences(w);
        drain(w);
        for (size_t i = 0; i < w->n_prepared; i++)
            pa_client_prepared_free(&w->client, w->prepared[i]);
        w->cfg->close_client(&w->client);
        w->client_open = false;
    }
    pthread_mutex_lock(&w->lock);
    w->ended = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* --- the manager's side ------------------------------------------------ */

struct worker *worker_create(const struct load_config *cfg, size_t index, const atomic_bool *stop,
                             struct seq_table *seq, bool planned)
{
    struct worker *w = xcalloc(1, sizeof(*w));
    pthread_condattr_t ca;
    w->cfg = cfg;
    w->index = index;
    w->stop = stop;
    w->step_counter = index;
    w->planned = planned;
    w->seq = seq;
    w->poll_ms = (int)(cfg->poll_timeout_ms ? cfg->poll_timeout_ms : DEFAULT_POLL_MS);
    rng_seed(&w->rng, (uint64_t)index + 1);
    if (seq) {
        w->fifo_cap = seq->n_slots ? seq->n_slots : 1;
        w->ctxs = xcalloc(w->fifo_cap, sizeof(*w->ctxs));
        w->fifo = xcalloc(w->fifo_cap, sizeof(*w->fifo));
    }
    pthread_mutex_init(&w->lock, NULL);
    /* Monotonic, so that worker_wait_paused's bound ignores wall-clock jumps. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&w->pause_req, planned);
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

static void reserve_records(struct worker *w, size_t share)
{
    size_t reserve = share * RESERVE_PER_SHARE;
    if (reserve > RESERVE_MAX)
        reserve = RESERVE_MAX;
    if (reserve)
        record_batch_reserve(&w->batch, reserve, reserve);
}

void worker_set_share(struct worker *w, size_t share, size_t active)
{
    pthread_mutex_lock(&w->lock);
    reserve_records(w, share);
    atomic_store(&w->active, active);
    atomic_store(&w->share, share);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void worker_request_pause(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->pause_req, true);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

bool worker_wait_paused(struct worker *w, uint64_t timeout_ns)
{
    uint64_t deadline = clock_now_ns() + timeout_ns;
    struct timespec ts = {.tv_sec = (time_t)(deadline / NS_PER_S),
                          .tv_nsec = (long)(deadline % NS_PER_S)};
    bool ok = true;
    pthread_mutex_lock(&w->lock);
    while (!w->paused && !w->ended) {
        if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) != 0 && clock_now_ns() >= deadline) {
            ok = w->paused || w->ended;
            break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return ok;
}

void worker_set_plan(struct worker *w, const struct worker_plan *plan)
{
    pthread_mutex_lock(&w->lock);
    w->plan = *plan;
    reserve_records(w, plan->n_slots ? plan->n_slots : 1);
    pthread_mutex_unlock(&w->lock);
}

void worker_resume(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->pause_req, false);
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
    for (size_t i = 0; i < w->n_reqs; i++) {
        free(w->reqs[i]->resp);
        free(w->reqs[i]);
    }
    free(w->reqs);
    free(w->prepared);
    free(w->stream_first);
    free(w->ctxs);
    free(w->fifo);
    record_batch_release(&w->batch);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
