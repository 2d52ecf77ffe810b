"""Issue 15: bars (OHLCV) - the `bars` channel, GET /api/v1/bars, restarts (SPEC §12).

Known trades go in through a real `tcp` feed; real WebSocket clients and HTTP
requests check what comes out. Bars are built on each tick's `ts` (feed
accept time), so the tests never assume which second a trade lands in: they
check exact figures on bars that hold every trade (the open 1h bar; a 1h
boundary during the test is waited out) and exact sums over the 1s bars.
Decimals are read with Decimal, never floats.
"""
import asyncio
import json
import os
import re
import socket
import subprocess
import time
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from tgtest import Postgres, have_postgres
from tgtest import BIN, WS, Daemon, free_port, scaled, wait_for, wait_port

NS = 10**9


def metric(text, name):
    for line in text.splitlines():
        m = re.match(r'^([a-z_]+)(?:\{.*\})? (\S+)$', line)
        if m and m.group(1) == name:
            return float(m.group(2))
    return None


def metrics(d):
    status, body = d.http("/metrics")
    assert status == 200
    return body.decode()


def vwap(trades):
    num = sum(Decimal(p) * Decimal(s) for p, s in trades)
    den = sum(Decimal(s) for _, s in trades)
    return (num / den).quantize(Decimal("0.00000001"), rounding=ROUND_HALF_EVEN)


def dec(v):
    return Decimal(str(v)) if not isinstance(v, Decimal) else v


class Client(WS):
    """tgtest's client with exact decimals (bars' OHLCV and VWAP are compared as Decimal)."""
    parse_float = Decimal

    @classmethod
    async def open(cls, d, token=None, **kw):
        if isinstance(d, str):  # WS.open(url, ...) as the base class calls it
            return await super().open(d, token=token, **kw)
        return await cls.open_daemon(d, token)

    async def recv(self, timeout=10.0, raw=False):
        """Next message within `timeout` s (scaled for slow machines unless raw)."""
        return await super().recv(timeout if raw else scaled(timeout))


def run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


def tcp_daemon(extra="", env=None):
    port = free_port()
    d = Daemon(config='feeds = ({ name = "pub"; type = "tcp"; listen = "127.0.0.1:%d"; '
                      'breaker = { stale_after_ms = 0; }; });\n'
                      'engine = { bar_grace_ms = 300; };\n' % port + extra, env=env)
    d.feed_port = port
    return d


def send_trades(d, trades, sym="BAR"):
    """One connection, one burst: `SYMBOL PRICE SIZE` lines."""
    assert wait_port(d.feed_port, 10)
    data = "".join("%s %s %s\n" % (sym, p, s) for p, s in trades).encode()
    with socket.create_connection(("127.0.0.1", d.feed_port)) as s:
        s.sendall(data)
        time.sleep(0.2)


def accepted(d):
    return metric(metrics(d), "tickgate_ticks_accepted_total") or 0


def away_from_hour_boundary():
    """The open 1h bar must hold every trade of a test: wait out a boundary."""
    left = 3600 - time.time() % 3600
    if left < 60:
        time.sleep(left + 1)


BURSTS = [
    [("100.5", "10"), ("101", "5"), ("99.75", "2.5"), ("100", "0")],   # size 0: no bar
    [("100.25", "3"), ("102.125", "1.125"), ("98.00000001", "7")],
    [("100.33333333", "0.00000001"), ("101.5", "4")],
]


def all_trades():
    return [(p, s) for b in BURSTS for p, s in b if Decimal(s) > 0]


def check_bar_fields(b, sym, iv):
    assert b["type"] == "bar" and b["symbol"] == sym and b["interval"] == iv, b
    assert set(b) == {"type", "symbol", "interval", "start", "open", "high", "low", "close",
                      "volume", "trades", "vwap", "final", "seq"}, b
    length = {"1s": 1, "1m": 60, "5m": 300, "1h": 3600, "1d": 86400}[iv] * NS
    if iv != "1d":
        assert b["start"] % length == 0, b       # aligned to the epoch in UTC
    assert b["low"] <= b["open"] <= b["high"] and b["low"] <= b["close"] <= b["high"], b
    assert b["low"] <= b["vwap"] <= b["high"], b


