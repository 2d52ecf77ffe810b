"""Issue 6: Redis against a real Redis 7 - quote hashes, alert stream, outage,
redis.publish read by a second tickgate's `redis` feed."""
import asyncio
import json
import re
import time

import msgpack
import pytest

from tgtest import Client, Daemon, run, scaled, wait_for
import tgtest

pytestmark = pytest.mark.skipif(not tgtest.have_redis(), reason="no redis-server")


@pytest.fixture
def redis_srv():
    r = tgtest.Redis().start()
    yield r
    r.cleanup()



def metric(d, name):
    for line in d.http("/metrics")[1].decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


SYN = ('feeds = ({ name = "syn"; type = "synthetic"; rate = 200; '
       'symbols = ["AAPL", "MSFT", "IBM"]; });\n')


def test_quote_hashes_and_outage_keep_market_data_flowing(redis_srv):
    d = Daemon(config=SYN + 'redis = { url = "%s"; command_timeout_ms = 250; };\n' % redis_srv.url)
    d.start()
    try:
        rc = redis_srv.client()
        h = wait_for(lambda: rc.hgetall("tickgate:quote:AAPL"), 5)
        assert h[b"source"] == b"syn" and b"price" in h and b"bid" in h
        assert 0 < rc.ttl("tickgate:quote:AAPL") <= 60
        assert wait_for(lambda: metric(d, "tickgate_redis_up") == 1, 5)
        assert json.loads(d.http("/health/ready")[1])["components"]["redis"] == "ok"
        tok = d.token("u-1")

        async def go():
            c = await Client.connect(d.url() + "?token=" + tok)
            await c.recv_type("connection_established")
            await c.send({"type": "subscribe", "channel": "market_data", "symbols": ["*"]})
            await c.recv_type("quote")
            redis_srv.stop()
            # quotes keep flowing while Redis is down
            t0, n = time.time(), 0
            while time.time() - t0 < 1.5:
                await c.recv_type("quote", timeout=1)
                n += 1
            assert n > 100, n
            assert wait_for(lambda: metric(d, "tickgate_redis_up") == 0, 3)
            st, body = d.http("/health/ready")
            assert st == 200 and json.loads(body)["status"] == "degraded", body
            redis_srv.start()
            assert wait_for(lambda: metric(d, "tickgate_redis_up") == 1, 5)
            await c.recv_type("quote", timeout=1)
            # the cache is written again after the reconnect
            assert wait_for(lambda: redis_srv.client().hgetall("tickgate:quote:MSFT"), 3)
            await c.close()
        run(go())
        log = d.log()
        assert "redis_down" in log and "redis_up" in log
    finally:
        d.cleanup()


def test_alert_stream(redis_srv, tmp_path):
    pf = tmp_path / "pf.json"
    pf.write_text(json.dumps({"portfolios": [{
        "id": "p-a", "owner": "u-1", "cash": "0",
        "holdings": [{"symbol": "AAA", "quantity": "1", "cost_basis": "100", "target_weight": "0"}],
        "alerts": {"price_above": {"AAA": "150"}, "rebalance_drift": None, "loss_limit": None,
                   "gain_target": None}}]}))
    csv = tmp_path / "t.csv"
    csv.write_text("1000000000,AAA,200,1\n")
    d = Daemon(config='feeds = ({ name = "f"; type = "replay"; path = "%s"; speed = "max"; });\n'
               'engine = { portfolios_file = "%s"; };\nredis = { url = "%s"; };\n'
               % (csv, pf, redis_srv.url))
    d.start()
    try:
        rc = redis_srv.client()
        xs = wait_for(lambda: rc.xrange("tickgate:alerts"), 5)
        assert len(xs) == 1
        f = xs[0][1]
        assert f[b"rule"] == b"price_above" and f[b"state"] == b"firing"
        assert f[b"portfolio_id"] == b"p-a" and f[b"value"] == b"200" and f[b"symbol"] == b"AAA"
    finally:
        d.cleanup()


