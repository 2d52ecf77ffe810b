"""The write path under load: permessage-deflate next to plain clients, JSON and
MessagePack, every frame checked (JSON Lines: one message per line, no two
messages glued together), and the daemon alive afterwards.

Bounded: 24 clients, a few seconds of a fast synthetic feed. Python clients
cannot keep up with it, which is the point: frames are coalesced, writes are
partial, quotes conflate, and compressed clients take the writable path.
"""
import asyncio
import json
import os
import time

import msgpack
import websockets

from tgtest import Daemon, run, scaled

SANITIZED = bool(os.environ.get("TG_SANITIZER"))


def check_frame(frame, bad):
    """Every message of a frame must parse on its own; returns the messages."""
    if isinstance(frame, bytes):
        up = msgpack.Unpacker(raw=False)
        up.feed(frame)
        msgs = list(up)
        for m in msgs:
            if not isinstance(m, dict) or "type" not in m:
                bad.append(repr(frame[:200]))
        return msgs
    out = []
    if frame.endswith("\n") or frame.startswith("\n") or "\n\n" in frame:
        bad.append(frame[:200])
    for line in frame.split("\n"):
        try:
            m = json.loads(line)
        except ValueError:
            bad.append(line[:300])
            continue
        if not isinstance(m, dict) or "type" not in m:
            bad.append(line[:300])
        out.append(m)
    return out


def load(d, nclients, seconds, compression_every=2, msgpack_every=3):
    """nclients on market_data *; every 2nd offers deflate, every 3rd is msgpack."""
    tok = d.token("load")
    bad = []
    counts = {"frames": 0, "msgs": 0, "deflate": 0}

    async def one(i):
        comp = "deflate" if i % compression_every == 0 else None
        url = d.url() + "?token=" + tok + ("&format=msgpack" if i % msgpack_every == 0 else "")
        async with websockets.connect(url, compression=comp, max_size=None,
                                      close_timeout=1) as w:
            ext = w.response_headers.get("Sec-WebSocket-Extensions") or ""
            if "permessage-deflate" in ext:
                counts["deflate"] += 1
            check_frame(await w.recv(), bad)
            await w.send(json.dumps({"type": "subscribe", "channel": "market_data",
                                     "symbols": ["*"]}))
            end = time.time() + seconds
            while time.time() < end:
                frame = await asyncio.wait_for(w.recv(), scaled(10))
                counts["frames"] += 1
                counts["msgs"] += len(check_frame(frame, bad))
                if i % 4 == 1:
                    await asyncio.sleep(0.002)  # a slower reader: partial writes, conflation

    async def guarded(i):
        try:
            await one(i)
        except (websockets.ConnectionClosed, OSError, asyncio.TimeoutError) as e:
            counts.setdefault("lost", []).append(repr(e)[:120])

    async def go():
        # the clients stop at the deadline whatever they are doing: a loaded
        # box parses slower than the feed produces
        tasks = [asyncio.ensure_future(guarded(i)) for i in range(nclients)]
        await asyncio.wait(tasks, timeout=seconds + 2)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    run(go())
    return bad, counts


FAST_FEED = ('feeds = ({ name = "syn"; type = "synthetic"; rate = 20000; });\n')


def test_deflate_under_load_no_crash_and_frames_intact():
    d = Daemon(config=FAST_FEED + 'server = { listen = "127.0.0.1:0"; compression = true; };\n')
    d.config = d.config.replace("127.0.0.1:0", "127.0.0.1:%d" % d.port)
    d.start()
    try:
        bad, counts = load(d, 24, 3.0 if SANITIZED else 4.0)
        assert d.proc.poll() is None, "tickgate died under load with compression:\n" + d.log()[-3000:]
        assert "lost" not in counts, counts
        assert counts["deflate"] == 12, counts
        assert counts["msgs"] > 1000, counts
        assert not bad, "malformed frames: %r" % bad[:5]
        assert d.stop() == 0
    finally:
        d.cleanup()


