/*
 * Model parsing (spec 02) from canned server answers.
 *
 * A fake backend serves model metadata and configs from a per-test table
 * and logs every call, so the tests check both the parsed model and the
 * order in which the original asks the server (metadata, config, composing
 * configs), plus every error text the parser produces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/options.h"
#include "model/model.h"
#include "pa/client.h"

/* ---- fake backend ---- */

enum fx_kind { FX_META, FX_CONFIG };

struct fixture {
    enum fx_kind kind;
    const char *name;
    const char *version;
    const char *json;  /* answer, or NULL with error set */
    const char *error; /* transport / server error text */
};

static const struct fixture *fixtures;
static char call_log[2048];

static void log_call(const char *what, const char *name, const char *version)
{
    size_t n = strlen(call_log);
    snprintf(call_log + n, sizeof(call_log) - n, "%s%s %s:%s", n ? "," : "", what, name,
             version);
}

static int serve(enum fx_kind kind, const char *name, const char *version, cJSON **out,
                 struct pa_err *err)
{
    log_call(kind == FX_META ? "meta" : "config", name, version);
    for (const struct fixture *f = fixtures; f && f->name; f++) {
        if (f->kind != kind || strcmp(f->name, name) != 0 || strcmp(f->version, version) != 0)
            continue;
        if (f->error)
            return pa_errorf(err, PA_ESERVER, "%s", f->error);
        *out = cJSON_Parse(f->json);
        assert_non_null(*out);
        return PA_OK;
    }
    return pa_errorf(err, PA_ESERVER, "Request for unknown model: '%s' is not found", name);
}

static int fake_meta(struct pa_client *c, const char *name, const char *version, cJSON **out,
                     struct pa_err *err)
{
    (void)c;
    return serve(FX_META, name, version, out, err);
}

static int fake_config(struct pa_client *c, const char *name, const char *version, cJSON **out,
                       struct pa_err *err)
{
    (void)c;
    return serve(FX_CONFIG, name, version, out, err);
}

static const struct pa_client_ops fake_ops = {
    .model_metadata = fake_meta,
    .model_config = fake_config,
};
static const struct pa_backend fake_backend = {
    .name = "fake",
    .kind = "FAKE",
    .ops = &fake_ops,
};
static const struct pa_client_ops bare_ops = {0};
static const struct pa_backend bare_backend = {
    .name = "bare",
    .kind = "TORCHSERVE",
    .ops = &bare_ops,
};

static struct pa_client client = {.backend = &fake_backend};
static struct pa_options opts;
static char name_m[] = "m", empty[] = "";

/* A writable copy of a literal (the option structs hold char *), alive for the enclosing block. */
#define W(lit) ((char[]){lit})

static int setup(void **state)
{
    (void)state;
    memset(&opts, 0, sizeof(opts));
    opts.service_kind = PA_SK_TRITON;
    opts.model_name = name_m;
    opts.model_version = empty;
    opts.batch_size = 1;
    call_log[0] = '\0';
    fixtures = NULL;
    client.backend = &fake_backend;
    return 0;
}

static void load_ok(struct pa_model *m)
{
    struct pa_err err = {0};
    int rc = model_load(&client, &opts, m, &err);
    if (rc != PA_OK)
        fail_msg("model_load failed: %s", err.msg);
}

static void load_fails(const char *expected)
{
    struct pa_model m;
    struct pa_err err = {0};
    int rc = model_load(&client, &opts, &m, &err);
    assert_int_not_equal(rc, PA_OK);
    assert_int_equal(rc, err.code);
    assert_string_equal(err.msg, expected);
    assert_null(m.name);
    assert_int_equal(m.n_inputs, 0);
}

static void assert_shape(const struct pa_tensor_info *t, size_t rank, const int64_t *dims)
{
    assert_int_equal(t->rank, rank);
    for (size_t i = 0; i < rank; i++)
        assert_int_equal(t->shape[i], dims[i]);
}

/* ---- tests ---- */

