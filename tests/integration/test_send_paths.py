"""The two send paths of a pass (SPEC §11): one io_uring submission per pass
(default) and lws_write (server.disable_io_uring / TICKGATE_DISABLE_IO_URING=1).

Both must give every client an intact stream: every frame parses, every
symbol's seq only grows. Readers with a tiny receive buffer that sleep make the
kernel take only part of a frame (limits.max_inflight_bytes is raised past the
socket buffer so the socket, not our gate, fills): with io_uring the rest goes
through lws, before anything else on that connection, and must not corrupt the
stream. The metric tickgate_ws_frames_total{path} shows which path carried it.

Ticks published while a pass is being written are drained between its chunks
of 64 clients and reach the clients not yet written (fanout.c): with 300
clients (tickgate-bench, a C client) every pass has several chunks; each
client's stream must still be complete and in order.

Bounded: 10 clients, 2 s of a 20,000 ticks/s synthetic feed per path; 300
clients for 3 s of a 1,000 ticks/s feed per path.
"""
import asyncio
import json
import os
import socket
import subprocess
import time

import pytest
import websockets

from test_fanout_load import check_frame
from tgtest import Daemon, metric_value, metrics_text, run, scaled

SANITIZED = bool(os.environ.get("TG_SANITIZER"))
BUILD = os.environ.get("TG_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
BENCH = os.path.join(BUILD, "tickgate-bench")

CONF = ('feeds = ({ name = "syn"; type = "synthetic"; rate = 20000; });\n'
        'limits = { max_inflight_bytes = 16777216; max_pending_bytes = 67108864; };\n')


def stream(d, nclients, seconds):
    tok = d.token("paths")
    bad, backwards, counts = [], [], {"msgs": 0, "lost": []}

    async def one(i):
        slow = i % 2 == 1
        url = d.url() + "?token=" + tok + ("&format=msgpack" if i % 3 == 0 else "")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if slow:  # a small window: the kernel takes part of a frame, then nothing
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", d.port))
        async with websockets.connect(url, sock=sock, max_size=None, compression=None,
                                      close_timeout=1) as w:
            check_frame(await w.recv(), bad)
            await w.send(json.dumps({"type": "subscribe", "channel": "market_data",
                                     "symbols": ["*"]}))
            last = {}
            end = time.time() + seconds
            while time.time() < end:
                frame = await asyncio.wait_for(w.recv(), scaled(10))
                for m in check_frame(frame, bad):
                    if m.get("type") != "quote":
                        continue
                    counts["msgs"] += 1
                    sym, seq = m["symbol"], m["seq"]
                    if seq <= last.get(sym, 0):
                        backwards.append((i, sym, last.get(sym), seq))
                    last[sym] = seq
                if slow:
                    await asyncio.sleep(0.02)

    async def guarded(i):
        try:
            await one(i)
        except (websockets.ConnectionClosed, OSError, asyncio.TimeoutError) as e:
            counts["lost"].append(repr(e)[:160])

    async def go():
        tasks = [asyncio.ensure_future(guarded(i)) for i in range(nclients)]
        await asyncio.wait(tasks, timeout=seconds + 3)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    run(go())
    return bad, backwards, counts


def frames_by_path(d):
    text = metrics_text("http://127.0.0.1:%d" % d.port)
    return {p: metric_value(text, "tickgate_ws_frames_total", {"path": p})
            for p in ("io_uring", "lws", "io_uring_rest")}


def run_path(disable):
    env = {"TICKGATE_DISABLE_IO_URING": "1"} if disable else {}
    d = Daemon(config=CONF, env=env)
    d.start()
    try:
        bad, backwards, counts = stream(d, 10, 1.5 if SANITIZED else 2.0)
        assert d.proc.poll() is None, d.log()[-3000:]
        assert not counts["lost"], counts["lost"][:3]
        assert counts["msgs"] > 1000, counts
        assert not bad, "malformed frames: %r" % bad[:5]
        assert not backwards, "seq went backwards: %r" % backwards[:5]
        time.sleep(0.3)  # per-thread counters reach the registry every 100 ms
        paths = frames_by_path(d)
        assert d.stop() == 0
        return paths
    finally:
        d.cleanup()


def test_io_uring_path_intact_with_short_sends():
    paths = run_path(disable=False)
    io_uring_usable = paths["io_uring"] and paths["io_uring"] > 0
    if not io_uring_usable:
        # a kernel or seccomp profile that refuses io_uring: lws carried it all
        assert paths["lws"] > 0, paths
        return
    assert paths["io_uring"] > 1000, paths
    # sleeping readers with a 4 KiB window: some frames only partly taken,
    # finished by lws, and the streams above stayed intact
    assert paths["io_uring_rest"] > 0, paths


def test_lws_path_when_disabled():
    paths = run_path(disable=True)
    assert paths["io_uring"] == 0 and paths["io_uring_rest"] == 0, paths
    assert paths["lws"] > 1000, paths


@pytest.mark.parametrize("disable", [False, True], ids=["io_uring", "lws"])
def test_ticks_during_a_pass_complete_and_in_order(disable):
    if not os.path.exists(BENCH):
        pytest.skip("tickgate-bench not built")
    rate = 300 if SANITIZED else 1000
    env = {"TICKGATE_DISABLE_IO_URING": "1"} if disable else {}
    d = Daemon(config='feeds = ({ name = "syn"; type = "synthetic"; rate = %d; });\n'
                      'limits = { max_conns_per_ip = 1000; };\n'
                      'log = { level = "warn"; };\n' % rate, env=env)
    d.start()
    try:
        out = subprocess.run([BENCH, "--url", "ws://127.0.0.1:%d/ws" % d.port, "--secret", d.secret,
                              "--connections", "300", "--all", "--duration", "3", "--json",
                              "--quiet"], capture_output=True, text=True, timeout=90)
        assert out.returncode == 0, out.stderr[-2000:]
        r = json.loads(out.stdout)
        time.sleep(0.3)  # per-thread counters reach the registry every 100 ms
        text = metrics_text("http://127.0.0.1:%d" % d.port)
        assert d.proc.poll() is None, d.log()[-3000:]
    finally:
        d.cleanup()
    assert r["ready"] == 300 and r["failed"] == 0, r
    assert r["msgs_per_s"] > 0.5 * rate * 300, r["msgs_per_s"]
    assert r["seq"]["backwards"] == 0, r["seq"]
    # every pass (a tick for all 300 clients) has five chunks: ticks came in
    # while passes were written and were sent in them
    late = metric_value(text, "tickgate_pass_late_messages_total")
    assert late > 0, late
    conflated = metric_value(text, "tickgate_messages_conflated_total")
    if conflated == 0:  # nothing conflated (a box that kept up): nothing missing
        assert r["seq"]["gaps"] == 0 and r["seq"]["missing"] == 0, (r["seq"], late)
    print("late %d, conflated %d, seq %r" % (late, conflated, r["seq"]))
