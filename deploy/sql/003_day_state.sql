-- 003_day_state.sql - day state across restarts (SPEC §13), for a node with
-- PostgreSQL and no journal.dir (journal.dir/daystate keeps it otherwise).
--
-- One row per quote (kind 'q', key = symbol: day_open, volume, and the last
-- trade price with its time in ns, so that the portfolios are valued as
-- before when their baselines come back) and per
-- portfolio (kind 'p', key = portfolio id: the day baseline, with the cash,
-- cost and holdings count it was taken for). session_start (ns since the
-- epoch) names the session day the figures belong to: at start-up only rows
-- of the current session day are read, so a restart on a later day restores
-- nothing. Rows come through the batched snapshot writer (COPY into a
-- staging table, then INSERT ... ON CONFLICT DO UPDATE), newest ts wins.
CREATE TABLE IF NOT EXISTS day_state (
    kind          text NOT NULL CHECK (kind IN ('q', 'p')),
    key           text NOT NULL,
    session_start bigint NOT NULL,
    day_open      numeric(38,8),
    volume        numeric(38,8),
    price         numeric(38,8),
    price_ts      bigint,
    pending       boolean,
    open          numeric(38,8),
    cash          numeric(38,8),
    cost          numeric(38,8),
    n_holdings    integer,
    ts            timestamptz NOT NULL,
    PRIMARY KEY (kind, key)
);
