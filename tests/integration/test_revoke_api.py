"""Issue 16: POST /api/v1/tokens/revoke - by token and by sub, on one node
without Redis, and across two nodes sharing a real Redis (keys, the
tickgate:revocations stream and channel, a node started afterwards)."""
import asyncio
import hashlib
import json
import time

import pytest

from tgtest import WS, SECRET, mint, start_daemon
import tgtest

CONF = ('feeds = ({ name = "syn"; type = "synthetic"; rate = 50; symbols = ["AAPL"]; });\n'
        'limits = { http_per_min = 100000; };\n')


def revoke(d, body, tok=None):
    tok = tok or mint(sub="ops", roles=["admin"])
    st, b = d.http("/api/v1/tokens/revoke", method="POST", token=tok,
                   body=json.dumps(body).encode())
    return st, json.loads(b)


async def established(d, tok):
    c = await WS.open(d.url(), token=tok)
    m = await c.recv_type("connection_established", 10)
    assert m["type"] == "connection_established"
    return c


async def closed_with(c, code, timeout=10):
    got, msgs = await c.until_closed(timeout)
    assert got == code, (got, msgs[-3:])
    assert any(m.get("type") == "error" and m.get("code") == "token_revoked" for m in msgs), msgs
    return got


async def still_open(c):
    await c.send({"type": "ping", "id": 9})
    await c.recv_type("pong", 5)


def test_revoke_one_node_without_redis():
    d = start_daemon(CONF)
    try:
        now = int(time.time())
        a = mint(sub="u-1", now=now - 5)
        b = mint(sub="u-1", now=now - 4, ttl=901)
        other = mint(sub="u-2", now=now - 5)
        # not an admin, bad bodies
        assert revoke(d, {"sub": "u-1"}, tok=mint(sub="u-3"))[0] == 403
        for body in ({}, {"sub": ""}, {"token": 5}, {"token": "x.y.z"}, {"sub": "u", "token": a},
                     {"sub": "u" * 200}, [1]):
            st, r = revoke(d, body)
            assert st == 400 and r["success"] is False, body

        async def go():
            ca, cb, co = await established(d, a), await established(d, b), await established(d, other)
            st, r = revoke(d, {"token": a})
            assert st == 200 and r["data"]["revoked"] == "token" and r["data"]["shared"] is False
            assert r["data"]["token_sha256"] == hashlib.sha256(a.encode()).hexdigest()
            await closed_with(ca, 4001)
            await still_open(cb)
            await still_open(co)
            # the revoked token cannot come back
            c = await WS.open(d.url(), token=a)
            await closed_with(c, 1008)
            # by sub: every u-1 token issued up to now, open or new
            st, r = revoke(d, {"sub": "u-1"})
            assert st == 200 and r["data"] == {"revoked": "sub", "sub": "u-1",
                                               "at": r["data"]["at"], "shared": False}
            await closed_with(cb, 4001)
            await still_open(co)
            c = await WS.open(d.url(), token=b)
            await closed_with(c, 1008)
            # a token issued after the revocation works
            fresh = mint(sub="u-1", now=r["data"]["at"] + 1)
            c = await established(d, fresh)
            await still_open(c)
            for x in (c, co):
                await x.close()
        asyncio.run(go())
    finally:
        d.cleanup()


@pytest.mark.skipif(not tgtest.have_redis(), reason="no redis-server")
def test_revoke_across_two_nodes_sharing_redis():
    rs = tgtest.Redis().start()
    nodes = []
    try:
        conf = CONF + 'redis = { url = "%s"; };\n' % rs.url
        n1, n2 = start_daemon(conf), start_daemon(conf)
        nodes += [n1, n2]
        rc = rs.client()
        ps = rc.pubsub()
        ps.subscribe("tickgate:revocations")
        now = int(time.time())
        t1 = mint(sub="u-7", now=now - 5)
        t2 = mint(sub="u-8", now=now - 5)
        t3 = mint(sub="u-8", now=now - 3, ttl=902)
        keep = mint(sub="u-9", now=now - 5)

        async def go():
            c1 = await established(n2, t1)
            c2, c3, ck = await established(n2, t2), await established(n1, t3), \
                await established(n2, keep)
            # by token, asked on node 1, closes the connection on node 2
            st, r = revoke(n1, {"token": t1})
            assert st == 200 and r["data"]["shared"] is True
            await closed_with(c1, 4001)
            h = hashlib.sha256(t1.encode()).hexdigest()
            assert rc.get("revoked_token:" + h) == b"1"
            assert 0 < rc.ttl("revoked_token:" + h) <= 900 + 5 + 5
            # by sub, asked on node 2: node 1's and node 2's u-8 connections close
            st, r = revoke(n2, {"sub": "u-8"})
            assert st == 200 and r["data"]["shared"] is True
            await closed_with(c2, 4001)
            await closed_with(c3, 4001)
            assert int(rc.get("revoked_sub:u-8")) == r["data"]["at"]
            await still_open(ck)
            await ck.close()
            return r["data"]["at"]
        at = asyncio.run(go())
        # announced on the channel too
        msgs = []
        end = time.time() + 5
        while time.time() < end and len(msgs) < 2:
            m = ps.get_message(timeout=0.5)
            if m and m["type"] == "message":
                msgs.append(json.loads(m["data"]))
        assert {"token_sha256": hashlib.sha256(t1.encode()).hexdigest(),
                "at": msgs[0]["at"]} == msgs[0]
        assert msgs[1] == {"sub": "u-8", "at": at}
        # a node started afterwards knows the sub's revocation from the stream
        n3 = start_daemon(conf)
        nodes.append(n3)

        async def late():
            for _ in range(50):  # until it has read the stream (it polls every 500 ms)
                c = await WS.open(n3.url(), token=t3)
                m = await c.recv(10)
                if m.get("type") == "error":
                    assert m["code"] == "token_revoked"
                    got, _ = await c.until_closed(10)
                    assert got == 1008
                    return
                await c.close()
                await asyncio.sleep(0.2)
            raise AssertionError("node 3 accepted a revoked sub's token")
        asyncio.run(late())
    finally:
        for n in nodes:
            n.cleanup()
        rs.cleanup()
