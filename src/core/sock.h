/*
 * Socket helpers shared by our own data paths (HTTP/1.1 in triton_http.c,
 * HTTP/2 in grpc_h2.c), which wait for answers inside a blocking recv().
 */
#ifndef PA_CORE_SOCK_H
#define PA_CORE_SOCK_H

#include <stdbool.h>

/*
 * Bounds a blocking recv() on fd by ms milliseconds (< 0: no bound). The
 * bound in force is kept in *current (start it at -1), so the system call
 * is made only when the bound changes. False when setsockopt fails.
 */
bool sock_recv_timeout(int fd, int *current, int ms);

#endif
