/* universe.c - the bundled symbol universe of the embedded default (SPEC §2).
 *
 * Large-cap US equities, the main index/sector ETFs and a few crypto pairs, so
 * the synthetic feed and the demo portfolios look like a real market, and the
 * price level each of them starts from.
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

/* Reference levels the synthetic feed starts from (round figures near the
 * late-2025 market), so the demo opens on plausible prices and the demo
 * portfolios' cost bases (deploy/demo-portfolios.json) can sit near them.
 * tests/integration/tgkit.py reads this table to mirror the walk. */
const tg_level_t tg_default_levels[] = {
    {"AAPL", "270.00"}, {"MSFT", "510.00"}, {"NVDA", "185.00"}, {"AMZN", "230.00"},
    {"GOOGL", "280.00"}, {"GOOG", "281.00"}, {"META", "640.00"}, {"TSLA", "430.00"},
    {"BRK.B", "500.00"}, {"AVGO", "350.00"}, {"JPM", "305.00"}, {"LLY", "1000.00"},
    {"V", "335.00"}, {"UNH", "320.00"}, {"XOM", "115.00"}, {"MA", "560.00"},
    {"JNJ", "200.00"}, {"PG", "148.00"}, {"HD", "360.00"}, {"COST", "900.00"},
    {"ORCL", "220.00"}, {"ABBV", "225.00"}, {"MRK", "95.00"}, {"CVX", "150.00"},
    {"BAC", "52.00"}, {"KO", "70.00"}, {"PEP", "148.00"}, {"ADBE", "330.00"},
    {"CRM", "235.00"}, {"NFLX", "110.00"}, {"AMD", "240.00"}, {"TMO", "580.00"},
    {"WMT", "105.00"}, {"MCD", "305.00"}, {"CSCO", "75.00"}, {"ACN", "250.00"},
    {"LIN", "420.00"}, {"ABT", "128.00"}, {"INTC", "38.00"}, {"DIS", "110.00"},
    {"WFC", "85.00"}, {"QCOM", "170.00"}, {"TXN", "160.00"}, {"IBM", "300.00"},
    {"GS", "800.00"}, {"CAT", "540.00"}, {"BA", "200.00"}, {"NKE", "65.00"},
    {"PFE", "25.00"}, {"UBER", "90.00"},
    {"SPY", "670.00"}, {"QQQ", "610.00"}, {"IWM", "240.00"}, {"DIA", "470.00"},
    {"VTI", "330.00"}, {"XLF", "53.00"}, {"XLE", "90.00"}, {"XLK", "290.00"},
    {"TLT", "90.00"}, {"GLD", "380.00"},
    {"BTCUSD", "92000.00"}, {"ETHUSD", "3100.00"}, {"SOLUSD", "140.00"},
    {"ADAUSD", "0.45"}, {"DOGEUSD", "0.15"},
};

const size_t tg_default_levels_len = sizeof tg_default_levels / sizeof tg_default_levels[0];
