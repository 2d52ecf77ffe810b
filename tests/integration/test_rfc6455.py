"""RFC 6455 / HTTP conformance a hostile client checks with raw sockets
(issue 13 item 14): lws 4.1.6 lets these through, tickgate enforces them in its
callbacks, and for what lws parses before any callback (unmasked frames, the
request targets its parser refuses, headers it cannot list, heads past its own
buffer) in the read in front of lws (src/gateway/wiretap.c).
"""
import base64
import json
import os
import socket
import struct

import pytest

import tgtest
from tgtest import mint
from tgtest import scaled


@pytest.fixture(scope="module")
def d():
    d = tgtest.start_daemon(tgtest.feed_conf(rate=50))
    yield d
    d.cleanup()


def handshake(port, path="/ws", version="13", key=None, extra=""):
    s = socket.create_connection(("127.0.0.1", port), timeout=scaled(10))
    s.sendall(tgtest.ws_upgrade(path, version=version, key=key, extra=extra))
    return s


def read_http(s):
    """Status, headers (lower-case) and body of one HTTP response."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        x = s.recv(65536)
        if not x:
            break
        buf += x
    assert b"\r\n\r\n" in buf, buf[:200]
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    while len(body) < n:
        x = s.recv(65536)
        if not x:
            break
        body += x
    return status, hdrs, body[:n] if n else body


frame = tgtest.ws_frame
read_close = tgtest.ws_read_close


def open_ws(d):
    s = handshake(d.port, "/ws?token=" + mint())
    st, _, rest = read_http_101(s)
    assert st == 101
    return s, rest


def read_http_101(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        x = s.recv(4096)
        assert x, "closed during the handshake"
        buf += x
    head, rest = buf.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), head, rest



@pytest.mark.parametrize("payload", [struct.pack(">H", 5000), struct.pack(">H", 5000) + b"bye",
                                     b"\x03", struct.pack(">H", 999), struct.pack(">H", 2999)],
                         ids=["5000", "5000+reason", "one-byte", "999", "2999"])
def test_invalid_close_payload_gets_1002(d, payload):
    s, rest = open_ws(d)
    s.sendall(frame(payload, opcode=8))
    assert read_close(s, rest) == 1002
    s.close()


def test_valid_close_is_echoed(d):
    s, rest = open_ws(d)
    s.sendall(frame(struct.pack(">H", 1000), opcode=8))
    assert read_close(s, rest) == 1000
    s.close()


@pytest.mark.parametrize("version", ["8", "99", None, "13, 8", ""])
def test_upgrade_bad_version_426(d, version):
    s = handshake(d.port, "/ws?token=" + mint(), version=version)
    st, hdrs, body = read_http(s)
    assert st == 426, (st, body)
    assert hdrs.get("sec-websocket-version") == "13"
    env = json.loads(body)
    assert env["success"] is False and env["error"]["code"] == "bad_request" and "meta" in env
    s.close()


@pytest.mark.parametrize("key", ["", "abc", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=",
                                 "!!!!!!!!!!!!!!!!!!!!!!==", base64.b64encode(os.urandom(17)).decode(),
                                 "dGhlIHNhbXBsZSBub25jZR=="])
def test_upgrade_bad_key_400(d, key):
    s = handshake(d.port, "/ws?token=" + mint(), key=key)
    st, _, body = read_http(s)
    assert st == 400, (key, st, body)
    assert json.loads(body)["error"]["code"] == "bad_request"
    s.close()


def test_upgrade_good_key_still_101(d):
    s = handshake(d.port, "/ws?token=" + mint(), key="dGhlIHNhbXBsZSBub25jZQ==")
    st, head, _ = read_http_101(s)
    assert st == 101 and b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head  # RFC 6455 §1.3 example
    s.close()


def test_frame_announcing_2_to_40_bytes_closes_1009_at_once(d):
    s, rest = open_ws(d)
    # the header announces 2^40 bytes; a few payload bytes follow, nothing more
    s.sendall(frame(b"x" * 64, length=1 << 40)[:2 + 8 + 4 + 64])
    assert read_close(s, rest, timeout=10) == 1009
    s.close()


def test_frame_header_alone_announcing_2_to_40_bytes_closes_1009(d):
    s, rest = open_ws(d)
    # header and mask only: lws calls back with nothing until payload arrives
    s.sendall(frame(b"", length=1 << 40)[:2 + 8 + 4])
    assert read_close(s, rest, timeout=10) == 1009
    s.close()


def test_upgrade_elsewhere_than_ws_404_json(d):
    s = handshake(d.port, "/nope?token=" + mint())
    st, _, body = read_http(s)
    assert st == 404, (st, body)
    assert json.loads(body)["error"]["code"] == "not_found"
    s.close()


def raw_http(d, req):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=scaled(10))
    s.sendall(req)
    try:
        return read_http(s)
    finally:
        s.close()


def test_chunked_put_is_answered_411(d):
    body = b'{"owner":"u-1","holdings":[]}'
    req = (b"PUT /api/v1/portfolios/p-chunk HTTP/1.1\r\nHost: x\r\n"
           b"Authorization: Bearer " + mint(roles=["admin"]).encode() + b"\r\n"
           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
           b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    st, _, resp = raw_http(d, req)
    assert st == 411, resp
    assert json.loads(resp)["success"] is False


@pytest.mark.parametrize("method", ["PATCH", "DELETE", "POST", "PUT"])
@pytest.mark.parametrize("path", ["/health", "/health/ready", "/metrics"])
def test_read_only_routes_405(d, method, path):
    req = ("%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" % (method, path)).encode()
    st, hdrs, body = raw_http(d, req)
    assert st == 405, (method, path, st, body)
    assert "GET" in hdrs.get("allow", "")
    env = json.loads(body)
    assert env["success"] is False and env["error"]["code"] == "method_not_allowed"


def test_get_health_still_200(d):
    st, _, body = raw_http(d, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st == 200 and json.loads(body) == {"status": "ok"}


# Request headers: tickgate answers 431 past 16384 bytes of header values and
# URI (what lws stores for the headers it knows); lws's own buffer (65535
# bytes) ends the connection without an answer past that.
LIMIT = 16384


def padded_headers(kind, size):
    """(path suffix, extra header lines) carrying about `size` bytes."""
    if kind == "cookie":
        return "", "Cookie: k=%s\r\n" % ("c" * size)
    if kind == "many":
        # known headers (lws keeps each line as one fragment, at most ~90)
        n = 40
        return "", "".join("Accept-Language: %s\r\n" % ("a" * (size // n)) for _ in range(n))
    if kind == "uri":
        return "pad=" + "u" * size, ""
    raise AssertionError(kind)


def health_request(kind, size):
    q, extra = padded_headers(kind, size)
    return ("GET /health%s HTTP/1.1\r\nHost: x\r\n%s\r\n" % ("?" + q if q else "", extra)).encode()


def upgrade(d, kind, size):
    q, extra = padded_headers(kind, size)
    return handshake(d.port, "/ws?token=" + mint() + ("&" + q if q else ""), extra=extra)


@pytest.mark.parametrize("kind", ["cookie", "many", "uri"])
def test_huge_headers_get_431_json_on_http(d, kind):
    st, hdrs, body = raw_http(d, health_request(kind, 20 * 1024))
    assert st == 431, (kind, st, body[:200])
    env = json.loads(body)
    assert env["success"] is False and env["error"]["code"] == "headers_too_large"
    assert "meta" in env
    assert hdrs.get("connection") == "close"


@pytest.mark.parametrize("kind", ["cookie", "many", "uri"])
def test_huge_headers_get_431_json_on_upgrade(d, kind):
    s = upgrade(d, kind, 20 * 1024)
    try:
        st, _, body = read_http(s)
    finally:
        s.close()
    assert st == 431, (kind, st, body[:200])
    env = json.loads(body)
    assert env["success"] is False and env["error"]["code"] == "headers_too_large"


@pytest.mark.parametrize("kind", ["cookie", "many", "uri"])
def test_headers_under_the_limit_still_work(d, kind):
    st, _, body = raw_http(d, health_request(kind, 15 * 1024))
    assert st == 200, (kind, st, body[:200])
    s = upgrade(d, kind, 15 * 1024)
    try:
        st, _, _ = read_http_101(s)
    finally:
        s.close()
    assert st == 101, kind


def answer_to(d, req):
    """Send req (however big) and read the one answer."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=scaled(10))
    try:
        try:
            s.sendall(req)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed while we were still sending: read it
        return read_http(s)
    finally:
        s.close()


