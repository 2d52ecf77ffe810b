"""Issue 6: journal across a crash - kill -9, torn tail, restart, replay to CSV."""
import glob
import os
import signal
import subprocess
import time

from tgtest import BIN, Client, Daemon, run, wait_for

TICKS = [("AAA", "10.5", "1"), ("BBB", "20.25", "2"), ("AAA", "11.125", "3"),
         ("BBB", "21", "4"), ("CCC", "30.00000001", "5")]



def test_kill9_torn_tail_restart_and_replay(tmp_path):
    jdir = tmp_path / "journal"
    csv = tmp_path / "in.csv"
    csv.write_text("".join("%d,%s,%s,%s\n" % (1000000000 + i, s, p, q)
                           for i, (s, p, q) in enumerate(TICKS)))
    feed = 'feeds = ({ name = "f"; type = "replay"; path = "%s"; speed = "max"; });\n'
    d = Daemon(config=feed % csv + 'journal = { dir = "%s"; fsync = "always"; };\n' % jdir)
    d.start()
    try:
        assert wait_for(lambda: "feed_finished" in d.log(), 5)
        seg = wait_for(lambda: sorted(glob.glob(str(jdir / "journal-*.tgj"))), 5)
        assert seg
        # all five records on disk before the crash (fsync = always)
        assert wait_for(lambda: os.path.getsize(seg[-1]) > 5 * 40, 5)
        size_before = os.path.getsize(seg[-1])
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(5)
    finally:
        d.cleanup()
    # tear the last record (CCC) in the middle
    seg = sorted(glob.glob(str(jdir / "journal-*.tgj")))[-1]
    with open(seg, "r+b") as f:
        f.truncate(size_before - 7)

    empty = tmp_path / "empty.csv"
    empty.write_text("ts_ns,symbol,price,size\n")
    d = Daemon(config=feed % empty + 'journal = { dir = "%s"; };\n' % jdir)
    d.start()
    try:
        tok = d.token("u-1")

        async def go():
            c = await Client.connect(d.url() + "?token=" + tok)
            await c.recv_type("connection_established")
            await c.send({"type": "subscribe", "channel": "market_data",
                          "symbols": ["AAA", "BBB"], "id": 1})
            got = {}
            while len(got) < 2:
                m = await c.recv_type("quote", timeout=3)
                got[m["symbol"]] = m
            assert got["AAA"]["price"] == 11.125 and got["BBB"]["price"] == 21
            await c.close()
        run(go())
        assert wait_for(lambda: any(e.get("event") == "journal_corrupt" for e in d.log_events()), 3)
        assert d.proc.poll() is None
    finally:
        code = d.stop()
        d.cleanup()
    assert code == 0

    out = tmp_path / "out.csv"
    r = subprocess.run([BIN, "replay", "--journal", str(jdir), "--csv", str(out)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    body = [l for l in lines if not l.startswith("ts")]
    got = [(l.split(",")[1], l.split(",")[2], l.split(",")[3]) for l in body]
    # the journaled ticks in order: the torn CCC record is skipped
    assert got[:4] == [(s, p.rstrip("0").rstrip(".") if "." in p else p, q)
                       for s, p, q in TICKS[:4]], got
    assert ("CCC", "30.00000001", "5") not in got
    r = subprocess.run([BIN, "replay", "--csv", str(out)], capture_output=True, text=True)
    assert r.returncode == 2 and "--journal" in r.stderr
