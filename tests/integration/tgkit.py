"""More helpers for the gateway tests (issue 4): JWTs, portfolios, WebSocket
clients that keep the close code, and the synthetic feed's deterministic path.

Everything binds to 127.0.0.1; daemons are tgtest.Daemon instances, stopped
by PID in cleanup().
"""
import asyncio
import json
import os
import re
import socket
import ssl
import time
import urllib.request

import jwt as pyjwt
import msgpack
import websockets

from tgtest import Daemon, free_port, scaled, split_frame, wait_for  # noqa: F401  (re-exported)

SECRET = "conformance-secret-0123456789abcdef"

# ---------------------------------------------------------------- tokens


def mint(secret=SECRET, sub="u-1", ttl=900, roles=None, portfolios=None, alg="HS256",
         key=None, headers=None, drop=(), now=None, **extra):
    """A JWT minted independently of the daemon (python3-jwt)."""
    now = int(now if now is not None else time.time())
    claims = {"sub": sub, "iat": now, "exp": now + ttl}
    if roles is not None:
        claims["roles"] = list(roles)
    if portfolios is not None:
        claims["portfolios"] = list(portfolios)
    claims.update(extra)
    for k in drop:
        claims.pop(k, None)
    return pyjwt.encode(claims, key if key is not None else secret, algorithm=alg,
                        headers=headers)


def b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims, alg="none"):
    h = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    p = b64url(json.dumps(claims).encode())
    return "%s.%s." % (h, p)


# ---------------------------------------------------------------- synthetic feed

M64 = (1 << 64) - 1


def _rng(seed):
    s = [(seed * 0x9E3779B97F4A7C15 + 1) & M64]

    def nxt():
        x = s[0]
        x ^= x >> 12
        x ^= (x << 25) & M64
        x ^= x >> 27
        s[0] = x
        return (x * 0x2545F4914F6CDD1D) & M64
    return nxt