@pytest.mark.parametrize("kind", ["cookie", "many", "uri"])
def test_headers_past_lws_buffer_get_431_json(d, kind):
    # lws 4.1.6 drops a request past its 65535-byte header buffer without a
    # word; the tap refuses it first
    st, hdrs, body = answer_to(d, health_request(kind, 70 * 1024))
    assert st == 431, (kind, st, body[:200])
    assert json.loads(body)["error"]["code"] == "headers_too_large"
    assert hdrs.get("connection") == "close"
    # the server is fine afterwards
    st, _, _ = raw_http(d, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st == 200


@pytest.mark.parametrize("where", ["http", "upgrade"])
def test_headers_lws_does_not_know_are_counted(d, where):
    # X- headers: lws keeps them where 4.1.6 cannot list them
    extra = "".join("X-Pad-%d: %s\r\n" % (i, "p" * 500) for i in range(40))
    if where == "http":
        st, _, body = raw_http(d, ("GET /health HTTP/1.1\r\nHost: x\r\n%s\r\n" % extra).encode())
    else:
        s = handshake(d.port, "/ws?token=" + mint(), extra=extra)
        try:
            st, _, body = read_http(s)
        finally:
            s.close()
    assert st == 431, (where, st, body[:200])
    assert json.loads(body)["error"]["code"] == "headers_too_large"
    # under the limit they pass
    extra = "".join("X-Pad-%d: %s\r\n" % (i, "p" * 300) for i in range(40))
    st, _, _ = raw_http(d, ("GET /health HTTP/1.1\r\nHost: x\r\n%s\r\n" % extra).encode())
    assert st == 200


def test_too_many_fields_get_431_json(d):
    # lws drops a request past 94 stored fragments (known header lines, URI
    # arguments) without an answer
    args = "&".join("a%d=1" % i for i in range(100))
    st, _, body = raw_http(d, ("GET /health?%s HTTP/1.1\r\nHost: x\r\n\r\n" % args).encode())
    assert st == 431 and json.loads(body)["error"]["code"] == "headers_too_large"
    lines = "".join("Accept: text/x%d\r\n" % i for i in range(100))
    st, _, body = raw_http(d, ("GET /health HTTP/1.1\r\nHost: x\r\n%s\r\n" % lines).encode())
    assert st == 431 and json.loads(body)["error"]["code"] == "headers_too_large"


@pytest.mark.parametrize("line", [b"TRACE /health HTTP/1.1", b"BREW /health HTTP/1.1",
                                  b"X", b"CONNECT 127.0.0.1:80 HTTP/1.1"],
                         ids=["TRACE", "BREW", "garbage", "CONNECT"])
def test_method_lws_does_not_serve_gets_501_json(d, line):
    # lws answered an unknown method with its HTML 403 and left CONNECT
    # open without an answer
    st, hdrs, body = raw_http(d, line + b"\r\nHost: x\r\n\r\n")
    assert st == 501, (line, st, body[:200])
    assert hdrs.get("content-type") == "application/json"
    env = json.loads(body)
    assert env["success"] is False and env["error"]["code"] == "not_implemented"
    assert "meta" in env


@pytest.mark.parametrize("req", [b"GET /health%zz HTTP/1.1\r\nHost: x\r\n\r\n",
                                 b"GET /health?a=%4 HTTP/1.1\r\nHost: x\r\n\r\n",
                                 b"GET http://x/health HTTP/1.1\r\nHost: x\r\n\r\n",
                                 b"GET /health HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\n"
                                 b"Connection: Upgrade\r\n\r\n",
                                 b"GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
                                 b"PUT /api/v1/portfolios/p HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 1x\r\n\r\n"],
                         ids=["bad-escape", "truncated-escape", "absolute-uri", "unknown-upgrade",
                              "no-colon", "bad-length"])
def test_requests_lws_refuses_get_400_json(d, req):
    # lws 4.1.6 answered the first four itself, before any callback, with a
    # fixed HTML 403 (lws_return_http_status)
    st, hdrs, body = raw_http(d, req)
    assert st == 400, (req, st, body[:200])
    assert hdrs.get("content-type") == "application/json"
    env = json.loads(body)
    assert env["success"] is False and env["error"]["code"] == "bad_request"
    assert "meta" in env


def test_keep_alive_and_pipelined_requests_are_each_checked(d):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=scaled(10))
    try:
        # two good requests in one write, then a bad one on the same connection
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        # both answers may come in one read: split them by Content-Length
        buf = b""
        answers = []
        while len(answers) < 2:
            while b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                n = int([l.split(b":")[1] for l in head.split(b"\r\n")
                         if l.lower().startswith(b"content-length:")][0])
                if len(rest) < n:
                    break
                answers.append(int(head.split()[1]))
                buf = rest[n:]
            if len(answers) < 2:
                x = s.recv(65536)
                assert x, (answers, buf[:200])
                buf += x
        assert answers == [200, 200] and buf == b""
        s.sendall(b"GET /health%zz HTTP/1.1\r\nHost: x\r\n\r\n")
        st, _, body = read_http(s)
        assert st == 400 and json.loads(body)["error"]["code"] == "bad_request"
    finally:
        s.close()


