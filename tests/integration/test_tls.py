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


def tls_raw(d):
    import socket
    s = socket.create_connection(("127.0.0.1", d.port), timeout=tgtest.scaled(10))
    return ctx(d).wrap_socket(s, server_hostname="127.0.0.1")


def read_head(t):
    buf = b""
    while b"\r\n\r\n" not in buf:
        x = t.recv(65536)
        assert x, buf[:200]
        buf += x
    head, rest = buf.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), head, rest


@pytest.mark.parametrize("req,status", [
    (b"GET /health%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nHost: x\r\n" +
     b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 500) for i in range(40)) + b"\r\n", 431),
], ids=["bad-escape", "unknown-upgrade", "x-headers"])
def test_tls_requests_lws_refuses_get_json(d, req, status):
    # the same checks on TLS: the tap reads through SSL_read (wiretap.c)
    with tls_raw(d) as t:
        t.sendall(req)
        st, head, rest = read_head(t)
        assert st == status, head
        assert b"application/json" in head.lower()


def test_tls_unmasked_frame_closes_1002(d):
    with tls_raw(d) as t:
        t.sendall(tgtest.ws_upgrade("/ws?token=" + mint()))
        st, _, data = read_head(t)
        assert st == 101
        t.sendall(tgtest.ws_frame(b'{"type":"ping"}', mask=False))
        assert tgtest.ws_read_close(t, data) == 1002


def test_tls_body_pipelining_and_first_frame_in_one_record(d):
    # what clients send in one write (one TLS record) is answered at once:
    # the tap reads a record to its end (lws would not be woken for the rest)
    body = b'{"x": 1}'
    with tls_raw(d) as t:
        t.settimeout(tgtest.scaled(5))
        t.sendall(b"POST /api/v1/nothing HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body)
        st, _, _ = read_head(t)
        assert st in (401, 404, 405), st
    with tls_raw(d) as t:
        t.settimeout(tgtest.scaled(5))
        t.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        st, _, rest = read_head(t)
        assert st == 200
        buf = rest
        while buf.count(b"HTTP/1.1 200") < 1:
            x = t.recv(65536)
            assert x, buf
            buf += x
    with tls_raw(d) as t:
        t.settimeout(tgtest.scaled(5))
        t.sendall(tgtest.ws_upgrade("/ws?token=" + mint()) +
                  tgtest.ws_frame(b'{"type":"ping","id":"first"}'))
        st, _, data = read_head(t)
        assert st == 101
        while b'"pong"' not in data:
            x = t.recv(65536)
            assert x, data
            data += x
        assert b'"first"' in data


def test_tls_offers_http_1_1_only(d):
    # an h2 connection would go past the checks: ALPN offers http/1.1 alone
    import socket
    c = ctx(d)
    c.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
        with c.wrap_socket(s, server_hostname="127.0.0.1") as t:
            assert t.selected_alpn_protocol() in (None, "http/1.1")
