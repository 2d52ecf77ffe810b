-- 002_bars.sql - OHLCV bars (SPEC §12), written as bars become final.
--
-- Rows come through the same batched writer as the snapshots (COPY into a
-- staging table, then INSERT ... ON CONFLICT DO NOTHING): the primary key
-- makes a retried batch, or a bar written again after a restart, harmless.
-- `interval` is one of 1s, 1m, 5m, 1h, 1d; `start` the bar's first instant.
CREATE TABLE IF NOT EXISTS bars (
    symbol     text NOT NULL,
    "interval" text NOT NULL,
    start      timestamptz NOT NULL,
    open       numeric(38,8) NOT NULL,
    high       numeric(38,8) NOT NULL,
    low        numeric(38,8) NOT NULL,
    close      numeric(38,8) NOT NULL,
    volume     numeric(38,8) NOT NULL,
    trades     bigint NOT NULL,
    vwap       numeric(38,8) NOT NULL,
    PRIMARY KEY (symbol, "interval", start)
);

CREATE INDEX IF NOT EXISTS bars_start_idx ON bars (start);