def test_frames_intact_under_load_both_encodings_threads():
    """The framing soak with two service threads and no compression."""
    d = Daemon(config=FAST_FEED + 'server = { listen = "127.0.0.1:0"; threads = 2; };\n')
    d.config = d.config.replace("127.0.0.1:0", "127.0.0.1:%d" % d.port)
    d.start()
    try:
        bad, counts = load(d, 16, 3.0 if SANITIZED else 5.0, compression_every=1000,
                           msgpack_every=2)
        assert d.proc.poll() is None, d.log()[-3000:]
        assert "lost" not in counts, counts
        assert counts["msgs"] > 1000, counts
        assert not bad, "malformed frames: %r" % bad[:5]
        assert d.stop() == 0
    finally:
        d.cleanup()


def test_max_hz_per_subscription():
    """max_hz: at most N quotes per second per symbol, the newest, the last of
    a burst not held back longer than 1/N s (SPEC §11); out of range refused."""
    d = Daemon(config='feeds = ({ name = "syn"; type = "synthetic"; rate = 2000; '
                      'symbols = ["AAA", "BBB"]; });\n')
    d.start()
    try:
        tok = d.token("hz")

        async def go():
            async with websockets.connect(d.url() + "?token=" + tok, max_size=None) as w:
                await w.recv()
                await w.send(json.dumps({"type": "subscribe", "channel": "market_data",
                                         "symbols": ["AAA"], "max_hz": 1000000, "id": 1}))
                err = json.loads(await w.recv())
                assert err["type"] == "error" and err["code"] == "bad_request", err
                await w.send(json.dumps({"type": "subscribe", "channel": "market_data",
                                         "symbols": ["AAA"], "max_hz": 4, "id": 2}))
                await w.send(json.dumps({"type": "subscribe", "channel": "market_data",
                                         "symbols": ["BBB"], "id": 3}))
                per = {"AAA": [], "BBB": []}
                end = time.time() + 3.0
                while time.time() < end:
                    for line in (await asyncio.wait_for(w.recv(), scaled(5))).split("\n"):
                        m = json.loads(line)
                        if m.get("type") == "quote":
                            per[m["symbol"]].append((time.time(), m["seq"]))
                return per
        per = run(go())
        a, b = per["AAA"], per["BBB"]
        # ~1000 ticks/s per symbol: BBB gets (nearly) all, AAA about 4 a second
        assert len(b) > 200, len(b)
        assert 4 <= len(a) <= 4 * 3 + 2, [s for _, s in a]
        # always the latest: seq jumps by many, never goes back
        seqs = [s for _, s in a]
        assert seqs == sorted(seqs) and seqs[-1] - seqs[0] > 100, seqs
    finally:
        d.cleanup()


def test_send_ts_on_each_frames_first_message():
    """server.send_ts: out_ts on the first message of every frame, JSON and
    MessagePack, never on the others; out_ts >= the quote's ts."""
    d = Daemon(config=FAST_FEED + 'server = { listen = "127.0.0.1:0"; send_ts = true; };\n')
    d.config = d.config.replace("127.0.0.1:0", "127.0.0.1:%d" % d.port)
    d.start()
    try:
        tok = d.token("ts")

        async def one(fmt):
            url = d.url() + "?token=" + tok + ("&format=msgpack" if fmt == "msgpack" else "")
            # max_queue=None: with its queue full the client cannot read the server's
            # close frame, and the close waits out close_timeout (30 s here)
            async with websockets.connect(url, max_size=None, compression=None,
                                          max_queue=None) as w:
                await w.recv()
                await w.send(json.dumps({"type": "subscribe", "channel": "market_data",
                                         "symbols": ["*"]}))
                bad = []
                frames = multi = 0
                while frames < 100:
                    msgs = check_frame(await asyncio.wait_for(w.recv(), scaled(10)), bad)
                    frames += 1
                    multi += len(msgs) > 1
                    assert "out_ts" in msgs[0], msgs[0]
                    assert all("out_ts" not in m for m in msgs[1:]), msgs
                    if msgs[0].get("type") == "quote":
                        assert msgs[0]["out_ts"] >= msgs[0]["ts"], msgs[0]
                    await asyncio.sleep(0.001)
                assert not bad, bad[:3]
                return multi

        async def go():
            return await asyncio.gather(one("json"), one("msgpack"))
        multi = run(go())
        assert all(m > 0 for m in multi), multi  # frames with several messages seen
    finally:
        d.cleanup()