def test_request_with_body_then_next_request(d):
    # a body (Content-Length) passes untouched and the next head is checked
    body = b'{"not": "a portfolio"}'
    s = socket.create_connection(("127.0.0.1", d.port), timeout=scaled(10))
    try:
        s.sendall(b"PUT /api/v1/portfolios/p-x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        st1 = read_http(s)[0]
        assert st1 in (400, 401, 403), st1  # refused by the API (no token), not by the tap
        try:
            st2 = read_http(s)[0]
        except AssertionError:
            st2 = None  # the API closed after its answer
        assert st2 in (200, None)
    finally:
        s.close()


def test_unmasked_frame_closes_1002(d):
    s, rest = open_ws(d)
    try:
        s.sendall(frame(b'{"type":"ping"}', mask=False))
        assert read_close(s, rest) == 1002
    finally:
        s.close()


def test_unmasked_frame_after_good_ones_closes_1002(d):
    s, rest = open_ws(d)
    try:
        s.sendall(frame(b'{"type":"ping","id":"a"}') + frame(b'{"type":"ping","id":"b"}') +
                  frame(b'{"type":"ping"}', mask=False))
        assert read_close(s, rest) == 1002
    finally:
        s.close()


def test_unmasked_frame_with_the_handshake_closes_1002(d):
    # the frame arrives in the same write as the upgrade request
    s = socket.create_connection(("127.0.0.1", d.port), timeout=scaled(10))
    try:
        s.sendall(tgtest.ws_upgrade("/ws?token=" + mint()) + frame(b'{"type":"ping"}', mask=False))
        st, _, rest = read_http_101(s)
        assert st == 101
        assert read_close(s, rest) == 1002
    finally:
        s.close()


def test_masked_frames_split_anywhere_still_work(d):
    # the tap follows frame headers across reads: a header cut in two, a
    # 16-bit length, a payload split over writes; the replies still come
    import time
    s, rest = open_ws(d)
    try:
        big = b'{"type":"ping",' + b" " * 300 + b'"id":"p2"}'
        data = frame(b'{"type":"ping","id":"p1"}') + frame(big) + frame(b'{"type":"ping","id":"p3"}')
        for cut in (1, 3, 9, 40, 200):
            s.sendall(data[:cut])
            time.sleep(0.02)
            data = data[cut:]
        s.sendall(data)
        got = rest
        s.settimeout(scaled(10))
        while got.count(b'"pong"') < 3:
            x = s.recv(65536)
            assert x, got[-300:]
            got += x
        assert b'"p1"' in got and b'"p2"' in got and b'"p3"' in got
    finally:
        s.close()


@pytest.fixture(scope="module")
def d_threads():
    # server.threads > 1: connections are adopted by each thread's context
    d = tgtest.Daemon(config=tgtest.feed_conf(rate=50))
    d.config = 'server = { listen = "127.0.0.1:%d"; threads = 2; };\n' % d.port + d.config
    d.start()
    yield d
    d.cleanup()


def test_431_and_501_with_several_threads(d_threads):
    for _ in range(4):  # connections spread over the threads
        st, _, body = raw_http(d_threads, health_request("cookie", 20 * 1024))
        assert st == 431, body[:200]
        s = upgrade(d_threads, "uri", 20 * 1024)
        try:
            assert read_http(s)[0] == 431
        finally:
            s.close()
        st, _, body = raw_http(d_threads, b"BREW /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert st == 501 and json.loads(body)["error"]["code"] == "not_implemented"
        assert raw_http(d_threads, health_request("cookie", 15 * 1024))[0] == 200


def test_first_frame_with_the_handshake_is_served(d):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=scaled(10))
    try:
        s.sendall(tgtest.ws_upgrade("/ws?token=" + mint()) + frame(b'{"type":"ping","id":"first"}'))
        st, _, got = read_http_101(s)
        assert st == 101
        while b'"pong"' not in got:
            x = s.recv(65536)
            assert x, got
            got += x
        assert b'"first"' in got
    finally:
        s.close()


def test_h2c_upgrade_is_answered_as_http_1_1(d):
    st, _, body = raw_http(d, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, "
                              b"HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__"
                              b"\r\n\r\n")
    assert st == 200 and json.loads(body) == {"status": "ok"}


def test_stand_in_path_itself_is_an_ordinary_404(d):
    st, _, body = raw_http(d, b"GET /tickgate-refused-request HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st == 404, (st, body[:200])


@pytest.mark.parametrize("first", [b"", b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nX"],
                         ids=["lowercase-method", "after-a-get-with-a-body"])
def test_checks_stay_on_for_what_lws_accepts(d, first):
    # lws takes `get` as GET and reads a Content-Length body on any method:
    # neither turns the checks off for what follows on the connection
    s = socket.create_connection(("127.0.0.1", d.port), timeout=scaled(10))
    try:
        if first:
            s.sendall(first)
            assert read_http(s)[0] == 200
        s.sendall(tgtest.ws_upgrade("/ws?token=" + mint(), method="get"))
        st, _, rest = read_http_101(s)
        assert st == 101
        s.sendall(frame(b'{"type":"ping"}', mask=False))
        assert read_close(s, rest) == 1002
    finally:
        s.close()


def test_upgrade_without_connection_upgrade_gets_400_json(d):
    # lws dropped it without a word
    key = base64.b64encode(os.urandom(16)).decode()
    st, hdrs, body = raw_http(d, ("GET /ws?token=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                                  % (mint(), key)).encode())
    assert st == 400 and json.loads(body)["error"]["code"] == "bad_request"


@pytest.mark.parametrize("offer,chosen", [("chat, superchat", None),
                                          ("chat, tickgate.msgpack.v1", "tickgate.msgpack.v1")])
def test_subprotocols_we_do_not_serve_get_101_without_one(d, offer, chosen):
    # RFC 6455 §4.2.2: the server answers without Sec-WebSocket-Protocol when
    # it serves none of them (lws closed the connection instead)
    s = handshake(d.port, "/ws?token=" + mint(), extra="Sec-WebSocket-Protocol: %s\r\n" % offer)
    try:
        st, head, rest = read_http_101(s)
        assert st == 101, head
        proto = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
                 if l.lower().startswith(b"sec-websocket-protocol:")]
        assert proto == ([chosen.encode()] if chosen else []), head
        s.sendall(frame(b'{"type":"ping","id":"p"}'))
        got = rest
        while b"pong" not in got:  # JSON or MessagePack, as chosen
            x = s.recv(65536)
            assert x, got
            got += x
    finally:
        s.close()
