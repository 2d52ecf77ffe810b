#!/usr/bin/python3
"""pg_bench.py - sustained snapshot rows/s into a real PostgreSQL 15.

Starts a throw-away PostgreSQL (tests/integration/tgtest.py), migrates it,
and runs tickgate with a synthetic feed over N symbols fast enough that every
symbol changes in every snapshot interval, so each interval writes N
quote_snapshots rows. Reports rows/s from tickgate_snapshot_rows_total and the
backlog at the end (a growing backlog = the writer does not keep up).

  /usr/bin/python3 bench/pg_bench.py [TG_BIN] [symbols] [seconds]
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build", "tickgate"))
NSYM = int(sys.argv[2]) if len(sys.argv) > 2 else 60000
SECS = int(sys.argv[3]) if len(sys.argv) > 3 else 20
os.environ["TG_BIN"] = BIN  # before tgtest reads it
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import tgtest  # noqa: E402
from tgtest import Daemon  # noqa: E402


def metric(d, name):
    for line in d.http("/metrics")[1].decode().splitlines():
        if line.startswith(name):
            return float(line.split()[-1])
    return 0.0


pg = tgtest.Postgres().start()
try:
    subprocess.run([BIN, "migrate"], env=dict(os.environ, TICKGATE_POSTGRES_URL=pg.url),
                   check=True, capture_output=True)
    syms = ", ".join('"S%05d"' % i for i in range(NSYM))
    conf = ('postgres = { url = "%s"; snapshot_interval_ms = 1000; };\nlog = { level = "%s"; };\n'
            'engine = { max_symbols = %d; };\n'
            'feeds = ({ name = "syn"; type = "synthetic"; rate = %d; symbols = [ %s ]; });\n'
            % (pg.url, os.environ.get("TG_LOG", "info"), NSYM + 10, NSYM * 2, syms))
    d = Daemon(config=conf)
    d.start()
    try:
        key = 'tickgate_snapshot_rows_total{table="quote_snapshots"}'
        time.sleep(3)  # warm-up: every symbol seen
        r0, t0 = metric(d, key), time.time()
        time.sleep(SECS)
        r1, t1 = metric(d, key), time.time()
        backlog = metric(d, "tickgate_snapshot_backlog")
        ticks = metric(d, "tickgate_ticks_accepted_total")
        print("symbols %d, %.1f s: %.0f quote rows/s sustained, backlog at end %d, "
              "ticks accepted %d" % (NSYM, t1 - t0, (r1 - r0) / (t1 - t0), backlog, ticks))
    finally:
        if os.environ.get("TG_LOG") == "debug":
            import collections
            print(collections.Counter(e.get("event") for e in d.log_events()))
            b = [e for e in d.log_events() if e.get("event") == "snapshot_batch"]
            if b:
                print("writer: %.0f rows/s while writing (mean of %d batches)"
                      % (sum(e["rows"] for e in b) / (sum(e["us"] for e in b) / 1e6), len(b)))
        d.cleanup()
finally:
    pg.cleanup()
