"""Issue 16: the risk rules through the daemon - config defaults and per-portfolio
overrides, the engine's once-a-second concentration check, move on every tick,
gated while unpriced; results through the alerts API with exact values.
(Exact firing/staying/resolving of every rule: tests/unit/engine/test_book_risk.c.)"""
import json
import time

from tgtest import Daemon, free_port, wait_for
from test_alerts_api import connect, send, get


def test_concentration_and_move_end_to_end(tmp_path):
    pf = tmp_path / "pf.json"
    off = {"rebalance_drift": None, "loss_limit": None, "gain_target": None}
    hold = [{"symbol": "AAA", "quantity": "1", "cost_basis": "100", "target_weight": "0"},
            {"symbol": "BBB", "quantity": "1", "cost_basis": "100", "target_weight": "0"}]
    pf.write_text(json.dumps({"portfolios": [
        {"id": "p-c", "owner": "u-1", "cash": "0", "holdings": hold, "alerts": off},
        {"id": "p-off", "owner": "u-1", "cash": "0", "holdings": hold,
         "alerts": dict(off, concentration=None)},
        {"id": "p-m", "owner": "u-1", "cash": "0", "holdings": hold[:1],
         "alerts": dict(off, concentration=None,
                        move={"CCC": {"pct": 0.02, "window_s": 60}})}]}))
    port = free_port()
    d = Daemon(config='feeds = ({ name = "pub"; type = "tcp"; listen = "127.0.0.1:%d"; '
                      'breaker = { stale_after_ms = 0; }; });\n'
                      'engine = { portfolios_file = "%s"; };\n'
                      'alerts = { concentration = 0.6; };\n'  # the default for every portfolio
                      'limits = { http_per_min = 100000; };\n' % (port, pf))
    d.feed_port = port
    d.start()
    try:
        tok = d.token("ops", roles=["admin"])
        pub = connect(d)
        send(pub, [("AAA", "1000")])  # BBB unquoted: a 0.91 weight from a placeholder
        time.sleep(2.5)               # two risk ticks: nothing may fire while unpriced
        assert get(d, tok, "/api/v1/alerts", rule="concentration")[1]["data"] == []
        send(pub, [("AAA", "150"), ("BBB", "100"), ("CCC", "100"), ("CCC", "102")])

        def conc():
            return get(d, tok, "/api/v1/alerts", rule="concentration")[1]["data"]
        got = wait_for(conc, 10)
        assert [(a["portfolio_id"], a["state"], a["symbol"], a["value"], a["threshold"])
                for a in got] == [("p-c", "firing", "AAA", 0.6, 0.6)]  # not p-off, not p-m
        assert got[0]["severity"] == "medium" and got[0]["message"] == "AAA weight 60.00% ≥ 60.00%"
        mv = get(d, tok, "/api/v1/alerts", rule="move")[1]["data"]
        assert [(a["portfolio_id"], a["symbol"], a["value"], a["threshold"]) for a in mv] == \
            [("p-m", "CCC", 0.02, 0.02)]
        assert mv[0]["message"] == "CCC moved +2.00% in 60 s, |move| ≥ 2.00%"
        # resolution at the hysteresis level: 117 / 217 = 0.53917051 <= 0.54
        send(pub, [("AAA", "117")])
        res = wait_for(lambda: get(d, tok, "/api/v1/alerts", rule="concentration",
                                   state="resolved")[1]["data"], 10)
        assert res[0]["value"] == 0.53917051 and res[0]["alert_id"] == got[0]["alert_id"]
        act = get(d, tok, "/api/v1/alerts/active")[1]["data"]
        assert [a["rule"] for a in act] == ["move"]
        pub.close()
    finally:
        d.cleanup()
