"""Issue 8: the dashboard in a real browser (Debian's chromium driven by playwright-core).

The page is served by the daemon itself (files embedded at build time). Three
scenarios, each a fresh daemon and a fresh browser profile:
  - the embedded default as a new user sees it: signs itself in, live quotes,
    demo portfolios with holdings, alerts, feed status, latency; survives a
    dropped connection by resuming with `since`; fits a narrow window;
  - an alert that fires while the page is open, driven by the synthetic feed
    crossing price levels set around the opening prices;
  - signing in by pasting a token where there is no demo token.
Screenshots go to $TG_BUILD_DIR/artifacts/ (dashboard.png and friends).

Skips (exit 77, which ctest reports as skipped) only when chromium or node
cannot be installed on this machine.
"""
import json
import os
import shutil
import subprocess
import sys
import time

from tgtest import SRC, TIMEOUT_SCALE, Daemon

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "browser")
CHROMIUM = "/usr/bin/chromium"
BUILD = os.environ.get("TG_BUILD_DIR", os.path.join(SRC, "build"))
ARTIFACTS = os.path.join(BUILD, "artifacts")
SANITIZED = bool(os.environ.get("TG_SANITIZER"))


def _skip_whole_module(reason):
    # ctest maps exit code 77 to "skipped" (SKIP_RETURN_CODE); pytest has no
    # exit code for it, so leave the process directly.
    sys.stdout.write("SKIP test_dashboard: %s\n" % reason)
    sys.stdout.flush()
    os._exit(77)


def _ensure_tools():
    if not os.path.exists(CHROMIUM) and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    if not os.path.exists(CHROMIUM):
        _skip_whole_module("chromium is not installed and cannot be installed here "
                           "(scripts/bootstrap.sh installs Debian's chromium)")
    if not shutil.which("node") or not shutil.which("npm"):
        _skip_whole_module("node/npm are not installed")
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            _skip_whole_module("npm ci for playwright-core failed (no npm registry?):\n" + r.stderr[-2000:])


_ensure_tools()
os.makedirs(ARTIFACTS, exist_ok=True)


def browse(url, scenario, **extra):
    """Run the browser script; returns what the page showed (a dict)."""
    opts = dict(url=url, out=ARTIFACTS, scenario=scenario, chromium=CHROMIUM, deadline_s=100,
                scale=TIMEOUT_SCALE)
    opts.update(extra)
    r = subprocess.run(["node", os.path.join(BROWSER_DIR, "dashboard.mjs"), json.dumps(opts)],
                       cwd=BROWSER_DIR, capture_output=True, text=True,
                       timeout=150 * TIMEOUT_SCALE)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    assert lines, "browser script printed nothing (rc %d):\n%s\n%s" % (r.returncode, r.stdout[-3000:],
                                                                       r.stderr[-3000:])
    res = json.loads(lines[-1])
    assert not res.get("error"), "browser: %s\n(steps %s)" % (res["error"], res.get("steps"))
    assert res.get("ok"), res
    return res


def demo_token(d):
    status, body = d.http("/api/v1/demo-token")
    assert status == 200, (status, body)
    return json.loads(body)["data"]["token"]


def test_embedded_default_dashboard():
    d = Daemon(config=None, secret=None)
    d.start(embedded=True)
    try:
        res = browse("http://127.0.0.1:%d/" % d.port, "embedded")
        # loads and authenticates by itself (demo token), token only for the tab
        assert res["title"].startswith("tickgate"), res["title"]
        assert res["user"].startswith("demo"), res["user"]
        assert res["stored_token_in"] == {"session": True, "local": 0}
        # live, moving data; how fast the first 20 quotes arrive is a figure for the
        # log, not an assertion (a first Chromium start on a cold machine takes seconds)
        print("first 20 quotes after %d ms" % res["first_20_quotes_ms"])
        assert res["symbols"] >= 20, res["symbols"]
        assert res["symbols_changed"] >= 20, (res["symbols_changed"], res["symbols"])
        assert res["sparklines_drawn"] >= 20, res["sparklines_drawn"]
        for row in res["sample_rows"]:
            sym, last, chg, bid, ask = row[:5]
            assert float(last.replace(",", "")) > 0, row
            assert chg[0] in "▲▼■" and "%" in chg, row          # not colour alone
            assert float(bid.replace(",", "")) <= float(ask.replace(",", "")), row
        assert res["latency"]["p50"] != "–" and res["latency"]["p50"].endswith("ms"), res["latency"]
        rate = int(res["latency"]["rate"].replace(",", ""))
        assert rate >= 200, res["latency"]                     # ~1000 ticks/s arrive
        # demo portfolios with their holdings, values moving
        pfs = {p["id"]: p for p in res["portfolios"]}
        assert "p-demo-growth" in pfs, sorted(pfs)
        growth = pfs["p-demo-growth"]
        syms = [h["symbol"] for h in growth["holdings"]]
        assert syms == ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA"], syms
        for h in growth["holdings"]:
            assert h["weight"].count("%") == 2 and "pp" in h["drift"], h
            assert h["bar"].endswith("%"), h
        # the demo opens calm (issue 13 item 15): its portfolios start within their
        # drift bands, so nothing is highlighted and the alert list may still be
        # empty; what is listed is well formed (test_alert_appears_when_threshold_crossed
        # drives an alert into the page)
        assert not any(h["over"] for p in res["portfolios"] for h in p["holdings"]), \
            "the demo portfolios start within their drift bands"
        assert res["portfolio_values_moved"]
        for a in res["alerts_listed"]:
            assert a["state"] in ("firing", "resolved"), a
            assert ("sev-high" in a["cls"]) or ("sev-medium" in a["cls"]) or ("sev-low" in a["cls"]), a
            assert ("FIRING" in a["text"]) or ("RESOLVED" in a["text"]), a
        # feed status from /api/v1/feeds (+ feed_status on `system`)
        feeds = {f["feed"]: f["cells"] for f in res["feeds"]}
        assert "synthetic" in feeds, feeds
        assert "CLOSED" in feeds["synthetic"][1], feeds
        assert feeds["synthetic"][2].endswith("ms") or feeds["synthetic"][2].endswith(" s"), feeds
        # candlestick chart (bars channel): candles for the selected symbol, a new one
        # when an interval ends, and the 1m interval on request
        c1, c2, cm = res["chart_first"], res["chart_later"], res["chart_1m"]
        assert c1["count"] >= 1 and c1["key"].endswith("@1s"), c1
        assert c1["selected"] == [c1["key"].split("@")[0]], c1
        assert c2["newest"] > c1["newest"], (c1, c2)
        assert c2["finals"] >= 1 and c2["drawn"] > 200 and c2["bar_msgs"] >= 2, c2
        assert c2["label"].endswith("1s"), c2
        assert cm["key"].endswith("@1m") and cm["count"] >= 1, cm
        # dropped connection: back by itself, resumed with epoch + since
        assert res["recovered"]["complete"] >= 20, res["recovered"]
        assert res["symbols_changed_after_reconnect"] >= 20
        # narrow window: no sideways scrolling
        assert res["narrow"]["scrollWidth"] <= res["narrow"]["innerWidth"] + 1, res["narrow"]
        # no external requests, no script errors
        assert res["external"] == [], res["external"]
        assert res["page_errors"] == [], res["page_errors"]
        assert res["console_errors"] == [], res["console_errors"]
        assert os.path.getsize(os.path.join(ARTIFACTS, "dashboard.png")) > 10000
    finally:
        d.cleanup()