def test_bars_live_exact_rest_history_and_since():
    away_from_hour_boundary()
    d = tcp_daemon()
    d.start()
    try:
        # exported from start, at 0
        assert metric(metrics(d), "tickgate_bars_late_ticks_total") == 0
        tok = d.token("u-1")

        async def scenario():
            c = await Client.open(d, tok)
            await c.send({"type": "subscribe", "channel": "bars", "symbols": ["BAR"],
                          "interval": "1s", "id": 1})
            conf = await c.recv_type("subscription_confirmed")
            assert conf == {"type": "subscription_confirmed", "channel": "bars", "interval": "1s",
                            "symbols": ["BAR"], "id": 1}, conf
            await c.send({"type": "subscribe", "channel": "bars", "symbols": ["BAR"],
                          "interval": "1h", "id": 2})
            await c.recv_type("subscription_confirmed", pred=lambda m: m.get("id") == 2)
            n0 = accepted(d)
            for i, burst in enumerate(BURSTS):
                send_trades(d, burst)
                wait_for(lambda: accepted(d) >= n0 + sum(len(b) for b in BURSTS[:i + 1]), 10)
                await asyncio.sleep(1.1)    # the next burst lands in a later second
            trades = all_trades()
            # every trade ends up in exactly one final 1s bar
            finals = {}
            end = time.time() + scaled(20)
            while sum(b["trades"] for b in finals.values()) < len(trades) and time.time() < end:
                m = await c.recv(max(0.01, end - time.time()), raw=True)
                if m.get("type") == "bar" and m["interval"] == "1s" and m["final"]:
                    finals[m["start"]] = m
            bars1s = [finals[k] for k in sorted(finals)]
            assert sum(b["trades"] for b in bars1s) == len(trades), bars1s
            for b in bars1s:
                check_bar_fields(b, "BAR", "1s")
            assert len(bars1s) >= 3                               # three bursts, 1.1 s apart
            assert sum(b["volume"] for b in bars1s) == sum(Decimal(s) for _, s in trades)
            assert bars1s[0]["open"] == Decimal(trades[0][0])
            assert bars1s[-1]["close"] == Decimal(trades[-1][0])
            assert max(b["high"] for b in bars1s) == max(Decimal(p) for p, _ in trades)
            assert min(b["low"] for b in bars1s) == min(Decimal(p) for p, _ in trades)
            # the open 1h bar holds every trade: exact OHLCV and half-even VWAP
            full = lambda m: m.get("type") == "bar" and m["interval"] == "1h" and \
                m["trades"] == len(trades)
            seen = [m for m in c.all if full(m)]
            h = seen[-1] if seen else await c.recv_type("bar", timeout=5, pred=full)
            check_bar_fields(h, "BAR", "1h")
            assert h["final"] is False
            assert (h["open"], h["close"]) == (Decimal("100.5"), Decimal("101.5")), h
            assert (h["high"], h["low"]) == (Decimal("102.125"), Decimal("98.00000001")), h
            assert h["volume"] == Decimal("32.62500001"), h
            assert h["vwap"] == vwap(trades), (h["vwap"], vwap(trades))
            # seq: +1 per message of each key, partial and final alike
            for iv in ("1s", "1h"):
                seqs = [m["seq"] for m in c.all if m.get("type") == "bar" and m["interval"] == iv]
                assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (iv, seqs)
            # partial bars of a second never follow its final bar
            final_at = {}
            for i, m in enumerate(c.all):
                if m.get("type") == "bar" and m["interval"] == "1s":
                    if m["final"]:
                        final_at[m["start"]] = i
                    else:
                        assert m["start"] not in final_at, m
            last_seq = max(m["seq"] for m in c.all if m.get("type") == "bar" and m["interval"] == "1s")
            await c.close()
            return bars1s, h, c.epoch, last_seq

        bars1s, h, epoch, last_seq = run(scenario())

        # REST from memory: the same final bars, oldest first (without type/final/seq)
        status, body = d.http("/api/v1/bars/BAR?interval=1s", token=tok)
        assert status == 200, body
        rest = json.loads(body, parse_float=Decimal)["data"]
        strip = lambda b: {k: v for k, v in b.items() if k not in ("type", "final", "seq")}
        assert rest == [strip(b) for b in bars1s], (rest, bars1s)
        status, body = d.http("/api/v1/bars/BAR?interval=1s&limit=1", token=tok)
        assert json.loads(body, parse_float=Decimal)["data"] == [strip(bars1s[-1])]
        second = bars1s[1]["start"]
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second // NS)) + "Z"
        status, body = d.http("/api/v1/bars/BAR?interval=1s&from=%s&to=%d" % (iso, second), token=tok)
        assert json.loads(body, parse_float=Decimal)["data"] == [strip(bars1s[1])], body
        status, body = d.http("/api/v1/bars/BAR?interval=1s&from=%d&limit=2" % bars1s[0]["start"],
                              token=tok)
        assert json.loads(body, parse_float=Decimal)["data"] == [strip(b) for b in bars1s[:2]]
        status, body = d.http("/api/v1/bars/BAR?interval=1h", token=tok)
        assert status == 200 and json.loads(body)["data"] == []      # still open: not final
        status, body = d.http("/api/v1/bars/NOPE?interval=1m", token=tok)
        assert status == 200 and json.loads(body)["data"] == []
        for bad in ("interval=2m", "interval=", "limit=0", "limit=5001", "limit=abc",
                    "from=yesterday", "from=2024-13-01T00:00:00Z", "from=5&to=4",
                    "to=-1", "from=99999999999999999999999"):
            status, body = d.http("/api/v1/bars/BAR?" + bad, token=tok)
            assert status == 400, (bad, status, body)
            assert json.loads(body)["error"]["code"] == "bad_request"
        status, _ = d.http("/api/v1/bars/BAR?interval=1s")
        assert status == 401
        status, _ = d.http("/api/v1/bars/B*R", token=tok)
        assert status == 400

        async def later():
            # history: the last 2 final bars first, oldest first, then live
            c = await Client.open(d, tok)
            await c.send({"type": "subscribe", "channel": "bars", "symbols": ["BAR"],
                          "interval": "1s", "history": 2})
            await c.recv_type("subscription_confirmed")
            hist = [await c.recv_type("bar", timeout=5) for _ in range(2)]
            assert [b["start"] for b in hist] == [b["start"] for b in bars1s[-2:]], hist
            assert all(b["final"] for b in hist)
            assert [strip(b) for b in hist] == [strip(b) for b in bars1s[-2:]]
            # the 1h key: no history asked, its current partial bar comes
            await c.send({"type": "subscribe", "channel": "bars", "symbols": ["BAR"],
                          "interval": "1h"})
            p = await c.recv_type("bar", timeout=5, pred=lambda m: m["interval"] == "1h")
            assert p["final"] is False and p["trades"] == h["trades"] and p["vwap"] == h["vwap"]
            await c.send({"type": "unsubscribe", "channel": "bars", "symbols": ["BAR"],
                          "interval": "1h", "id": 7})
            u = await c.recv_type("unsubscription_confirmed")
            assert u["interval"] == "1h" and u["symbols"] == ["BAR"], u
            # bad subscribes are refused with bad_request, the connection stays
            for bad in ({"interval": "2m"}, {"history": 1001}, {"symbols": ["*"]}):
                msg = {"type": "subscribe", "channel": "bars", "symbols": ["BAR"], "id": 9}
                msg.update(bad)
                await c.send(msg)
                e = await c.recv_type("error", timeout=5)
                assert e["code"] in ("bad_request", "unknown_symbol") and e["id"] == 9, e
            await c.close()

            # recovery with since: the messages missed while away, in order
            send_trades(d, [("103", "1"), ("104", "2")])
            await asyncio.sleep(2.0)
            c = await Client.open(d, tok)
            await c.send({"type": "subscribe", "channel": "bars", "symbols": ["BAR"],
                          "interval": "1s", "epoch": epoch, "since": {"BAR@1s": last_seq}})
            msgs = []
            end = time.monotonic() + scaled(30)  # bars keep coming: one bound for all
            while True:
                assert time.monotonic() < end, ("no recovered", msgs[-3:])
                m = await c.recv(10)
                if m.get("type") == "recovered":
                    rec = m
                    break
                if m.get("type") == "bar":
                    msgs.append(m)
            assert rec["complete"] is True and rec["key"] == "BAR@1s" and rec["channel"] == "bars", rec
            assert [m["seq"] for m in msgs] == list(range(last_seq + 1, last_seq + 1 + len(msgs)))
            assert msgs and msgs[-1]["final"] and msgs[-1]["close"] == Decimal("104"), msgs
            # another epoch: current state and complete:false
            await c.send({"type": "subscribe", "channel": "bars", "symbols": ["BAR"],
                          "interval": "1m", "epoch": "e-other", "since": {"BAR@1m": 1}})
            rec = await c.recv_type("recovered", timeout=5)
            assert rec["complete"] is False and rec["key"] == "BAR@1m", rec
            await c.close()

        run(later())
        text = metrics(d)
        assert metric(text, "tickgate_bars_late_ticks_total") == 0
        assert 'channel="bars"' in text
        code = d.stop()
        assert code == 0, d.log()[-2000:]
    finally:
        d.cleanup()


