/*
 * Periodic concurrency: launches requests in batches as the previous batch
 * reaches the request period (see periodic.h; spec 04 §5).
 */
#include "load/periodic.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "load/record_batch.h"

#include "core/banned.h"

#define DEFAULT_POLL_MS 50
#define DEFAULT_DRAIN_MS 10000

struct preq {
    size_t index;
    const struct pa_dataset_step *step;
    uint64_t start_ns;
    uint64_t *resp;
    uint32_t n_resp, cap_resp;
    bool final;
};

struct periodic {
    const struct load_config *cfg;
    struct pa_client client;
    struct pa_prepared **prepared; /* stream 0's steps */
    size_t n_prepared;
    struct preq *reqs;             /* fixed array: addresses are the tags */
    size_t cap_reqs, n_launched;
    uint64_t period, start, end, step;
    uint64_t pending, batches, finished, to_launch;
    bool ended;                    /* `end` requests finished: stop recording */
    size_t in_flight;
    struct pa_record_batch *out;
    struct pa_err error;           /* first failure */
};

/* A failed request ends the experiment like a failed worker thread would. */
static void fail_request(struct periodic *p, size_t index, const char *msg)
{
    if (p->error.code)
        return;
    pa_errorf(&p->error, PA_ESERVER,
              "Failed to retrieve results from inference request.\nThread [%zu] had error: %s",
              index, msg ? msg : "unknown error");
}

static void on_response(void *arg, const struct pa_response *resp)
{
    struct periodic *p = arg;
    struct preq *r = resp->tag;

    if (resp->error) {
        fail_request(p, r->index, resp->error_msg);
        r->final = true;
        p->in_flight--;
        return;
    }
    if (r->n_resp == r->cap_resp) {
        r->cap_resp = r->cap_resp ? 2 * r->cap_resp : 16;
        r->resp = xreallocarray(r->resp, r->cap_resp, sizeof(*r->resp));
    }
    r->resp[r->n_resp++] = resp->arrival_ns;

    /* The whole latest batch reached the period: the next batch is due. */
    if (r->n_resp == p->period && p->pending > 0 && --p->pending == 0) {
        p->batches++;
        if (p->batches * p->step < p->end) {
            p->to_launch += p->step;
            p->pending = p->step;
        }
    }
    if (!resp->final)
        return;
    r->final = true;
    p->in_flight--;
    if (r->n_resp < p->period) {
        if (!p->error.code)
            pa_errorf(&p->error, PA_EINVAL,
                      "Request received final response before request period was reached. "
                      "Request period must be at most the total number of responses received "
                      "by any request.");
        return;
    }
    if (p->ended)
        return;
    struct pa_record rec = {.start_ns = r->start_ns, .n_responses = r->n_resp};
    if (resp->null_response) {
        rec.flags |= PA_REC_NULL_LAST;
        rec.end_ns = r->n_resp >= 2 ? r->resp[r->n_resp - 2] : 0;
    } else {
        rec.end_ns = r->resp[r->n_resp - 1];
    }
    record_batch_append(p->out, &rec, r->resp);
    if (p->cfg->validate && r->step->expected && r->step->n_expected && !resp->null_response) {
        struct pa_err e = {0};
        if (p->cfg->validate(p->cfg->validate_arg, &p->client, resp, r->step, &e))
            fail_request(p, r->index, e.msg);
    }
    if (++p->finished >= p->end)
        p->ended = true;
}

static int launch(struct periodic *p, uint64_t n, struct pa_err *err)
{
    const struct pa_dataset_stream *st = &p->cfg->ds->streams[0];
    uint64_t b = p->cfg->batch_size ? p->cfg->batch_size : 1;
    for (uint64_t j = 0; j < n && p->n_launched < p->cap_reqs; j++) {
        size_t i = p->n_launched++;
        struct preq *r = &p->reqs[i];
        /* Request i is "thread i": its data step starts at i·B (spec 04 §7). */
        size_t k = (size_t)(((uint64_t)i * b) % st->n_steps);
        r->index = i;
        r->step = &st->steps[k];
        struct pa_send send = {.tag = r, .stream = (uint32_t)i};
        p->in_flight++;
        r->start_ns = clock_now_ns();
        int rc = pa_client_submit(&p->client, p->prepared[k], &send, err);
        if (rc)
            return rc;
    }
    return PA_OK;
}

