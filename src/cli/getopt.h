/*
 * A re-entrant option scanner with GNU getopt_long's rules and diagnostics.
 *
 * We do not call glibc's getopt_long because it keeps its state in globals
 * and prints its diagnostics straight to stderr; the option parser must be
 * callable repeatedly (unit tests) and write to a caller-chosen stream.
 * The behaviour replicated: long options by exact name or unambiguous
 * prefix, "--name=value" and "--name value", clustered short flags, short
 * values attached ("-b4") or separate, words that are not options skipped
 * (as if permuted to the end), "--" ending the options, and glibc's exact
 * messages for unknown, ambiguous and argument-less options.
 */
#ifndef PA_CLI_GETOPT_H
#define PA_CLI_GETOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct gopt_long {
    const char *name;
    bool has_arg;
};

struct gopt {
    /* Set by the caller before the first gopt_next(). */
    int argc;
    char **argv;
    const struct gopt_long *longs; /* in the order ambiguity lists them */
    size_t n_longs;
    const char *shorts; /* getopt optstring, e.g. "vc:" */
    FILE *diag;         /* where diagnostics go */

    /* Results of the last gopt_next() (read-only for callers). */
    const char *arg;   /* option value, NULL for flags */
    size_t long_index; /* GOPT_LONG: index into longs */
    char short_opt;    /* GOPT_SHORT: the option character */

    /* Scanner state (private). */
    int ind;
    const char *next; /* rest of a short-option cluster, or NULL */
    bool ended;       /* "--" seen */
};

enum gopt_result {
    GOPT_DONE,  /* no more options */
    GOPT_LONG,  /* long option: long_index, arg */
    GOPT_SHORT, /* short option: short_opt, arg */
    GOPT_ERROR, /* a diagnostic was written to diag */
};

/* Prepares g for scanning argv[1..argc-1]; diagnostics name argv[0]. */
void gopt_init(struct gopt *g, int argc, char **argv, const struct gopt_long *longs, size_t n_longs,
               const char *shorts, FILE *diag);
enum gopt_result gopt_next(struct gopt *g);

#endif
