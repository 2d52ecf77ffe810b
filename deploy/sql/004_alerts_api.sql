-- 004_alerts_api.sql - indexes for GET /api/v1/alerts[/active] (SPEC §13),
-- which reads portfolio_alerts newest first: the firing events by created_at,
-- the resolved events by resolved_at, each cut at the request's limit. Without
-- them every request sorts the whole history; the API bounds its wait, so a
-- large table would otherwise turn every answer into the memory-only fallback.
-- A plain CREATE INDEX (migrations run in one transaction, where CONCURRENTLY
-- cannot) blocks writes to portfolio_alerts while it builds: see README.
CREATE INDEX IF NOT EXISTS portfolio_alerts_created_idx ON portfolio_alerts (created_at);
CREATE INDEX IF NOT EXISTS portfolio_alerts_resolved_idx
    ON portfolio_alerts (resolved_at) WHERE resolved_at IS NOT NULL;
