/* universe.c - the bundled symbol universe of the embedded default (SPEC §2).
 *
 * Large-cap US equities, the main index/sector ETFs and a few crypto pairs, so
 * the synthetic feed and the demo portfolios look like a real market.
 */
#include "tickgate/config.h"

const char *const tg_default_universe[] = {
    /* US equities */
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "GOOG", "META", "TSLA", "BRK.B", "AVGO",
    "JPM", "LLY", "V", "UNH", "XOM", "MA", "JNJ", "PG", "HD", "COST",
    "ORCL", "ABBV", "MRK", "CVX", "BAC", "KO", "PEP", "ADBE", "CRM", "NFLX",
    "AMD", "TMO", "WMT", "MCD", "CSCO", "ACN", "LIN", "ABT", "INTC", "DIS",
    "WFC", "QCOM", "TXN", "IBM", "GS", "CAT", "BA", "NKE", "PFE", "UBER",
    /* ETFs */
    "SPY", "QQQ", "IWM", "DIA", "VTI", "XLF", "XLE", "XLK", "TLT", "GLD",
    /* crypto */
    "BTCUSD", "ETHUSD", "SOLUSD", "ADAUSD", "DOGEUSD",
};

const size_t tg_default_universe_len = sizeof tg_default_universe / sizeof tg_default_universe[0];
