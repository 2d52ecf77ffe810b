/* netaddr.c - IP address against addresses/CIDRs (include/tickgate/netaddr.h). */
#include "tickgate/netaddr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

bool tg_addr_in_cidr(const char *entry, const char *ip)
{
    char net[64];
    int bits = -1;
    const char *slash = strchr(entry, '/');
    size_t n = slash ? (size_t)(slash - entry) : strlen(entry);
    if (n >= sizeof net)
        return false;
    memcpy(net, entry, n);
    net[n] = 0;
    if (slash)
        bits = atoi(slash + 1);
    unsigned char a[16], b[16];
    int af = strchr(net, ':') ? AF_INET6 : AF_INET;
    int len = af == AF_INET6 ? 16 : 4;
    if (inet_pton(af, net, a) != 1 || inet_pton(af, ip, b) != 1)
        return false;
    if (bits < 0 || bits > len * 8)
        bits = len * 8;
    for (int i = 0; i < bits / 8; i++)
        if (a[i] != b[i])
            return false;
    if (bits % 8) {
        unsigned char mask = (unsigned char)(0xff << (8 - bits % 8));
        if ((a[bits / 8] & mask) != (b[bits / 8] & mask))
            return false;
    }
    return true;
}

bool tg_addr_in_list(const tg_strlist_t *list, const char *ip)
{
    for (size_t i = 0; list && i < list->n; i++)
        if (tg_addr_in_cidr(list->v[i], ip))
            return true;
    return false;
}
