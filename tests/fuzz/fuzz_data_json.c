/*
 * libFuzzer target for the --input-data JSON loader: the input bytes are one
 * JSON data file for a fixed model that exercises every datatype path
 * (numbers, BYTES, FP16 via b64, a variable shape, an optional input, a
 * shape tensor, validation outputs). Accepted documents are then assembled
 * into batched requests (batch 2) and compared against themselves, so the
 * whole path from bytes to request descriptions runs. Any crash, leak or
 * undefined behavior is a bug: bad input must only ever produce an error.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "data/data-internal.h"
#include "data/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t shape_var[] = {-1, 2};
static int64_t shape_4[] = {4};
static int64_t shape_1[] = {1};
static int64_t shape_2[] = {2};

static char n_bool[] = "BOOL_IN", n_bytes[] = "BYTES_IN", n_fp16[] = "FP16_IN",
            n_fp32[] = "FP32_IN", n_i64[] = "I64_IN", n_opt[] = "OPT_IN", n_shape[] = "SHAPE_IN",
            n_u8[] = "U8_IN", n_out[] = "OUT", n_out2[] = "OUT_BYTES";
static char t_bool[] = "BOOL", t_bytes[] = "BYTES", t_fp16[] = "FP16", t_fp32[] = "FP32",
            t_i64[] = "INT64", t_i32[] = "INT32", t_u8[] = "UINT8";
static char model_name[] = "fuzz", model_version[] = "";

static struct pa_tensor_info inputs[] = {
    {n_bool, t_bool, shape_4, 1, false, false},
    {n_bytes, t_bytes, shape_2, 1, false, false},
    {n_fp16, t_fp16, shape_2, 1, false, false},
    {n_fp32, t_fp32, shape_var, 2, false, false},
    {n_i64, t_i64, shape_1, 1, false, false},
    {n_opt, t_i32, shape_1, 1, false, true},
    {n_shape, t_i32, shape_2, 1, true, false},
    {n_u8, t_u8, shape_4, 1, false, false},
};
static struct pa_tensor_info outputs[] = {
    {n_out, t_i32, shape_2, 1, false, false},
    {n_out2, t_bytes, shape_var, 2, false, false},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pa_model model = {
        .name = model_name,
        .version = model_version,
        .max_batch_size = 8,
        .inputs = inputs,
        .n_inputs = sizeof(inputs) / sizeof(inputs[0]),
        .outputs = outputs,
        .n_outputs = sizeof(outputs) / sizeof(outputs[0]),
    };
    struct pa_options opts;
    struct data_raw raw;
    struct pa_dataset ds;
    struct pa_err err = {0};

    memset(&opts, 0, sizeof(opts));
    opts.batch_size = 2;
    opts.service_kind = PA_SK_TRITON;
    opts.input_kind = PA_INPUT_FILES;

    data_raw_init(&raw, &model);
    if (data_load_json_text(&raw, (const char *)data, size, NULL, &err) == PA_OK &&
        data_json_finish(&raw, &err) == PA_OK) {
        memset(&ds, 0, sizeof(ds));
        if (data_assemble(&raw, &opts, &model, &ds, &err) == PA_OK) {
            for (size_t s = 0; s < ds.n_streams; s++)
                for (size_t k = 0; k < ds.streams[s].n_steps; k++) {
                    const struct pa_dataset_step *st = dataset_step(&ds, s, k);
                    for (size_t i = 0; i < st->desc.n_inputs; i++)
                        if (st->desc.inputs[i].byte_size && !st->desc.inputs[i].data)
                            __builtin_trap();
                    /* No client: every expected output compares against zero bytes. */
                    (void)data_validate_outputs(st, NULL, NULL, &err);
                }
        }
        dataset_release(&ds, NULL);
    }
    data_raw_release(&raw);
    return 0;
}