static void test_dynamic_batching_model(void **state)
{
    (void)state;
    static const struct fixture fx[] = {
        {FX_META, "m", "",
         "{\"name\":\"m\",\"versions\":[\"1\"],\"platform\":\"onnxruntime_onnx\","
         "\"inputs\":[{\"name\":\"INPUT1\",\"datatype\":\"FP32\",\"shape\":[-1,16]},"
         "{\"name\":\"INPUT0\",\"datatype\":\"INT32\",\"shape\":[-1,2,3]}],"
         "\"outputs\":[{\"name\":\"OUT_B\",\"datatype\":\"INT32\",\"shape\":[-1,16]},"
         "{\"name\":\"OUT_A\",\"datatype\":\"BYTES\",\"shape\":[-1,1]}]}",
         NULL},
        {FX_CONFIG, "m", "",
         "{\"name\":\"m\",\"platform\":\"\",\"max_batch_size\":8,"
         "\"input\":[{\"name\":\"INPUT0\",\"is_shape_tensor\":true,\"optional\":false},"
         "{\"name\":\"INPUT1\",\"optional\":true}],"
         "\"output\":[{\"name\":\"OUT_A\",\"is_shape_tensor\":true}],"
         "\"dynamic_batching\":{\"preferred_batch_size\":[4,8]},"
         "\"model_transaction_policy\":{\"decoupled\":false}}",
         NULL},
        {0},
    };
    fixtures = fx;
    struct pa_model m;
    load_ok(&m);

    assert_string_equal(call_log, "meta m:,config m:");
    assert_string_equal(m.name, "m");
    assert_string_equal(m.version, "");
    assert_int_equal(m.max_batch_size, 8);
    assert_int_equal(m.scheduler, PA_SCHED_DYNAMIC);
    assert_false(m.decoupled);
    assert_false(m.response_cache);
    assert_false(model_is_sequence(&m));
    assert_false(model_is_ensemble(&m));

    assert_int_equal(m.n_inputs, 2);
    assert_string_equal(m.inputs[0].name, "INPUT0"); /* ordered by name */
    assert_string_equal(m.inputs[0].datatype, "INT32");
    assert_shape(&m.inputs[0], 2, (const int64_t[]){2, 3});
    assert_true(m.inputs[0].is_shape_tensor);
    assert_false(m.inputs[0].optional);
    assert_string_equal(m.inputs[1].name, "INPUT1");
    assert_shape(&m.inputs[1], 1, (const int64_t[]){16});
    assert_false(m.inputs[1].is_shape_tensor);
    assert_true(m.inputs[1].optional);

    assert_int_equal(m.n_outputs, 2);
    assert_string_equal(m.outputs[0].name, "OUT_A");
    assert_string_equal(m.outputs[0].datatype, "BYTES");
    assert_true(m.outputs[0].is_shape_tensor);
    assert_shape(&m.outputs[0], 1, (const int64_t[]){1});
    assert_string_equal(m.outputs[1].name, "OUT_B");
    assert_false(m.outputs[1].is_shape_tensor);
    model_release(&m);
    assert_null(m.inputs);
}

static void test_no_batching_keeps_first_dim(void **state)
{
    (void)state;
    static const struct fixture fx[] = {
        {FX_META, "m", "3",
         "{\"name\":\"m\",\"inputs\":[{\"name\":\"X\",\"datatype\":\"INT8\",\"shape\":[4,5]}],"
         "\"outputs\":[]}",
         NULL},
        {FX_CONFIG, "m", "3", "{\"name\":\"m\",\"max_batch_size\":0}", NULL},
        {0},
    };
    fixtures = fx;
    opts.model_version = W("3");
    struct pa_model m;
    load_ok(&m);
    assert_string_equal(call_log, "meta m:3,config m:3");
    assert_string_equal(m.version, "3");
    assert_int_equal(m.max_batch_size, 0);
    assert_int_equal(m.scheduler, PA_SCHED_NONE);
    assert_shape(&m.inputs[0], 2, (const int64_t[]){4, 5});
    assert_int_equal(m.n_outputs, 0);
    model_release(&m);
}

static void test_sequence_decoupled_cache(void **state)
{
    (void)state;
    static const struct fixture fx[] = {
        {FX_META, "m", "",
         "{\"name\":\"m\",\"inputs\":[{\"name\":\"IN\",\"datatype\":\"INT32\",\"shape\":[1]}],"
         "\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"INT32\",\"shape\":[1]}]}",
         NULL},
        {FX_CONFIG, "m", "",
         "{\"name\":\"m\",\"sequence_batching\":{},\"dynamic_batching\":{},"
         "\"model_transaction_policy\":{\"decoupled\":true},"
         "\"response_cache\":{\"enable\":true}}",
         NULL},
        {0},
    };
    fixtures = fx;
    struct pa_model m;
    load_ok(&m);
    assert_int_equal(m.scheduler, PA_SCHED_SEQUENCE); /* sequence wins over dynamic */
    assert_true(model_is_sequence(&m));
    assert_true(m.decoupled);
    assert_true(m.response_cache);
    model_release(&m);
}

