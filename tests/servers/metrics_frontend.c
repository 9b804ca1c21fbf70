/*
 * Prometheus /metrics listener (spec 06 §1, §4; 07 §8).
 *
 * GPU gauges are fixed (two fake GPUs, the values of the golden runs in
 * reference/golden/README.md) so the client's averaging and max logic has
 * known answers. Per-model counters come from the engine's statistics.
 * Every sample line follows the exposition format; the GPU ones also match
 * perf_analyzer's strict regex (exactly one gpu_uuid label, plain decimals).
 */
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "http_frontend.h"

#include "core/banned.h"

struct metrics_frontend {
    struct engine *e;
    struct MHD_Daemon *d;
    int fd;
};

static const struct {
    const char *uuid;
    const char *util;
    const char *power;
    const char *used;
    const char *total;
    const char *limit;
    const char *energy;
} gpus[] = {
    {"GPU-00000000-0000-0000-0000-000000000001", "0.25", "100.5", "1048576000", "85899345920",
     "300", "1234.5"},
    {"GPU-00000000-0000-0000-0000-000000000002", "0.5", "110.5", "2097152000", "85899345920",
     "300", "2345.5"},
};

#define N_GPUS (sizeof(gpus) / sizeof(gpus[0]))

static int family(struct buf *b, const char *name, const char *type, const char *help)
{
    return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *metrics_render(struct engine *e)
{
    struct buf b;
    int rc = 0;
    size_t len;
#define GPU_FAMILY(name, type, help, field)                                                 \
    do {                                                                                    \
        rc |= family(&b, name, type, help);                                                 \
        for (size_t g = 0; g < N_GPUS; g++)                                                 \
            rc |= buf_printf(&b, "%s{gpu_uuid=\"%s\"} %s\n", name, gpus[g].uuid, gpus[g].field); \
    } while (0)

    buf_init(&b, (size_t)16 << 20);
    GPU_FAMILY("nv_gpu_utilization", "gauge", "GPU utilization rate [0.0 - 1.0)", util);
    GPU_FAMILY("nv_gpu_memory_total_bytes", "gauge", "GPU total memory, in bytes", total);
    GPU_FAMILY("nv_gpu_memory_used_bytes", "gauge", "GPU used memory, in bytes", used);
    GPU_FAMILY("nv_gpu_power_usage", "gauge", "GPU power usage in watts", power);
    GPU_FAMILY("nv_gpu_power_limit", "gauge", "GPU power management limit in watts", limit);
    GPU_FAMILY("nv_energy_consumption", "counter",
               "GPU energy consumption in joules since the Triton Server started", energy);
#undef GPU_FAMILY

    {
        static const struct {
            const char *name;
            const char *help;
        } fams[] = {
            {"nv_inference_request_success", "Number of successful inference requests, all batch sizes"},
            {"nv_inference_request_failure", "Number of failed inference requests, all batch sizes"},
            {"nv_inference_count", "Number of inferences performed (does not include cached requests)"},
            {"nv_inference_exec_count", "Number of model executions performed (does not include cached requests)"},
            {"nv_inference_request_duration_us", "Cumulative inference request duration in microseconds (includes cached requests)"},
            {"nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds (includes cached requests)"},
            {"nv_inference_compute_input_duration_us", "Cumulative compute input duration in microseconds (does not include cached requests)"},
            {"nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in microseconds (does not include cached requests)"},
            {"nv_inference_compute_output_duration_us", "Cumulative inference compute output duration in microseconds (does not include cached requests)"},
        };
        for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
            rc |= family(&b, fams[f].name, "counter", fams[f].help);
            for (size_t i = 0; i < engine_model_count(e); i++) {
                const struct engine_model *m = engine_model_at(e, i);
                const struct engine_model_info *mi = engine_model_info(m);
                for (size_t v = 0; v < mi->n_versions; v++) {
                    struct engine_model_stats s;
                    uint64_t val = 0;
                    if (engine_stats_get(e, m, mi->versions[v], &s, NULL))
                        continue;
                    switch (f) {
                    case 0: val = s.success.count; break;
                    case 1: val = s.fail.count; break;
                    case 2: val = s.inference_count; break;
                    case 3: val = s.execution_count; break;
                    case 4: val = s.success.ns / 1000; break;
                    case 5: val = s.queue.ns / 1000; break;
                    case 6: val = s.compute_input.ns / 1000; break;
                    case 7: val = s.compute_infer.ns / 1000; break;
                    default: val = s.compute_output.ns / 1000; break;
                    }
                    rc |= buf_printf(&b, "%s{model=\"%s\",version=\"%" PRId64 "\"} %" PRIu64 "\n",
                                     fams[f].name, mi->name, mi->versions[v], val);
                }
            }
        }
    }
    (void)rc; /* 16 MiB is far beyond what these lines need */
    return buf_detach(&b, &len);
}

static enum MHD_Result on_metrics(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct metrics_frontend *fe = cls;
    struct MHD_Response *r;
    enum MHD_Result ret;
    unsigned status = 200;
    char *text;
    static int marker;
    (void)version;
    (void)upload_data;

    if (!*req_cls) {
        *req_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET")) {
        status = 405;
        text = xstrdup("");
    } else if (strcmp(url, "/metrics") && strcmp(url, "/metrics/")) {
        status = 400;
        text = xstrdup("");
    } else {
        text = metrics_render(fe->e);
    }
    r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    ret = MHD_queue_response(mc, status, r);
    MHD_destroy_response(r);
    return ret;
}

int metrics_frontend_start(struct engine *e, int port, int *bound_port,
                           struct metrics_frontend **out, char *err, size_t errlen)
{
    struct metrics_frontend *fe = xcalloc(1, sizeof(*fe));
    fe->e = e;
    fe->fd = net_listen_local(port, bound_port, err, errlen);
    if (fe->fd < 0) {
        free(fe);
        return -1;
    }
    fe->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
                             on_metrics, fe, MHD_OPTION_LISTEN_SOCKET, fe->fd,
                             MHD_OPTION_CONNECTION_TIMEOUT, 0U, MHD_OPTION_END);
    if (!fe->d) {
        snprintf(err, errlen, "cannot start the metrics daemon on port %d", *bound_port);
        close(fe->fd);
        free(fe);
        return -1;
    }
    *out = fe;
    return 0;
}

void metrics_frontend_stop(struct metrics_frontend *fe)
{
    if (!fe)
        return;
    MHD_stop_daemon(fe->d);
    free(fe);
}
