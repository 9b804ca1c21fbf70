/*
 * libFuzzer target for the model parser (src/model/model.h): model_load
 * turns the server's model metadata and config JSON (Triton), or the
 * signature (TF Serving), into struct pa_model. Both come from the network.
 *
 * A fake control-plane backend answers from the input: byte 0 picks one of
 * the command lines below (service kind, -b, --shape, BLS composing
 * models), the rest is one JSON object
 *     {"metadata": {"<model>": <answer>, ...}, "config": {"<model>": ...}}
 * and a model missing from it is a server error, as for an unknown model.
 * Ensemble steps and BLS composing models are looked up the same way, so
 * the fuzzer controls the whole model graph.
 *
 * Checked: failures carry a terminated message; a loaded model has its
 * tensors sorted by name with a name, a datatype and a shape for every
 * rank; its composing map can be queried; the model-dependent option
 * checks (options_apply_model, as main.c runs them) accept or reject it
 * with PA_EUSAGE; everything is released without leaks.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/options.h"
#include "model/model.h"
#include "pa/client.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "w");
    if (!f)
        abort();
    return f;
}

/* The answer stored under section[name], duplicated for the caller. */
static int answer(struct pa_client *c, const char *section, const char *name, cJSON **out,
                  struct pa_err *err)
{
    const cJSON *root = c->ctx;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, section), name ? name : "");
    if (!v)
        return pa_errorf(err, PA_ESERVER, "Request for unknown model: '%s' is not found",
                         name ? name : "");
    *out = cJSON_Duplicate(v, 1);
    check(*out != NULL);
    return PA_OK;
}

static int fake_metadata(struct pa_client *c, const char *name, const char *version, cJSON **out,
                         struct pa_err *err)
{
    check(version != NULL);
    return answer(c, "metadata", name, out, err);
}

static int fake_config(struct pa_client *c, const char *name, const char *version, cJSON **out,
                       struct pa_err *err)
{
    check(version != NULL);
    return answer(c, "config", name, out, err);
}

static const struct pa_client_ops fake_ops = {
    .model_metadata = fake_metadata,
    .model_config = fake_config,
};
static const struct pa_backend fake_backend = {"fuzz", "TRITON", 0, &fake_ops};

#define N_CMDS 8
static const char *const cmd_lines[N_CMDS] = {
    "-m top",
    "-m top -b 4",
    "-m top --shape IN:3,4 --shape INPUT0:2 -b 2",
    "-m top --bls-composing-models sub,other:1",
    "--service-kind tfserving -i grpc -m top",
    "--service-kind tfserving -i grpc -m top -b 2 --shape IN:5",
    "-m top -x 1 --async --concurrency-range 1:4",
    "-m top -i grpc --streaming",
};
static struct pa_options cmd_opts[N_CMDS];

/* Parses the fixed command lines once; they must all be valid. */
static void setup(void)
{
    static bool done;
    if (done)
        return;
    for (size_t i = 0; i < N_CMDS; i++) {
        char buf[256];
        char *argv[32];
        int argc = 0;
        snprintf(buf, sizeof(buf), "perf_analyzer %s", cmd_lines[i]);
        for (char *tok = strtok(buf, " "); tok && argc < 31; tok = strtok(NULL, " "))
            argv[argc++] = tok;
        argv[argc] = NULL;
        struct pa_err err = {0};
        bool version = false;
        if (options_parse(argc, argv, &cmd_opts[i], &version, devnull(), &err) != PA_OK) {
            fprintf(stderr, "fuzz_model_parse: bad fixed command line '%s': %s\n", cmd_lines[i],
                    err.msg);
            abort();
        }
    }
    done = true;
}

static void check_tensors(const struct pa_tensor_info *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        check(t[i].name != NULL && t[i].datatype != NULL);
        check(t[i].rank == 0 || t[i].shape != NULL);
        for (size_t k = 0; k < t[i].rank; k++)
            (void)t[i].shape[k];
        if (i > 0)
            check(strcmp(t[i - 1].name, t[i].name) <= 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    setup();
    const struct pa_options *opts = &cmd_opts[data[0] % N_CMDS];
    cJSON *root = cJSON_ParseWithLength((const char *)data + 1, size - 1);
    if (!root)
        return 0;

    struct pa_client client = {.backend = &fake_backend, .opts = opts, .ctx = root};
    struct pa_model model;
    struct pa_err err = {0};
    int rc = model_load(&client, opts, &model, &err);
    if (rc != PA_OK) {
        check(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
    } else {
        check(model.name != NULL && model.version != NULL);
        check_tensors(model.inputs, model.n_inputs);
        check_tensors(model.outputs, model.n_outputs);
        for (size_t i = 0; i < model.n_composing; i++) {
            const struct pa_composing *c = &model.composing[i];
            check(c->parent != NULL && model_composing_of(&model, c->parent) != NULL);
            for (size_t k = 0; k < c->n_models; k++)
                check(c->models[k].name != NULL && c->models[k].version != NULL);
        }
        (void)model_is_ensemble(&model);

        /* What main.c does next: the model-dependent option checks on a copy. */
        struct pa_model_facts facts = {
            .max_batch_size = model.max_batch_size,
            .sequence = model_is_sequence(&model),
            .decoupled = model.decoupled,
        };
        struct pa_options copy = *opts;
        struct pa_err err2 = {0};
        rc = options_apply_model(&copy, &facts, devnull(), &err2);
        check(rc == PA_OK || rc == PA_EUSAGE);
        model_release(&model);
    }
    cJSON_Delete(root);
    return 0;
}