def test_bars_empty_intervals_and_quotes_unchanged():
    d = tcp_daemon()
    d.start()
    try:
        tok = d.token("u-1")

        async def scenario():
            c = await Client.open(d, tok)
            await c.send({"type": "subscribe", "channel": "bars", "symbols": ["GAP"], "interval": "1s"})
            await c.send({"type": "subscribe", "channel": "market_data", "symbols": ["GAP"]})
            await c.recv_type("subscription_confirmed")
            send_trades(d, [("10", "1")], sym="GAP")
            await c.drain(3.2)                             # two or three empty seconds
            send_trades(d, [("11", "2")], sym="GAP")
            await c.drain(2.0)
            finals = [m for m in c.all if m.get("type") == "bar" and m["final"]]
            quotes = [m for m in c.all if m.get("type") == "quote"]
            await c.close()
            return finals, quotes

        finals, quotes = run(scenario())
        assert len(finals) == 2, finals                    # no bars for the empty seconds
        assert finals[1]["start"] - finals[0]["start"] >= 3 * NS, finals
        assert [(f["close"], f["volume"]) for f in finals] == [(10, 1), (11, 2)]
        # quote messages are as before: no bar fields in them
        assert len(quotes) == 2 and all("vwap" not in q and "interval" not in q for q in quotes)
        assert quotes[-1]["price"] == 11 and quotes[-1]["volume"] == 3
    finally:
        d.cleanup()


