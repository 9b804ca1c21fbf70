/*
 * Stand-in for the gRPC front end, compiled only while
 * tests/servers/grpc_frontend.c does not exist (see CMakeLists.txt), so
 * --grpc-port fails loudly instead of silently serving nothing.
 */
#include <stdio.h>

#include "engine.h"

int grpc_frontend_start(struct engine *e, int port, int *bound_port, struct grpc_frontend **fe,
                        char *err, size_t errlen)
{
    (void)e;
    (void)port;
    *bound_port = 0;
    *fe = NULL;
    snprintf(err, errlen, "gRPC front end not built (tests/servers/grpc_frontend.c is missing)");
    return -1;
}

void grpc_frontend_stop(struct grpc_frontend *fe)
{
    (void)fe;
}
