"""Conformance suite fixtures: one gateway for the whole session.

TG_URL=ws://host:port (and TG_TOKEN_SECRET=... for HS256 minting) points the
suite at any deployment; it then assumes the bundled demo portfolios
(p-demo-growth owned by `demo`, shared with `alice`; p-demo-income owned by
`demo`) and default limits. Without TG_URL the built daemon ($TG_BIN) is
started with a config written here: synthetic feed over a small universe, a
replay feed with a gap in it (its breaker opens and closes: feed_status) that
also moves META across p-demo-growth's price_above level every loop (alerts
every ~2 s), and small limits. Tests that need to control the daemon (SIGTERM,
specific limits) are marked `local` and skipped against a remote URL.
"""
import os
import sys
import urllib.parse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import tgtest
from tgtest import SECRET, Daemon, portfolio  # noqa: E402

SYMBOLS = ["AAPL", "MSFT", "NVDA", "SPY"]
UNIVERSE = SYMBOLS + ["QQQ", "META", "TSLA"]
RATE = 400
SEED = 42


class Gateway:
    def __init__(self, ws_base, secret, daemon=None):
        self.ws_base = ws_base.rstrip("/")
        u = urllib.parse.urlparse(self.ws_base)
        self.http_base = ("https" if u.scheme == "wss" else "http") + "://" + u.netloc
        self.secret = secret
        self.daemon = daemon
        self.local = daemon is not None
        self.max_subscriptions = int(os.environ.get("TG_MAX_SUBSCRIPTIONS", "5" if daemon else "1000"))
        self.leeway = int(os.environ.get("TG_LEEWAY", "1" if daemon else "5"))
        self.symbols = SYMBOLS if daemon else ["AAPL", "MSFT"]

    def url(self, query=""):
        return self.ws_base + "/ws" + query

    def token(self, sub="demo", **kw):
        return tgtest.mint(self.secret, sub=sub, **kw)

    def admin(self):
        return self.token("ops", roles=["admin"])

    def http(self, path, **kw):
        return tgtest.http(self.http_base, path, **kw)


def _local_gateway():
    d = Daemon(config="", secret=SECRET)
    pf = [
        portfolio("p-demo-growth", "demo", [("AAPL", "100", "15000", "0.5"),
                                            ("MSFT", "50", "15000", "0.5")],
                  cash="25000", shared_with=["alice"],
                  alerts={"price_above": {"META": "100.50"}}),
        portfolio("p-demo-income", "demo", [("SPY", "80", "40000", "1")], cash="50000"),
        portfolio("p-bob", "bob", [("NVDA", "10", "1000", "1")], cash="10"),
    ]
    pfile = tgtest.write_portfolios(os.path.join(d.dir, "portfolios.json"), pf)
    gap = os.path.join(d.dir, "gap.csv")
    t0 = 1763800000000000000
    with open(gap, "w") as f:
        # QQQ: a 1.8 s gap each loop opens the breaker (feed_status); META crosses
        # p-demo-growth's price_above level up and back down every loop, so alerts
        # (firing, then resolved) come every ~2 s whenever a test subscribes
        for dt, sym, p in [(0, "QQQ", "100.00"), (0.05, "META", "101.00"), (0.1, "QQQ", "100.01"),
                           (0.15, "META", "100.00"), (0.2, "QQQ", "100.02"), (2.0, "QQQ", "100.03")]:
            f.write("%d,%s,%s,10\n" % (t0 + int(dt * 1e9), sym, p))
    d.config = (
        'feeds = ({ name = "synth"; type = "synthetic"; priority = 0; rate = %d; seed = %d; symbols = [%s]; },\n'
        '         { name = "gappy"; type = "replay"; priority = 1; path = "%s"; speed = 1.0; loop = true;\n'
        '           breaker = { stale_after_ms = 500; open_wait_ms = 200; half_open_successes = 1; }; });\n'
        'engine = { portfolios_file = "%s"; universe = [%s]; };\n'
        'auth = { jwt_secret = "%s"; leeway_s = 1; };\n'
        'limits = { max_subscriptions = 5; max_stall_ms = 2000; };\n'
        % (RATE, SEED, ", ".join('"%s"' % s for s in SYMBOLS), gap, pfile,
           ", ".join('"%s"' % s for s in UNIVERSE), SECRET))
    d.start()
    g = Gateway("ws://127.0.0.1:%d" % d.port, SECRET, daemon=d)
    tgtest.wait_quotes(g.http_base, g.admin(), SYMBOLS)
    return g


@pytest.fixture(scope="session")
def gw():
    url = os.environ.get("TG_URL")
    if url:
        secret = os.environ.get("TG_TOKEN_SECRET")
        if not secret:
            pytest.skip("TG_URL needs TG_TOKEN_SECRET to mint tokens")
        yield Gateway(url, secret)
        return
    g = _local_gateway()
    try:
        yield g
    finally:
        g.daemon.cleanup()


@pytest.fixture
def local(gw):
    if not gw.local:
        pytest.skip("needs a daemon started by the suite (TG_URL is set)")
    return gw


def pytest_configure(config):
    config.addinivalue_line("markers", "local: needs the suite's own daemon")
