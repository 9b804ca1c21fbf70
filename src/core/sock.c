#include "core/sock.h"

#include <sys/socket.h>
#include <sys/time.h>

#include "core/banned.h"

bool sock_recv_timeout(int fd, int *current, int ms)
{
    if (*current == ms)
        return true;
    struct timeval tv = {0}; /* zero: no bound */
    if (ms > 0)
        tv = (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
        return false;
    *current = ms;
    return true;
}
