"""Issue 13 item 3 (SPEC §13), PostgreSQL half: with postgres.url and no
journal.dir, a restart within the same session day keeps each quote's
day_open and volume (and its last price) and each portfolio's day baseline,
from the day_state table (migration 003). Before, the restart started the day
over: no quote until the next tick, which then became the day's open, and
day_change restarted at 0. A restart on a later session day restores nothing,
exactly as with journal.dir/daystate; a malformed row is logged and skipped.
"""
import json
import socket
import time
from datetime import datetime, timedelta, timezone

import pytest

import tgtest
from tgtest import Daemon, wait_for, wait_port

pytestmark = pytest.mark.skipif(not tgtest.have_postgres(), reason="no PostgreSQL 15")

DAY_NS = 86400 * 10**9


@pytest.fixture(scope="module")
def cluster():
    pg = tgtest.Postgres().start()
    yield pg
    pg.cleanup()


@pytest.fixture
def db(cluster):
    """A fresh migrated database: (url, sql)."""
    url, sql, out = tgtest.migrated_db(cluster)
    assert "003_day_state" in out, out
    return url, sql


def conf(url, port, session_open="00:00"):
    return ('feeds = ({ name = "pub"; type = "tcp"; listen = "127.0.0.1:%d"; '
            'breaker = { stale_after_ms = 0; }; });\n'
            'engine = { session_open = "%s"; session_tz = "UTC"; };\n'
            'postgres = { url = "%s"; };\n'
            'limits = { http_per_min = 100000; };\n' % (port, session_open, url))


def send(port, lines):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall("".join(lines).encode())
        time.sleep(0.2)


def quote(d, sym="AAPL"):
    st, body = d.http("/api/v1/quotes?symbols=" + sym, token=d.token("u1", roles=["admin"]))
    data = json.loads(body)["data"] if st == 200 else []
    return data[0] if data else None


def pf(d):
    st, body = d.http("/api/v1/portfolios/p-day", token=d.token("u1", roles=["admin"]))
    return json.loads(body)["data"] if st == 200 else None


def put_portfolio(d):
    body = {"owner": "u1", "cash": "0",
            "holdings": [{"symbol": "AAPL", "quantity": "10", "cost_basis": "900",
                          "target_weight": "1"}],
            "alerts": {"loss_limit": None, "gain_target": None, "rebalance_drift": None}}
    st, raw = d.http("/api/v1/portfolios/p-day", method="PUT",
                     token=d.token("ops", roles=["admin"]), body=json.dumps(body).encode())
    assert st == 200, raw


def today_start_ns():
    now = time.time_ns()
    return now - now % DAY_NS  # the 00:00 UTC session


def run_first_day(url, port):
    """Trade AAPL 100 x 10 then 110 x 5 with p-day (10 AAPL, cost 900) on the book."""
    d = Daemon(config=conf(url, port), secret=tgtest.SECRET)
    d.start()
    try:
        assert wait_port(port, 5)
        put_portfolio(d)
        assert wait_for(lambda: pf(d) is not None, 10)
        now = time.time_ns()
        send(port, ["AAPL 100 10 %d\n" % now])
        # separate batches: the engine may conflate valuation within one
        assert wait_for(lambda: (pf(d) or {}).get("priced"), 10), pf(d)
        send(port, ["AAPL 110 5 %d\n" % (now + 1)])
        assert wait_for(lambda: (quote(d) or {}).get("price") == 110, 10)
        q = quote(d)
        assert q["day_open"] == 100 and q["volume"] == 15, q
        assert wait_for(lambda: (pf(d) or {}).get("day_change") == 100, 10), pf(d)
        assert d.stop() == 0
    finally:
        d.cleanup()


