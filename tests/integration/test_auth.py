"""Authentication paths (SPEC §5): token via query, header, first message;
every failure reason closes 1008 with no data; expiry mid-connection; RS256."""
import asyncio
import os
import subprocess
import time

import jwt as pyjwt
import pytest
import websockets

import tgtest
from tgtest import SECRET, WS, connect_auth, metric_value, metrics_text, mint, run, scaled, unsigned_token


@pytest.fixture(scope="module")
def d():
    d = tgtest.start_daemon(tgtest.feed_conf(rate=100) +
                           'auth = { jwt_secret = "%s"; leeway_s = 0; auth_timeout_ms = 700; };\n'
                           % SECRET)
    yield d
    d.cleanup()


def base(d):
    return "http://127.0.0.1:%d" % d.port


async def refused(url, token=None, headers=None, first=None):
    """Connect; the server must close 1008 with at most one error and no data."""
    c = await WS.open(url, token=token, headers=headers)
    if first is not None:
        await c.send(first)
    code, msgs = await c.until_closed(5)
    assert code == 1008, code
    assert len(msgs) <= 1 and all(m["type"] == "error" for m in msgs), msgs
    return msgs


def test_token_in_query(d):
    async def go():
        c, m = await connect_auth(d.url(), mint(sub="q-user"))
        assert m["user_id"] == "q-user"
        await c.close()
    run(go())


def test_token_in_bearer_header(d):
    async def go():
        c = await WS.open(d.url(), headers={"Authorization": "Bearer " + mint(sub="h-user")})
        m = await c.recv()
        assert m["type"] == "connection_established" and m["user_id"] == "h-user"
        await c.close()
    run(go())


def test_token_in_first_message_and_nothing_before(d):
    async def go():
        c = await WS.open(d.url())
        early = await c.collect(0.3)
        assert early == [], "nothing before a valid auth"
        await c.send({"type": "auth", "token": mint(sub="m-user")})
        m = await c.recv()
        assert m["type"] == "connection_established" and m["user_id"] == "m-user"
        await c.subscribe("market_data", ["AAPL"], id=1)
        assert (await c.recv_type("subscription_confirmed"))["id"] == 1
        await c.close()
    run(go())


def test_first_message_auth_via_msgpack(d):
    async def go():
        c = await WS.open(d.url())
        await c.send_mp({"type": "auth", "token": mint(sub="mp-user")})
        m = await c.recv()
        assert m["type"] == "connection_established" and m["user_id"] == "mp-user"
        await c.close()
    run(go())


def now():
    return int(time.time())


FAILURES = {
    "bad_signature": lambda: mint(secret="another-secret-0123456789abcdef"),
    "alg_none": lambda: unsigned_token({"sub": "u", "exp": now() + 600}),
    "alg_hs384": lambda: mint(alg="HS384"),
    "expired": lambda: mint(now=now() - 3600, ttl=60),
    "not_yet_valid": lambda: mint(nbf=now() + 3600),
    "malformed": lambda: "not-a-jwt",
    "malformed_b64": lambda: mint()[:-3] + "***",
    "missing_sub": lambda: mint(drop=("sub",)),
    "missing_exp": lambda: mint(drop=("exp",)),
    "empty_sub": lambda: mint(sub=""),
}


def rs256_token(tmpdir):
    key = os.path.join(tmpdir, "rs.key")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
    return mint(alg="RS256", key=open(key).read())


@pytest.mark.parametrize("reason", sorted(FAILURES) + ["alg_rs256"])
@pytest.mark.parametrize("path", ["query", "header", "message"])
def test_failure_closes_1008(d, reason, path):
    tok = rs256_token(d.dir) if reason == "alg_rs256" else FAILURES[reason]()

    async def go():
        if path == "query":
            await refused(d.url(), token=tok)
        elif path == "header":
            await refused(d.url(), headers={"Authorization": "Bearer " + tok})
        else:
            msgs = await refused(d.url(), first={"type": "auth", "token": tok})
            assert msgs and msgs[0]["code"] == "unauthorized", "an error precedes the close"
    run(go())


