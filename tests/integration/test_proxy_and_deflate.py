"""Behind a trusted proxy (server.trusted_proxies), the client address is the
rightmost untrusted X-Forwarded-For entry: the per-IP cap applies to it, not to
the proxy; an untrusted peer's X-Forwarded-For is ignored. And
permessage-deflate (server.compression) for clients that offer it."""
import asyncio
import json

import websockets

from tgtest import Daemon, run


def test_xff_from_trusted_proxy_is_capped_per_client():
    d = Daemon(config='feeds = ({ name = "syn"; type = "synthetic"; });\n'
                      'server = { listen = "127.0.0.1:%d"; trusted_proxies = ["127.0.0.0/8"]; };\n'
                      'limits = { max_conns_per_ip = 2; };\n' % 0)
    d.config = d.config.replace("127.0.0.1:0", "127.0.0.1:%d" % d.port)
    d.start()
    try:
        tok = d.token("p")

        async def conn(client_ip):
            return await websockets.connect(
                d.url() + "?token=" + tok,
                extra_headers={"X-Forwarded-For": "%s, 127.0.0.9" % client_ip})

        async def go():
            a1, a2 = await conn("203.0.113.7"), await conn("203.0.113.7")
            for w in (a1, a2):
                assert json.loads(await w.recv())["type"] == "connection_established"
            # a third from the same client: one error, then 1008
            a3 = await conn("203.0.113.7")
            m = json.loads(await a3.recv())
            assert m["type"] == "error" and m["code"] == "rate_limited"
            try:
                await asyncio.wait_for(a3.recv(), 3)
            except websockets.ConnectionClosed as e:
                assert e.code == 1008
            # another client behind the same proxy is not affected
            b1 = await conn("198.51.100.1")
            assert json.loads(await b1.recv())["type"] == "connection_established"
            # a slot frees when a connection closes
            await a1.close()
            await asyncio.sleep(0.3)
            a4 = await conn("203.0.113.7")
            assert json.loads(await a4.recv())["type"] == "connection_established"
            for w in (a2, b1, a4):
                await w.close()
        run(go())
    finally:
        d.cleanup()


def test_permessage_deflate_negotiated_and_plain_clients_unaffected():
    d = Daemon(config='feeds = ({ name = "syn"; type = "synthetic"; });\n'
                      'server = { listen = "127.0.0.1:0"; compression = true; };\n')
    d.config = d.config.replace("127.0.0.1:0", "127.0.0.1:%d" % d.port)
    d.start()
    try:
        tok = d.token("z")

        async def go():
            for comp in ("deflate", None):
                async with websockets.connect(d.url() + "?token=" + tok, compression=comp) as w:
                    ext = w.response_headers.get("Sec-WebSocket-Extensions") or ""
                    assert ("permessage-deflate" in ext) == (comp == "deflate"), ext
                    assert json.loads(await w.recv())["type"] == "connection_established"
                    await w.send(json.dumps({"type": "subscribe", "channel": "market_data",
                                             "symbols": ["*"]}))
                    quotes = 0
                    while quotes < 50:
                        for line in (await asyncio.wait_for(w.recv(), 5)).split("\n"):
                            quotes += json.loads(line)["type"] == "quote"
        run(go())
    finally:
        d.cleanup()


def test_xff_from_untrusted_peer_is_ignored():
    d = Daemon(config='feeds = ({ name = "syn"; type = "synthetic"; });\n'
                      'limits = { max_conns_per_ip = 2; };\n')
    d.start()
    try:
        tok = d.token("q")

        async def go():
            ws = []
            for ip in ("203.0.113.1", "203.0.113.2"):
                w = await websockets.connect(d.url() + "?token=" + tok,
                                             extra_headers={"X-Forwarded-For": ip})
                assert json.loads(await w.recv())["type"] == "connection_established"
                ws.append(w)
            # no trusted proxy: the header is ignored, the peer (loopback) is at its cap
            try:
                w = await websockets.connect(d.url() + "?token=" + tok,
                                             extra_headers={"X-Forwarded-For": "203.0.113.3"})
                await asyncio.wait_for(w.recv(), 3)
                raise AssertionError("third connection from one address was accepted")
            except (websockets.InvalidHandshake, websockets.ConnectionClosed, OSError,
                    asyncio.TimeoutError):
                pass
            for w in ws:
                await w.close()
        run(go())
    finally:
        d.cleanup()