@pytest.mark.skipif(not have_postgres(), reason="PostgreSQL (Debian postgresql) not installed")
def test_bars_postgres_journal_restart_and_replay():
    """Final bars go to the `bars` table and are served from there after a restart;
    the open bars are rebuilt from the journal; `replay --bars` prints the same bars."""
    away_from_hour_boundary()
    pg = Postgres()
    pg.start()
    jdir = None
    try:
        port = free_port()
        d = tcp_daemon('postgres = { url = "%s"; snapshot_interval_ms = 200; };\n'
                       'journal = { dir = "%%s"; };\n' % pg.url)
        jdir = os.path.join(d.dir, "journal")
        d.config = d.config.replace("%s", jdir)
        r = subprocess.run([BIN, "migrate"], env=dict(os.environ, TICKGATE_POSTGRES_URL=pg.url),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "002_bars" in r.stdout + r.stderr, (r.stdout, r.stderr)
        d.start()
        tok = d.token("u-1")
        n0 = accepted(d)
        first = [("50", "1"), ("52", "3")]
        send_trades(d, first, sym="PGB")
        wait_for(lambda: accepted(d) >= n0 + 2, 10)
        time.sleep(1.2)
        second = [("51", "2")]
        send_trades(d, second, sym="PGB")
        wait_for(lambda: accepted(d) >= n0 + 3, 10)

        def rows():
            return pg.sql("SELECT (extract(epoch from start) * 1000000)::bigint * 1000, open, high, "
                          "low, close, volume, trades, vwap FROM bars WHERE symbol = 'PGB' AND "
                          "\"interval\" = '1s' ORDER BY start")
        assert wait_for(lambda: sum(r[6] for r in rows()) == 3, 20), rows()
        status, body = d.http("/api/v1/bars/PGB?interval=1s", token=tok)
        assert status == 200, body
        before = json.loads(body, parse_float=Decimal)["data"]
        assert [(b["start"], b["close"], b["trades"]) for b in before] == \
            [(r[0], r[4], r[6]) for r in rows()], (before, rows())
        assert sum(b["volume"] for b in before) == 6
        status, body = d.http("/api/v1/bars/PGB?interval=1h", token=tok)
        assert json.loads(body)["data"] == []                  # the hour is still open
        assert d.stop() == 0, d.log()[-2000:]

        # restart: REST from PostgreSQL; the open 1h bar continues from the journal
        d.start()
        status, body = d.http("/api/v1/bars/PGB?interval=1s", token=tok)
        assert status == 200 and json.loads(body, parse_float=Decimal)["data"] == before, body
        assert any(e.get("event") == "bars_restored" for e in d.log_events()), d.log()[-3000:]

        async def hour_bar():
            c = await Client.open(d, tok)
            await c.send({"type": "subscribe", "channel": "bars", "symbols": ["PGB"], "interval": "1h"})
            await c.recv_type("subscription_confirmed")
            n1 = accepted(d)
            send_trades(d, [("49", "4")], sym="PGB")
            wait_for(lambda: accepted(d) >= n1 + 1, 10)
            b = await c.recv_type("bar", timeout=10, pred=lambda m: m["trades"] == 4)
            await c.close()
            return b

        b = run(hour_bar())
        trades = first + second + [("49", "4")]
        assert (b["open"], b["high"], b["low"], b["close"]) == (50, 52, 49, 49), b
        assert b["volume"] == 10 and b["vwap"] == vwap(trades), b
        assert d.stop() == 0

        # offline: the journal's exact bars as CSV
        r = subprocess.run([BIN, "replay", "--journal", jdir, "--bars", "1s", "--csv", "-"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        lines = [l for l in r.stdout.splitlines() if l]
        assert lines[0] == "symbol,interval,start,open,high,low,close,volume,trades,vwap,final", lines
        pgb = [l.split(",") for l in lines[1:] if l.startswith("PGB,")]
        finals = [x for x in pgb if x[10] == "true"]
        assert [(int(x[2]), Decimal(x[6]), int(x[8])) for x in finals[:len(before)]] == \
            [(b["start"], b["close"], b["trades"]) for b in before], (pgb, before)
        assert sum(int(x[8]) for x in pgb) == 4
    finally:
        try:
            d.cleanup()
        except NameError:
            pass
        pg.cleanup()
