"""Token revocation through a real Redis (SPEC §5): the key
revoked_token:<hex SHA-256 of the token> refuses the token at connect (an
`error` token_revoked, close 1008, no data), on re-auth, and on open connections
at the 30 s re-check (token_revoked, close 4001); counted by reason."""
import asyncio
import hashlib
import json
import time

import pytest
import websockets

import tgtest
from tgtest import Daemon, run


@pytest.fixture
def setup():
    r = tgtest.Redis().start()
    d = Daemon(config='feeds = ({ name = "syn"; type = "synthetic"; });\n'
                      'redis = { url = "%s"; };\n' % r.url)
    d.start()
    yield d, r
    d.cleanup()
    r.cleanup()


def revoke(r, token):
    r.client().set("revoked_token:" + hashlib.sha256(token.encode()).hexdigest(), "1")


async def read_until_closed(ws, timeout):
    msgs = []
    end = time.time() + timeout
    try:
        while time.time() < end:
            frame = await asyncio.wait_for(ws.recv(), max(0.1, end - time.time()))
            msgs.extend(json.loads(l) for l in frame.split("\n"))
    except websockets.ConnectionClosed as e:
        return e.code, msgs
    except asyncio.TimeoutError:
        pass
    return None, msgs


async def revoked_on_open_connection_within_30s(d, r):
    """Issue 13 item 6: only the open connection uses the token, so nothing
    refreshes its cached "not revoked" verdict: the 30 s re-check must ask Redis
    again (a cached verdict does not count as fresh) and act on the answer as
    soon as it arrives. Before, this connection was closed after about 60 s.
    Runs beside the other case (its own user and token) so the suite waits out
    the 30 s re-check once."""
    tok = d.token("dora", ttl="10m")
    ws = await websockets.connect(d.url() + "?token=" + tok)
    assert json.loads(await ws.recv())["type"] == "connection_established"
    revoke(r, tok)
    t0 = time.time()
    code, msgs = await read_until_closed(ws, 50)
    assert code == 4001, code
    assert any(m.get("code") == "token_revoked" for m in msgs)
    # the contract's bound (SPEC §5: re-checked every 30 s), with 15 s of slack for
    # a loaded machine; not scaled: the defect this guards against took 60 s
    assert time.time() - t0 <= 45, time.time() - t0


def test_revoked_at_connect_and_on_open_connections(setup):
    d, r = setup
    tok = d.token("bob", ttl="10m")
    other = d.token("carl", ttl="10m")

    async def go():
        # not revoked: normal session
        ws = await websockets.connect(d.url() + "?token=" + tok)
        assert json.loads(await ws.recv())["type"] == "connection_established"
        await ws.send(json.dumps({"type": "subscribe", "channel": "market_data",
                                  "symbols": ["AAPL"], "id": 1}))
        t0 = time.time()
        revoke(r, tok)
        # a new connection with the revoked token: one error, 1008, no data
        ws2 = await websockets.connect(d.url() + "?token=" + tok)
        code, msgs = await read_until_closed(ws2, 5)
        assert code == 1008
        assert [m["type"] for m in msgs] == ["error"] and msgs[0]["code"] == "token_revoked"
        # another user's connection is unaffected
        ws3 = await websockets.connect(d.url() + "?token=" + other)
        assert json.loads(await ws3.recv())["type"] == "connection_established"
        # the open connection: closed with 4001 at its 30 s re-check
        code, msgs = await read_until_closed(ws, 40)
        assert code == 4001, code
        assert any(m.get("code") == "token_revoked" for m in msgs)
        assert time.time() - t0 <= 35
        await ws3.close()

    async def both():
        await asyncio.gather(go(), revoked_on_open_connection_within_30s(d, r))

    run(both())
    _, body = d.http("/metrics")
    assert b'tickgate_auth_failures_total{reason="revoked"}' in body