def test_restart_keeps_day_state_in_postgresql(db):
    url, sql = db
    port = tgtest.free_port()
    run_first_day(url, port)
    start = today_start_ns()
    rows = sql("SELECT kind, key, session_start, day_open, volume, price FROM day_state "
               "WHERE kind = 'q'")
    assert [(k, s, st, str(o), str(v), str(p)) for k, s, st, o, v, p in rows] == [
        ("q", "AAPL", start, "100.00000000", "15.00000000", "110.00000000")], rows
    rows = sql("SELECT key, session_start, pending, open, cash, cost, n_holdings FROM day_state "
               "WHERE kind = 'p'")
    assert [(k, st, pe, str(o), str(c), str(co), n) for k, st, pe, o, c, co, n in rows] == [
        ("p-day", start, False, "1000.00000000", "0E-8", "900.00000000", 1)], rows

    d = Daemon(config=conf(url, port), secret=tgtest.SECRET)
    d.start()
    try:
        # before any tick: the last price and the day's figures are back
        assert wait_for(lambda: quote(d) is not None, 10)
        q = quote(d)
        assert q["price"] == 110 and q["day_open"] == 100 and q["volume"] == 15, q
        # the portfolio comes from PostgreSQL after start-up: its baseline with it
        assert wait_for(lambda: (pf(d) or {}).get("day_change") == 100, 10), pf(d)
        assert pf(d)["value"] == 1100, pf(d)
        assert wait_port(port, 5)
        send(port, ["AAPL 120 1 %d\n" % time.time_ns()])
        assert wait_for(lambda: (quote(d) or {}).get("price") == 120, 10)
        q = quote(d)
        assert q["day_open"] == 100 and q["volume"] == 16, q
        assert wait_for(lambda: (pf(d) or {}).get("day_change") == 200, 10), pf(d)
        ev = [e for e in d.log_events() if e.get("event") == "daystate_restored"]
        assert ev and ev[0].get("source") == "postgres" and ev[0]["lines"] == 2, ev
        assert d.stop() == 0
    finally:
        d.cleanup()
    # the rows follow the day
    rows = sql("SELECT volume::text FROM day_state WHERE kind = 'q'")
    assert rows == [("16.00000000",)], rows


def test_restart_on_a_later_session_day_restores_nothing(db):
    url, sql = db
    now = datetime.now(timezone.utc)
    if now.hour == 0 and now.minute < 2:
        pytest.skip("too close to the 00:00 UTC session open")
    port = tgtest.free_port()
    run_first_day(url, port)
    assert sql("SELECT count(*) FROM day_state")[0][0] == 2
    # the same rows, read by a node whose session day opened after they were
    # written (session_open one minute ago): a new day, nothing comes back
    later = (now - timedelta(minutes=1)).strftime("%H:%M")
    d = Daemon(config=conf(url, port, session_open=later), secret=tgtest.SECRET)
    d.start()
    try:
        assert wait_for(lambda: pf(d) is not None, 10)
        assert quote(d) is None  # no last price either
        assert wait_port(port, 5)
        send(port, ["AAPL 50 2 %d\n" % time.time_ns()])
        assert wait_for(lambda: quote(d) is not None, 10)
        q = quote(d)
        assert q["day_open"] == 50 and q["volume"] == 2, q
        # the day restarts at the first valuation: no day change
        assert wait_for(lambda: (pf(d) or {}).get("value") == 500, 10), pf(d)
        assert pf(d)["day_change"] == 0, pf(d)
        ev = [e for e in d.log_events() if e.get("event") == "daystate_restored"]
        assert ev and ev[0]["lines"] == 0, ev
    finally:
        d.cleanup()


