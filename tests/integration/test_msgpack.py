"""MessagePack encoding (SPEC §5), decoded with python3-msgpack (independent of msgpack-c)."""
import json

import msgpack
import pytest

import tgtest
from tgtest import WS, mint, run


@pytest.fixture(scope="module")
def d():
    d = tgtest.start_daemon(tgtest.feed_conf(rate=2000, symbols=("AAPL", "MSFT", "NVDA", "SPY")))
    tgtest.wait_quotes("http://127.0.0.1:%d" % d.port, mint(sub="x"), ["AAPL"])
    yield d
    d.cleanup()


class Raw:
    """Keeps raw frames to check them, decodes them with an independent decoder."""

    def __init__(self, ws):
        self.ws = ws
        self.frames = []

    async def frame(self, timeout=5):
        import asyncio
        f = await asyncio.wait_for(self.ws.recv(), timeout)
        self.frames.append(f)
        return f

    async def msgs(self, n_frames, timeout=5):
        out = []
        for _ in range(n_frames):
            f = await self.frame(timeout)
            assert isinstance(f, bytes), "MessagePack comes in binary frames"
            up = msgpack.Unpacker(raw=False, strict_map_key=True)
            up.feed(f)
            ms = list(up)
            assert ms and all(isinstance(m, dict) for m in ms)
            out.extend(ms)
        return out


async def open_mp(d, how):
    import websockets
    tok = mint(sub="mp")
    if how == "query":
        ws = await websockets.connect(d.url() + "?format=msgpack&token=" + tok, max_size=None)
    else:
        ws = await websockets.connect(d.url() + "?token=" + tok, max_size=None,
                                      subprotocols=["tickgate.msgpack.v1"])
        assert ws.subprotocol == "tickgate.msgpack.v1"
    return Raw(ws)


def check_types(m):
    for k in ("ts", "seq", "src_ts", "server_time"):
        if k in m:
            assert isinstance(m[k], int) and m[k] >= 0, (k, m[k])
    if m["type"] == "quote":
        for k in ("price", "bid", "ask", "size", "volume", "day_open", "day_change_pct"):
            assert isinstance(m[k], float), (k, type(m[k]))


@pytest.mark.parametrize("how", ["query", "subprotocol"])
def test_frames_decode_with_independent_decoder(d, how):
    async def go():
        r = await open_mp(d, how)
        est = (await r.msgs(1))[0]
        assert est["type"] == "connection_established" and est["protocol"] == 1
        await r.ws.send(msgpack.packb({"type": "subscribe", "channel": "market_data",
                                       "symbols": ["*"], "id": 1}))
        ms = await r.msgs(60)
        assert ms[0] == {"type": "subscription_confirmed", "channel": "market_data",
                         "symbols": ["*"], "id": 1}
        quotes = [m for m in ms if m["type"] == "quote"]
        assert len(quotes) > 50
        for q in quotes:
            check_types(q)
        counts = []
        for f in r.frames:
            up = msgpack.Unpacker(raw=False)
            up.feed(f)
            counts.append(len(list(up)))
        assert max(counts) > 1, "several maps per frame at 2000 ticks/s"
        last = {}
        for q in quotes:
            if q["symbol"] in last:  # conflation may skip seq for a slow Python reader
                assert q["seq"] > last[q["symbol"]]
            last[q["symbol"]] = q["seq"]
        await r.ws.close()
    run(go())


def test_same_keys_as_json(d):
    async def go():
        r = await open_mp(d, "query")
        await r.msgs(1)
        await r.ws.send(msgpack.packb({"type": "snapshot", "channel": "market_data",
                                       "symbols": ["AAPL"], "id": "s"}))
        mp = (await r.msgs(1))[0]
        j, _ = await tgtest.connect_auth(d.url(), mint(sub="js"))
        await j.send({"type": "snapshot", "channel": "market_data", "symbols": ["AAPL"], "id": "s"})
        js = await j.recv_type("snapshot")
        assert set(mp) == set(js)
        assert set(mp["quotes"][0]) == set(js["quotes"][0])
        a, b = mp["quotes"][0], js["quotes"][0]
        if a["seq"] == b["seq"]:
            for k, v in a.items():
                assert v == b[k] or (isinstance(v, float) and abs(v - b[k]) <= abs(v) * 1e-15), k
        await r.ws.send(msgpack.packb({"type": "ping", "id": 7}))
        pong = (await r.msgs(1))[0]
        await j.send({"type": "ping", "id": 7})
        jp = await j.recv_type("pong")
        assert set(pong) == set(jp) and pong["id"] == 7
        await j.close()
        await r.ws.close()
    run(go())


def test_json_client_frames_on_msgpack_connection(d):
    async def go():
        r = await open_mp(d, "query")
        await r.msgs(1)
        await r.ws.send(json.dumps({"type": "ping", "id": 3}))
        m = (await r.msgs(1))[0]
        assert m["type"] == "pong" and m["id"] == 3
        await r.ws.close()
    run(go())


def test_msgpack_client_frames_on_json_connection(d):
    async def go():
        c, _ = await tgtest.connect_auth(d.url(), mint(sub="j"))
        await c.send_mp({"type": "subscribe", "channel": "market_data", "symbols": ["AAPL"],
                         "id": 4})
        m = await c.recv()
        assert m["type"] == "subscription_confirmed" and m["id"] == 4
        await c.close()
    run(go())


@pytest.mark.parametrize("payload", [
    b"\xc1",                                   # never used
    b"\x82\xa4type",                           # truncated map
    msgpack.packb({"type": "ping"}) + b"\x00",  # trailing bytes
    msgpack.packb({1: "ping"}),                # non-string key
    msgpack.packb({"type": b"ping"}, use_bin_type=True),
    msgpack.packb({"type": "ping", "id": float("nan")}),
    b"\x91" * 5000 + b"\xc0",                   # deep nesting
    b"\xdd\xff\xff\xff\xff",                    # huge array header
])
def test_malformed_msgpack_is_bad_request(d, payload):
    async def go():
        r = await open_mp(d, "query")
        await r.msgs(1)
        await r.ws.send(payload)
        m = (await r.msgs(1))[0]
        assert m["type"] == "error" and m["code"] == "bad_request", m
        await r.ws.send(msgpack.packb({"type": "ping", "id": 1}))
        assert (await r.msgs(1))[0]["type"] == "pong"
        await r.ws.close()
    run(go())
