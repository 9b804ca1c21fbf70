/*
 * pa-test-server's TF Serving front end: the gRPC plumbing around
 * tfs_handlers.c (see tfs_frontend.h).
 *
 * Two threads, one completion queue each. Predict and GetModelMetadata are
 * registered methods with their request message read up front; every
 * thread keeps one request armed per method, plus one unregistered request
 * that answers any other method UNIMPLEMENTED, and re-arms as soon as a
 * call lands. A model's delay never blocks a thread: the engine reports
 * when the answer is due (defer_delay) and the reply waits in the thread's
 * timer heap; the queue wait ends TIMER_EARLY_NS early and the rest is
 * slept precisely, because gRPC rounds deadlines to its timer granularity.
 * Knobs: --hang parks calls until shutdown; --slow-start-ms delays answers
 * until the end of the slow start; --drop-every fails the call with
 * UNAVAILABLE "Socket closed", as the Triton gRPC front end does.
 */
#include "tfs_frontend.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "tfs_handlers.h"

#include "core/banned.h"

#define N_THREADS 2
#define SVC "/tensorflow.serving.PredictionService/"
#define TIMER_EARLY_NS 1500000u
#define NEVER UINT64_MAX

enum method { M_PREDICT, M_METADATA, M_OTHER, M_COUNT };

enum phase { PH_NEW, PH_SENT };

struct tfs_thread;

struct tcall {
    struct tfs_thread *th;
    enum method m;
    enum phase phase;
    grpc_call *call;
    grpc_call_details details;    /* unregistered calls */
    grpc_metadata_array md;
    gpr_timespec deadline;
    grpc_byte_buffer *payload;
    grpc_byte_buffer *reply;
    grpc_slice status_details;
    int cancelled;
    uint64_t arrival_ns;
};

struct timer {
    uint64_t due;
    struct tcall *c;
    int status;                   /* reply held until due */
};

struct tfs_thread {
    struct tfs_frontend *fe;
    pthread_t tid;
    grpc_completion_queue *cq;
    struct engine_response resp;
    struct timer *heap;
    size_t n_heap, cap_heap;
    size_t live;                  /* calls owned by this thread */
    bool cq_shut;
};

struct tfs_frontend {
    struct engine *e;
    grpc_server *server;
    void *methods[2];
    struct tfs_thread th[N_THREADS];
    int shutdown_tag;
    atomic_bool stopping;
    atomic_bool shutdown_seen;
    bool started;
};

/* ------------------------------------------------------------------ timers */

static void heap_push(struct tfs_thread *th, struct timer t)
{
    if (th->n_heap == th->cap_heap) {
        th->cap_heap = th->cap_heap ? 2 * th->cap_heap : 64;
        th->heap = xreallocarray(th->heap, th->cap_heap, sizeof(*th->heap));
    }
    size_t i = th->n_heap++;
    th->heap[i] = t;
    while (i > 0 && th->heap[(i - 1) / 2].due > th->heap[i].due) {
        struct timer tmp = th->heap[i];
        th->heap[i] = th->heap[(i - 1) / 2];
        th->heap[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static struct timer heap_pop(struct tfs_thread *th)
{
    struct timer top = th->heap[0];
    size_t i = 0;
    th->heap[0] = th->heap[--th->n_heap];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < th->n_heap && th->heap[l].due < th->heap[m].due)
            m = l;
        if (r < th->n_heap && th->heap[r].due < th->heap[m].due)
            m = r;
        if (m == i)
            break;
        struct timer tmp = th->heap[i];
        th->heap[i] = th->heap[m];
        th->heap[m] = tmp;
        i = m;
    }
    return top;
}

/* ------------------------------------------------------------------- calls */

static void call_free(struct tcall *c)
{
    if (c->call)
        grpc_call_unref(c->call);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->reply)
        grpc_byte_buffer_destroy(c->reply);
    grpc_slice_unref(c->status_details);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    c->th->live--;
    free(c);
}