static void test_nested_ensemble(void **state)
{
    (void)state;
    static const struct fixture fx[] = {
        {FX_META, "m", "",
         "{\"name\":\"m\",\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[-1,4]}],"
         "\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"FP32\",\"shape\":[-1,4]}]}",
         NULL},
        {FX_CONFIG, "m", "",
         "{\"name\":\"m\",\"platform\":\"ensemble\",\"max_batch_size\":4,"
         "\"ensemble_scheduling\":{\"step\":["
         "{\"model_name\":\"z_inner\",\"model_version\":1},"
         "{\"model_name\":\"a\",\"model_version\":-1},"
         "{\"model_name\":\"a\",\"model_version\":\"-1\"}]}}",
         NULL},
        {FX_CONFIG, "a", "", "{\"name\":\"a\",\"platform\":\"onnxruntime_onnx\"}", NULL},
        {FX_CONFIG, "z_inner", "1",
         "{\"name\":\"z_inner\",\"platform\":\"ensemble\",\"ensemble_scheduling\":{\"step\":["
         "{\"model_name\":\"c\",\"model_version\":\"-1\"},"
         "{\"model_name\":\"b\",\"model_version\":\"2\"}]}}",
         NULL},
        {FX_CONFIG, "b", "2",
         "{\"name\":\"b\",\"dynamic_batching\":{},\"response_cache\":{\"enable\":true}}", NULL},
        {FX_CONFIG, "c", "", "{\"name\":\"c\",\"sequence_batching\":{}}", NULL},
        {0},
    };
    fixtures = fx;
    struct pa_model m;
    load_ok(&m);

    /* Walk order (one fetch per step), then the scheduler pass over the sorted map. */
    assert_string_equal(call_log, "meta m:,config m:,config z_inner:1,config c:,config b:2,"
                                  "config a:,config a:,"
                                  "config a:,config z_inner:1,config b:2,config c:");
    assert_int_equal(m.scheduler, PA_SCHED_ENSEMBLE_SEQUENCE);
    assert_true(model_is_sequence(&m));
    assert_true(model_is_ensemble(&m));
    assert_true(m.response_cache); /* from composing model b */

    assert_int_equal(m.n_composing, 2);
    assert_string_equal(m.composing[0].parent, "m");
    assert_string_equal(m.composing[1].parent, "z_inner");
    const struct pa_composing *top = model_composing_of(&m, "m");
    assert_non_null(top);
    assert_int_equal(top->n_models, 2); /* (a, "") deduplicated */
    assert_string_equal(top->models[0].name, "a");
    assert_string_equal(top->models[0].version, "");
    assert_string_equal(top->models[1].name, "z_inner");
    assert_string_equal(top->models[1].version, "1");
    const struct pa_composing *inner = model_composing_of(&m, "z_inner");
    assert_non_null(inner);
    assert_int_equal(inner->n_models, 2);
    assert_string_equal(inner->models[0].name, "b");
    assert_string_equal(inner->models[0].version, "2");
    assert_string_equal(inner->models[1].name, "c");
    assert_string_equal(inner->models[1].version, "");
    assert_null(model_composing_of(&m, "a"));
    assert_shape(&m.inputs[0], 1, (const int64_t[]){4});
    model_release(&m);
}

static void test_bls_ignores_top_scheduler(void **state)
{
    (void)state;
    static const struct fixture fx[] = {
        {FX_META, "m", "", "{\"name\":\"m\",\"inputs\":[],\"outputs\":[]}", NULL},
        {FX_CONFIG, "m", "", "{\"name\":\"bls_top\",\"sequence_batching\":{}}", NULL},
        {FX_CONFIG, "x", "", "{\"name\":\"x\",\"dynamic_batching\":{}}", NULL},
        {FX_CONFIG, "e", "3",
         "{\"name\":\"e\",\"platform\":\"ensemble\",\"ensemble_scheduling\":{\"step\":["
         "{\"model_name\":\"x\",\"model_version\":-1}]}}",
         NULL},
        {0},
    };
    fixtures = fx;
    struct pa_name_version bls[] = {{W("x"), W("")}, {W("e"), W("3")}};
    opts.bls_composing = bls;
    opts.n_bls_composing = 2;
    struct pa_model m;
    load_ok(&m);
    assert_string_equal(call_log, "meta m:,config m:,config x:,config e:3,config x:,"
                                  "config e:3,config x:,config x:");
    /* The top model's sequence_batching is not consulted (quirk of spec 02 §1.3). */
    assert_int_equal(m.scheduler, PA_SCHED_ENSEMBLE);
    assert_false(model_is_sequence(&m));
    assert_int_equal(m.n_composing, 2);
    const struct pa_composing *top = model_composing_of(&m, "bls_top");
    assert_non_null(top);
    assert_int_equal(top->n_models, 2);
    assert_string_equal(top->models[0].name, "e");
    assert_string_equal(top->models[1].name, "x");
    const struct pa_composing *e = model_composing_of(&m, "e");
    assert_non_null(e);
    assert_int_equal(e->n_models, 1);
    assert_string_equal(e->models[0].name, "x");
    model_release(&m);
}

