"""TLS (SPEC §2/§5): wss:// and https:// with a throwaway self-signed certificate; TLS 1.1 refused."""
import asyncio
import json
import os
import ssl
import subprocess

import pytest

import tgtest
from tgtest import WS, mint, run


@pytest.fixture(scope="module")
def d():
    d = tgtest.Daemon(config="", secret=tgtest.SECRET)
    cert, key = os.path.join(d.dir, "c.pem"), os.path.join(d.dir, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    d.config = ('server = { listen = "127.0.0.1:%d"; tls = { cert = "%s"; key = "%s"; }; };\n'
                % (d.port, cert, key)) + tgtest.feed_conf(rate=100)
    d.start()
    d.cert = cert
    yield d
    d.cleanup()


def ctx(d, **kw):
    c = ssl.create_default_context(cafile=d.cert)
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def test_wss(d):
    async def go():
        c = await WS.open("wss://127.0.0.1:%d/ws" % d.port, token=mint(sub="tls"), ssl_ctx=ctx(d))
        m = await c.recv()
        assert m["type"] == "connection_established" and m["user_id"] == "tls"
        await c.subscribe("market_data", ["AAPL"], id=1)
        assert (await c.recv_type("quote", timeout=5))["symbol"] == "AAPL"
        await c.close()
    run(go())


def test_https_health(d):
    st, body, _ = tgtest.http("https://127.0.0.1:%d" % d.port, "/health", ctx=ctx(d))
    assert st == 200 and json.loads(body) == {"status": "ok"}


def test_tls_1_2_ok_1_1_refused(d):
    import socket
    c12 = ctx(d, minimum_version=ssl.TLSVersion.TLSv1_2, maximum_version=ssl.TLSVersion.TLSv1_2)
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
        with c12.wrap_socket(s, server_hostname="127.0.0.1") as t:
            assert t.version() == "TLSv1.2"
    c11 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c11.load_verify_locations(d.cert)
    c11.set_ciphers("ALL:@SECLEVEL=0")
    try:
        c11.minimum_version = ssl.TLSVersion.TLSv1_1
        c11.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot offer TLS 1.1 at all")
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
        with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
            with c11.wrap_socket(s, server_hostname="127.0.0.1") as t:
                pytest.fail("TLS 1.1 handshake succeeded: %s" % t.version())


def test_plain_ws_refused_on_tls_port(d):
    async def go():
        with pytest.raises(Exception):
            c = await WS.open("ws://127.0.0.1:%d/ws" % d.port, token=mint())
            await c.recv(2)
    run(go())
