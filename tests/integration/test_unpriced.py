"""Issue 13 item 2 against the real binary (SPEC §13 unpriced portfolios).

A portfolio holds a symbol no feed serves. Its cost-basis placeholder would
make gain_target and rebalance_drift fire at once; they must not. Its
`portfolio` message and API answer say `priced:false` and name the holding;
an `unpriced` alert (high, value 1) arrives after engine.unpriced_after_s.
A twin portfolio whose holdings are all quoted does fire gain_target, so the
rules themselves are on.
"""
import asyncio
import json
import os
import time

import tgtest
from tgtest import SECRET, connect_auth, mint, portfolio, run


def test_unpriced_portfolio_fires_only_the_unpriced_alert():
    d = tgtest.Daemon(config="", secret=SECRET)
    # cost 1 for 10 AAPL (~2,700): P&L ~270,000 % on the priced holding alone
    alerts = {"gain_target": 0.05, "rebalance_drift": 0.05, "loss_limit": 0.05}
    pf = [portfolio("p-half", "u1", [("AAPL", "10", "1", "0.5"), ("NOQUOTE", "10", "1", "0.5")],
                    alerts=alerts),
          portfolio("p-full", "u1", [("AAPL", "10", "1", "1")], cash="0", alerts=alerts)]
    f = tgtest.write_portfolios(os.path.join(d.dir, "p.json"), pf)
    d.config = (tgtest.feed_conf(rate=200, symbols=["AAPL"]) +
                'engine = { portfolios_file = "%s"; unpriced_after_s = 2; };\n' % f)
    d.start()
    try:
        async def go():
            c, _ = await connect_auth(d.url(), mint(sub="u1"))
            await c.subscribe("notifications", id=1)
            await c.subscribe("portfolio_updates", ["p-half"], id=2)
            got, end = [], time.time() + 8
            while time.time() < end:
                try:
                    got.append(await c.recv(0.5))
                except asyncio.TimeoutError:
                    pass
                if any(m.get("type") == "alert" and m.get("rule") == "unpriced" for m in got):
                    break
            await c.close()
            return got
        got = run(go())
        alerts_seen = [m for m in got if m.get("type") == "alert"]
        half = [a for a in alerts_seen if a["portfolio_id"] == "p-half"]
        assert [(a["rule"], a["state"]) for a in half] == [("unpriced", "firing")], half
        assert half[0]["severity"] == "high" and half[0]["value"] == 1, half[0]
        assert all(a["portfolio_id"] == "p-half" or a["rule"] == "gain_target" for a in alerts_seen)
        states = [m for m in got if m.get("type") == "portfolio" and m["portfolio_id"] == "p-half"]
        assert states, got
        # (the very first state may come before AAPL's first quote too)
        bad = [s for s in states if s.get("priced") is not False or "NOQUOTE" not in s["unpriced"]]
        assert not bad, json.dumps(bad[0])
        assert states[-1]["unpriced"] == ["NOQUOTE"], states[-1]
        # the API answer is the same state
        st, body, _ = tgtest.http("http://127.0.0.1:%d" % d.port, "/api/v1/portfolios/p-half",
                                 token=mint(sub="u1"))
        assert st == 200, body
        api = json.loads(body)["data"]
        assert api["priced"] is False and api["unpriced"] == ["NOQUOTE"], api
        st, body, _ = tgtest.http("http://127.0.0.1:%d" % d.port, "/api/v1/portfolios/p-full",
                                 token=mint(sub="u1"))
        assert json.loads(body)["data"]["priced"] is True and "unpriced" not in json.loads(body)["data"]
        text = tgtest.metrics_text("http://127.0.0.1:%d" % d.port)
        assert tgtest.metric_value(text, "tickgate_alerts_total",
                                  {"rule": "unpriced", "state": "firing"}) == 1
        # p-full (priced) fired gain_target at its first quote; p-half never did
        assert tgtest.metric_value(text, "tickgate_alerts_total",
                                  {"rule": "gain_target", "state": "firing"}) == 1
        assert tgtest.metric_value(text, "tickgate_alerts_total",
                                  {"rule": "rebalance_drift", "state": "firing"}) == 0
        log = d.log()
        assert "AddressSanitizer" not in log and "runtime error:" not in log
    finally:
        d.cleanup()
