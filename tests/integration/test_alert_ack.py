"""Issue 16: POST /api/v1/alerts/{alert_id}/ack - owner, shared or admin;
`alert_ack` published on notifications; is_read set in a real PostgreSQL."""
import json

import pytest

from tgtest import Client, Daemon, free_port, run, wait_for
import tgtest
from test_alerts_api import connect, send
from test_persistence_pg import cluster, db  # noqa: F401  (fixtures: a migrated database)


def make(tmp_path, extra=""):
    pf = tmp_path / "pf.json"
    off = {"rebalance_drift": None, "loss_limit": None, "gain_target": None}
    pf.write_text(json.dumps({"portfolios": [
        {"id": "p-aaa", "owner": "u-1", "shared_with": ["u-2"], "cash": "0",
         "holdings": [{"symbol": "AAA", "quantity": "1", "cost_basis": "100",
                       "target_weight": "0"}],
         "alerts": dict(off, price_above={"AAA": "150"})}]}))
    feed_port = free_port()
    d = Daemon(config='feeds = ({ name = "pub"; type = "tcp"; listen = "127.0.0.1:%d"; '
                      'breaker = { stale_after_ms = 0; }; });\n'
                      'engine = { portfolios_file = "%s"; };\n%s' % (feed_port, pf, extra))
    d.feed_port = feed_port
    return d


def post(d, tok, path):
    st, body = d.http(path, method="POST", token=tok, body=b"")
    return st, json.loads(body)


def ack_flow(d):
    """Fire an alert, ack it as the shared user; returns the alert id."""
    u1, u2, u3 = d.token("u-1"), d.token("u-2"), d.token("u-3")
    admin = d.token("ops", roles=["admin"])
    pub = connect(d)

    async def go():
        c1 = await Client.connect(d.url() + "?token=" + u1)
        await c1.recv_type("connection_established")
        await c1.send({"type": "subscribe", "channel": "notifications", "id": 1})
        await c1.recv_type("subscription_confirmed")
        send(pub, [("AAA", "200")])
        alert = await c1.recv_type("alert", timeout=10)
        aid = alert["alert_id"]
        # not theirs: 403; unknown: 404; bad route: 404
        assert post(d, u3, "/api/v1/alerts/%s/ack" % aid)[0] == 403
        assert post(d, u2, "/api/v1/alerts/a-0000000000000000/ack")[0] == 404
        assert post(d, u2, "/api/v1/alerts/%s/nope" % aid)[0] == 404
        st, body = post(d, u2, "/api/v1/alerts/%s/ack" % aid)
        assert st == 200 and body["data"] == {"alert_id": aid, "acknowledged": True, "by": "u-2"}
        ack = await c1.recv_type("alert_ack", timeout=10)
        assert ack["alert_id"] == aid and ack["by"] == "u-2" and ack["portfolio_id"] == "p-aaa"
        assert isinstance(ack["seq"], int) and ack["seq"] > alert["seq"]
        # the ack is not an alert event: the API still lists the alert as firing
        act = json.loads(d.http("/api/v1/alerts/active", token=u1)[1])["data"]
        assert [a["alert_id"] for a in act] == [aid]
        # admin may ack anything, including feed alerts
        pub.close()  # publisher gone: breaker_open
        feed = wait_for(lambda: [a for a in json.loads(
            d.http("/api/v1/alerts?rule=breaker_open", token=admin)[1])["data"]], 10)
        assert feed
        assert post(d, u1, "/api/v1/alerts/%s/ack" % feed[0]["alert_id"])[0] == 403
        assert post(d, admin, "/api/v1/alerts/%s/ack" % feed[0]["alert_id"])[0] == 200
        await c1.close()
        return aid, feed[0]["alert_id"]
    return run(go())


def test_ack_without_postgres(tmp_path):
    d = make(tmp_path)
    d.start()
    try:
        ack_flow(d)
        assert any(e.get("event") == "alert_ack" and e.get("by") == "u-2" for e in d.log_events())
    finally:
        d.cleanup()


@pytest.mark.skipif(not tgtest.have_postgres(), reason="no PostgreSQL 15")
def test_ack_sets_is_read_in_postgres(tmp_path, db):
    _, url, q = db  # a fresh migrated database (fixture of test_persistence_pg)
    d = make(tmp_path, 'postgres = { url = "%s"; snapshot_interval_ms = 100; };\n' % url)
    # the portfolio comes from the file even with PostgreSQL configured
    d.start()
    try:
        aid, fid = ack_flow(d)
        assert wait_for(lambda: q("SELECT is_read FROM portfolio_alerts WHERE id = %s",
                                  (aid,)) == [(True,)], 10)
        # the feed alert: a row without user or portfolio, named by metadata.feed
        assert wait_for(lambda: q("SELECT user_id, portfolio_id, alert_type, metadata->>'feed',"
                                  " is_read FROM portfolio_alerts WHERE id = %s", (fid,))
                        == [(None, None, "breaker_open", "pub", True)], 10)
    finally:
        d.cleanup()


@pytest.mark.skipif(not tgtest.have_postgres(), reason="no PostgreSQL 15")
def test_ack_after_restart_is_answered_from_postgres(tmp_path, db):
    """An alert fired before a restart is no longer in the gateway's memory but
    is in portfolio_alerts: the ack is authorised from the row (owner/shared/
    admin), sets is_read and publishes alert_ack (issue 16 "Ack")."""
    _, url, q = db
    d = make(tmp_path, 'postgres = { url = "%s"; snapshot_interval_ms = 100; };\n' % url)
    d.start()
    try:
        pub = connect(d)
        send(pub, [("AAA", "200")])
        rows = wait_for(lambda: q("SELECT id FROM portfolio_alerts WHERE portfolio_id = %s",
                                  ("p-aaa",)), 10)
        assert rows, "the alert row never reached PostgreSQL"
        aid = rows[0][0]
        pub.close()
        d.stop()
        d.start()
        u1, u2, u3 = d.token("u-1"), d.token("u-2"), d.token("u-3")
        wait_for(lambda: json.loads(d.http("/api/v1/portfolios/p-aaa", token=u1)[1])
                 .get("success"), 10)

        async def go():
            c1 = await Client.connect(d.url() + "?token=" + u1)
            await c1.recv_type("connection_established")
            await c1.send({"type": "subscribe", "channel": "notifications", "id": 1})
            await c1.recv_type("subscription_confirmed")
            assert post(d, u3, "/api/v1/alerts/%s/ack" % aid)[0] == 403
            assert post(d, u2, "/api/v1/alerts/a-0000000000000000/ack")[0] == 404
            st, body = post(d, u2, "/api/v1/alerts/%s/ack" % aid)  # shared with u-2
            assert st == 200, body
            assert body["data"] == {"alert_id": aid, "acknowledged": True, "by": "u-2"}
            ack = await c1.recv_type("alert_ack", timeout=10)
            assert ack["alert_id"] == aid and ack["portfolio_id"] == "p-aaa"
            await c1.close()
        run(go())
        assert wait_for(lambda: q("SELECT is_read FROM portfolio_alerts WHERE id = %s",
                                  (aid,)) == [(True,)], 10)
    finally:
        d.cleanup()