def test_malformed_rows_are_logged_and_skipped(db):
    url, sql = db
    start = today_start_ns()
    now = time.time_ns()
    ins = ("INSERT INTO day_state (kind, key, session_start, day_open, volume, price, price_ts, "
           "pending, open, cash, cost, n_holdings, ts) VALUES "
           "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())")
    bad = [
        ("q", "NULLOPEN", start, None, 5, None, None, None, None, None, None, None),
        ("q", "BIG", start, "100000000000000000000", 5, None, None, None, None, None, None, None),
        ("q", "FRAC", start, 1, 1, "-3", now, None, None, None, None, None),
        ("q", "NOTS", start, 1, 1, 3, None, None, None, None, None, None),
        ("q", "", start, 1, 1, None, None, None, None, None, None, None),
        ("p", "p-neg", start, None, None, None, None, False, 1, 0, 0, -1),
        ("p", "p-null", start, None, None, None, None, False, 1, None, 0, 1),
        ("p", "p-pend", start, None, None, None, None, None, 1, 0, 0, 1),
    ]
    for r in bad:
        sql(ins, r)
    sql(ins, ("q", "GOOD", start, "12.5", 40, 13, now, None, None, None, None, None))
    sql(ins, ("q", "OLD", start - DAY_NS, 7, 7, 7, now, None, None, None, None, None))
    port = tgtest.free_port()
    d = Daemon(config=conf(url, port), secret=tgtest.SECRET)
    d.start()
    try:
        q = wait_for(lambda: quote(d, "GOOD"), 10)
        assert q["price"] == 13 and q["day_open"] == 12.5 and q["volume"] == 40, q
        assert quote(d, "OLD") is None
        assert wait_port(port, 5)
        send(port, ["GOOD 14 2 %d\n" % time.time_ns()])
        assert wait_for(lambda: (quote(d, "GOOD") or {}).get("price") == 14, 10)
        q = quote(d, "GOOD")
        assert q["day_open"] == 12.5 and q["volume"] == 42, q
        ev = d.log_events()
        skipped = sorted(e["key"] for e in ev if e.get("event") == "daystate_row_skipped")
        assert skipped == sorted(r[1] for r in bad), skipped
        restored = [e for e in ev if e.get("event") == "daystate_restored"]
        assert restored and restored[0]["lines"] == 1, restored
    finally:
        d.cleanup()


def test_no_feeds_with_todays_rows_starts_and_stays_up(db):
    """Before: the last-price replay published a quote under e->feeds[0],
    NULL with no feed configured: the process crashed at start-up."""
    url, sql = db
    port = tgtest.free_port()
    run_first_day(url, port)
    assert sql("SELECT count(*) FROM day_state WHERE kind = 'q' AND price IS NOT NULL")[0][0] == 1
    cfg = ('engine = { session_open = "00:00"; session_tz = "UTC"; };\n'
           'postgres = { url = "%s"; };\n' % url)
    d = Daemon(config=cfg, secret=tgtest.SECRET)
    d.start()
    try:
        assert wait_for(lambda: pf(d) is not None, 10)
        time.sleep(1)
        assert d.proc.poll() is None, d.log()
        ev = [e for e in d.log_events() if e.get("event") == "daystate_restored"]
        assert ev and ev[0]["lines"] == 2, ev
        assert d.stop() == 0
    finally:
        d.cleanup()
    # the node replayed no price: its rows leave the stored last price alone
    rows = sql("SELECT price::text FROM day_state WHERE kind = 'q'")
    assert rows == [("110.00000000",)], rows


def test_journal_dir_needs_no_day_state_table(db, tmp_path):
    """Before: the schema check asked for day_state even with journal.dir
    (where the file is the day state), so a binary upgraded before `tickgate
    migrate` never connected ("schema missing"). Without journal.dir the
    table is still required."""
    url, sql = db
    sql("DROP TABLE day_state")
    port = tgtest.free_port()
    jdir = tmp_path / "journal"
    jdir.mkdir()
    d = Daemon(config=conf(url, port) + 'journal = { dir = "%s"; };\n' % jdir,
               secret=tgtest.SECRET)
    d.start()
    try:
        assert wait_for(lambda: '"postgres_up"' in d.log(), 10), d.log()
        assert "schema missing" not in d.log()
        assert d.stop() == 0
    finally:
        d.cleanup()
    d = Daemon(config=conf(url, port), secret=tgtest.SECRET)
    d.start()
    try:
        assert wait_for(lambda: "schema missing" in d.log(), 10), d.log()
        assert '"postgres_up"' not in d.log()
    finally:
        d.cleanup()