static void test_dynamic_shapes_and_user_shape(void **state)
{
    (void)state;
    static const struct fixture fx[] = {
        {FX_META, "m", "",
         "{\"name\":\"m\",\"inputs\":["
         "{\"name\":\"DYN\",\"datatype\":\"FP32\",\"shape\":[-1,-1,8]},"
         "{\"name\":\"FIXED\",\"datatype\":\"FP32\",\"shape\":[-1,3]},"
         "{\"name\":\"OPEN\",\"datatype\":\"BYTES\",\"shape\":[-1,-1]}],"
         "\"outputs\":[{\"name\":\"DYN\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}]}",
         NULL},
        {FX_CONFIG, "m", "", "{\"name\":\"m\",\"max_batch_size\":2}", NULL},
        {0},
    };
    fixtures = fx;
    int64_t dyn[] = {5, 6, 7};
    int64_t fixed[] = {9};
    int64_t unknown[] = {1};
    struct pa_shape_opt shapes[] = {
        {W("DYN"), dyn, 3}, {W("FIXED"), fixed, 1}, {W("NOPE"), unknown, 1}};
    opts.shapes = shapes;
    opts.n_shapes = 3;
    struct pa_model m;
    load_ok(&m);
    assert_string_equal(m.inputs[0].name, "DYN");
    assert_shape(&m.inputs[0], 3, dyn); /* replaced entirely, rank may change */
    assert_string_equal(m.inputs[1].name, "FIXED");
    assert_shape(&m.inputs[1], 1, (const int64_t[]){3}); /* no -1: --shape ignored */
    assert_string_equal(m.inputs[2].name, "OPEN");
    assert_shape(&m.inputs[2], 1, (const int64_t[]){-1}); /* stays dynamic */
    assert_shape(&m.outputs[0], 1, (const int64_t[]){-1}); /* --shape never applies */
    model_release(&m);
}

static void test_string_integers(void **state)
{
    (void)state;
    static const struct fixture fx[] = {
        {FX_META, "m", "",
         "{\"name\":\"m\",\"inputs\":[{\"name\":\"I\",\"datatype\":\"INT64\","
         "\"shape\":[\"-1\",\"16\"]}],\"outputs\":[]}",
         NULL},
        {FX_CONFIG, "m", "", "{\"name\":\"m\",\"max_batch_size\":\"4\"}", NULL},
        {0},
    };
    fixtures = fx;
    struct pa_model m;
    load_ok(&m);
    assert_int_equal(m.max_batch_size, 4);
    assert_shape(&m.inputs[0], 1, (const int64_t[]){16});
    model_release(&m);
}

