/* alert_names.c - alert rule, severity and state names: the words every
 * encoding uses (client messages, PostgreSQL rows, the Redis alert stream).
 */
#include "tickgate/alerts.h"

#include <errno.h>
#include <string.h>

static const char *const rule_names[TG_ALERT_RULE_COUNT] = {
    [TG_ALERT_REBALANCE_DRIFT] = "rebalance_drift",
    [TG_ALERT_LOSS_LIMIT] = "loss_limit",
    [TG_ALERT_GAIN_TARGET] = "gain_target",
    [TG_ALERT_PRICE_ABOVE] = "price_above",
    [TG_ALERT_PRICE_BELOW] = "price_below",
    [TG_ALERT_FEED_STALE] = "feed_stale",
    [TG_ALERT_BREAKER_OPEN] = "breaker_open",
    [TG_ALERT_UNPRICED] = "unpriced",
    [TG_ALERT_CONCENTRATION] = "concentration",
    [TG_ALERT_VOLATILITY] = "volatility",
    [TG_ALERT_MOVE] = "move",
};

const char *tg_alert_rule_name(tg_alert_rule_t r)
{
    return (unsigned)r < TG_ALERT_RULE_COUNT ? rule_names[r] : "?";
}

int tg_alert_rule_parse(const char *name, tg_alert_rule_t *out)
{
    if (!name || !out)
        return -EINVAL;
    for (int i = 0; i < TG_ALERT_RULE_COUNT; i++)
        if (strcmp(name, rule_names[i]) == 0) {
            *out = (tg_alert_rule_t)i;
            return 0;
        }
    return -EINVAL;
}

tg_alert_severity_t tg_alert_rule_severity(tg_alert_rule_t r)
{
    switch (r) {
    case TG_ALERT_LOSS_LIMIT:
    case TG_ALERT_FEED_STALE:
    case TG_ALERT_BREAKER_OPEN:
    case TG_ALERT_UNPRICED:
        return TG_ALERT_SEV_HIGH;
    case TG_ALERT_GAIN_TARGET:
        return TG_ALERT_SEV_LOW;
    default:
        return TG_ALERT_SEV_MEDIUM;
    }
}

const char *tg_alert_severity_name(tg_alert_severity_t s)
{
    switch (s) {
    case TG_ALERT_SEV_LOW:
        return "low";
    case TG_ALERT_SEV_HIGH:
        return "high";
    default:
        return "medium";
    }
}

const char *tg_alert_state_name(tg_alert_state_t s)
{
    return s == TG_ALERT_RESOLVED ? "resolved" : "firing";
}