def test_publish_feeds_a_second_node(redis_srv, tmp_path):
    """redis.publish on an ingest node; a gateway node with a `redis` feed gets the same ticks."""
    csv = tmp_path / "t.csv"
    rows = ["%d,S%d,%d.%02d,%d,%d.%02d,%d.%02d" % (1000000000 + i, i % 5, 10 + i, i % 100, i + 1,
                                                    10 + i, i % 100, 11 + i, i % 100)
            for i in range(200)]
    csv.write_text("\n".join(rows) + "\n")
    gw = Daemon(config='feeds = ({ name = "bus"; type = "redis"; channel = "tickgate:ticks"; });\n'
                'redis = { url = "%s"; };\n' % redis_srv.url)
    gw.start()
    try:
        tok = gw.token("u-1")
        ingest = None

        async def go():
            nonlocal ingest
            c = await Client.connect(gw.url() + "?token=" + tok)
            await c.recv_type("connection_established")
            await c.send({"type": "subscribe", "channel": "market_data", "symbols": ["*"]})
            await c.recv_type("subscription_confirmed")
            # also listen on the channel directly to check the wire format
            ps = redis_srv.client().pubsub()
            ps.subscribe("tickgate:ticks")
            assert wait_for(lambda: "feed_connected" in gw.log(), 5)
            ingest = Daemon(config='feeds = ({ name = "src"; type = "replay"; path = "%s"; '
                            'speed = "max"; });\nredis = { url = "%s"; publish = true; };\n'
                            % (csv, redis_srv.url))
            ingest.start()
            # every quote is one of the published ticks, in order per symbol (a slow
            # client may see conflated quotes), and each symbol ends on its last tick
            expect = {}
            for i in range(200):
                expect.setdefault("S%d" % (i % 5), []).append(
                    (float("%d.%02d" % (10 + i, i % 100)), float("%d.%02d" % (10 + i, i % 100))))
            seen = {k: [] for k in expect}
            end = time.time() + 15
            while time.time() < end and any(not seen[k] or seen[k][-1] != expect[k][-1]
                                            for k in expect):
                m = await c.recv_type("quote", timeout=5)
                assert m["source"] == "bus"
                seen[m["symbol"]].append((m["price"], m["bid"]))
            for k in expect:
                assert seen[k] and seen[k][-1] == expect[k][-1], (k, seen[k][-3:])
                it = iter(expect[k])
                assert all(any(x == y for y in it) for x in seen[k]), k  # ordered subsequence
            wire = None
            end = time.time() + 3
            while wire is None and time.time() < end:
                msg = ps.get_message(timeout=0.5)
                if msg and msg["type"] == "message":
                    wire = msgpack.unpackb(msg["data"], raw=False)
            assert wire is not None
            assert set(wire) == {"symbol", "price", "size", "bid", "ask", "ts", "src_ts", "source"}
            assert isinstance(wire["price"], str) and wire["source"] == "src"
            await c.close()
        run(go())
    finally:
        gw.cleanup()
        if ingest:
            ingest.cleanup()


def test_redis_feed_stream_mode(redis_srv):
    """A `redis` feed with `stream` set reads entries (field `tick`, or the first
    field) with XREAD from the newest; a malformed entry is a parse error, not fatal."""
    import msgpack
    gw = Daemon(config='feeds = ({ name = "sbus"; type = "redis"; stream = "ticks:s"; });\n'
                'redis = { url = "%s"; };\n' % redis_srv.url)
    gw.start()
    try:
        tok = gw.token("u-1")

        def tick(sym, price):
            return msgpack.packb({"symbol": sym, "price": price, "size": "1", "bid": None,
                                  "ask": None, "ts": time.time_ns(), "src_ts": None,
                                  "source": "x"})

        async def go():
            c = await Client.connect(gw.url() + "?token=" + tok)
            await c.recv_type("connection_established")
            await c.send({"type": "subscribe", "channel": "market_data", "symbols": ["SA", "SB"]})
            await c.recv_type("subscription_confirmed")
            r = redis_srv.client()
            # the feed reads from the newest entry ("$"): add only once its XREAD waits
            assert await asyncio.to_thread(
                wait_for, lambda: any(cl.get("cmd") == "xread" for cl in r.client_list()), 10)
            r.xadd("ticks:s", {"tick": tick("SA", "10.5")})
            r.xadd("ticks:s", {"other": b"\xc1"})              # malformed: the first field
            r.xadd("ticks:s", {"x": "1", "tick": tick("SB", "20.25")})
            got = {}
            while len(got) < 2:
                m = await c.recv_type("quote", timeout=scaled(10))
                got[m["symbol"]] = m["price"]
            assert got == {"SA": 10.5, "SB": 20.25}, got
            await c.close()
        run(go())
        st, body = gw.http("/metrics")
        assert re.search(r'tickgate_ticks_rejected_total\{feed="sbus",reason="parse_error"\} 1\b',
                         body.decode()), body.decode()[-2000:]
    finally:
        gw.cleanup()


def test_alert_fired_while_redis_down_reaches_the_stream(tmp_path):
    """An alert that fires before Redis is reachable waits in its ring and is written
    to the stream once Redis is up (it used to be popped and dropped)."""
    srv = tgtest.Redis()  # not started yet: the daemon starts with Redis down
    pf = tmp_path / "pf.json"
    pf.write_text(json.dumps({"portfolios": [{
        "id": "p-a", "owner": "u-1", "cash": "0",
        "holdings": [{"symbol": "AAA", "quantity": "1", "cost_basis": "100", "target_weight": "0"}],
        "alerts": {"price_above": {"AAA": "150"}, "rebalance_drift": None, "loss_limit": None,
                   "gain_target": None}}]}))
    csv = tmp_path / "t.csv"
    csv.write_text("1000000000,AAA,200,1\n")
    d = Daemon(config='feeds = ({ name = "f"; type = "replay"; path = "%s"; speed = "max"; });\n'
               'engine = { portfolios_file = "%s"; };\nredis = { url = "%s"; };\n'
               % (csv, pf, srv.url))
    d.start()
    try:
        assert wait_for(lambda: '"alert"' in d.log() and "price_above" in d.log(), 10)
        assert metric(d, "tickgate_redis_up") == 0
        srv.start()
        rc = srv.client()
        xs = wait_for(lambda: rc.xrange("tickgate:alerts"), 10)
        assert len(xs) == 1, xs
        f = xs[0][1]
        assert f[b"rule"] == b"price_above" and f[b"state"] == b"firing" and f[b"value"] == b"200"
    finally:
        d.cleanup()
        srv.cleanup()
