/*
 * pa-test-server: the project's KServe v2 / Triton-compatible reference
 * server (docs/internals/test-server.md).
 *
 *   pa-test-server --models DIR [--http-port N] [--grpc-port N]
 *                  [--metrics-port N] [--tfs-port N] [knobs]
 *
 * Once every listener is up it prints exactly one line
 * "http=PORT grpc=PORT metrics=PORT" to stdout (0 for a listener not
 * started) so scripts using port 0 learn the real ports; with --tfs-port
 * the line ends with " tfs=PORT" (tests/servers/server_ctl.sh reads it).
 * The HTTP port also serves TorchServe's /predictions and /ping
 * (torchserve_handler.h); TF Serving has its own gRPC listener
 * (tfs_frontend.h). SIGTERM/SIGINT
 * stop it cleanly (connections closed, shm regions unmapped).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "http_frontend.h"
#include "tfs_frontend.h"

#include "core/banned.h"

#ifndef PA_DEFAULT_MODELS_DIR
#define PA_DEFAULT_MODELS_DIR "tests/models"
#endif

static void usage(FILE *f)
{
    fputs("usage: pa-test-server [--models DIR] [--http-port N] [--grpc-port N]\n"
          "                      [--metrics-port N] [--tfs-port N] [--threads N]\n"
          "                      [--cudart PATH]\n"
          "                      [--delay-ms [MODEL=]MS[:MAX_MS]]... [--error-rate F]\n"
          "                      [--drop-every N] [--slow-start-ms MS] [--hang]\n"
          "\n"
          "  --models DIR        model files (*.json); default " PA_DEFAULT_MODELS_DIR "\n"
          "  --http-port N       KServe v2 HTTP port (default 8000, 0 = any free port)\n"
          "  --grpc-port N       gRPC port (off unless given, 0 = any free port)\n"
          "  --metrics-port N    Prometheus /metrics port (default 8002, -1 = off)\n"
          "  --tfs-port N        TF Serving gRPC port (off unless given, 0 = any free port)\n"
          "  --threads N         HTTP worker threads (default: one per core)\n"
          "  --cudart PATH       libcudart to dlopen for CUDA shared memory\n"
          "  --delay-ms SPEC     compute delay: MS, MIN:MAX (uniform random), or\n"
          "                      MODEL=MS / MODEL=MIN:MAX for one model; repeatable\n"
          "  --error-rate F      fraction of inferences failing (0..1)\n"
          "  --drop-every N      every Nth inference response is cut off mid-body\n"
          "  --slow-start-ms MS  hold every request until MS after start-up\n"
          "  --hang              accept requests but never answer\n",
          f);
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_ms(const char *s, const char *end, uint64_t *ns)
{
    char tmp[64];
    char *e = NULL;
    double v;
    size_t n = (size_t)(end - s);
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    v = strtod(tmp, &e);
    if (e == tmp || *e || errno || v < 0 || v > 3.6e6)
        return -1;
    *ns = (uint64_t)(v * 1e6);
    return 0;
}

/* "[MODEL=]MS[:MAX]" -> model (or empty), min, max. */
static int parse_delay(const char *spec, char *model, size_t model_len, uint64_t *lo,
                       uint64_t *hi)
{
    const char *eq = strchr(spec, '='), *v = eq ? eq + 1 : spec, *colon;
    model[0] = '\0';
    if (eq) {
        if ((size_t)(eq - spec) >= model_len || eq == spec)
            return -1;
        memcpy(model, spec, (size_t)(eq - spec));
        model[eq - spec] = '\0';
    }
    colon = strchr(v, ':');
    if (parse_ms(v, colon ? colon : v + strlen(v), lo))
        return -1;
    *hi = *lo;
    if (colon && (parse_ms(colon + 1, colon + 1 + strlen(colon + 1), hi) || *hi < *lo))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    enum { O_MODELS = 256, O_HTTP, O_GRPC, O_METRICS, O_THREADS, O_CUDART, O_DELAY, O_ERR,
           O_DROP, O_SLOW, O_HANG, O_HELP, O_TFS };
    static const struct option opts[] = {
        {"models", required_argument, NULL, O_MODELS},
        {"http-port", required_argument, NULL, O_HTTP},
        {"grpc-port", required_argument, NULL, O_GRPC},
        {"metrics-port", required_argument, NULL, O_METRICS},
        {"tfs-port", required_argument, NULL, O_TFS},
        {"threads", required_argument, NULL, O_THREADS},
        {"cudart", required_argument, NULL, O_CUDART},
        {"delay-ms", required_argument, NULL, O_DELAY},
        {"error-rate", required_argument, NULL, O_ERR},
        {"drop-every", required_argument, NULL, O_DROP},
        {"slow-start-ms", required_argument, NULL, O_SLOW},
        {"hang", no_argument, NULL, O_HANG},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *models = PA_DEFAULT_MODELS_DIR, *cudart = NULL;
    long http_port = 8000, grpc_port = -1, metrics_port = 8002, tfs_port = -1, threads = 0;
    const char *delays[64];
    size_t n_delays = 0;
    struct engine_knobs knobs = {0};
    struct engine *e;
    struct http_frontend *http = NULL;
    struct metrics_frontend *metrics = NULL;
    struct grpc_frontend *grpc = NULL;
    struct tfs_frontend *tfs = NULL;
    int http_bound = 0, grpc_bound = 0, metrics_bound = 0, tfs_bound = 0, opt, sig, rc = 1;
    char err[512];
    sigset_t set;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        long v;
        char *end = NULL;
        switch (opt) {
        case O_MODELS: models = optarg; break;
        case O_CUDART: cudart = optarg; break;
        case O_HTTP:
        case O_GRPC:
        case O_METRICS:
            if (parse_int(optarg, opt == O_METRICS ? -1 : 0, 65535, &v)) {
                fprintf(stderr, "pa-test-server: bad port '%s'\n", optarg);
                return 2;
            }
            *(opt == O_HTTP ? &http_port : opt == O_GRPC ? &grpc_port : &metrics_port) = v;
            break;
        case O_TFS:
            if (parse_int(optarg, 0, 65535, &tfs_port)) {
                fprintf(stderr, "pa-test-server: bad port '%s'\n", optarg);
                return 2;
            }
            break;
        case O_THREADS:
            if (parse_int(optarg, 1, 1024, &threads)) {
                fprintf(stderr, "pa-test-server: bad thread count '%s'\n", optarg);
                return 2;
            }
            break;
        case O_DELAY:
            if (n_delays == sizeof(delays) / sizeof(delays[0])) {
                fprintf(stderr, "pa-test-server: too many --delay-ms\n");
                return 2;
            }
            delays[n_delays++] = optarg;
            break;
        case O_ERR:
            errno = 0;
            knobs.error_rate = strtod(optarg, &end);
            if (end == optarg || *end || errno || knobs.error_rate < 0 || knobs.error_rate > 1) {
                fprintf(stderr, "pa-test-server: bad error rate '%s'\n", optarg);
                return 2;
            }
            break;
        case O_DROP:
            if (parse_int(optarg, 0, 1L << 30, &v)) {
                fprintf(stderr, "pa-test-server: bad --drop-every '%s'\n", optarg);
                return 2;
            }
            knobs.drop_every = (uint64_t)v;
            break;
        case O_SLOW:
            if (parse_ms(optarg, optarg + strlen(optarg), &knobs.slow_start_ns)) {
                fprintf(stderr, "pa-test-server: bad --slow-start-ms '%s'\n", optarg);
                return 2;
            }
            break;
        case O_HANG: knobs.hang = true; break;
        case O_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pa-test-server: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }

    e = engine_create(models, err, sizeof(err));
    if (!e) {
        fprintf(stderr, "pa-test-server: %s\n", err);
        return 1;
    }
    if (cudart)
        engine_set_cudart_path(e, cudart);
    for (size_t i = 0; i < n_delays; i++) {
        char model[ENGINE_NAME_MAX];
        uint64_t lo, hi;
        struct engine_status st;
        if (parse_delay(delays[i], model, sizeof(model), &lo, &hi)) {
            fprintf(stderr, "pa-test-server: bad --delay-ms '%s'\n", delays[i]);
            goto out;
        }
        if (!model[0]) {
            knobs.delay_min_ns = lo;
            knobs.delay_max_ns = hi;
        } else if (engine_set_model_delay(e, model, lo, hi, &st)) {
            fprintf(stderr, "pa-test-server: %s\n", st.msg);
            goto out;
        }
    }
    engine_set_knobs(e, &knobs);

    /* threads started below inherit this mask; main() alone takes the signals */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (http_frontend_start(e, (int)http_port, (unsigned)threads, &http_bound, &http, err,
                            sizeof(err))) {
        fprintf(stderr, "pa-test-server: %s\n", err);
        goto out;
    }
    if (metrics_port >= 0 &&
        metrics_frontend_start(e, (int)metrics_port, &metrics_bound, &metrics, err, sizeof(err))) {
        fprintf(stderr, "pa-test-server: %s\n", err);
        goto out;
    }
    if (grpc_port >= 0 &&
        grpc_frontend_start(e, (int)grpc_port, &grpc_bound, &grpc, err, sizeof(err))) {
        fprintf(stderr, "pa-test-server: %s\n", err);
        goto out;
    }
    if (tfs_port >= 0 && tfs_frontend_start(e, (int)tfs_port, &tfs_bound, &tfs, err, sizeof(err))) {
        fprintf(stderr, "pa-test-server: %s\n", err);
        goto out;
    }
    if (tfs)
        printf("http=%d grpc=%d metrics=%d tfs=%d\n", http_bound, grpc_bound, metrics_bound,
               tfs_bound);
    else
        printf("http=%d grpc=%d metrics=%d\n", http_bound, grpc_bound, metrics_bound);
    fflush(stdout);

    while (sigwait(&set, &sig) != 0)
        ;
    rc = 0;
out:
    tfs_frontend_stop(tfs);
    grpc_frontend_stop(grpc);
    metrics_frontend_stop(metrics);
    http_frontend_stop(http);
    engine_destroy(e);
    return rc;
}
