/* netaddr.h - matching an IP address against a list of addresses and CIDRs
 * (server.trusted_proxies, a tcp feed's allow_from).
 *
 * Pure functions on text, any thread. Entries are validated when the config
 * is loaded; a malformed entry here simply matches nothing.
 */
#ifndef TICKGATE_NETADDR_H
#define TICKGATE_NETADDR_H

#include <stdbool.h>

#include "tickgate/config.h"

/** Does `ip` (text, IPv4 or IPv6) fall in `entry` ("10.0.0.1", "10.0.0.0/8", "::1/128")? */
bool tg_addr_in_cidr(const char *entry, const char *ip);

/** Does `ip` match any entry of `list`? false for an empty list. */
bool tg_addr_in_list(const tg_strlist_t *list, const char *ip);

#endif
