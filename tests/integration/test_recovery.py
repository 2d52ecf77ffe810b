"""Recovery (SPEC §5): `since` + `epoch` replays exactly the missed messages;
too old / other epoch / evicted -> current state and complete:false."""
import asyncio

import pytest

import tgtest
from tgtest import connect_auth, mint, run


def daemon(limits):
    d = tgtest.start_daemon(tgtest.feed_conf(rate=400, symbols=("AAPL", "MSFT")) +
                           "limits = { %s };\n" % limits)
    tgtest.wait_quotes("http://127.0.0.1:%d" % d.port, mint(sub="x"), ["AAPL", "MSFT"])
    return d


async def last_seqs(d, syms):
    c, est = await connect_auth(d.url(), mint(sub="r"))
    await c.subscribe("market_data", syms, id=1)
    await c.recv_type("subscription_confirmed")
    seen = {}
    while len(seen) < len(syms):
        m = await c.recv_type("quote")
        seen[m["symbol"]] = m["seq"]
    msgs = await c.collect(0.3)
    for m in msgs:
        if m["type"] == "quote":
            seen[m["symbol"]] = m["seq"]
    await c.close()
    return est["epoch"], seen


async def resubscribe(d, syms, epoch, since):
    c, _ = await connect_auth(d.url(), mint(sub="r"))
    await c.subscribe("market_data", syms, id=2, epoch=epoch, since=since)
    m = await c.recv()
    assert m["type"] == "subscription_confirmed", m
    per = {s: [] for s in syms}
    rec = {}
    while len(rec) < len(syms):
        m = await c.recv()
        if m["type"] == "recovered":
            assert m["key"] not in rec
            rec[m["key"]] = m
        elif m["type"] == "quote" and m["symbol"] not in rec:
            per[m["symbol"]].append(m)
    return c, per, rec


def test_recovery_contiguous_then_complete():
    d = daemon("history_size = 1000;")
    try:
        async def go():
            epoch, seen = await last_seqs(d, ["AAPL", "MSFT"])
            await asyncio.sleep(1.0)  # ~200 missed per symbol
            c, per, rec = await resubscribe(d, ["AAPL", "MSFT"], epoch, seen)
            for s in ("AAPL", "MSFT"):
                seqs = [m["seq"] for m in per[s]]
                assert len(seqs) >= 100, (s, len(seqs))
                assert seqs == list(range(seen[s] + 1, seen[s] + 1 + len(seqs))), s
                assert rec[s] == {"type": "recovered", "channel": "market_data", "key": s,
                                  "from_seq": seen[s], "complete": True}
            # live continues after recovered, with no gap from the replay
            nxt = await c.recv_type("quote", pred=lambda m: m["symbol"] == "AAPL")
            assert nxt["seq"] == per["AAPL"][-1]["seq"] + 1
            await c.close()
        run(go())
    finally:
        d.cleanup()


def test_recovery_too_old_and_other_epoch():
    d = daemon("history_size = 20;")
    try:
        async def go():
            epoch, seen = await last_seqs(d, ["AAPL", "MSFT"])
            await asyncio.sleep(0.5)  # ~100 missed > history 20
            c, per, rec = await resubscribe(d, ["AAPL"], epoch, {"AAPL": seen["AAPL"]})
            assert rec["AAPL"]["complete"] is False and rec["AAPL"]["from_seq"] == seen["AAPL"]
            assert len(per["AAPL"]) == 1 and per["AAPL"][0]["seq"] > seen["AAPL"] + 20, \
                "the current state only"
            await c.close()
            c, per, rec = await resubscribe(d, ["MSFT"], "e-other", {"MSFT": seen["MSFT"]})
            assert rec["MSFT"]["complete"] is False
            assert len(per["MSFT"]) == 1, "current state, not a replay from another epoch"
            await c.close()
        run(go())
    finally:
        d.cleanup()


def test_recovery_within_small_history():
    d = daemon("history_size = 300;")
    try:
        async def go():
            epoch, seen = await last_seqs(d, ["AAPL"])
            await asyncio.sleep(0.3)  # ~60 missed < 300
            c, per, rec = await resubscribe(d, ["AAPL"], epoch, seen)
            seqs = [m["seq"] for m in per["AAPL"]]
            assert rec["AAPL"]["complete"] is True
            assert seqs == list(range(seen["AAPL"] + 1, seen["AAPL"] + 1 + len(seqs)))
            await c.close()
        run(go())
    finally:
        d.cleanup()


def test_history_max_bytes_eviction_gives_incomplete_not_wrong():
    # ~50 messages of ~400 B in total for every key together
    d = daemon("history_size = 1000; history_max_bytes = 20000;")
    try:
        async def go():
            epoch, seen = await last_seqs(d, ["AAPL", "MSFT"])
            await asyncio.sleep(1.0)  # ~200 per symbol: far beyond the byte budget
            c, per, rec = await resubscribe(d, ["AAPL", "MSFT"], epoch, seen)
            for s in ("AAPL", "MSFT"):
                assert rec[s]["complete"] is False, rec[s]
                assert len(per[s]) == 1 and per[s][0]["seq"] > seen[s]
            await c.close()
            # a since within what survived the eviction is still replayed exactly
            epoch, seen = await last_seqs(d, ["AAPL"])
            c, per, rec = await resubscribe(d, ["AAPL"], epoch, {"AAPL": seen["AAPL"] - 3})
            seqs = [m["seq"] for m in per["AAPL"]]
            if rec["AAPL"]["complete"]:
                assert seqs[:3] == [seen["AAPL"] - 2, seen["AAPL"] - 1, seen["AAPL"]]
                assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            else:
                assert len(seqs) == 1
            await c.close()
        run(go())
    finally:
        d.cleanup()


def test_recovery_notifications_and_portfolio_keys_accepted():
    d = daemon("history_size = 100;")
    try:
        async def go():
            c, est = await connect_auth(d.url(), mint(sub="demo"))
            await c.subscribe("notifications", id=1, epoch=est["epoch"], since={"notifications": 0})
            assert (await c.recv())["type"] == "subscription_confirmed"
            m = await c.recv_type("recovered")
            assert m["channel"] == "notifications" and m["key"] == "notifications"
            await c.close()
        run(go())
    finally:
        d.cleanup()