def synth_paths(seed, symbols, ticks_per_symbol):
    """Prices (in cents) of each symbol's successive ticks, exactly as
    src/feeds/feed_synthetic.c produces them (round robin over symbols)."""
    nxt = _rng(seed)
    price = {s: 2000 + nxt() % 50000 for s in symbols}
    out = {s: [] for s in symbols}
    for _ in range(ticks_per_symbol):
        for s in symbols:
            p = price[s] * 1000000  # cents -> 1e-8 units
            bp = nxt() % 11 - 5
            delta = p * bp
            delta = -((-delta) // 10000) if delta < 0 else delta // 10000
            c = 1000000
            q = -((-delta) // c) if delta < 0 else delta // c
            np_ = p + q * c
            if np_ == p:
                np_ += c if bp > 0 else (-c if bp < 0 else 0)
            if np_ < 100 * c:
                np_ = 100 * c
            nxt()  # size
            price[s] = np_ // c
            out[s].append(price[s])
    return out


def crossing_level(path, start, end, hyst=0.001):
    """A price level (cents) that the path crosses upward often in [start, end)
    with resolution (below level - hyst*level) in between: alerts fire repeatedly."""
    seg = path[start:end]
    best, best_n = None, -1
    for lvl in range(min(seg), max(seg) + 1, max(1, (max(seg) - min(seg)) // 60 or 1)):
        low = lvl - hyst * lvl
        n, above = 0, path[start - 1] >= lvl if start else False
        for p in seg:
            if not above and p >= lvl:
                n += 1
                above = True
            elif above and p <= low:
                above = False
        if n > best_n:
            best, best_n = lvl, n
    return best, best_n


def cents(c):
    return "%d.%02d" % (c // 100, c % 100)


# ---------------------------------------------------------------- portfolios


def portfolio(pid, owner, holdings, cash="1000", shared_with=None, alerts=None):
    p = {"id": pid, "owner": owner, "cash": cash,
         "holdings": [{"symbol": s, "quantity": q, "cost_basis": cb, "target_weight": tw}
                      for (s, q, cb, tw) in holdings]}
    if shared_with:
        p["shared_with"] = list(shared_with)
    if alerts:
        p["alerts"] = alerts
    return p


def write_portfolios(path, plist):
    with open(path, "w") as f:
        json.dump({"portfolios": plist}, f)
    return path


# ---------------------------------------------------------------- WebSocket client


class WS:
    """A WebSocket client that splits frames into messages and keeps the close code."""

    def __init__(self, ws):
        self.ws = ws
        self.queue = []
        self.frames = 0
        self.closed_code = None
        self.all = []  # every message received, in order

    @classmethod
    async def open(cls, url, token=None, headers=None, subprotocols=None, ssl_ctx=None,
                   rcvbuf=None, **kw):
        if token:
            url += ("&" if "?" in url else "?") + "token=" + token
        if rcvbuf:
            # shrink the receive buffer before connecting so the window stays small
            import urllib.parse as up
            u = up.urlparse(url)
            sk = socket.socket()
            sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sk.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sk, (u.hostname, u.port))
            kw["sock"] = sk
        kw.setdefault("max_size", None)
        kw.setdefault("ping_interval", None)
        ws = await websockets.connect(url, extra_headers=headers, subprotocols=subprotocols,
                                      ssl=ssl_ctx, open_timeout=10, close_timeout=2, **kw)
        return cls(ws)

    async def stall(self):
        """Stop reading the socket (the kernel buffers fill, then the server's)."""
        self.ws.transport.pause_reading()

    def unstall(self):
        self.ws.transport.resume_reading()

    async def send(self, obj):
        if isinstance(obj, (bytes, str)):
            await self.ws.send(obj)
        else:
            await self.ws.send(json.dumps(obj))

    async def send_mp(self, obj):
        await self.ws.send(msgpack.packb(obj))

    async def _frame(self, timeout):
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        self.frames += 1
        msgs = split_frame(frame)
        self.all.extend(msgs)
        self.queue.extend(msgs)

    async def recv(self, timeout=5.0):
        while not self.queue:
            await self._frame(timeout)
        return self.queue.pop(0)

    async def recv_type(self, typ, timeout=5.0, pred=None):
        end = time.time() + scaled(timeout)
        while True:
            m = await self.recv(max(0.01, end - time.time()))
            if m.get("type") == typ and (pred is None or pred(m)):
                return m

    async def collect(self, seconds):
        """Every message received within `seconds` (the connection may close)."""
        out = []
        end = time.time() + seconds
        try:
            while time.time() < end:
                out.append(await self.recv(max(0.01, end - time.time())))
        except asyncio.TimeoutError:
            pass
        except websockets.ConnectionClosed as e:
            self.closed_code = e.rcvd.code if e.rcvd else 1006
        return out

    async def until_closed(self, timeout=5.0):
        """Read until the server closes; returns (close code, messages before it)."""
        timeout = scaled(timeout)
        out = list(self.queue)
        self.queue = []
        end = time.time() + timeout
        try:
            while True:
                left = end - time.time()
                if left <= 0:
                    raise AssertionError("connection not closed within %.1fs; got %r" %
                                         (timeout, out[-5:]))
                out.append(await self.recv(left))
        except asyncio.TimeoutError:
            raise AssertionError("connection not closed within %.1fs; got %r" % (timeout, out[-5:]))
        except websockets.ConnectionClosed as e:
            self.closed_code = e.rcvd.code if e.rcvd else 1006
        out.extend(self.queue)
        self.queue = []
        return self.closed_code, out

    async def subscribe(self, channel, keys=None, id=None, **extra):
        m = {"type": "subscribe", "channel": channel}
        if keys is not None:
            m["symbols" if channel == "market_data" else "portfolio_ids"] = list(keys)
        if id is not None:
            m["id"] = id
        m.update(extra)
        await self.send(m)

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except Exception:
            pass


async def connect_auth(url, token, **kw):
    """Connect with ?token= and read connection_established."""
    c = await WS.open(url, token=token, **kw)
    m = await c.recv(5)
    assert m["type"] == "connection_established", m
    return c, m


# ---------------------------------------------------------------- HTTP


def http(base, path, method="GET", token=None, body=None, headers=None, ctx=None, timeout=5):
    req = urllib.request.Request(base + path, method=method, data=body)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return r.status, r.read(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read(), {k.lower(): v for k, v in e.headers.items()}


def metrics_text(base):
    st, body, _ = http(base, "/metrics")
    assert st == 200
    return body.decode()


def metric_value(text, name, labels=None):
    """Sum of samples of `name` whose labels include `labels` (dict)."""
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)', line)
        if not m or m.group(1) != name:
            continue
        lab = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if labels and any(lab.get(k) != v for k, v in labels.items()):
            continue
        total += float(m.group(3))
        found = True
    return total if found else None



def run(coro):
    return asyncio.run(coro)


def start_daemon(config, secret=SECRET, env=None):
    d = Daemon(config=config, secret=secret, env=env)
    d.start()
    return d


def feed_conf(rate=400, symbols=("AAPL", "MSFT"), seed=42, name="synth"):
    return ('feeds = ({ name = "%s"; type = "synthetic"; rate = %d; seed = %d; symbols = [%s]; });\n'
            % (name, rate, seed, ", ".join('"%s"' % s for s in symbols)))


def wait_quotes(base, token, symbols, timeout=10):
    """Wait until the daemon has a last quote for every symbol (HTTP)."""
    def ok():
        st, body, _ = http(base, "/api/v1/quotes?symbols=" + ",".join(symbols), token=token)
        if st != 200:
            return False
        return len(json.loads(body)["data"]) == len(symbols)
    assert wait_for(ok, timeout), "no quotes for %s" % (symbols,)
