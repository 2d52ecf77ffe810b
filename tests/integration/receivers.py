"""Real alert receivers for the delivery tests (issue 16): a recording HTTP
server that answers what the test scripts (200, 400, 500, a delay), and the
Debian prometheus-alertmanager binary on a free loopback port in a temp dir,
stopped by PID.
"""
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request

from tgtest import free_port, wait_port

AM_BIN = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


class Recorder:
    """An HTTP server on 127.0.0.1 that records every request.

    `answer(req)` returns the status for a recorded request (a dict with
    method, path, headers, body, t and n = its 1-based index); it may sleep
    to play a slow receiver. The default answers 200.
    """

    def __init__(self, answer=None):
        self.answer = answer or (lambda req: 200)
        self.requests = []
        self.lock = threading.Lock()
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rec.lock:
                    req = {"method": "POST", "path": self.path, "t": time.monotonic(),
                           "headers": {k.lower(): v for k, v in self.headers.items()},
                           "body": body, "n": len(rec.requests) + 1}
                    rec.requests.append(req)
                status = rec.answer(req)
                req["status"] = status
                out = b'{"ok":true}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass  # the client gave up (timeout): that is the point of a slow answer

            def log_message(self, *a):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def bodies(self):
        return [json.loads(r["body"]) for r in self.snapshot()]


class Alertmanager:
    """The real Alertmanager (Debian prometheus-alertmanager)."""

    CONFIG = ("route:\n  receiver: blackhole\n  group_wait: 1s\n"
              "receivers:\n  - name: blackhole\n")

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tg-am-")
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        cfg = os.path.join(self.dir, "am.yml")
        with open(cfg, "w") as f:
            f.write(self.CONFIG)
        self.log = open(os.path.join(self.dir, "am.log"), "w")
        self.proc = subprocess.Popen(
            [AM_BIN, "--config.file=" + cfg, "--storage.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--cluster.listen-address="],
            stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_port(self.port, 20):
            self.cleanup()
            raise RuntimeError("alertmanager did not listen")
        return self

    def alerts(self):
        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=5) as r:
            return json.loads(r.read())

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
