"""Issue 6: PostgreSQL persistence against a real PostgreSQL 15.

migrate (idempotent, clear failures), portfolios from SQL and live via NOTIFY,
snapshot rows with exact values, alerts reloaded after a restart, and an
outage (PostgreSQL stopped for several snapshot intervals while ticks flow and
alerts fire) after which every row is present exactly once.
"""
import json
import os
import subprocess
import time
from decimal import Decimal

import pytest

from tgtest import BIN, Client, Daemon, run, scaled, wait_for
import tgtest

pytestmark = pytest.mark.skipif(not tgtest.have_postgres(), reason="no PostgreSQL 15")


@pytest.fixture(scope="module")
def cluster():
    pg = tgtest.Postgres().start()
    yield pg
    pg.cleanup()


@pytest.fixture
def db(cluster):
    """A fresh database on the shared cluster, migrated; yields (cluster, url, sql)."""
    url, sql, _ = tgtest.migrated_db(cluster)
    yield cluster, url, sql



def migrate(url):
    return subprocess.run([BIN, "migrate"], env=dict(os.environ, TICKGATE_POSTGRES_URL=url),
                          capture_output=True, text=True, timeout=30)


def test_migrate_twice_is_idempotent_and_failures_are_clear(cluster):
    cluster.sql("CREATE DATABASE mig")
    url = "postgresql://postgres@127.0.0.1:%d/mig" % cluster.port
    r1 = migrate(url)
    assert r1.returncode == 0, r1.stderr
    assert "applied 001_init.sql" in r1.stdout
    assert "applied 002_bars.sql" in r1.stdout
    r2 = migrate(url)
    assert r2.returncode == 0, r2.stderr
    assert "up to date" in r2.stdout and "applied" not in r2.stdout
    import psycopg2
    conn = psycopg2.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname="mig")
    with conn.cursor() as cur:
        cur.execute("SELECT version FROM schema_migrations ORDER BY version")
        versions = [v for (v,) in cur.fetchall()]
        assert versions[:2] == [1, 2], versions           # 001_init, 002_bars, ...
        cur.execute("SELECT column_name, data_type, numeric_precision, numeric_scale "
                    "FROM information_schema.columns WHERE table_name = 'bars'")
        bars = {c[0]: c[1:] for c in cur.fetchall()}
        assert bars["vwap"] == ("numeric", 38, 8) and bars["trades"][0] == "bigint", bars
        assert set(bars) == {"symbol", "interval", "start", "open", "high", "low", "close",
                             "volume", "trades", "vwap"}, bars
        cur.execute("SELECT column_name, data_type, numeric_precision, numeric_scale "
                    "FROM information_schema.columns WHERE table_name = 'holdings'")
        cols = {c[0]: c[1:] for c in cur.fetchall()}
        assert cols["quantity"] == ("numeric", 38, 8)
        assert cols["target_weight"] == ("numeric", 20, 8)
    conn.close()
    # empty url: exit 2 naming the key (SPEC §15); unreachable server: exit 1, one clear line
    r = subprocess.run([BIN, "migrate"], env={"PATH": os.environ.get("PATH", "")},
                       capture_output=True, text=True)
    assert r.returncode == 2 and "postgres.url" in r.stderr and "empty" in r.stderr
    from tgtest import free_port
    r = migrate("postgresql://postgres@127.0.0.1:%d/x" % free_port())
    assert r.returncode == 1 and "cannot connect" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def conf(url, extra="", feed=None, interval=200):
    feed = feed or ('{ name = "syn"; type = "synthetic"; rate = 200; '
                    'symbols = ["AAPL", "MSFT"]; }')
    return ('postgres = { url = "%s"; snapshot_interval_ms = %d; };\n'
            'feeds = ( %s );\n%s' % (url, interval, feed, extra))


