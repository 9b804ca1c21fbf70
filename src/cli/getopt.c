/*
 * GNU-compatible option scanning (see getopt.h for why we have our own).
 *
 * The diagnostics are byte-for-byte those of glibc 2.36, because the
 * original perf_analyzer let getopt_long print them and scripts see them:
 *   <prog>: unrecognized option '--foo=bar'
 *   <prog>: option '--se' is ambiguous; possibilities: '--serial-sequences' ...
 *   <prog>: option '--sync' doesn't allow an argument
 *   <prog>: option '--shape' requires an argument
 *   <prog>: invalid option -- 'h'
 *   <prog>: option requires an argument -- 'm'
 * Unlike glibc we never reorder argv; skipping non-option words gives the
 * same result for a program that ignores them.
 */
#include "cli/getopt.h"

#include <string.h>

#include "core/banned.h"

void gopt_init(struct gopt *g, int argc, char **argv, const struct gopt_long *longs, size_t n_longs,
               const char *shorts, FILE *diag)
{
    memset(g, 0, sizeof(*g));
    g->argc = argc;
    g->argv = argv;
    g->longs = longs;
    g->n_longs = n_longs;
    g->shorts = shorts;
    g->diag = diag;
    g->ind = 1;
}

static const char *prog(const struct gopt *g)
{
    return g->argc > 0 && g->argv[0] ? g->argv[0] : "perf_analyzer";
}

/* text is what follows "--" in argv[g->ind]; g->ind still points at it. */
static enum gopt_result long_option(struct gopt *g, const char *text)
{
    size_t namelen = strcspn(text, "=");
    const char *eq = text[namelen] == '=' ? text + namelen : NULL;
    size_t found = g->n_longs, n_matches = 0;

    for (size_t i = 0; i < g->n_longs; i++) {
        if (strlen(g->longs[i].name) == namelen && strncmp(g->longs[i].name, text, namelen) == 0) {
            found = i; /* an exact name always wins over prefixes */
            n_matches = 1;
            break;
        }
    }
    if (found == g->n_longs) {
        for (size_t i = 0; i < g->n_longs; i++) {
            if (strncmp(g->longs[i].name, text, namelen) == 0) {
                if (found == g->n_longs)
                    found = i;
                n_matches++;
            }
        }
    }

    g->ind++;
    if (n_matches > 1) {
        /* glibc builds the line with several fprintf calls under one lock. */
        flockfile(g->diag);
        fprintf(g->diag, "%s: option '--%s' is ambiguous; possibilities:", prog(g), text);
        for (size_t i = 0; i < g->n_longs; i++)
            if (strncmp(g->longs[i].name, text, namelen) == 0)
                fprintf(g->diag, " '--%s'", g->longs[i].name);
        fputc('\n', g->diag);
        funlockfile(g->diag);
        return GOPT_ERROR;
    }
    if (n_matches == 0) {
        fprintf(g->diag, "%s: unrecognized option '--%s'\n", prog(g), text);
        return GOPT_ERROR;
    }

    const struct gopt_long *opt = &g->longs[found];
    g->long_index = found;
    g->arg = NULL;
    if (eq) {
        if (!opt->has_arg) {
            fprintf(g->diag, "%s: option '--%s' doesn't allow an argument\n", prog(g), opt->name);
            return GOPT_ERROR;
        }
        g->arg = eq + 1;
    } else if (opt->has_arg) {
        if (g->ind >= g->argc) {
            fprintf(g->diag, "%s: option '--%s' requires an argument\n", prog(g), opt->name);
            return GOPT_ERROR;
        }
        g->arg = g->argv[g->ind++]; /* taken even when it looks like an option */
    }
    return GOPT_LONG;
}

static enum gopt_result short_option(struct gopt *g)
{
    char c = *g->next++;
    const char *spec = c == ':' ? NULL : strchr(g->shorts, c);

    if (*g->next == '\0') {
        g->next = NULL;
        g->ind++;
    }
    if (!spec) {
        fprintf(g->diag, "%s: invalid option -- '%c'\n", prog(g), c);
        return GOPT_ERROR;
    }
    g->short_opt = c;
    g->arg = NULL;
    if (spec[1] != ':')
        return GOPT_SHORT;
    if (g->next) {
        g->arg = g->next; /* attached value: -b4 */
        g->next = NULL;
        g->ind++;
    } else if (g->ind >= g->argc) {
        fprintf(g->diag, "%s: option requires an argument -- '%c'\n", prog(g), c);
        return GOPT_ERROR;
    } else {
        g->arg = g->argv[g->ind++];
    }
    return GOPT_SHORT;
}

enum gopt_result gopt_next(struct gopt *g)
{
    if (g->next)
        return short_option(g);
    for (; g->ind < g->argc; g->ind++) {
        const char *word = g->argv[g->ind];
        if (g->ended || word[0] != '-' || word[1] == '\0')
            continue; /* not an option: ignored, as the original ignored it */
        if (strcmp(word, "--") == 0) {
            g->ended = true;
            continue;
        }
        if (word[1] == '-')
            return long_option(g, word + 2);
        g->next = word + 1;
        return short_option(g);
    }
    return GOPT_DONE;
}
