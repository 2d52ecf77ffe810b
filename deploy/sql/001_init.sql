-- 001_init.sql - tickgate schema, version 1 (SPEC §7).
--
-- Applied by `tickgate migrate` inside one transaction that also records the
-- version in schema_migrations; every statement is idempotent on its own too,
-- so applying it by hand twice is harmless. Money and quantities are
-- numeric(38,8), ratios numeric(20,8), times timestamptz. Primary keys make
-- every write of the snapshot writer idempotent (INSERT ... ON CONFLICT DO
-- NOTHING), so a retried batch never duplicates a row.

-- The system of record for portfolios.
CREATE TABLE IF NOT EXISTS portfolios (
    id         text PRIMARY KEY,
    owner      text NOT NULL,
    name       text,
    cash       numeric(38,8) NOT NULL DEFAULT 0,
    alerts     jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS holdings (
    portfolio_id  text NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
    symbol        text NOT NULL,
    quantity      numeric(38,8) NOT NULL,
    cost_basis    numeric(38,8) NOT NULL DEFAULT 0,
    target_weight numeric(20,8) NOT NULL DEFAULT 0,
    PRIMARY KEY (portfolio_id, symbol)
);

CREATE TABLE IF NOT EXISTS portfolio_shares (
    portfolio_id text NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
    user_id      text NOT NULL,
    permission   text NOT NULL DEFAULT 'view',
    PRIMARY KEY (portfolio_id, user_id)
);

-- One row per symbol whose quote changed, every postgres.snapshot_interval_ms;
-- ts is the snapshot's time.
CREATE TABLE IF NOT EXISTS quote_snapshots (
    symbol text NOT NULL,
    ts     timestamptz NOT NULL,
    price  numeric(38,8),
    bid    numeric(38,8),
    ask    numeric(38,8),
    volume numeric(38,8),
    source text,
    PRIMARY KEY (symbol, ts)
);

-- One row per changed portfolio, same interval; holdings at most every
-- postgres.holdings_interval_ms per portfolio, NULL in between.
CREATE TABLE IF NOT EXISTS portfolio_snapshots (
    portfolio_id text NOT NULL,
    ts           timestamptz NOT NULL,
    value        numeric(38,8),
    cost_basis   numeric(38,8),
    pnl          numeric(38,8),
    day_change   numeric(38,8),
    max_drift    numeric(20,8),
    holdings     jsonb,
    PRIMARY KEY (portfolio_id, ts)
);

-- Inserted on firing, resolved_at set on resolution; unresolved rows are the
-- firing alerts reloaded after a restart. id = the alert_id of the episode.
CREATE TABLE IF NOT EXISTS portfolio_alerts (
    id           text PRIMARY KEY,
    user_id      text,
    portfolio_id text,
    alert_type   text NOT NULL,
    severity     text NOT NULL,
    title        text,
    message      text,
    metadata     jsonb,
    is_read      boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz
);

CREATE INDEX IF NOT EXISTS quote_snapshots_ts_idx ON quote_snapshots (ts);
CREATE INDEX IF NOT EXISTS portfolio_snapshots_ts_idx ON portfolio_snapshots (ts);
CREATE INDEX IF NOT EXISTS portfolio_alerts_unresolved_idx
    ON portfolio_alerts (portfolio_id) WHERE resolved_at IS NULL;

-- Live portfolio changes: tickgate LISTENs on tickgate_portfolios and re-reads
-- the portfolio whose id is the payload (a missing row means "removed").
CREATE OR REPLACE FUNCTION tickgate_notify_portfolio() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    pid text;
BEGIN
    IF TG_TABLE_NAME = 'portfolios' THEN
        pid := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
        -- a renamed id: the old one is gone too
        IF TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id THEN
            PERFORM pg_notify('tickgate_portfolios', OLD.id);
        END IF;
    ELSE
        pid := CASE WHEN TG_OP = 'DELETE' THEN OLD.portfolio_id ELSE NEW.portfolio_id END;
        IF TG_OP = 'UPDATE' AND OLD.portfolio_id IS DISTINCT FROM NEW.portfolio_id THEN
            PERFORM pg_notify('tickgate_portfolios', OLD.portfolio_id);
        END IF;
    END IF;
    PERFORM pg_notify('tickgate_portfolios', pid);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS portfolios_notify ON portfolios;
CREATE TRIGGER portfolios_notify AFTER INSERT OR UPDATE OR DELETE ON portfolios
    FOR EACH ROW EXECUTE FUNCTION tickgate_notify_portfolio();
DROP TRIGGER IF EXISTS holdings_notify ON holdings;
CREATE TRIGGER holdings_notify AFTER INSERT OR UPDATE OR DELETE ON holdings
    FOR EACH ROW EXECUTE FUNCTION tickgate_notify_portfolio();
DROP TRIGGER IF EXISTS portfolio_shares_notify ON portfolio_shares;
CREATE TRIGGER portfolio_shares_notify AFTER INSERT OR UPDATE OR DELETE ON portfolio_shares
    FOR EACH ROW EXECUTE FUNCTION tickgate_notify_portfolio();