static void arm(struct tfs_thread *th, enum method m)
{
    struct tfs_frontend *fe = th->fe;
    struct tcall *c = xcalloc(1, sizeof(*c));
    grpc_call_error rc;
    c->th = th;
    c->m = m;
    c->phase = PH_NEW;
    c->status_details = grpc_empty_slice();
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    th->live++;
    if (m == M_OTHER)
        rc = grpc_server_request_call(fe->server, &c->call, &c->details, &c->md, th->cq, th->cq,
                                      c);
    else
        rc = grpc_server_request_registered_call(fe->server, fe->methods[m], &c->call,
                                                 &c->deadline, &c->md, &c->payload, th->cq,
                                                 th->cq, c);
    if (rc != GRPC_CALL_OK)
        call_free(c);
}

/* Sends status (+ the reply message when OK); the call is freed on completion. */
static void send_reply(struct tcall *c, int status)
{
    grpc_op ops[4];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (status == GRPC_STATUS_OK && c->reply) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->reply;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)status;
    ops[n++].data.send_status_from_server.status_details = &c->status_details;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    c->phase = PH_SENT;
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK)
        call_free(c);
}

static void handle(struct tfs_thread *th, struct tcall *c)
{
    struct tfs_frontend *fe = th->fe;
    const struct engine_knobs *k = engine_knobs(fe->e);
    struct tfs_reply r;

    if (c->m == M_OTHER) {
        c->status_details = grpc_slice_from_static_string("");
        send_reply(c, GRPC_STATUS_UNIMPLEMENTED);
        return;
    }
    if (k->hang) {
        heap_push(th, (struct timer){NEVER, c, GRPC_STATUS_CANCELLED});
        return;
    }
    grpc_slice all = grpc_empty_slice();
    grpc_byte_buffer_reader rd;
    if (c->payload && grpc_byte_buffer_reader_init(&rd, c->payload)) {
        all = grpc_byte_buffer_reader_readall(&rd);
        grpc_byte_buffer_reader_destroy(&rd);
    }
    if (c->m == M_PREDICT)
        tfs_handle_predict(fe->e, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all),
                           c->arrival_ns, &th->resp, &r);
    else
        tfs_handle_metadata(fe->e, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all), &r);
    grpc_slice_unref(all);

    int status = r.status;
    if (status == GRPC_STATUS_OK && r.drop) {
        status = GRPC_STATUS_UNAVAILABLE;
        c->status_details = grpc_slice_from_static_string("Socket closed");
    } else if (status == GRPC_STATUS_OK) {
        grpc_slice s = grpc_slice_new(r.body, r.len, free);
        c->reply = grpc_raw_byte_buffer_create(&s, 1);
        grpc_slice_unref(s);
        r.body = NULL;
    } else {
        c->status_details = grpc_slice_from_copied_string(r.msg);
    }
    free(r.body);

    uint64_t due = r.ready_ns;
    if (k->slow_start_ns && due < engine_start_ns(fe->e) + k->slow_start_ns)
        due = engine_start_ns(fe->e) + k->slow_start_ns;
    if (due > clock_now_ns())
        heap_push(th, (struct timer){due, c, status});
    else
        send_reply(c, status);
}

static void fire_timers(struct tfs_thread *th, bool all)
{
    uint64_t now = clock_now_ns();
    if (!all && th->n_heap && th->heap[0].due != NEVER && th->heap[0].due > now &&
        th->heap[0].due - now <= TIMER_EARLY_NS) {
        clock_sleep_until_ns(th->heap[0].due);
        now = clock_now_ns();
    }
    while (th->n_heap && (all || th->heap[0].due <= now)) {
        struct timer t = heap_pop(th);
        send_reply(t.c, t.status);
    }
}

static void dispatch(struct tfs_thread *th, void *tag, bool ok)
{
    struct tfs_frontend *fe = th->fe;
    if (tag == &fe->shutdown_tag) {
        atomic_store(&fe->shutdown_seen, true);
        return;
    }
    struct tcall *c = tag;
    if (c->phase == PH_SENT || !ok) { /* done, or the server is shutting down */
        call_free(c);
        return;
    }
    c->arrival_ns = clock_now_ns();
    if (!atomic_load(&fe->stopping))
        arm(th, c->m);
    handle(th, c);
}

