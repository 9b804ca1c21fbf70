/*
 * libFuzzer target for the command line parser (src/cli/options.h).
 *
 * Input layout: byte 0 picks the model facts handed to options_apply_model
 * (bits 0-1: max_batch_size 0/1/8/UINT64_MAX, bit 2: sequence model, bit 3:
 * decoupled); the rest is the argument list, one word per line ('\n' or
 * NUL ends a word), after argv[0] = "perf_analyzer". Diagnostics go to
 * /dev/null. Any crash, leak or undefined behavior is a bug: a bad command
 * line must only ever produce PA_EUSAGE.
 *
 * Beyond "does not crash", the target checks the parser's documented
 * contract: failures are PA_EUSAGE with a terminated message, *opts is
 * released (so releasing it again is harmless), and a successful parse has
 * the derived fields main.c relies on (model name, URL, metrics URL).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "core/xalloc.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* More words than any sensible command line; bounds the work per input. */
#define MAX_WORDS 512

static FILE *devnull(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "w");
    if (!f)
        abort();
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t batch_sizes[] = {0, 1, 8, UINT64_MAX};
    static char argv0[] = "perf_analyzer";
    char *argv[MAX_WORDS + 2];
    int argc = 0;

    if (size == 0)
        return 0;
    struct pa_model_facts facts = {
        .max_batch_size = batch_sizes[data[0] & 3],
        .sequence = (data[0] & 4) != 0,
        .decoupled = (data[0] & 8) != 0,
    };

    /* One writable copy holding every word, NUL-terminated in place. */
    size_t len = size - 1;
    char *text = xmalloc(len + 1);
    memcpy(text, data + 1, len);
    text[len] = '\0';
    argv[argc++] = argv0;
    size_t start = 0;
    for (size_t i = 0; i <= len && argc < MAX_WORDS + 1; i++) {
        if (i < len && text[i] != '\n' && text[i] != '\0')
            continue;
        /* A word ends here; the input's end only ends a non-empty one. */
        if (i < len || i > start) {
            text[i] = '\0';
            argv[argc++] = text + start;
        }
        start = i + 1;
    }
    argv[argc] = NULL;

    struct pa_options opts;
    struct pa_err err = {0};
    bool version = false;
    memset(&opts, 0xa5, sizeof(opts)); /* the parser must not read what it did not set */
    int rc = options_parse(argc, argv, &opts, &version, devnull(), &err);
    if (rc != PA_OK) {
        check(rc == PA_EUSAGE);
        check(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
        options_release(&opts); /* already released: must be a no-op */
    } else if (version) {
        options_release(&opts);
    } else {
        check(opts.model_name != NULL && opts.url != NULL);
        check(opts.model_version != NULL);
        (void)options_max_concurrency(&opts);
        struct pa_err err2 = {0};
        rc = options_apply_model(&opts, &facts, devnull(), &err2);
        check(rc == PA_OK || rc == PA_EUSAGE);
        if (rc == PA_OK)
            (void)options_max_concurrency(&opts);
        options_release(&opts);
    }
    free(text);
    return 0;
}