static int prepare(struct periodic *p, struct pa_err *err)
{
    const struct pa_dataset *ds = p->cfg->ds;
    if (ds->n_streams == 0 || ds->streams[0].n_steps == 0)
        return pa_errorf(err, PA_EDATA, "no input data to send");
    p->n_prepared = ds->streams[0].n_steps;
    p->prepared = xcalloc(p->n_prepared, sizeof(*p->prepared));
    for (size_t k = 0; k < p->n_prepared; k++) {
        int rc = pa_client_prepare(&p->client, &ds->streams[0].steps[k].desc, &p->prepared[k],
                                   err);
        if (rc)
            return rc;
    }
    return PA_OK;
}

static int experiment(struct periodic *p, const atomic_bool *stop, struct pa_err *err)
{
    int poll_ms = (int)(p->cfg->poll_timeout_ms ? p->cfg->poll_timeout_ms : DEFAULT_POLL_MS);
    int rc = prepare(p, err);
    if (rc)
        return rc;
    p->pending = p->start;
    rc = launch(p, p->start, err);
    while (!rc && !p->ended && !p->error.code && !atomic_load(stop)) {
        if (p->to_launch) {
            uint64_t n = p->to_launch;
            p->to_launch = 0;
            rc = launch(p, n, err);
            continue;
        }
        if (p->in_flight == 0)
            break; /* nothing more can happen (e.g. start 0) */
        int n = pa_client_poll(&p->client, poll_ms, err);
        if (n < 0)
            rc = n;
    }
    return rc;
}

int periodic_run(const struct load_config *cfg, const atomic_bool *stop,
                 struct pa_record_batch *out, struct pa_err *err)
{
    const struct pa_options *o = cfg->opts;
    struct periodic p = {
        .cfg = cfg,
        .period = o->request_period,
        .start = o->periodic_start,
        .end = o->periodic_end,
        .step = o->periodic_step ? o->periodic_step : 1,
        .out = out,
    };
    /* Launches: start, then step per batch while batches·step < end. */
    p.cap_reqs = (size_t)(p.start + p.end + p.step);
    p.reqs = xcalloc(p.cap_reqs, sizeof(*p.reqs));

    int rc = cfg->open_client(&p.client, o, on_response, &p, err);
    if (rc) {
        free(p.reqs);
        return rc;
    }
    rc = experiment(&p, stop, err);

    /* Requests still in flight are answered before the client goes away. */
    uint64_t ms = cfg->drain_timeout_ms ? cfg->drain_timeout_ms : DEFAULT_DRAIN_MS;
    uint64_t deadline = clock_now_ns() + ms * NS_PER_MS;
    struct pa_err e = {0};
    p.ended = true;
    while (p.in_flight > 0 && clock_now_ns() < deadline)
        if (pa_client_poll(&p.client, DEFAULT_POLL_MS, &e) < 0)
            break;
    for (size_t k = 0; k < p.n_prepared; k++)
        pa_client_prepared_free(&p.client, p.prepared[k]);
    cfg->close_client(&p.client);

    for (size_t i = 0; i < p.cap_reqs; i++)
        free(p.reqs[i].resp);
    free(p.reqs);
    free(p.prepared);
    if (!rc && p.error.code) {
        *err = p.error;
        rc = p.error.code;
    }
    if (!rc && atomic_load(stop))
        rc = pa_errorf(err, PA_EINTR, "Received exit signal.");
    return rc;
}