def test_portfolios_from_sql_and_live_notify(db):
    cluster, url, sql = db
    sql("INSERT INTO portfolios (id, owner, cash, alerts) VALUES "
        "('p-1', 'u-1', 1000, '{\"rebalance_drift\": 0.5}')")
    sql("INSERT INTO holdings VALUES ('p-1', 'AAPL', 10, 1500, 0.4)")
    sql("INSERT INTO portfolio_shares (portfolio_id, user_id) VALUES ('p-1', 'u-2')")
    d = Daemon(config=conf(url))
    d.start()
    try:
        tok = d.token("u-2")  # shared with: may read

        async def go():
            c = await Client.connect(d.url() + "?token=" + tok)
            await c.recv_type("connection_established")
            await c.send({"type": "subscribe", "channel": "portfolio_updates",
                          "portfolio_ids": ["p-1"], "id": 1})
            m = await c.recv_type("portfolio", timeout=5)
            assert [h["symbol"] for h in m["holdings"]] == ["AAPL"]
            # a holding inserted in SQL reaches the stream within a second
            t0 = time.time()
            sql("INSERT INTO holdings VALUES ('p-1', 'MSFT', 5, 1000, 0.3)")
            end = time.monotonic() + scaled(10)  # portfolio states keep coming
            while True:
                assert time.monotonic() < end, m
                m = await c.recv_type("portfolio", timeout=2)
                if len(m["holdings"]) == 2:
                    break
            assert time.time() - t0 < scaled(1.0), time.time() - t0
            assert sorted(h["symbol"] for h in m["holdings"]) == ["AAPL", "MSFT"]
            # delete in SQL: the portfolio goes away (subscribers stop getting it)
            sql("UPDATE portfolios SET cash = 2000 WHERE id = 'p-1'")
            end = time.monotonic() + scaled(10)  # portfolio states keep coming
            while True:
                assert time.monotonic() < end, m
                m = await c.recv_type("portfolio", timeout=2)
                if m["cash"] == 2000:
                    break
            await c.close()
        run(go())
        sql("DELETE FROM portfolios WHERE id = 'p-1'")
        assert wait_for(lambda: any(e.get("event") == "portfolio_removed"
                                    for e in d.log_events()), 3)
        st, body = d.http("/health/ready")
        ready = json.loads(body)
        assert st == 200 and ready["components"]["postgres"] == "ok", body
    finally:
        d.cleanup()


def write_csv(path, rows):
    with open(path, "w") as f:
        f.write("ts_ns,symbol,price,size,bid,ask\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")


def test_snapshot_rows_have_exact_values(db, tmp_path):
    cluster, url, sql = db
    sql("INSERT INTO portfolios (id, owner, cash) VALUES ('p-v', 'u-1', '100.5')")
    sql("INSERT INTO holdings VALUES ('p-v', 'AAA', '3', '300', '0.5'), "
        "('p-v', 'BBB', '0.5', '10', '0.1')")
    csv = tmp_path / "ticks.csv"
    write_csv(csv, [(1000000000, "AAA", "101.25", "2", "101.24", "101.26"),
                    (1000000001, "BBB", "20.12345678", "1.5", "", ""),
                    (1000000002, "AAA", "102.75", "3", "102.74", "102.76")])
    feed = '{ name = "file"; type = "replay"; path = "%s"; speed = "max"; }' % csv
    d = Daemon(config=conf(url, feed=feed))
    d.start()
    try:
        rows = wait_for(lambda: sql("SELECT symbol, price, bid, ask, volume, source FROM "
                                    "quote_snapshots ORDER BY symbol, ts DESC"), 5)
        last = {}
        for r in rows:
            last.setdefault(r[0], r)
        assert last["AAA"][1:] == (Decimal("102.75"), Decimal("102.74"), Decimal("102.76"),
                                   Decimal("5"), "file"), last["AAA"]
        assert last["BBB"][1:] == (Decimal("20.12345678"), None, None, Decimal("1.5"), "file")
        # a quote that did not change gets no further rows
        n = len(rows)
        time.sleep(0.8)
        assert len(sql("SELECT 1 FROM quote_snapshots")) == n

        def pf():
            r = sql("SELECT value, cost_basis, pnl, holdings FROM portfolio_snapshots "
                    "WHERE portfolio_id = 'p-v' ORDER BY ts DESC LIMIT 1")
            return r and r[0][0] == Decimal("418.81172839") and r
        r = wait_for(pf, 5)
        assert r, sql("SELECT * FROM portfolio_snapshots")
        # 3 x 102.75 + 0.5 x 20.12345678 (half-to-even: 10.06172839) + 100.5
        value, cost, pnl, _ = r[0]
        assert cost == Decimal("310") and pnl == Decimal("8.31172839")  # market value - cost
        # holdings jsonb: written at most every holdings_interval_ms (60 s): the first row has it
        h = sql("SELECT holdings FROM portfolio_snapshots WHERE portfolio_id = 'p-v' "
                "AND holdings IS NOT NULL")
        assert len(h) == 1
        assert {x["symbol"] for x in h[0][0]} == {"AAA", "BBB"}
        m = d.http("/metrics")[1].decode()
        assert 'tickgate_snapshot_rows_total{table="quote_snapshots"}' in m
        assert "tickgate_postgres_up 1" in m
    finally:
        d.cleanup()


ALERTS = '{"price_above": {"AAA": "150"}, "rebalance_drift": 0, "loss_limit": 0, "gain_target": 0}'


def alert_events(d):
    return [e for e in d.log_events() if e.get("event") == "alert"]


