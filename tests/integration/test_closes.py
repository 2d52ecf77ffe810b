"""Closes the server decides (SPEC §15, issue 13 item 5).

- A client that floods past the rate limit without reading (a busy send
  loop) reads its `rate_limited` error and close 1008, not 1006: the server
  sends the close frame, half-closes and drains the client's input (lingering
  close) instead of resetting the connection under unread data.
- Every close the server decides is counted in
  tickgate_clients_closed_total{code} when it is decided, including a 4008
  whose close frame can never be written (the client reads nothing).
"""
import asyncio
import json

import pytest
import websockets

import tgtest
from tgtest import connect_auth, mint, run, wait_for
from tgtest import scaled


@pytest.fixture(scope="module")
def d():
    d = tgtest.start_daemon(tgtest.feed_conf(rate=2000, symbols=("AAPL", "MSFT", "NVDA", "SPY")) +
                           "limits = { msgs_per_s = 5; burst = 10; max_stall_ms = 1000; "
                           "max_pending_bytes = 262144; };\n")
    yield d
    d.cleanup()


def closed(d, code):
    text = tgtest.metrics_text("http://127.0.0.1:%d" % d.port)
    return tgtest.metric_value(text, "tickgate_clients_closed_total", {"code": str(code)})


# sizes a sanitized server drains well within the 2 s lingering bound
@pytest.mark.parametrize("n,pad", [(300, 0), (2000, 0), (400, 1000)])
def test_flood_without_reading_gets_error_and_1008(d, n, pad):
    async def go():
        ws = await websockets.connect(d.url() + "?token=" + mint(), max_size=None,
                                      ping_interval=None, close_timeout=5)
        sent_after_close = False
        try:
            # a tight send loop: the client does not read while it floods
            for i in range(n):
                await ws.send(json.dumps({"type": "ping", "id": i, "pad": "x" * pad}))
        except websockets.ConnectionClosed as e:
            sent_after_close = True
            assert e.rcvd is not None, "connection reset under the flood (no close frame read)"
        msgs = []
        try:
            while True:
                frame = await asyncio.wait_for(ws.recv(), scaled(10))
                msgs.extend(tgtest.split_frame(frame))
        except websockets.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else 1006
        assert code == 1008, (code, sent_after_close, [m.get("type") for m in msgs][-5:])
        errs = [m for m in msgs if m.get("type") == "error"]
        assert errs and {e["code"] for e in errs} == {"rate_limited"}, msgs[-5:]
    before = closed(d, 1008)
    run(go())
    assert wait_for(lambda: closed(d, 1008) >= before + 1, 5)


def test_stalled_4008_counted_without_its_close_frame(d):
    before = closed(d, 4008)

    async def go():
        c, _ = await connect_auth(d.url(), mint(), max_queue=1, read_limit=1024, rcvbuf=4096)
        await c.subscribe("market_data", ["*"], id=1)
        await c.stall()  # never reads again: the close frame cannot reach it
        ok = await asyncio.get_running_loop().run_in_executor(
            None, lambda: wait_for(lambda: closed(d, 4008) >= before + 1, 30))
        assert ok, "a 4008 close is counted when it is decided"
        c.ws.transport.abort()
    run(go())


def test_raw_flood_gets_close_frame_then_fin_not_reset(d):
    """A client that floods and never answers the close frame: every send
    succeeds (no reset under the flood: its input is drained), then it reads
    the `rate_limited` errors, the 1008 close frame and a FIN."""
    import struct

    from test_rfc6455 import frame, handshake, read_http_101
    s = handshake(d.port, "/ws?token=" + mint())
    st, _, data = read_http_101(s)
    assert st == 101
    ping = frame(json.dumps({"type": "ping"}).encode())
    for _ in range(100):
        s.sendall(ping * 3)  # raises on a reset
    s.settimeout(10)
    while True:
        x = s.recv(65536)
        if not x:
            break  # FIN
        data += x
    codes, errs = [], 0
    while len(data) >= 2:
        op, n, off = data[0] & 0x0f, data[1] & 0x7f, 2
        if n == 126:
            n, off = struct.unpack(">H", data[2:4])[0], 4
        payload, data = data[off:off + n], data[off + n:]
        if op == 8:
            codes.append(struct.unpack(">H", payload[:2])[0])
        elif b"rate_limited" in payload:
            errs += 1
    assert codes == [1008] and errs >= 1, (codes, errs)
    s.close()
