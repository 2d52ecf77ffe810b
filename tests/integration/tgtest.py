"""Helpers for tickgate integration tests: the real binary, real servers.

Everything binds to 127.0.0.1 on ports picked free at run time, lives in a
temporary directory, and is stopped by PID at the end of the test.
"""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import websockets

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
        if wait and not wait_port(self.port):
            self.stop()
            raise RuntimeError("tickgate did not listen:\n" + self.log())
        return self

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


def split_frame(frame):
    """A server frame carries one or more messages (JSON Lines)."""
    if isinstance(frame, bytes):
        import msgpack
        up = msgpack.Unpacker(raw=False)
        up.feed(frame)
        return list(up)
    return [json.loads(line) for line in frame.split("\n")]


class Client:
    """A WebSocket client that splits frames into messages."""

    def __init__(self, ws):
        self.ws = ws
        self.queue = []

    @classmethod
    async def connect(cls, url, **kw):
        ws = await websockets.connect(url, max_size=None, **kw)
        return cls(ws)

    async def send(self, obj):
        await self.ws.send(json.dumps(obj))

    async def recv(self, timeout=5.0):
        while not self.queue:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            self.queue.extend(split_frame(frame))
        return self.queue.pop(0)

    async def recv_type(self, typ, timeout=5.0):
        end = time.time() + scaled(timeout)
        while True:
            m = await self.recv(max(0.01, end - time.time()))
            if m.get("type") == typ:
                return m

    async def close(self):
        await self.ws.close()


def run(coro):
    return asyncio.run(coro)
