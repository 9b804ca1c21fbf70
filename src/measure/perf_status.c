/* Ownership of struct perf_status (see perf_status.h). */
#include "measure/perf_status.h"

#include <stdlib.h>
#include <string.h>

static void server_side_release(struct pa_server_side *s)
{
    for (size_t i = 0; i < s->n_composing; i++)
        server_side_release(&s->composing[i]);
    free(s->composing);
    s->composing = NULL;
    s->n_composing = 0;
}

void perf_status_release(struct perf_status *s)
{
    if (!s)
        return;
    server_side_release(&s->server);
    free(s->gpus);
    s->gpus = NULL;
    s->n_gpus = 0;
}
