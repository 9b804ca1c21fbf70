/*
 * Shared by the cli unit tests: runs options_parse on an argument list
 * (argv[0] is "perf_analyzer") and captures its result, error and
 * diagnostics. Include after <cmocka.h> and "cli/options.h".
 */
#ifndef PA_TESTS_CLI_RUN_H
#define PA_TESTS_CLI_RUN_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct run {
    int rc;
    bool version;
    struct pa_options o;
    struct pa_err err;
    char *diag;
    size_t diag_len;
};

static inline void run_argv(struct run *r, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = strdup("perf_analyzer");
    for (size_t i = 0; args[i]; i++)
        argv[argc++] = strdup(args[i]);
    memset(r, 0, sizeof(*r));
    FILE *diag = open_memstream(&r->diag, &r->diag_len);
    assert_non_null(diag);
    r->rc = options_parse(argc, argv, &r->o, &r->version, diag, &r->err);
    fclose(diag);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
}

static inline void run_done(struct run *r)
{
    options_release(&r->o);
    free(r->diag);
}

#define RUN(r, ...) run_argv((r), (const char *const[]){__VA_ARGS__, NULL})

/* Parses args, which must succeed, into a fresh static run. */
#define OK(r, ...)                                        \
    do {                                                  \
        RUN(r, __VA_ARGS__);                              \
        if ((r)->rc != PA_OK)                             \
            fail_msg("unexpected error: %s", (r)->err.msg); \
    } while (0)

#define EXPECT_ERR(text, ...)                        \
    do {                                             \
        struct run r_;                               \
        RUN(&r_, __VA_ARGS__);                       \
        assert_int_equal(r_.rc, PA_EUSAGE);          \
        assert_string_equal(r_.err.msg, (text));     \
        run_done(&r_);                               \
    } while (0)

#endif
