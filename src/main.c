/* Placeholder until the pipeline lands: see docs/internals/modules.md. */
#include <stdio.h>

int main(void)
{
    fputs("perf_analyzer: not supported yet\n", stderr);
    return 99;
}