def _watch_portfolios():
    """The bundled demo portfolios plus one owned by `demo` with price levels
    0.15 % either side of each opening price of a dozen symbols: the
    synthetic walk (±0.01 % steps in the demo, ~15 ticks/s per symbol) crosses
    some of them within seconds, over and over (hysteresis resolves them again)."""
    d = Daemon(config=None, secret=None)
    d.start(embedded=True)
    try:
        tok, quotes = demo_token(d), []
        end = time.time() + 5
        while len(quotes) < 12 and time.time() < end:
            status, body = d.http("/api/v1/quotes", token=tok)
            quotes = json.loads(body)["data"] if status == 200 else []
            time.sleep(0.1)
    finally:
        d.cleanup()
    assert len(quotes) >= 12, quotes
    quotes.sort(key=lambda q: q["symbol"])
    watch = quotes[:12]
    with open(os.path.join(SRC, "deploy", "demo-portfolios.json")) as f:
        doc = json.load(f)
    doc["portfolios"].append({
        "id": "p-test-watch", "owner": "demo", "cash": "1000",
        "holdings": [{"symbol": q["symbol"], "quantity": "1", "cost_basis": str(q["price"]),
                      "target_weight": "0.2"} for q in watch[:4]],
        "alerts": {"price_above": {q["symbol"]: "%.2f" % (q["price"] * 1.0015) for q in watch},
                   "price_below": {q["symbol"]: "%.2f" % (q["price"] * 0.9985) for q in watch}}})
    return doc


def test_alert_appears_when_threshold_crossed():
    doc = _watch_portfolios()
    d = Daemon(config=None, secret=None)
    path = os.path.join(d.dir, "portfolios.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    d.env["TICKGATE_ENGINE_PORTFOLIOS_FILE"] = path
    d.start(embedded=True)
    try:
        status, body = d.http("/api/v1/portfolios/p-test-watch", token=demo_token(d))
        assert status == 200, "the embedded default did not take engine.portfolios_file from the " \
                              "environment: %s %s" % (status, body[:300])
        res = browse("http://127.0.0.1:%d/" % d.port, "alert", alert_wait_s=40)
        a = res["new_alert"]
        assert a["state"] == "firing", a
        assert "sev-" in a["cls"] and "firing" in a["cls"], a
        assert "FIRING" in a["text"], a
        assert res["stats"]["byType"].get("alert", 0) >= 1, res["stats"]
        assert int(a["firing_count"].split()[0]) >= 1, a
        # acknowledged from the dashboard: the button, and alert_ack came back on the socket
        assert res["acked"]["button"] == "Acked by demo" and res["acked"]["acks"] >= 1, res["acked"]
        assert res["page_errors"] == [] and res["external"] == []
    finally:
        d.cleanup()


def test_sign_in_with_pasted_token():
    # a config file run: no demo token endpoint, so the page asks for a token
    d = Daemon(config='feeds = ({ name = "synth"; type = "synthetic"; rate = 500; });\n')
    d.start()
    try:
        status, _ = d.http("/api/v1/demo-token")
        assert status == 404
        good = d.token("demo", roles=["admin"])
        bad = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        res = browse("http://127.0.0.1:%d/" % d.port, "paste", token=good, bad_token=bad)
        assert "refused" in res["bad_token_error"], res["bad_token_error"]
        assert res["user"].startswith("demo"), res["user"]
        assert res["symbols"] >= 20 and res["symbols_changed"] >= 20, res
        assert "synth" in {f["feed"] for f in res["feeds"]}, res["feeds"]
        assert res["page_errors"] == [] and res["external"] == []
    finally:
        d.cleanup()
