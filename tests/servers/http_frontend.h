/*
 * KServe v2 HTTP front end (libmicrohttpd) and the Prometheus metrics
 * listener of pa-test-server. Both listen on 127.0.0.1 only.
 */
#ifndef PA_TEST_SERVER_HTTP_FRONTEND_H
#define PA_TEST_SERVER_HTTP_FRONTEND_H

#include <stddef.h>

#include "engine.h"

struct http_frontend;
struct metrics_frontend;

/*
 * Binds a listening TCP socket on 127.0.0.1:port (0 = any free port).
 * Returns the fd and sets *bound_port, or -1 with err filled.
 */
int net_listen_local(int port, int *bound_port, char *err, size_t errlen);

/* threads: MHD pool size (0 = one per core). */
int http_frontend_start(struct engine *e, int port, unsigned threads, int *bound_port,
                        struct http_frontend **out, char *err, size_t errlen);
/* Releases held/hung connections, stops the daemon, frees fe (NULL ok). */
void http_frontend_stop(struct http_frontend *fe);

int metrics_frontend_start(struct engine *e, int port, int *bound_port,
                           struct metrics_frontend **out, char *err, size_t errlen);
void metrics_frontend_stop(struct metrics_frontend *fe);
/* The /metrics exposition text (malloc'ed), for the listener and the tests. */
char *metrics_render(struct engine *e);

#endif
