"""The two send paths of a pass (SPEC §11): one io_uring submission per pass
(default) and lws_write (server.disable_io_uring / TICKGATE_DISABLE_IO_URING=1).

Both must give every client an intact stream: every frame parses, every
symbol's seq only grows. Readers with a tiny receive buffer that sleep make the
kernel take only part of a frame (limits.max_inflight_bytes is raised past the
socket buffer so the socket, not our gate, fills): with io_uring the rest goes
through lws, before anything else on that connection, and must not corrupt the
stream. The metric tickgate_ws_frames_total{path} shows which path carried it.

Bounded: 10 clients, 2 s of a 20,000 ticks/s synthetic feed per path.
"""
import asyncio
import json
import os
import socket
import time

import websockets

from test_fanout_load import check_frame
from tgtest import Daemon, metric_value, metrics_text, run, scaled

SANITIZED = bool(os.environ.get("TG_SANITIZER"))

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
