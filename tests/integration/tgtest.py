"""The integration tests' one helper module, organised by concept: paths and waits,
real PostgreSQL/Redis servers, tokens, the daemon, deterministic market data and
portfolios, WebSocket clients, HTTP and metrics."""
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import urllib.request

import jwt as pyjwt
import msgpack
import websockets


# ---- Paths, ports and waits (every wait is a bound, scaled for slow machines) ----

BIN = os.environ.get("TG_BIN", os.path.join(os.path.dirname(__file__), "../../build/tickgate"))


SRC = os.environ.get("TG_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Tests check behaviour, not speed: every wait is a bound on a slow, cold, sanitized,
# loaded machine, never a performance figure. A wait returns as soon as its condition
# holds, so a generous bound costs nothing when things work.
TIMEOUT_SCALE = float(os.environ.get("TG_TIMEOUT_SCALE") or (4 if os.environ.get("TG_SANITIZER") else 2))


def scaled(timeout):
    """A test's wait bound, stretched for slow machines (TG_TIMEOUT_SCALE)."""
    return timeout * TIMEOUT_SCALE


def wait_for(pred, timeout=10.0, step=0.05):
    """Poll pred() until it returns something truthy or the (scaled) time is up."""
    end = time.time() + scaled(timeout)
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def wait_port(port, timeout=10.0):
    end = time.time() + scaled(timeout)
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def owns_listener(pid, port):
    """Whether process pid holds the socket listening on 127.0.0.1:port (from /proc):
    the proof that a daemon is up which needs no log line, so a test that runs it at
    log level warn does not wait out the start bound."""
    want = "%08X:%04X" % (0x0100007F, port)  # 127.0.0.1 as /proc/net/tcp writes it
    inodes = set()
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                col = line.split()
                if col[1] == want and col[3] == "0A":  # TCP_LISTEN
                    inodes.add("socket:[%s]" % col[9])
        if not inodes:
            return False
        fds = "/proc/%d/fd" % pid
        return any(os.readlink(os.path.join(fds, fd)) in inodes for fd in os.listdir(fds))
    except OSError:
        return False


def run(coro):
    return asyncio.run(coro)


# ---- Real PostgreSQL and Redis, in temp dirs on free loopback ports, stopped by PID ----

PG_BIN = "/usr/lib/postgresql/15/bin"


def _as_postgres(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def have_postgres():
    return os.path.exists(os.path.join(PG_BIN, "postgres"))


def have_redis():
    return shutil.which("redis-server") is not None


class Postgres:
    """A throw-away cluster: start(), stop(), start() again keeps the data."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tg-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.proc = None
        self.pid = None
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(_as_postgres([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-A", "trust",
                                     "-U", "postgres", "--no-sync", "-E", "UTF8"]),
                       check=True, capture_output=True, timeout=120)

    @property
    def url(self):
        return "postgresql://postgres@127.0.0.1:%d/postgres" % self.port

    def start(self):
        log = open(os.path.join(self.dir, "postgres.log"), "a")
        if os.geteuid() == 0:
            shutil.chown(log.name, "postgres", "postgres")
        self.proc = subprocess.Popen(
            _as_postgres([os.path.join(PG_BIN, "postgres"), "-D", self.data, "-p", str(self.port),
                          "-c", "listen_addresses=127.0.0.1",
                          "-c", "unix_socket_directories=" + self.dir,
                          "-c", "fsync=off", "-c", "full_page_writes=off",
                          "-c", "synchronous_commit=off", "-c", "max_connections=50"]),
            stdout=log, stderr=log)
        if not wait_port(self.port, 30):
            raise RuntimeError("postgres did not start:\n" + open(log.name).read())
        # the postmaster's own PID (runuser is only its parent)
        end = time.time() + 10
        while time.time() < end:
            try:
                with open(os.path.join(self.data, "postmaster.pid")) as f:
                    self.pid = int(f.readline())
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        # accepting connections, not only listening
        end = time.time() + 30
        while time.time() < end:
            if subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                               "-d", "postgres", "-Atc", "select 1"],
                              capture_output=True).returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError("postgres not accepting connections")

    def stop(self, sig=signal.SIGINT):
        """Fast shutdown (SIGINT: connections are cut) by PID; waits for exit."""
        if self.pid and _pid_alive(self.pid):
            os.kill(self.pid, sig)
            end = time.time() + 30
            while _pid_alive(self.pid) and time.time() < end:
                time.sleep(0.05)
        if self.proc:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
        self.pid = None

    def sql(self, query, params=None, dbname="postgres"):
        """Run one autocommit statement in dbname; returns the rows (list of tuples) or []."""
        import psycopg2
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                dbname=dbname)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)



def migrated_db(cluster):
    """A fresh database on a running Postgres, migrated by `tickgate migrate`:
    (url, sql, migrate's stdout); sql(q, params) runs one autocommit statement
    and returns its rows ([] for none)."""
    import uuid
    name = "t_" + uuid.uuid4().hex[:12]
    cluster.sql("CREATE DATABASE " + name)
    url = "postgresql://postgres@127.0.0.1:%d/%s" % (cluster.port, name)
    r = subprocess.run([BIN, "migrate"], env=dict(os.environ, TICKGATE_POSTGRES_URL=url),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr

    def sql(q, params=None):
        return cluster.sql(q, params, dbname=name)
    return url, sql, r.stdout


class Redis:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tg-redis-")
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self):
        self.log = open(os.path.join(self.dir, "redis.log"), "a")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
             "--unixsocket", os.path.join(self.dir, "redis.sock")],
            stdout=self.log, stderr=self.log)
        if not wait_port(self.port, 20):
            raise RuntimeError("redis did not start")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- Tokens ----

SECRET = "conformance-secret-0123456789abcdef"


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


# ---- The daemon ----

class Daemon:
    """A tickgate process with a config written to a temp dir."""

    def __init__(self, config=None, env=None, args=None, secret="test-secret-0123456789"):
        self.dir = tempfile.mkdtemp(prefix="tg-it-")
        self.port = free_port()
        self.secret = secret
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.args = list(args or [])
        self.config = config
        self.proc = None
        self.stdout_lines = []

    def conf_text(self):
        c = self.config if self.config is not None else ""
        if "server" not in c:
            c = 'server = { listen = "127.0.0.1:%d"; };\n' % self.port + c
        if "auth" not in c and self.secret:
            c += 'auth = { jwt_secret = "%s"; };\n' % self.secret
        return c

    def start(self, embedded=False, wait=True):
        # The port was free when this Daemon was made; a test running beside this one
        # may have taken it since. Then this process fails to listen while the port
        # answers for the other one: notice it (our own startup event or failure, not
        # only an open port) and try again on a fresh port.
        for attempt in range(3):
            self._spawn(embedded)
            if not wait:
                return self
            if not wait_port(self.port):
                self.stop()
                raise RuntimeError("tickgate did not listen:\n" + self.log())
            wait_for(lambda: self.proc.poll() is not None or '"startup"' in self.log()
                     or '"startup_failed"' in self.log()
                     or (self.quiet_log() and owns_listener(self.proc.pid, self.port)), 5)
            log = self.log()
            taken = '"startup_failed"' in log and "Address already in use" in log
            if not taken:
                return self
            if self.config and "server" in self.config and not embedded:
                self.stop()
                raise RuntimeError("port %d was taken before tickgate could listen (the test's "
                                   "own listen address): pick it right before start" % self.port)
            self.stop()
            self.port = free_port()
        raise RuntimeError("tickgate could not listen on a free port:\n" + self.log())

    def quiet_log(self):
        """The daemon logs no "startup" event at this level (warn, error)."""
        lvl = self.env.get("TICKGATE_LOG_LEVEL", "")
        m = re.search(r'level\s*=\s*"(\w+)"', self.config or "")
        return lvl in ("warn", "error") or bool(m and m.group(1) in ("warn", "error"))

    def _spawn(self, embedded):
        cmd = [BIN]
        if not embedded:
            path = os.path.join(self.dir, "tickgate.conf")
            with open(path, "w") as f:
                f.write(self.conf_text())
            cmd += ["--config", path]
        else:
            self.env["TICKGATE_SERVER_LISTEN"] = "127.0.0.1:%d" % self.port
        cmd += self.args
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr,
                                     env=self.env, text=True)

    def log(self):
        self.stderr.flush()
        with open(self.stderr.name) as f:
            return f.read()

    def log_events(self):
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def token(self, sub="u-1", roles=(), portfolios=(), ttl="15m"):
        cmd = [BIN, "token", "--sub", sub, "--ttl", ttl]
        for r in roles:
            cmd += ["--role", r]
        if portfolios:
            cmd += ["--portfolios", ",".join(portfolios)]
        env = dict(os.environ, TICKGATE_AUTH_JWT_SECRET=self.secret)
        return subprocess.run(cmd, env=env, check=True, capture_output=True,
                              text=True).stdout.strip()

    def url(self, path="/ws"):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    def http(self, path, method="GET", token=None, body=None, headers=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), method=method,
                                     data=body)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        out = self.proc.stdout.read() if self.proc.stdout else ""
        self.stdout_lines = out.splitlines()
        return code

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "WARNING: ThreadSanitizer",
                       "ERROR: LeakSanitizer", "runtime error:")

    def sanitizer_reports(self):
        """Sanitizer findings in the daemon's stderr: every test fails on them."""
        if not getattr(self, "stderr", None):
            return []
        return [l for l in self.log().splitlines() if any(m in l for m in self.SANITIZER_MARKS)]

    def cleanup(self):
        self.stop()
        reports = self.sanitizer_reports()
        if reports:
            log = self.log()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise AssertionError("sanitizer report from tickgate:\n" + log[-6000:])
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.cleanup()


def start_daemon(config, secret=SECRET, env=None):
    d = Daemon(config=config, secret=secret, env=env)
    d.start()
    return d


def feed_conf(rate=400, symbols=("AAPL", "MSFT"), seed=42, name="synth"):
    return ('feeds = ({ name = "%s"; type = "synthetic"; rate = %d; seed = %d; symbols = [%s]; });\n'
            % (name, rate, seed, ", ".join('"%s"' % s for s in symbols)))


# ---- Deterministic market paths and portfolios ----

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


def synth_paths(seed, symbols, ticks_per_symbol, step_bp=5, levels=None, exact=False):
    """Prices (in cents) of each symbol's successive ticks, exactly as
    src/feeds/feed_synthetic.c produces them (round robin over symbols).
    Symbols whose unit is finer than a cent (start below 100.00) come out in
    cents rounded down; exact=True gives 1e-8 units instead."""
    nxt = _rng(seed)
    table = dict(default_levels())
    table.update(levels or {})
    price, unit = {}, {}
    for s in symbols:
        seeded = (2000 + nxt() % 50000) * 10**6
        p = table.get(s, seeded)
        u = 10**6
        while u > 1 and u > p // 10000:
            u //= 10
        p = p // u * u
        price[s], unit[s] = max(p, 100 * u), u
    out = {s: [] for s in symbols}
    for _ in range(ticks_per_symbol):
        for s in symbols:
            p, c = price[s], unit[s]
            bp = nxt() % (2 * step_bp + 1) - step_bp
            delta = _trunc_div(p * bp, 10000)
            np_ = p + _trunc_div(delta, c) * c
            if np_ == p:
                np_ += c if bp > 0 else (-c if bp < 0 else 0)
            if np_ < 100 * c:
                np_ = 100 * c
            nxt()  # size
            price[s] = np_
            out[s].append(np_ if exact else np_ // 10**6)
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


# ---- WebSocket clients ----

def split_frame(frame, parse_float=None):
    """A server frame carries one or more messages (JSON Lines); parse_float=Decimal
    keeps the decimals' text exact."""
    if isinstance(frame, bytes):
        import msgpack
        up = msgpack.Unpacker(raw=False)
        up.feed(frame)
        return list(up)
    return [json.loads(line, parse_float=parse_float) for line in frame.split("\n")]


class WS:
    """A WebSocket client that splits frames into messages and keeps the close code.
    Subclasses may set parse_float (e.g. Decimal) for exact decimals."""

    parse_float = None

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
        msgs = split_frame(frame, self.parse_float)
        self.all.extend(msgs)
        self.queue.extend(msgs)

    async def recv(self, timeout=5.0):
        while not self.queue:
            await self._frame(timeout)
        return self.queue.pop(0)

    async def recv_type(self, typ, timeout=5.0, pred=None):
        end = time.time() + scaled(timeout)
        while True:
            m = await WS.recv(self, max(0.01, end - time.time()))  # the deadline is scaled
            if m.get("type") == typ and (pred is None or pred(m)):
                return m

    @classmethod
    async def open_daemon(cls, d, token):
        """Connected to Daemon d with token; self.epoch from connection_established."""
        c = await cls.open(d.url(), token=token)
        c.epoch = (await c.recv_type("connection_established", timeout=10))["epoch"]
        return c

    async def drain(self, seconds):
        """Read whatever comes for `seconds` (into self.all)."""
        end = time.time() + seconds
        try:
            while time.time() < end:
                await WS.recv(self, max(0.01, end - time.time()))
        except asyncio.TimeoutError:
            pass

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


class Client(WS):
    """WS opened with websockets' own defaults (keepalive pings on), as older tests do."""

    @classmethod
    async def connect(cls, url, **kw):
        return cls(await websockets.connect(url, max_size=None, **kw))


# ---- HTTP and metrics ----

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


def wait_quotes(base, token, symbols, timeout=10):
    """Wait until the daemon has a last quote for every symbol (HTTP)."""
    def ok():
        st, body, _ = http(base, "/api/v1/quotes?symbols=" + ",".join(symbols), token=token)
        if st != 200:
            return False
        return len(json.loads(body)["data"]) == len(symbols)
    assert wait_for(ok, timeout), "no quotes for %s" % (symbols,)


# ---- Other helpers ----

M64 = (1 << 64) - 1


def default_levels():
    """The bundled reference levels (tg_default_levels in src/common/universe.c),
    in 1e-8 units."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../src/common/universe.c")) as f:
        text = f.read()
    out = {}
    for sym, px in re.findall(r'\{"([^"]+)", "([0-9.]+)"\}', text):
        whole, _, frac = px.partition(".")
        out[sym] = int(whole) * 10**8 + int((frac + "0" * 8)[:8])
    return out


def _trunc_div(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


async def connect_auth(url, token, **kw):
    """Connect with ?token= and read connection_established."""
    c = await WS.open(url, token=token, **kw)
    m = await c.recv(5)
    assert m["type"] == "connection_established", m
    return c, m

# ---- raw WebSocket clients (conformance tests: what a library would not send) ----

def ws_upgrade(path, method="GET", version="13", key=None, extra=""):
    """An upgrade request as bytes; key "" or version None leave that header out."""
    if key is None:
        key = base64.b64encode(os.urandom(16)).decode()
    req = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" % (
        method, path)
    if key != "":
        req += "Sec-WebSocket-Key: %s\r\n" % key
    if version is not None:
        req += "Sec-WebSocket-Version: %s\r\n" % version
    return (req + extra + "\r\n").encode()


def ws_frame(payload, opcode=1, mask=True, length=None):
    """A client WebSocket frame (masked unless told), `length` may lie."""
    n = len(payload) if length is None else length
    b = bytes([0x80 | opcode])
    mb = 0x80 if mask else 0
    if n < 126:
        b += bytes([mb | n])
    elif n < 65536:
        b += bytes([mb | 126]) + struct.pack(">H", n)
    else:
        b += bytes([mb | 127]) + struct.pack(">Q", n)
    if mask:
        k = os.urandom(4)
        return b + k + bytes(c ^ k[i % 4] for i, c in enumerate(payload))
    return b + payload


def ws_read_close(s, data=b"", timeout=10):
    """Read frames until a close frame; its code (None: closed without one)."""
    s.settimeout(scaled(timeout))
    while True:
        while len(data) >= 2:
            op, n, off = data[0] & 0x0f, data[1] & 0x7f, 2
            if n == 126:
                n, off = struct.unpack(">H", data[2:4])[0], 4
            elif n == 127:
                n, off = struct.unpack(">Q", data[2:10])[0], 10
            if len(data) < off + n:
                break
            payload, data = data[off:off + n], data[off + n:]
            if op == 8:
                return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
        try:
            x = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return None
        if not x:
            return None
        data += x