def test_outage_loses_nothing_with_journal_dir(db, tmp_path):
    cluster, url, sql = db
    sql("INSERT INTO portfolios (id, owner, cash, alerts) VALUES ('p-o', 'u-1', 0, %s)", (ALERTS,))
    sql("INSERT INTO holdings VALUES ('p-o', 'AAA', 1, 100, 0)")
    # AAA alternates 100 / 200 every 100 ms: price_above 150 fires and resolves 5 times a second
    rows = []
    for i in range(20):
        rows.append((1000000000 + i * 100000000, "AAA", "200" if i % 2 else "100", "1", "", ""))
    csv = tmp_path / "ticks.csv"
    write_csv(csv, rows)
    jdir = tmp_path / "journal"
    feed = ('{ name = "file"; type = "replay"; path = "%s"; speed = 1; loop = true; '
            'breaker = { stale_after_ms = 0; }; }' % csv)
    d = Daemon(config=conf(url, feed=feed, interval=100,
                           extra='journal = { dir = "%s"; };\n' % jdir))
    d.start()
    try:
        assert wait_for(lambda: sql("SELECT count(*) FROM portfolio_alerts")[0][0] > 2, 5)
        cluster.stop()
        t_down = time.time()
        assert wait_for(lambda: b'"postgres":"down"' in d.http("/health/ready")[1], 5)
        st, body = d.http("/health/ready")
        assert st == 200 and json.loads(body)["status"] == "degraded"
        time.sleep(2.5)  # ~25 snapshot intervals, ~12 alert episodes
        m = d.http("/metrics")[1].decode()
        assert "tickgate_postgres_up 0" in m
        backlog = int([l for l in m.splitlines() if l.startswith("tickgate_snapshot_backlog ")][0]
                      .split()[1])
        assert backlog > 20, backlog
        cluster.start()
        t_up = time.time()
        assert wait_for(lambda: "tickgate_postgres_up 1" in d.http("/metrics")[1].decode(), 10)
        assert wait_for(lambda: "tickgate_snapshot_backlog 0\n" in d.http("/metrics")[1].decode(), 10)
        time.sleep(0.5)
        d.stop()
        evs = alert_events(d)
        fired = {e["alert_id"] for e in evs if e["state"] == "firing"}
        resolved = {e["alert_id"] for e in evs if e["state"] == "resolved"}
        assert len(fired) > 10
        got = sql("SELECT id, resolved_at IS NOT NULL FROM portfolio_alerts")
        ids = [g[0] for g in got]
        assert len(ids) == len(set(ids))
        assert set(ids) == fired, (len(set(ids)), len(fired))
        assert {g[0] for g in got if g[1]} == resolved
        # one AAA row per snapshot interval, outage included: no gap, no duplicate (PK)
        ts = [r[0] for r in sql("SELECT extract(epoch FROM ts) FROM quote_snapshots "
                                "WHERE symbol = 'AAA' ORDER BY ts")]
        gaps = [float(b - a) for a, b in zip(ts, ts[1:])]
        assert max(gaps) < 0.35, max(gaps)
        assert float(ts[0]) < t_down - 0.5 and float(ts[-1]) > t_up
        assert "postgres_down" in d.log() and "postgres_up" in d.log()
        assert "tickgate_snapshot_dropped_total 0" in m
    finally:
        if cluster.pid is None:
            cluster.start()
        d.cleanup()


def test_firing_alerts_reloaded_after_restart(db, tmp_path):
    cluster, url, sql = db
    sql("INSERT INTO portfolios (id, owner, cash, alerts) VALUES ('p-r', 'u-1', 0, %s)", (ALERTS,))
    sql("INSERT INTO holdings VALUES ('p-r', 'AAA', 1, 100, 0)")
    csv = tmp_path / "ticks.csv"
    write_csv(csv, [(1000000000, "AAA", "200", "1", "", "")])
    feed = '{ name = "file"; type = "replay"; path = "%s"; speed = "max"; }' % csv
    d = Daemon(config=conf(url, feed=feed))
    d.start()
    try:
        r = wait_for(lambda: sql("SELECT id FROM portfolio_alerts WHERE resolved_at IS NULL"), 5)
        assert len(r) == 1
        aid = r[0][0]
    finally:
        d.cleanup()
    # restart with the price back below the level (ticks keep coming: price rules
    # are evaluated per tick): the same alert resolves, none fires anew
    write_csv(csv, [(1000000000, "AAA", "100", "1", "", ""),
                    (1100000000, "AAA", "100.5", "1", "", "")])
    feed = ('{ name = "file"; type = "replay"; path = "%s"; speed = 1; loop = true; '
            'breaker = { stale_after_ms = 0; }; }' % csv)
    d = Daemon(config=conf(url, feed=feed))
    d.start()
    try:
        assert wait_for(lambda: sql("SELECT resolved_at IS NOT NULL FROM portfolio_alerts "
                                    "WHERE id = %s", (aid,)) == [(True,)], 5)
        assert sql("SELECT count(*) FROM portfolio_alerts")[0][0] == 1
        assert any(e.get("event") == "alerts_restored" for e in d.log_events())
    finally:
        d.cleanup()
