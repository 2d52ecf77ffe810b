"""Real PostgreSQL 15 and Redis 7 for integration tests.

Each server lives in its own temporary directory, listens on 127.0.0.1 on a
port picked free at run time (PostgreSQL's unix socket stays in the temp dir),
and is stopped by PID. PostgreSQL refuses to run as root, so when the tests
run as root its programs run as the `postgres` user through runuser and the
data directory is owned by that user.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from tgtest import free_port, wait_port

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

    def sql(self, query, params=None):
        """Run one statement; returns the rows (list of tuples) or []."""
        import psycopg2
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                dbname="postgres")
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