static void test_grpc_config_shape_accepted(void **state)
{
    (void)state;
    static const struct fixture fx[] = {
        {FX_META, "m", "", "{\"name\":\"m\"}", NULL},
        {FX_CONFIG, "m", "", "{\"config\":{\"name\":\"m\",\"max_batch_size\":\"16\"}}", NULL},
        {0},
    };
    fixtures = fx;
    struct pa_model m;
    load_ok(&m);
    assert_int_equal(m.max_batch_size, 16);
    assert_int_equal(m.n_inputs, 0);
    model_release(&m);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct fixture meta_fail[] = {
        {FX_META, "m", "", NULL, "HTTP client failed: Couldn't connect to server"},
        {0},
    };
    fixtures = meta_fail;
    load_fails("failed to get model metadata: HTTP client failed: Couldn't connect to server");
    assert_string_equal(call_log, "meta m:");

    static const struct fixture unknown[] = {{0}};
    fixtures = unknown;
    opts.model_name = W("nope");
    load_fails("failed to get model metadata: Request for unknown model: 'nope' is not found");
    opts.model_name = name_m;

    static const struct fixture cfg_fail[] = {
        {FX_META, "m", "", "{\"name\":\"m\"}", NULL},
        {FX_CONFIG, "m", "", NULL, "model config unavailable"},
        {0},
    };
    fixtures = cfg_fail;
    load_fails("failed to get model config: model config unavailable");

    static const struct fixture composing_fail[] = {
        {FX_META, "m", "", "{\"name\":\"m\"}", NULL},
        {FX_CONFIG, "m", "",
         "{\"name\":\"m\",\"platform\":\"ensemble\",\"ensemble_scheduling\":{\"step\":["
         "{\"model_name\":\"gone\",\"model_version\":-1}]}}",
         NULL},
        {0},
    };
    fixtures = composing_fail;
    load_fails("failed to create model parser: Request for unknown model: 'gone' is not found");

    static const struct fixture bad_input[] = {
        {FX_META, "m", "",
         "{\"name\":\"m\",\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1]}]}",
         NULL},
        {FX_CONFIG, "m", "", "{\"name\":\"m\",\"input\":[{\"name\":\"B\"}]}", NULL},
        {0},
    };
    fixtures = bad_input;
    load_fails("failed to create model parser: no metadata found for input tensor B");

    static const struct fixture bad_output[] = {
        {FX_META, "m", "",
         "{\"name\":\"m\",\"outputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1]}]}",
         NULL},
        {FX_CONFIG, "m", "", "{\"name\":\"m\",\"output\":[{\"name\":\"C\"}]}", NULL},
        {0},
    };
    fixtures = bad_output;
    load_fails("failed to create model parser: no metadata found for output tensor C");

    static const struct fixture bad_int[] = {
        {FX_META, "m", "", "{\"name\":\"m\"}", NULL},
        {FX_CONFIG, "m", "", "{\"name\":\"m\",\"max_batch_size\":\"eight\"}", NULL},
        {0},
    };
    fixtures = bad_int;
    load_fails("failed to create model parser: unable to convert 'eight' to integer");

    static const struct fixture bad_dim[] = {
        {FX_META, "m", "",
         "{\"name\":\"m\",\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\","
         "\"shape\":[\"1x\"]}]}",
         NULL},
        {FX_CONFIG, "m", "", "{\"name\":\"m\"}", NULL},
        {0},
    };
    fixtures = bad_dim;
    load_fails("failed to create model parser: unable to convert '1x' to integer");

    static const struct fixture float_int[] = {
        {FX_META, "m", "", "{\"name\":\"m\"}", NULL},
        {FX_CONFIG, "m", "", "{\"name\":\"m\",\"max_batch_size\":1.5}", NULL},
        {0},
    };
    fixtures = float_int;
    load_fails("failed to create model parser: failed to parse the integer value");

    client.backend = &bare_backend;
    load_fails("failed to get model metadata: client backend of kind TORCHSERVE does not "
               "support ModelMetadata API");
}

static void test_torchserve_fixed_model(void **state)
{
    (void)state;
    client.backend = &bare_backend; /* no server calls at all */
    opts.service_kind = PA_SK_TORCHSERVE;
    opts.batch_size = 3;
    struct pa_model m;
    load_ok(&m);
    assert_string_equal(call_log, "");
    assert_string_equal(m.name, "m");
    assert_int_equal(m.max_batch_size, 3);
    assert_int_equal(m.n_inputs, 1);
    assert_string_equal(m.inputs[0].name, "TORCHSERVE_INPUT");
    assert_string_equal(m.inputs[0].datatype, "BYTES");
    assert_shape(&m.inputs[0], 1, (const int64_t[]){1});
    assert_int_equal(m.n_outputs, 0);
    model_release(&m);
}

static const char tfs_meta[] =
    "{\"model_spec\":{\"name\":\"m\"},\"metadata\":{\"signature_def\":{"
    "\"@type\":\"type.googleapis.com/tensorflow.serving.SignatureDefMap\","
    "\"signature_def\":{\"serving_default\":{\"inputs\":{"
    "\"b_in\":{\"name\":\"b:0\",\"dtype\":\"DT_FLOAT\",\"tensor_shape\":{\"dim\":["
    "{\"size\":\"-1\"},{\"size\":\"-1\"}],\"unknown_rank\":false}},"
    "\"a_in\":{\"name\":\"a:0\",\"dtype\":\"DT_STRING\",\"tensor_shape\":{\"dim\":["
    "{\"size\":\"-1\"},{\"size\":\"2\"}],\"unknown_rank\":false}}"
    "},\"outputs\":{},\"method_name\":\"tensorflow/serving/predict\"}}}}}";