def test_failures_counted_by_reason(d):
    before = metrics_text(base(d))

    async def go():
        await refused(d.url(), token=FAILURES["bad_signature"]())
        await refused(d.url(), token=FAILURES["expired"]())
        await refused(d.url(), token=FAILURES["alg_none"]())
        await refused(d.url(), token=FAILURES["not_yet_valid"]())
    run(go())
    after = metrics_text(base(d))
    for reason in ("bad_signature", "expired", "alg_mismatch", "not_yet_valid"):
        b = metric_value(before, "tickgate_auth_failures_total", {"reason": reason}) or 0
        a = metric_value(after, "tickgate_auth_failures_total", {"reason": reason}) or 0
        assert a >= b + 1, (reason, b, a)


def test_missing_token_then_other_message(d):
    async def go():
        msgs = await refused(d.url(), first={"type": "ping", "id": 1})
        assert [m["code"] for m in msgs] == ["unauthorized"]
    run(go())


def test_auth_timeout(d):
    async def go():
        c = await WS.open(d.url())
        t0 = time.time()
        code, msgs = await c.until_closed(4)
        assert code == 1008 and 0.5 <= time.time() - t0 < scaled(2.5)
        assert all(m["type"] == "error" for m in msgs) and len(msgs) <= 1
    run(go())


def test_expiry_mid_connection_4001(d):
    async def go():
        c, _ = await connect_auth(d.url(), mint(sub="exp-user", ttl=2))
        await c.subscribe("market_data", ["AAPL"], id=1)
        t0 = time.time()
        code, msgs = await c.until_closed(6)
        assert code == 4001
        assert 0.5 < time.time() - t0 < scaled(4)
        errs = [m for m in msgs if m["type"] == "error"]
        assert [e["code"] for e in errs] == ["token_expired"]
    run(go())


def test_reauth_same_sub_keeps_connection(d):
    async def go():
        c, _ = await connect_auth(d.url(), mint(sub="re-user", ttl=2))
        await asyncio.sleep(1)
        await c.send({"type": "auth", "token": mint(sub="re-user", ttl=60)})
        await asyncio.sleep(2.5)
        await c.send({"type": "ping", "id": "after"})
        m = await c.recv_type("pong")
        assert m["id"] == "after"
        await c.close()
    run(go())


def test_reauth_other_sub_refused(d):
    async def go():
        c, _ = await connect_auth(d.url(), mint(sub="alpha", ttl=2))
        await c.send({"type": "auth", "token": mint(sub="beta", ttl=60), "id": 3})
        m = await c.recv_type("error")
        assert m["code"] == "unauthorized" and m.get("id") == 3
        # the old token still rules: it expires and the connection ends with 4001
        code, _ = await c.until_closed(5)
        assert code == 4001
    run(go())


def test_rs256():
    import tempfile
    tmp = tempfile.mkdtemp(prefix="tg-rs-")
    key, pub = os.path.join(tmp, "k.pem"), os.path.join(tmp, "pub.pem")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    d = tgtest.start_daemon(tgtest.feed_conf(rate=50) +
                           'auth = { jwt_alg = "RS256"; jwt_public_key = "%s"; };\n' % pub,
                           secret=None)
    try:
        priv = open(key).read()

        async def go():
            c, m = await connect_auth(d.url(), mint(sub="rs-user", alg="RS256", key=priv))
            assert m["user_id"] == "rs-user"
            await c.close()
            # HS256 signed with the public key text (the classic confusion) is refused
            conf = pyjwt.api_jws.PyJWS()
            conf._algorithms["HS256"].prepare_key = lambda k: k
            tok = conf.encode(
                b'{"sub":"evil","exp":%d}' % (now() + 600), open(pub, "rb").read(),
                algorithm="HS256")
            await refused(d.url(), token=tok)
            await refused(d.url(), token=unsigned_token({"sub": "u", "exp": now() + 600}))
            other = os.path.join(tmp, "o.pem")
            subprocess.run(["openssl", "genrsa", "-out", other, "2048"], check=True,
                           capture_output=True)
            await refused(d.url(), token=mint(alg="RS256", key=open(other).read()))
        run(go())
    finally:
        d.cleanup()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
