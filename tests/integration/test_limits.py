"""Limits (SPEC §5): 1009, rate limiting, max_subscriptions, hostile input, per-IP cap."""
import asyncio
import json

import pytest
import websockets

import tgtest
from tgtest import WS, connect_auth, mint, run


@pytest.fixture(scope="module")
def d():
    d = tgtest.start_daemon(tgtest.feed_conf(rate=100) +
                           "limits = { max_message_bytes = 4096; max_subscriptions = 3; "
                           "msgs_per_s = 5; burst = 10; max_conns_per_ip = 3; };\n")
    yield d
    d.cleanup()


async def alive(c, id="alive"):
    await c.send({"type": "ping", "id": id})
    m = await c.recv_type("pong")
    assert m["id"] == id


def test_oversize_1009(d):
    async def go():
        c, _ = await connect_auth(d.url(), mint())
        await c.send(json.dumps({"type": "ping", "pad": "x" * 4200}))
        code, _ = await c.until_closed(5)
        assert code == 1009
        c, _ = await connect_auth(d.url(), mint())
        await c.send(json.dumps({"type": "ping", "id": 1, "pad": "x" * 3900}))
        assert (await c.recv_type("pong"))["id"] == 1, "just under the limit is fine"
        await c.close()
    run(go())


def test_oversize_fragmented_1009(d):
    async def go():
        c, _ = await connect_auth(d.url(), mint())
        await c.ws.send(("x" * 1000 for _ in range(6)))  # one message, 6 fragments
        code, _ = await c.until_closed(5)
        assert code == 1009
    run(go())


def test_flood_rate_limited_then_1008(d):
    async def go():
        c, _ = await connect_auth(d.url(), mint())
        # read while flooding, as a real client does: a peer that never reads
        # while the server closes can lose the queued replies to a TCP reset
        reader = asyncio.ensure_future(c.until_closed(5))
        try:
            for i in range(22):  # burst 10: 11+ rejected, then stop (no flood into a close)
                await c.send({"type": "ping", "id": i})
                await asyncio.sleep(0)
        except websockets.ConnectionClosed:
            pass
        code, msgs = await reader
        errs = [m for m in msgs if m["type"] == "error"]
        assert errs and {e["code"] for e in errs} == {"rate_limited"}
        assert code == 1008
    run(go())


def test_rate_limited_under_threshold_keeps_connection(d):
    async def go():
        c, _ = await connect_auth(d.url(), mint())
        for i in range(14):  # burst 10: 4 rejected, below the 10-in-10s close threshold
            await c.send({"type": "ping", "id": i})
        msgs = await c.collect(1)
        assert [m["code"] for m in msgs if m["type"] == "error"] == ["rate_limited"] * 4
        assert len([m for m in msgs if m["type"] == "pong"]) == 10
        await asyncio.sleep(1)
        await alive(c)
        await c.close()
    run(go())


def test_max_subscriptions(d):
    async def go():
        c, _ = await connect_auth(d.url(), mint())
        await c.subscribe("market_data", ["AAPL", "MSFT", "NVDA", "SPY", "QQQ"], id=1)
        msgs = await c.collect(1)
        conf = [m for m in msgs if m["type"] == "subscription_confirmed"]
        errs = [m for m in msgs if m["type"] == "error"]
        assert conf and conf[0]["symbols"] == ["AAPL", "MSFT", "NVDA"]
        assert [(e["code"], e["id"]) for e in errs] == [("too_many_subscriptions", 1)] * 2
        await c.subscribe("notifications", id=2)
        m = await c.recv_type("error")
        assert m["code"] == "too_many_subscriptions" and m["id"] == 2
        await c.send({"type": "unsubscribe", "channel": "market_data", "symbols": ["NVDA"], "id": 3})
        await c.recv_type("unsubscription_confirmed")
        await c.subscribe("notifications", id=4)
        m = await c.recv_type("subscription_confirmed")
        assert m["id"] == 4
        await c.close()
    run(go())


HOSTILE = [
    "{",
    "[]",
    "null",
    '"ping"',
    '{"type":1}',
    '{"type":"ping","id":[1]}',
    '{"type":"ping","id":1.5}',
    '{"type":"dance"}',
    '{"type":"subscribe"}',
    '{"type":"subscribe","channel":"market_data"}',
    '{"type":"subscribe","channel":"market_data","symbols":[]}',
    '{"type":"subscribe","channel":"market_data","symbols":[1]}',
    '{"type":"subscribe","channel":"market_data","symbols":["%s"]}' % ("A" * 100),
    '{"type":"subscribe","channel":"market_data","symbols":["A"],"since":[1]}',
    '{"type":"subscribe","channel":"market_data","symbols":["A"],"since":{"A":-1}}',
    '{"type":"subscribe","channel":"market_data","symbols":["A"],"since":{"A":"x"}}',
    '{"type":"auth","token":5}',
    '{"type":"ping","id":"%s"}' % ("i" * 100),
    '\xff\xfe',
]


def test_hostile_input_bad_request(d):
    async def go():
        c, _ = await connect_auth(d.url(), mint(sub="h"))
        for i, h in enumerate(HOSTILE):
            if i % 8 == 7:
                await asyncio.sleep(2)  # stay under the 5/s, burst 10 limit
            await c.send(h)
            m = await c.recv(3)
            assert m["type"] == "error" and m["code"] in ("bad_request", "unknown_channel"), (h, m)
        await c.close()
    run(go())


def test_huge_array_and_deep_nesting(d):
    d2 = tgtest.start_daemon(tgtest.feed_conf(rate=100) + "limits = { max_message_bytes = 1048576; };\n")
    try:
        async def go():
            c, _ = await connect_auth(d2.url(), mint(sub="h"))
            arr = json.dumps({"type": "subscribe", "channel": "market_data",
                              "symbols": ["A"] * 100000})
            await c.send(arr)
            m = await c.recv_type("error", timeout=10)
            assert m["code"] == "bad_request"
            await c.send('{"type":"ping","x":' + "[" * 10000 + "]" * 10000 + "}")
            m = await c.recv_type("error", timeout=10)
            assert m["code"] == "bad_request"
            await c.send("[" * 10000)
            m = await c.recv_type("error", timeout=10)
            assert m["code"] == "bad_request"
            await alive(c)
            await c.close()
        run(go())
        assert d2.proc.poll() is None, "daemon alive"
        assert tgtest.http("http://127.0.0.1:%d" % d2.port, "/health")[0] == 200
    finally:
        d2.cleanup()


def test_per_ip_cap(d):
    """max_conns_per_ip = 3: a fourth connection from the same address is refused
    before the handshake (no WebSocket, no resources); closing one frees a slot."""
    async def go():
        cs = [(await connect_auth(d.url(), mint(sub="ip%d" % i)))[0] for i in range(3)]
        with pytest.raises(Exception):
            await WS.open(d.url(), token=mint(sub="ip4"))
        await cs[0].close()
        await asyncio.sleep(0.3)
        c, _ = await connect_auth(d.url(), mint(sub="ip5"))
        await c.close()
        for x in cs[1:]:
            await x.close()
    run(go())