static void test_tfserving_signature(void **state)
{
    (void)state;
    static const struct fixture fx[] = {{FX_META, "m", "", tfs_meta, NULL}, {0}};
    fixtures = fx;
    opts.service_kind = PA_SK_TFSERVING;
    opts.model_signature_name = W("serving_default");
    opts.batch_size = 2;
    int64_t b_dims[] = {7};
    struct pa_shape_opt shapes[] = {{W("b_in"), b_dims, 1}};
    opts.shapes = shapes;
    opts.n_shapes = 1;
    struct pa_model m;
    load_ok(&m);
    assert_string_equal(call_log, "meta m:");
    assert_int_equal(m.max_batch_size, 2);
    assert_int_equal(m.scheduler, PA_SCHED_NONE);
    assert_int_equal(m.n_inputs, 2);
    assert_string_equal(m.inputs[0].name, "a_in");
    assert_string_equal(m.inputs[0].datatype, "BYTES");
    assert_shape(&m.inputs[0], 1, (const int64_t[]){2});
    assert_string_equal(m.inputs[1].name, "b_in");
    assert_string_equal(m.inputs[1].datatype, "FP32");
    assert_shape(&m.inputs[1], 1, b_dims);
    model_release(&m);

    opts.model_signature_name = W("other");
    load_fails("failed to create model parser: Failed to find signature_name \"other\" in the "
               "metadata");
}

static void test_tfserving_errors(void **state)
{
    (void)state;
    static const struct fixture bad_type[] = {
        {FX_META, "m", "",
         "{\"metadata\":{\"signature_def\":{\"signature_def\":{\"s\":{\"inputs\":{"
         "\"x\":{\"dtype\":\"DT_COMPLEX64\",\"tensor_shape\":{\"dim\":[]}}}}}}}}",
         NULL},
        {0},
    };
    static const struct fixture unknown_rank[] = {
        {FX_META, "m", "",
         "{\"metadata\":{\"signature_def\":{\"signature_def\":{\"s\":{\"inputs\":{"
         "\"x\":{\"dtype\":\"DT_FLOAT\",\"tensor_shape\":{\"unknown_rank\":true}}}}}}}}",
         NULL},
        {0},
    };
    static const struct fixture first_dim[] = {
        {FX_META, "m", "",
         "{\"metadata\":{\"signature_def\":{\"signature_def\":{\"s\":{\"inputs\":{"
         "\"x\":{\"dtype\":\"DT_FLOAT\",\"tensor_shape\":{\"dim\":[{\"size\":\"3\"}]}}}}}}}}",
         NULL},
        {0},
    };
    opts.service_kind = PA_SK_TFSERVING;
    opts.model_signature_name = W("s");
    fixtures = bad_type;
    load_fails("failed to create model parser: unsupported datatype encountered DT_COMPLEX64");
    opts.batch_size = 4;
    fixtures = unknown_rank;
    load_fails("failed to create model parser: Can not specify -b flag for saved model with "
               "unknown ranked inputs");
    fixtures = first_dim;
    load_fails("failed to create model parser: Can not specify -b flag for saved model with "
               "input not having their first dim as -1");
    opts.batch_size = 0;
    struct pa_model m;
    fixtures = unknown_rank;
    load_ok(&m); /* without -b an unknown rank just makes the input dynamic */
    assert_shape(&m.inputs[0], 1, (const int64_t[]){-1});
    model_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_dynamic_batching_model, setup),
        cmocka_unit_test_setup(test_no_batching_keeps_first_dim, setup),
        cmocka_unit_test_setup(test_sequence_decoupled_cache, setup),
        cmocka_unit_test_setup(test_nested_ensemble, setup),
        cmocka_unit_test_setup(test_bls_ignores_top_scheduler, setup),
        cmocka_unit_test_setup(test_dynamic_shapes_and_user_shape, setup),
        cmocka_unit_test_setup(test_string_integers, setup),
        cmocka_unit_test_setup(test_grpc_config_shape_accepted, setup),
        cmocka_unit_test_setup(test_errors, setup),
        cmocka_unit_test_setup(test_torchserve_fixed_model, setup),
        cmocka_unit_test_setup(test_tfserving_signature, setup),
        cmocka_unit_test_setup(test_tfserving_errors, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