static void *thread_main(void *arg)
{
    struct tfs_thread *th = arg;
    struct tfs_frontend *fe = th->fe;
    for (;;) {
        bool stopping = atomic_load(&fe->stopping);
        if (stopping && atomic_load(&fe->shutdown_seen)) {
            fire_timers(th, true);
            if (!th->cq_shut && th->live == 0) {
                grpc_completion_queue_shutdown(th->cq);
                th->cq_shut = true;
            }
        }
        gpr_timespec deadline;
        if (stopping) {
            deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                    gpr_time_from_millis(20, GPR_TIMESPAN));
        } else if (th->n_heap && th->heap[0].due != NEVER) {
            uint64_t now = clock_now_ns(), due = th->heap[0].due;
            int64_t wait = due > now + TIMER_EARLY_NS ? (int64_t)(due - now - TIMER_EARLY_NS) : 0;
            deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                    gpr_time_from_nanos(wait, GPR_TIMESPAN));
        } else {
            deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
        }
        grpc_event ev = grpc_completion_queue_next(th->cq, deadline, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            dispatch(th, ev.tag, ev.success != 0);
        if (!atomic_load(&fe->stopping))
            fire_timers(th, false);
    }
    return NULL;
}

/* ------------------------------------------------------------------- hooks */

int tfs_frontend_start(struct engine *e, int port, int *bound_port, struct tfs_frontend **out,
                       char *err, size_t errlen)
{
    char addr[64];
    struct tfs_frontend *fe = xcalloc(1, sizeof(*fe));
    fe->e = e;
    atomic_init(&fe->stopping, false);
    atomic_init(&fe->shutdown_seen, false);
    grpc_init();

    /* Like TF Serving, no message-size limits that a large input could hit. */
    static char k_recv[] = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    static char k_send[] = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    grpc_arg args[2];
    memset(args, 0, sizeof(args));
    args[0].type = args[1].type = GRPC_ARG_INTEGER;
    args[0].key = k_recv;
    args[1].key = k_send;
    args[0].value.integer = args[1].value.integer = -1;
    grpc_channel_args cargs = {.num_args = 2, .args = args};
    fe->server = grpc_server_create(&cargs, NULL);
    fe->methods[M_PREDICT] = grpc_server_register_method(
        fe->server, SVC "Predict", NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    fe->methods[M_METADATA] = grpc_server_register_method(
        fe->server, SVC "GetModelMetadata", NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    for (int i = 0; i < N_THREADS; i++) {
        fe->th[i].fe = fe;
        fe->th[i].cq = grpc_completion_queue_create_for_next(NULL);
        engine_response_init(&fe->th[i].resp);
        grpc_server_register_completion_queue(fe->server, fe->th[i].cq, NULL);
    }
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int bound = grpc_server_add_http2_port(fe->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (bound <= 0) {
        snprintf(err, errlen, "cannot listen on %s for TF Serving", addr);
        tfs_frontend_stop(fe);
        return -1;
    }
    grpc_server_start(fe->server);
    fe->started = true;
    for (int i = 0; i < N_THREADS; i++) {
        for (int m = 0; m < M_COUNT; m++)
            arm(&fe->th[i], (enum method)m);
    }
    for (int i = 0; i < N_THREADS; i++) {
        if (pthread_create(&fe->th[i].tid, NULL, thread_main, &fe->th[i]) != 0) {
            fprintf(stderr, "pa-test-server: cannot start a TF Serving thread\n");
            abort();
        }
    }
    *bound_port = bound;
    *out = fe;
    return 0;
}

void tfs_frontend_stop(struct tfs_frontend *fe)
{
    if (!fe)
        return;
    if (fe->started) {
        atomic_store(&fe->stopping, true);
        grpc_server_shutdown_and_notify(fe->server, fe->th[0].cq, &fe->shutdown_tag);
        grpc_server_cancel_all_calls(fe->server);
        for (int i = 0; i < N_THREADS; i++)
            pthread_join(fe->th[i].tid, NULL);
    } else {
        /* Never started: nothing is armed, the queues only need shutting down. */
        for (int i = 0; i < N_THREADS; i++)
            grpc_completion_queue_shutdown(fe->th[i].cq);
        for (int i = 0; i < N_THREADS; i++)
            while (grpc_completion_queue_next(fe->th[i].cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                              NULL)
                       .type != GRPC_QUEUE_SHUTDOWN)
                ;
    }
    grpc_server_destroy(fe->server);
    for (int i = 0; i < N_THREADS; i++) {
        grpc_completion_queue_destroy(fe->th[i].cq);
        engine_response_release(&fe->th[i].resp);
        free(fe->th[i].heap);
    }
    free(fe);
    grpc_shutdown();
}
