"""Issue 13 item 12, the small ones, against the real binary:

- `migrate` with an empty postgres.url exits 2 and names the key (SPEC §15);
- the Redis quote hash carries `volume` (the day's, as in the `quote` message);
- values beyond the fixed-point range (|v| > 92,233,720,368.54775807) are
  refused where they are parsed, with the bound in the error: a portfolio
  file at start-up, a PUT body, a config key - never saturated silently.
"""
import json
import os
import socket
import subprocess
import time

import pytest

import tgtest
import tgtest
from tgtest import BIN, Daemon, free_port, wait_for, wait_port


def test_migrate_with_empty_url_exits_2_naming_the_key():
    r = subprocess.run([BIN, "migrate"], env={"PATH": os.environ.get("PATH", "")},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "postgres.url" in r.stderr and "empty" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not tgtest.have_redis(), reason="no redis-server")
def test_redis_quote_hash_has_the_day_volume():
    srv = tgtest.Redis().start()
    port = free_port()
    d = Daemon(config='feeds = ({ name = "pub"; type = "tcp"; listen = "127.0.0.1:%d"; '
                      'breaker = { stale_after_ms = 0; }; });\n'
                      'redis = { url = "%s"; };\n' % (port, srv.url))
    d.start()
    try:
        assert wait_port(port, 5)
        now = time.time_ns()
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"VOLX 10.5 7 %d\nVOLX 10.75 5 %d\n" % (now, now + 1))
            time.sleep(0.2)
        rc = srv.client()
        h = wait_for(lambda: (rc.hgetall("tickgate:quote:VOLX") or {}).get(b"volume") == b"12"
                     and rc.hgetall("tickgate:quote:VOLX"), 10)
        assert h, rc.hgetall("tickgate:quote:VOLX")
        assert h[b"price"] == b"10.75" and h[b"size"] == b"5", h
    finally:
        d.cleanup()
        srv.cleanup()


BOUND = "92233720368.54775807"


def test_values_past_the_range_are_refused_with_the_bound():
    # a portfolio file: start-up fails with exit 2 and the field named
    d = Daemon(config="", secret=tgtest.SECRET)
    pf = tgtest.write_portfolios(os.path.join(d.dir, "p.json"),
                                [tgtest.portfolio("p-big", "u", [("AAPL", "100000000000", "1", "1")])])
    d.config = 'engine = { portfolios_file = "%s"; };\n' % pf
    d.start(wait=False)
    try:
        assert d.proc.wait(20) == 2
        log = d.log()
        assert "p-big" in log and "holdings[0].quantity" in log and BOUND in log, log[-600:]
    finally:
        d.cleanup()

    # a PUT body: 400 with the bound; the portfolio is not created
    d = Daemon(config='feeds = ({ name = "syn"; type = "synthetic"; rate = 50; symbols = ["AAPL"]; });\n',
               secret=tgtest.SECRET)
    d.start()
    try:
        tok = d.token("ops", roles=["admin"])
        body = {"owner": "u", "cash": "92233720368.54775808",
                "holdings": [{"symbol": "AAPL", "quantity": "1", "cost_basis": "1"}]}
        st, raw = d.http("/api/v1/portfolios/p-big", method="PUT", token=tok,
                         body=json.dumps(body).encode())
        assert st == 400, raw
        err = json.loads(raw)["error"]
        assert "cash" in err["message"] and BOUND in err["message"], err
        st, _ = d.http("/api/v1/portfolios/p-big", token=tok)
        assert st == 404
    finally:
        d.cleanup()

    # a config decimal: check-config refuses it naming the key
    d = Daemon(config="")
    path = os.path.join(d.dir, "t.conf")
    with open(path, "w") as f:
        f.write('feeds = ({ name = "syn"; type = "synthetic"; levels = ["AAPL=100000000000"]; });\n')
    r = subprocess.run([BIN, "check-config", "--config", path], capture_output=True, text=True,
                       timeout=30)
    d.cleanup()
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "levels[0]" in r.stderr and BOUND in r.stderr, r.stderr
