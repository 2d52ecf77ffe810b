"""Issue 13 item 8 (SPEC §15): PUT/DELETE /api/v1/portfolios/{id} with
PostgreSQL write `portfolios`/`holdings`/`portfolio_shares` in one transaction
and answer after the commit; the NOTIFY then updates every node, and the edit
survives a restart. Two real nodes on one real database.
"""
import json

import pytest

import tgtest
from tgtest import Daemon, wait_for

pytestmark = pytest.mark.skipif(not tgtest.have_postgres(), reason="no PostgreSQL 15")


@pytest.fixture(scope="module")
def db():
    pg = tgtest.Postgres().start()
    url, sql, _ = tgtest.migrated_db(pg)
    yield url, sql
    pg.cleanup()


def node(url):
    d = Daemon(config='postgres = { url = "%s"; };\n'
                      'feeds = ({ name = "syn"; type = "synthetic"; rate = 100; '
                      'symbols = ["AAPL", "MSFT"]; });\n'
                      'limits = { http_per_min = 100000; };\n' % url)
    d.start()
    return d


def api(d, method, path, body=None):
    tok = d.token("ops", roles=["admin"])
    status, raw = d.http(path, method=method, token=tok,
                         body=json.dumps(body).encode() if body is not None else None)
    return status, json.loads(raw) if raw else None


BODY = {"owner": "u-9", "shared_with": ["u-10"], "cash": "250.5",
        "holdings": [{"symbol": "AAPL", "quantity": "3", "cost_basis": "600", "target_weight": "0.6"},
                     {"symbol": "MSFT", "quantity": "1", "cost_basis": "400", "target_weight": "0.3"}],
        "alerts": {"rebalance_drift": 0.07, "price_above": {"AAPL": "999"}}}


def test_put_and_delete_go_through_postgresql(db):
    url, sql = db
    a, b = node(url), node(url)
    try:
        st, body = api(a, "PUT", "/api/v1/portfolios/p-api", BODY)
        assert st == 200, body
        assert body["data"] == {"portfolio_id": "p-api", "created": True}
        # committed before the answer: visible to any other session right away
        rows = sql("SELECT owner, cash, alerts FROM portfolios WHERE id = 'p-api'")
        assert len(rows) == 1, rows
        owner, cash, alerts = rows[0]
        assert owner == "u-9" and str(cash) == "250.50000000"
        assert alerts == {"rebalance_drift": 0.07, "price_above": {"AAPL": "999"}}, alerts
        hold = sql("SELECT symbol, quantity, cost_basis, target_weight FROM holdings "
                   "WHERE portfolio_id = 'p-api' ORDER BY symbol")
        assert [(s, str(q), str(c), str(w)) for s, q, c, w in hold] == [
            ("AAPL", "3.00000000", "600.00000000", "0.60000000"),
            ("MSFT", "1.00000000", "400.00000000", "0.30000000")], hold
        assert sql("SELECT user_id FROM portfolio_shares WHERE portfolio_id = 'p-api'") == [("u-10",)]

        # NOTIFY brings it into both nodes' engines
        for d in (a, b):
            got = wait_for(lambda: api(d, "GET", "/api/v1/portfolios/p-api")[0] == 200, 10)
            assert got, "node %d never got p-api" % d.port
        pf = api(b, "GET", "/api/v1/portfolios/p-api")[1]["data"]
        assert pf["cash"] == 250.5 and pf["alerts"]["rebalance_drift"] == 0.07, pf

        # a replacement: one holding; the answer says it existed
        body2 = dict(BODY, holdings=[BODY["holdings"][1]], cash="10")
        st, body = api(b, "PUT", "/api/v1/portfolios/p-api", body2)
        assert st == 200 and body["data"]["created"] is False, body
        assert sql("SELECT symbol FROM holdings WHERE portfolio_id = 'p-api'") == [("MSFT",)]
        assert wait_for(lambda: len(api(a, "GET", "/api/v1/portfolios/p-api")[1]["data"]
                                    ["holdings"]) == 1, 10)

        # a restart keeps it: PostgreSQL is the system of record
        a.stop()
        a.cleanup()
        a = node(url)
        assert wait_for(lambda: api(a, "GET", "/api/v1/portfolios/p-api")[0] == 200, 10)
        assert api(a, "GET", "/api/v1/portfolios/p-api")[1]["data"]["cash"] == 10

        # an invalid body changes nothing
        st, _ = api(a, "PUT", "/api/v1/portfolios/p-api", {"owner": "u-9", "cash": "x"})
        assert st == 400
        assert sql("SELECT cash FROM portfolios WHERE id = 'p-api'")[0][0] == 10

        # DELETE: gone from PostgreSQL at the answer, then from every node
        st, body = api(b, "DELETE", "/api/v1/portfolios/p-api")
        assert st == 200 and body["data"]["deleted"] is True, body
        assert sql("SELECT count(*) FROM portfolios WHERE id = 'p-api'") == [(0,)]
        assert sql("SELECT count(*) FROM holdings WHERE portfolio_id = 'p-api'") == [(0,)]
        for d in (a, b):
            assert wait_for(lambda: api(d, "GET", "/api/v1/portfolios/p-api")[0] == 404, 10)
        st, _ = api(a, "DELETE", "/api/v1/portfolios/p-none")
        assert st == 404
    finally:
        a.cleanup()
        b.cleanup()
