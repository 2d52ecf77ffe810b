"""Issue 13 item 15: the first minutes of `make run`.

The synthetic feed starts every symbol from a plausible reference level (the
bundled table, overridable per feed with `levels`), and the demo portfolios'
cost bases sit near those levels: a newcomer sees BTCUSD near 92,000 rather
than 425, P&L of a few percent rather than +100 %, and no wall of alerts.
The walk itself is checked tick by tick against tgtest's mirror, which the
price-crossing tests of other suites depend on.
"""
import asyncio
import json
import re

import tgtest
from tgtest import Daemon, run


def test_synthetic_walk_starts_at_levels_and_matches_the_mirror():
    syms = ["AAPL", "DOGEUSD", "ZZZ", "QQQQ"]
    levels = {"ZZZ": 12.5 * 10**8}
    d = Daemon(config='feeds = ({ name = "syn"; type = "synthetic"; rate = 40; seed = 7; '
                      'step_bp = 3; symbols = [%s]; levels = ["ZZZ=12.5"]; });\n'
                      % ", ".join('"%s"' % s for s in syms), secret=tgtest.SECRET)
    d.start()
    try:
        path = tgtest.synth_paths(7, syms, 400, step_bp=3, levels={"ZZZ": int(levels["ZZZ"])},
                                 exact=True)

        async def go():
            c, _ = await tgtest.connect_auth(d.url(), tgtest.mint(sub="u1"))
            await c.subscribe("market_data", syms, id=1)
            got = {s: [] for s in syms}
            while min(len(v) for v in got.values()) < 15:
                m = await c.recv(5)
                if m.get("type") == "quote":
                    got[m["symbol"]].append(m)
            await c.close()
            return got
        got = run(go())
        for s in syms:
            for q in got[s]:
                want = path[s][q["seq"] - 1]
                assert round(q["price"] * 10**8) == want, (s, q["seq"], q["price"], want)
        # the starting levels: bundled table, per-feed override, seeded fallback
        assert abs(got["AAPL"][0]["price"] - 270) < 270 * 0.02
        assert abs(got["DOGEUSD"][0]["price"] - 0.15) < 0.15 * 0.02
        assert re.match(r"^\d+\.\d{1,5}$", "%.5f" % got["DOGEUSD"][0]["price"])
        assert abs(got["ZZZ"][0]["price"] - 12.5) < 12.5 * 0.02
        assert 20 <= got["QQQQ"][0]["price"] <= 530
    finally:
        d.cleanup()


def test_embedded_demo_starts_calm_and_plausible():
    d = Daemon(config=None, secret=None)
    d.start(embedded=True)
    try:
        st, body = d.http("/api/v1/demo-token")
        assert st == 200, body
        tok = json.loads(body)["data"]["token"]

        async def watch():
            c, _ = await tgtest.connect_auth(d.url(), tok)
            await c.subscribe("notifications", id=1)
            await c.subscribe("portfolio_updates", ["p-demo-growth", "p-demo-income",
                                                    "p-demo-crypto"], id=2)
            alerts, states = [], {}
            end = asyncio.get_event_loop().time() + 15
            while asyncio.get_event_loop().time() < end:
                try:
                    m = await c.recv(1)
                except asyncio.TimeoutError:
                    continue
                if m.get("type") == "alert":
                    alerts.append(m)
                elif m.get("type") == "portfolio":
                    states[m["portfolio_id"]] = m
            await c.close()
            return alerts, states
        alerts, states = run(watch())

        levels = {k: v / 10**8 for k, v in tgtest.default_levels().items()}
        st, body = d.http("/api/v1/quotes", token=tok)
        quotes = {q["symbol"]: q for q in json.loads(body)["data"]}
        assert len(quotes) >= 60, sorted(quotes)
        for s, q in quotes.items():
            assert abs(q["price"] / levels[s] - 1) < 0.03, (s, q["price"], levels[s])
        assert 85000 < quotes["BTCUSD"]["price"] < 99000, quotes["BTCUSD"]

        demo = {"p-demo-growth", "p-demo-income", "p-demo-crypto"}
        assert demo <= set(states), sorted(states)
        for pid in demo:
            p = states[pid]
            assert p["priced"] is True, p
            assert abs(p["pnl_pct"]) < 0.15, (pid, p["pnl_pct"])
            assert p["max_drift"] < 0.05, (pid, p["max_drift"])
        # calm: at most an alert or two in the first seconds, never the drift
        # or gain wall the cost-basis placeholders used to raise at start
        firing = [a for a in alerts if a["state"] == "firing"]
        assert len(firing) <= 2, firing
        st, body = d.http("/metrics")
        fired = sum(float(v) for v in re.findall(
            r'^tickgate_alerts_total\{rule="[a-z_]+",state="firing"\} (\S+)$', body.decode(), re.M))
        assert fired <= 2, fired
    finally:
        d.cleanup()
