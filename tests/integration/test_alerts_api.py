"""Issue 13 item 1 / SPEC §13 "Alert API": GET /api/v1/alerts filters in
every combination (portfolio_id, state, rule, since, limit), system (feed)
alerts for admins only, GET /api/v1/alerts/active, and bad arguments."""
import itertools
import json
import socket
import time
import urllib.parse

from tgtest import Daemon, free_port, wait_for


def make(tmp_path):
    pf = tmp_path / "pf.json"
    off = {"rebalance_drift": None, "loss_limit": None, "gain_target": None}
    pf.write_text(json.dumps({"portfolios": [
        {"id": "p-aaa", "owner": "u-1", "cash": "0",
         "holdings": [{"symbol": "AAA", "quantity": "1", "cost_basis": "100",
                       "target_weight": "0"}],
         "alerts": dict(off, price_above={"AAA": "150"}, price_below={"AAA": "50"})},
        {"id": "p-bbb", "owner": "u-2", "cash": "0",
         "holdings": [{"symbol": "BBB", "quantity": "1", "cost_basis": "100",
                       "target_weight": "0"}],
         "alerts": dict(off, price_below={"BBB": "50"})}]}))
    feed_port = free_port()
    d = Daemon(config='feeds = ({ name = "pub"; type = "tcp"; listen = "127.0.0.1:%d"; '
                      'breaker = { stale_after_ms = 0; }; });\n'
                      'engine = { portfolios_file = "%s"; };\n'
                      'limits = { http_per_min = 1000000; };\n' % (feed_port, pf))
    d.feed_port = feed_port
    return d


def connect(d):
    def c():
        try:
            return socket.create_connection(("127.0.0.1", d.feed_port))
        except OSError:
            return None
    s = wait_for(c, 10)
    assert s
    return s


def send(sock, ticks):
    now = time.time_ns()
    sock.sendall("".join("%s %s 1 %d\n" % (s, p, now + i)
                         for i, (s, p) in enumerate(ticks)).encode())


def get(d, tok, path, **q):
    qs = urllib.parse.urlencode({k: v for k, v in q.items() if v is not None})
    st, body = d.http(path + ("?" + qs if qs else ""), token=tok)
    return st, json.loads(body)


def test_filters_in_every_combination(tmp_path):
    d = make(tmp_path)
    d.start()
    try:
        admin, u1 = d.token("ops", roles=["admin"]), d.token("u-1")
        pub = connect(d)
        send(pub, [("AAA", "200"), ("BBB", "40")])           # above fires, below fires (p-bbb)
        time.sleep(0.5)
        mid = time.time_ns()
        time.sleep(0.2)
        send(pub, [("AAA", "100"), ("AAA", "40"), ("AAA", "201")])  # above resolves, below fires,
        time.sleep(0.5)                                      # below resolves, above fires again
        pub.close()                                          # publisher gone: breaker_open (system)
        assert wait_for(lambda: any(a.get("rule") == "breaker_open"
                                    for a in get(d, admin, "/api/v1/alerts")[1]["data"]), 10)
        st, body = get(d, admin, "/api/v1/alerts")
        assert st == 200
        all_ = body["data"]
        # ground truth: the engine's log, newest first, plus the feed alert
        raised = [(e["alert_id"], e["state"]) for e in d.log_events() if e.get("event") == "alert"]
        pf_events = [(a["alert_id"], a["state"]) for a in all_ if "portfolio_id" in a]
        assert pf_events == raised[::-1] and len(raised) == 6, (pf_events, raised)
        sys_ = [a for a in all_ if "feed" in a]
        assert len(sys_) == 1 and sys_[0]["rule"] == "breaker_open" and sys_[0]["state"] == "firing"

        def expect(events, sub_admin, pid, state, rule, since, limit):
            out = []
            for a in events:
                if not sub_admin and ("feed" in a or a["portfolio_id"] != "p-aaa"):
                    continue
                if pid and a.get("portfolio_id") != pid:
                    continue
                if state and a["state"] != state:
                    continue
                if rule and a["rule"] != rule:
                    continue
                if since and a["ts"] < since:
                    continue
                out.append(a)
            return out[:limit] if limit else out

        n = 0
        for who, tok in (("admin", admin), ("u-1", u1)):
            for pid, state, rule, since, limit in itertools.product(
                    (None, "p-aaa", "p-bbb"), (None, "firing", "resolved"),
                    (None, "price_above", "price_below", "breaker_open"), (None, mid),
                    (None, 1, 2)):
                st, body = get(d, tok, "/api/v1/alerts", portfolio_id=pid, state=state,
                               rule=rule, since=since, limit=limit)
                assert st == 200, body
                want = expect(all_, who == "admin", pid, state, rule, since, limit)
                assert body["data"] == want, (who, pid, state, rule, since, limit)
                n += 1
        assert n == 2 * 3 * 3 * 4 * 2 * 3
        # the order of arguments does not matter (the stale-buffer bug)
        a = get(d, admin, "/api/v1/alerts?portfolio_id=p-aaa&state=firing")[1]["data"]
        b = get(d, admin, "/api/v1/alerts?state=firing&portfolio_id=p-aaa")[1]["data"]
        assert a == b and a and all(x["state"] == "firing" and x["portfolio_id"] == "p-aaa"
                                    for x in a)
        assert get(d, admin, "/api/v1/alerts?state=firing")[1]["data"]
        assert get(d, admin, "/api/v1/alerts?state=resolved")[1]["data"]
        # since= as RFC 3339 equals since= as ns
        from datetime import datetime, timezone
        iso = datetime.fromtimestamp(mid // 10**9, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        iso += ".%09dZ" % (mid % 10**9)
        assert get(d, admin, "/api/v1/alerts", since=iso)[1]["data"] == \
            get(d, admin, "/api/v1/alerts", since=mid)[1]["data"]

        # active: firing now = the second price_above episode, the p-bbb price_below, the feed
        st, body = get(d, admin, "/api/v1/alerts/active")
        act = body["data"]
        assert st == 200 and all(a["state"] == "firing" for a in act)
        fired = {i for i, s in raised if s == "firing"} - {i for i, s in raised if s == "resolved"}
        assert {a["alert_id"] for a in act if "portfolio_id" in a} == fired and len(fired) == 2
        assert sum(1 for a in act if "feed" in a) == 1
        u1act = get(d, u1, "/api/v1/alerts/active")[1]["data"]
        assert [a["portfolio_id"] for a in u1act] == ["p-aaa"]
        assert get(d, admin, "/api/v1/alerts/active", rule="price_below")[1]["data"] == \
            [a for a in act if a["rule"] == "price_below"]

        # bad arguments: 400 with the envelope
        for q in ("state=open", "rule=nope", "limit=0", "limit=1001", "limit=x",
                  "since=yesterday", "since=2024-13-01T00:00:00Z", "portfolio_id=" + "x" * 300):
            st, body = get(d, admin, "/api/v1/alerts?" + q)
            assert st == 400 and body["success"] is False, q
    finally:
        d.cleanup()
