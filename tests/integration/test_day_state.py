"""Issue 13 item 3 (SPEC §13): with journal.dir, a restart within the same
session day keeps each quote's day_open and volume and each portfolio's day
baseline. Before, the restart took the last journal tick as the day's open
(and its size as the volume) and restarted every portfolio's day_change at 0.
"""
import json
import os
import socket
import time

import tgtest
from tgtest import Daemon, free_port, wait_for, wait_port


def _send(port, lines):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall("".join(lines).encode())
        time.sleep(0.2)


def _quote(d, tok):
    st, body, _ = tgtest.http("http://127.0.0.1:%d" % d.port, "/api/v1/quotes?symbols=AAPL",
                             token=tok)
    data = json.loads(body)["data"] if st == 200 else []
    return data[0] if data else None


def _pf(d, tok):
    st, body, _ = tgtest.http("http://127.0.0.1:%d" % d.port, "/api/v1/portfolios/p-day", token=tok)
    return json.loads(body)["data"] if st == 200 else None


def test_restart_keeps_day_open_volume_and_day_baseline(tmp_path):
    port = free_port()
    jdir = tmp_path / "journal"
    pfile = tgtest.write_portfolios(str(tmp_path / "p.json"), [
        tgtest.portfolio("p-day", "u1", [("AAPL", "10", "900", "1")], cash="0",
                        alerts={"loss_limit": None, "gain_target": None, "rebalance_drift": None})])
    conf = ('feeds = ({ name = "pub"; type = "tcp"; listen = "127.0.0.1:%d"; '
            'breaker = { stale_after_ms = 0; }; });\n'
            'engine = { portfolios_file = "%s"; session_open = "00:00"; session_tz = "UTC"; };\n'
            'journal = { dir = "%s"; fsync = "always"; };\n'
            'limits = { http_per_min = 100000; };\n' % (port, pfile, jdir))
    tok = tgtest.mint(sub="u1", roles=["admin"])
    now = time.time_ns()

    d = Daemon(config=conf, secret=tgtest.SECRET)
    d.start()
    try:
        assert wait_port(port, 5)
        _send(port, ["AAPL 100 10 %d\n" % now])
        # separate batches: the engine may conflate valuation within one
        assert wait_for(lambda: (_pf(d, tok) or {}).get("priced"), 10)
        _send(port, ["AAPL 110 5 %d\n" % (now + 1)])
        assert wait_for(lambda: (_quote(d, tok) or {}).get("price") == 110, 10)
        q = _quote(d, tok)
        assert q["day_open"] == 100 and q["volume"] == 15, q
        assert wait_for(lambda: (_pf(d, tok) or {}).get("day_change") == 100, 10), _pf(d, tok)
        assert d.stop() == 0
    finally:
        d.cleanup()
    assert os.path.exists(jdir / "daystate")

    d = Daemon(config=conf, secret=tgtest.SECRET)
    d.start()
    try:
        assert wait_for(lambda: _quote(d, tok) is not None, 10)
        q = _quote(d, tok)
        assert q["price"] == 110, q
        assert q.get("day_open") == 100 and q["volume"] == 15, q
        p = wait_for(lambda: _pf(d, tok), 10)
        assert p["day_change"] == 100 and p["value"] == 1100, p
        assert wait_port(port, 5)
        _send(port, ["AAPL 120 1 %d\n" % (now + 2)])
        assert wait_for(lambda: (_quote(d, tok) or {}).get("price") == 120, 10)
        q = _quote(d, tok)
        assert q["day_open"] == 100 and q["volume"] == 16, q
        assert wait_for(lambda: (_pf(d, tok) or {}).get("day_change") == 200, 10), _pf(d, tok)
        assert any(e.get("event") == "daystate_restored" for e in d.log_events())
    finally:
        d.cleanup()


def test_day_state_of_another_session_day_is_ignored(tmp_path):
    jdir = tmp_path / "journal"
    os.makedirs(jdir)
    # a day state written for a session that started a week ago
    (jdir / "daystate").write_text("tickgate-daystate 1 %d\nq 5 999 AAPL\n"
                                   % (time.time_ns() - 7 * 86400 * 10**9))
    port = free_port()
    d = Daemon(config='feeds = ({ name = "pub"; type = "tcp"; listen = "127.0.0.1:%d"; '
                      'breaker = { stale_after_ms = 0; }; });\n'
                      'journal = { dir = "%s"; };\n'
                      'limits = { http_per_min = 100000; };\n' % (port, jdir), secret=tgtest.SECRET)
    d.start()
    try:
        tok = tgtest.mint(sub="u1")
        assert wait_port(port, 5)
        _send(port, ["AAPL 50 2 %d\n" % time.time_ns()])
        assert wait_for(lambda: _quote(d, tok) is not None, 10)
        q = _quote(d, tok)
        assert q["day_open"] == 50 and q["volume"] == 2, q
        assert any(e.get("event") == "daystate_ignored" for e in d.log_events())
    finally:
        d.cleanup()


def test_hostile_day_state_file_is_skipped_line_by_line(tmp_path):
    jdir = tmp_path / "journal"
    os.makedirs(jdir)
    now = time.time_ns()
    start = now - now % (86400 * 10**9)  # today's 00:00 UTC session
    lines = ["tickgate-daystate 1 %d" % start,
             "q 1e99 5 BIG", "q 5 AAPL", "q", "q x y Z", "p 1", "p 0 1 2 3",
             "p 0 1e400 0 0 1 p-x", "q 1.123456789 1 FRAC", "\x00\x01\x02 binary",
             "q 7 3 " + "S" * 5000, "p 0 10 0 0 1 " + "i" * 100000,
             "q 12.5 40 GOOD"]
    (jdir / "daystate").write_bytes(("\n".join(lines)).encode())
    port = free_port()
    d = Daemon(config='feeds = ({ name = "pub"; type = "tcp"; listen = "127.0.0.1:%d"; '
                      'breaker = { stale_after_ms = 0; }; });\n'
                      'journal = { dir = "%s"; };\n'
                      'limits = { http_per_min = 100000; };\n' % (port, jdir), secret=tgtest.SECRET)
    d.start()
    try:
        tok = tgtest.mint(sub="u1")
        assert wait_port(port, 5)
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GOOD 13 2 %d\n" % time.time_ns())
            time.sleep(0.2)
        def good():
            st, body, _ = tgtest.http("http://127.0.0.1:%d" % d.port, "/api/v1/quotes?symbols=GOOD",
                                     token=tok)
            data = json.loads(body)["data"] if st == 200 else []
            return data[0] if data else None
        q = wait_for(good, 10)
        assert q and q["day_open"] == 12.5 and q["volume"] == 42, (q, d.log()[:1500])
        ev = [e for e in d.log_events() if e.get("event") == "daystate_restored"]
        assert ev and ev[0]["lines"] == 1, ev
    finally:
        d.cleanup()
