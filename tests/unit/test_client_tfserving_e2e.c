/*
 * The TF Serving backend against the reference server's TF Serving front
 * end (pa-test-server --tfs-port 0), which this test starts and stops. The
 * server binary is looked up next to this test binary
 * (<build>/tests/servers/pa-test-server); without it the tests are skipped
 * with a message saying so.
 *
 * Besides the backend (metadata JSON, Predict success and errors), a raw
 * Predict is made with the gRPC C API and its PredictResponse decoded, to
 * check what the server computes: outputs, TF's fill rule for short typed
 * fields, output_filter.
 */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/options.h"
#include "pa/client.h"
#include "tfs_serving.pb-c.h"

/* protobuf-c and pa_options take `char *` for strings they never write. */
static char *mut(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {.c = s};
    return u.m;
}

static pid_t server_pid = -1;
static char server_url[64];
static char server_path[4096];

static bool find_server(void)
{
    char self[2048];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return false;
    *slash = '\0';
    snprintf(server_path, sizeof(server_path), "%s/servers/pa-test-server", self);
    return access(server_path, X_OK) == 0;
}

static int start_server(void **state)
{
    (void)state;
    if (!find_server())
        return 0;
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    server_pid = fork();
    if (server_pid < 0)
        return -1;
    if (server_pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(server_path, server_path, "--models", PA_SOURCE_DIR "/tests/models", "--http-port",
              "0", "--tfs-port", "0", "--metrics-port", "-1", "--delay-ms", "1",
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256] = "";
    int port = 0;
    if (!f || !fgets(line, sizeof(line), f)) {
        fprintf(stderr, "pa-test-server did not report its ports\n");
        return -1;
    }
    fclose(f);
    const char *t = strstr(line, " tfs=");
    if (!t || sscanf(t, " tfs=%d", &port) != 1 || port <= 0)
        return -1;
    snprintf(server_url, sizeof(server_url), "127.0.0.1:%d", port);
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    if (server_pid <= 0)
        return 0;
    kill(server_pid, SIGTERM);
    for (int i = 0; i < 100; i++) { /* 5 s at most, then kill */
        int st;
        if (waitpid(server_pid, &st, WNOHANG) == server_pid)
            return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(server_pid, SIGKILL);
    waitpid(server_pid, NULL, 0);
    return -1;
}

#define NEED_SERVER()                                                                    \
    do {                                                                                 \
        if (server_pid <= 0) {                                                           \
            print_message("pa-test-server is not built (looked for %s): skipped\n",      \
                          server_path);                                                  \
            skip();                                                                      \
        }                                                                                \
    } while (0)

/* ------------------------------------------------------------- the backend */

struct got {
    int n, n_error;
    char err[512];
    uint64_t send_ns, recv_ns, total_ns;
};

static void on_response(void *arg, const struct pa_response *r)
{
    struct got *g = arg;
    g->n++;
    assert_true(r->final);
    if (r->error) {
        g->n_error++;
        snprintf(g->err, sizeof(g->err), "%s", r->error_msg);
    }
    g->send_ns = r->send_ns;
    g->recv_ns = r->recv_ns;
    g->total_ns = r->total_ns;
}

static void open_tfs(struct pa_client *c, struct pa_options *o, struct got *g, const char *sig)
{
    memset(o, 0, sizeof(*o));
    memset(g, 0, sizeof(*g));
    o->service_kind = PA_SK_TFSERVING;
    o->protocol = PA_PROTO_GRPC;
    o->url = server_url;
    o->model_signature_name = mut(sig);
    struct pa_err err = {0};
    if (pa_client_open(c, o, on_response, g, &err) != PA_OK)
        fail_msg("open: %s", err.msg);
    assert_string_equal(c->backend->kind, "TENSORFLOW_SERVING");
}

/* Prepares, sends and waits for one request; returns the prepare code. */
static int infer(struct pa_client *c, struct got *g, const char *model,
                 const struct pa_input *in, size_t n_in)
{
    struct pa_infer_desc d = {.model_name = model, .model_version = "", .inputs = in,
                              .n_inputs = n_in};
    struct pa_prepared *p = NULL;
    struct pa_err err = {0};
    int rc = pa_client_prepare(c, &d, &p, &err);
    if (rc != PA_OK)
        return rc;
    struct pa_send s = {.tag = g};
    int before = g->n;
    assert_int_equal(pa_client_submit(c, p, &s, &err), PA_OK);
    for (int i = 0; i < 100 && g->n == before; i++)
        assert_true(pa_client_poll(c, 100, &err) >= 0);
    assert_int_equal(g->n, before + 1);
    assert_int_equal(pa_client_in_flight(c), 0);
    pa_client_prepared_free(c, p);
    return PA_OK;
}

static const cJSON *at(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v)
        fail_msg("missing '%s'", key);
    return v;
}

static void test_metadata(void **state)
{
    (void)state;
    NEED_SERVER();
    struct pa_client c;
    struct pa_options o;
    struct got g;
    struct pa_err err = {0};
    cJSON *j = NULL;
    open_tfs(&c, &o, &g, "serving_default");

    assert_int_equal(pa_client_model_metadata(&c, "simple", "", &j, &err), PA_OK);
    const cJSON *sig =
        at(at(at(at(j, "metadata"), "signature_def"), "signature_def"), "serving_default");
    const cJSON *in0 = at(at(sig, "inputs"), "INPUT0");
    assert_string_equal(at(in0, "dtype")->valuestring, "DT_INT32");
    assert_string_equal(at(in0, "name")->valuestring, "INPUT0:0");
    const cJSON *dims = at(at(in0, "tensor_shape"), "dim");
    assert_int_equal(cJSON_GetArraySize(dims), 2);
    assert_int_equal((int)at(cJSON_GetArrayItem(dims, 0), "size")->valuedouble, -1);
    assert_int_equal((int)at(cJSON_GetArrayItem(dims, 1), "size")->valuedouble, 16);
    assert_non_null(at(at(sig, "outputs"), "OUTPUT1"));
    assert_int_equal((int)at(at(at(j, "model_spec"), "version"), "value")->valuedouble, 1);
    cJSON_Delete(j);

    /* A model without batching has no -1 batch dim. */
    assert_int_equal(pa_client_model_metadata(&c, "add_sub_nobatch", "1", &j, &err), PA_OK);
    sig = at(at(at(at(j, "metadata"), "signature_def"), "signature_def"), "serving_default");
    in0 = at(at(sig, "inputs"), "INPUT0");
    assert_string_equal(at(in0, "dtype")->valuestring, "DT_FLOAT");
    assert_int_equal((int)at(cJSON_GetArrayItem(at(at(in0, "tensor_shape"), "dim"), 0),
                             "size")->valuedouble, 16);
    cJSON_Delete(j);

    assert_int_equal(pa_client_model_metadata(&c, "nope", "", &j, &err), PA_ESERVER);
    assert_string_equal(err.msg, "Servable not found for request: Latest(nope)");
    assert_int_equal(pa_client_model_metadata(&c, "simple", "7", &j, &err), PA_ESERVER);
    assert_string_equal(err.msg, "Servable not found for request: Specific(simple, 7)");
    assert_int_equal(pa_client_model_metadata(&c, "simple", "stable", &j, &err), PA_ESERVER);
    assert_string_equal(err.msg, "Unrecognized servable version label: stable");
    pa_client_close(&c);
}

static void test_predict(void **state)
{
    (void)state;
    NEED_SERVER();
    struct pa_client c;
    struct pa_options o;
    struct got g;
    open_tfs(&c, &o, &g, "serving_default");

    int32_t a[16], b[16];
    for (int i = 0; i < 16; i++) {
        a[i] = i;
        b[i] = 2 * i;
    }
    static const int64_t shape[2] = {1, 16};
    struct pa_input in[2] = {
        {.name = "INPUT0", .datatype = "INT32", .shape = shape, .rank = 2, .data = a,
         .byte_size = sizeof(a)},
        {.name = "INPUT1", .datatype = "INT32", .shape = shape, .rank = 2, .data = b,
         .byte_size = sizeof(b)},
    };
    assert_int_equal(infer(&c, &g, "simple", in, 2), PA_OK);
    assert_int_equal(g.n_error, 0);
    /* The model sleeps 1 ms: the request took at least that long. */
    assert_true(g.total_ns >= 1000000);
    assert_true(g.send_ns + g.recv_ns < g.total_ns);

    /* Errors come back as the gRPC status message. */
    in[0].datatype = "FP32";
    assert_int_equal(infer(&c, &g, "simple", in, 2), PA_OK);
    assert_int_equal(g.n_error, 1);
    assert_string_equal(g.err, "input 'INPUT0' has dtype DT_FLOAT, the signature expects DT_INT32");
    in[0].datatype = "INT32";
    assert_int_equal(infer(&c, &g, "nope", in, 2), PA_OK);
    assert_string_equal(g.err, "Servable not found for request: Latest(nope)");
    static const int64_t bad_shape[2] = {1, 8};
    in[0].shape = bad_shape;
    in[0].byte_size = 32;
    assert_int_equal(infer(&c, &g, "simple", in, 2), PA_OK);
    assert_int_equal(g.n_error, 3);
    in[0].shape = shape;
    in[0].byte_size = sizeof(a);

    /* BYTES inputs travel as string_val. */
    unsigned char s[16];
    uint32_t l = 3;
    memcpy(s, &l, 4);
    memcpy(s + 4, "abc", 3);
    static const int64_t s1[1] = {1};
    struct pa_input bin = {.name = "INPUT0", .datatype = "BYTES", .shape = s1, .rank = 1,
                           .data = s, .byte_size = 7};
    assert_int_equal(infer(&c, &g, "identity_bytes", &bin, 1), PA_OK);
    assert_int_equal(g.n_error, 3);
    pa_client_close(&c);

    /* An unknown signature name. */
    open_tfs(&c, &o, &g, "other");
    assert_int_equal(infer(&c, &g, "simple", in, 2), PA_OK);
    assert_string_equal(g.err, "Serving signature name: \"other\" not found in signature def");
    pa_client_close(&c);
}

/* ----------------------------------------- raw Predict: what the server computes */

static Tensorflow__Serving__PredictResponse *
raw_predict(const Tensorflow__Serving__PredictRequest *rq, grpc_status_code *status)
{
    grpc_init();
    grpc_channel_credentials *cr = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(server_url, cr, NULL);
    grpc_channel_credentials_release(cr);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_slice method =
        grpc_slice_from_static_string("/tensorflow.serving.PredictionService/Predict");
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                               gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    size_t n = tensorflow__serving__predict_request__get_packed_size(rq);
    unsigned char *buf = malloc(n);
    tensorflow__serving__predict_request__pack(rq, buf);
    grpc_slice s = grpc_slice_new(buf, n, free);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    grpc_metadata_array imd, tmd;
    grpc_metadata_array_init(&imd);
    grpc_metadata_array_init(&tmd);
    grpc_byte_buffer *recv = NULL;
    grpc_slice details;
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &imd;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &tmd;
    ops[5].data.recv_status_on_client.status = status;
    ops[5].data.recv_status_on_client.status_details = &details;
    int tag;
    assert_int_equal(grpc_call_start_batch(call, ops, 6, &tag, NULL), GRPC_CALL_OK);
    grpc_event ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
    Tensorflow__Serving__PredictResponse *rs = NULL;
    if (recv) {
        grpc_byte_buffer_reader r;
        assert_true(grpc_byte_buffer_reader_init(&r, recv));
        grpc_slice all = grpc_byte_buffer_reader_readall(&r);
        grpc_byte_buffer_reader_destroy(&r);
        rs = tensorflow__serving__predict_response__unpack(NULL, GRPC_SLICE_LENGTH(all),
                                                           GRPC_SLICE_START_PTR(all));
        grpc_slice_unref(all);
        grpc_byte_buffer_destroy(recv);
    }
    grpc_slice_unref(details);
    grpc_byte_buffer_destroy(send);
    grpc_metadata_array_destroy(&imd);
    grpc_metadata_array_destroy(&tmd);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_channel_destroy(ch);
    grpc_shutdown();
    return rs;
}

static const Tensorflow__TensorProto *output(const Tensorflow__Serving__PredictResponse *rs,
                                             const char *name)
{
    for (size_t i = 0; i < rs->n_outputs; i++)
        if (strcmp(rs->outputs[i]->key, name) == 0)
            return rs->outputs[i]->value;
    return NULL;
}

static void test_server_compute(void **state)
{
    (void)state;
    NEED_SERVER();
    /* simple: INPUT0 typed int_val with 2 of 16 values (the last repeats), INPUT1 as
     * tensor_content; OUTPUT0 = sum, OUTPUT1 = difference; only OUTPUT1 asked for. */
    int32_t iv[2] = {10, 20}, content[16];
    for (int i = 0; i < 16; i++)
        content[i] = i;
    Tensorflow__TensorShapeProto__Dim d0;
    tensorflow__tensor_shape_proto__dim__init(&d0);
    Tensorflow__TensorShapeProto__Dim d1;
    tensorflow__tensor_shape_proto__dim__init(&d1);
    Tensorflow__TensorShapeProto__Dim *dims[2] = {&d0, &d1};
    d0.size = 1;
    d1.size = 16;
    Tensorflow__TensorShapeProto shape;
    tensorflow__tensor_shape_proto__init(&shape);
    shape.dim = dims;
    shape.n_dim = 2;
    Tensorflow__TensorProto t0, t1;
    tensorflow__tensor_proto__init(&t0);
    tensorflow__tensor_proto__init(&t1);
    t0.dtype = t1.dtype = TENSORFLOW__DATA_TYPE__DT_INT32;
    t0.tensor_shape = t1.tensor_shape = &shape;
    t0.int_val = iv;
    t0.n_int_val = 2;
    t1.tensor_content.data = (uint8_t *)content;
    t1.tensor_content.len = sizeof(content);
    Tensorflow__Serving__PredictRequest__InputsEntry e0;
    tensorflow__serving__predict_request__inputs_entry__init(&e0);
    Tensorflow__Serving__PredictRequest__InputsEntry e1;
    tensorflow__serving__predict_request__inputs_entry__init(&e1);
    Tensorflow__Serving__PredictRequest__InputsEntry *ents[2] = {&e0, &e1};
    e0.key = mut("INPUT0");
    e0.value = &t0;
    e1.key = mut("INPUT1");
    e1.value = &t1;
    Tensorflow__Serving__ModelSpec spec;
    tensorflow__serving__model_spec__init(&spec);
    spec.name = mut("simple");
    spec.version_choice_case = TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION_LABEL;
    spec.version_label = mut("1"); /* what r23.10 sends for -x 1 */
    char *filter[1] = {mut("OUTPUT1")};
    Tensorflow__Serving__PredictRequest rq;
    tensorflow__serving__predict_request__init(&rq);
    rq.model_spec = &spec;
    rq.inputs = ents;
    rq.n_inputs = 2;
    rq.output_filter = filter;
    rq.n_output_filter = 1;

    grpc_status_code st = GRPC_STATUS_UNKNOWN;
    Tensorflow__Serving__PredictResponse *rs = raw_predict(&rq, &st);
    assert_int_equal(st, GRPC_STATUS_OK);
    assert_non_null(rs);
    assert_int_equal(rs->n_outputs, 1);
    const Tensorflow__TensorProto *o1 = output(rs, "OUTPUT1");
    assert_non_null(o1);
    assert_int_equal(o1->dtype, TENSORFLOW__DATA_TYPE__DT_INT32);
    assert_int_equal(o1->tensor_shape->n_dim, 2);
    assert_int_equal(o1->tensor_content.len, sizeof(content));
    int32_t diff[16];
    memcpy(diff, o1->tensor_content.data, sizeof(diff));
    assert_int_equal(diff[0], 10 - 0);
    assert_int_equal(diff[1], 20 - 1);
    assert_int_equal(diff[15], 20 - 15); /* 20 repeated to fill the tensor */
    assert_string_equal(rs->model_spec->name, "simple");
    assert_int_equal(rs->model_spec->version->value, 1);
    assert_string_equal(rs->model_spec->signature_name, "serving_default");
    tensorflow__serving__predict_response__free_unpacked(rs, NULL);

    /* All outputs without a filter; no typed values at all means zeros. */
    t0.n_int_val = 0;
    rq.n_output_filter = 0;
    rs = raw_predict(&rq, &st);
    assert_int_equal(st, GRPC_STATUS_OK);
    assert_int_equal(rs->n_outputs, 2);
    const Tensorflow__TensorProto *o0 = output(rs, "OUTPUT0");
    int32_t sum[16];
    memcpy(sum, o0->tensor_content.data, sizeof(sum));
    assert_int_equal(sum[5], 5);
    tensorflow__serving__predict_response__free_unpacked(rs, NULL);

    /* More values than elements is refused. */
    int32_t many[17] = {0};
    t0.int_val = many;
    t0.n_int_val = 17;
    rs = raw_predict(&rq, &st);
    assert_int_equal(st, GRPC_STATUS_INVALID_ARGUMENT);
    assert_null(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_predict),
        cmocka_unit_test(test_server_compute),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
