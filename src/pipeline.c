/* Placeholder: the measurement pipeline is being built (see pipeline.h). */
#include "pipeline.h"

int pipeline_run(struct pa_options *opts, enum pa_err_style *err_style, struct pa_err *err)
{
    (void)opts;
    *err_style = PA_ERR_PLAIN;
    return pa_errorf(err, PA_EUNSUPPORTED, "measurement is not supported yet");
}

void pipeline_request_stop(void)
{
}
