"""Issue 16: alerts pushed to Prometheus Alertmanager - the payload against a
recording receiver (labels, annotations, startsAt/endsAt, re-sent while
firing), and acceptance by the real Alertmanager (Debian
prometheus-alertmanager) when it is installed."""
import json
import time

import pytest

from tgtest import wait_for
from receivers import AM_BIN, Alertmanager, Recorder
from test_webhook import make_daemon, publish


def am_daemon(tmp_path, am_url, resend_s=1, journal=None):
    # no webhook: the Alertmanager alone; webhook_url "" is the default
    d = make_daemon(tmp_path, "", symbols=("AAA",),
                    extra_alerts='alertmanager_url = "%s"; alertmanager_resend_s = %d;'
                    % (am_url, resend_s), journal=journal)
    d.config = d.config.replace('webhook_url = ""; ', "")
    return d


def rfc3339_ns(s):
    from datetime import datetime
    return int(datetime.strptime(s[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=__import__("datetime").timezone.utc).timestamp() * 1000) * 1000000


def test_payload_resend_and_resolution(tmp_path):
    rec = Recorder().start()
    d = am_daemon(tmp_path, rec.url + "/", resend_s=1)
    try:
        d.start()
        publish(d, [("AAA", "200")])
        # the firing alert at once, then again every alertmanager_resend_s
        assert wait_for(lambda: len(rec.snapshot()) >= 3, 15), rec.snapshot()
        reqs = rec.snapshot()
        assert all(r["path"] == "/api/v2/alerts" for r in reqs)
        assert "x-tickgate-delivery" not in reqs[0]["headers"]
        first = json.loads(reqs[0]["body"])
        assert len(first) == 1
        a = first[0]
        assert a["labels"] == {"alertname": "price_above", "portfolio_id": "p-aaa",
                               "severity": "medium", "symbol": "AAA"}
        assert a["annotations"]["message"] == "AAA 200 ≥ 150"
        assert a["annotations"]["alert_id"].startswith("a-")
        assert "endsAt" not in a and a["startsAt"].endswith("Z")
        for r in reqs[1:]:
            assert json.loads(r["body"]) == first  # the same alert, same startsAt
        n = len(rec.snapshot())
        publish(d, [("AAA", "100")])
        assert wait_for(lambda: any("endsAt" in x for r in rec.snapshot()[n:]
                                    for x in json.loads(r["body"])), 10)
        res = [x for r in rec.snapshot()[n:] for x in json.loads(r["body"]) if "endsAt" in x][0]
        assert res["labels"] == a["labels"] and res["startsAt"] == a["startsAt"]
        assert res["annotations"]["alert_id"] == a["annotations"]["alert_id"]
        assert rfc3339_ns(res["endsAt"]) >= rfc3339_ns(res["startsAt"])
        # resolved: no more re-sends
        time.sleep(2.5)
        m = len(rec.snapshot())
        time.sleep(2.0)
        assert len(rec.snapshot()) == m
    finally:
        d.cleanup()
        rec.stop()


def test_alertmanager_down_keeps_the_resolution(tmp_path):
    """A resolution Alertmanager refused is sent again at the next resend."""
    state = {"down": False}
    rec = Recorder(lambda req: 503 if state["down"] else 200).start()
    d = am_daemon(tmp_path, rec.url, resend_s=1)
    try:
        d.start()
        publish(d, [("AAA", "200")])
        assert wait_for(lambda: len(rec.snapshot()) >= 1, 10)
        state["down"] = True
        publish(d, [("AAA", "100")])
        assert wait_for(lambda: sum(1 for r in rec.snapshot() if r.get("status") == 503
                                    and "endsAt" in r["body"].decode()) >= 2, 10)
        state["down"] = False
        assert wait_for(lambda: any(r.get("status") == 200 and "endsAt" in r["body"].decode()
                                    for r in rec.snapshot()), 10)
        time.sleep(2.5)
        m = len(rec.snapshot())
        time.sleep(2.0)
        assert len(rec.snapshot()) == m  # accepted: not sent again
    finally:
        d.cleanup()
        rec.stop()


def sent(rec, since=0):
    """[(alert_id, resolved)] of every alert object posted after request `since`."""
    return [(x["annotations"]["alert_id"], "endsAt" in x)
            for r in rec.snapshot()[since:] for x in json.loads(r["body"])]


def test_firing_set_is_resent_after_a_restart(tmp_path):
    """Issue 16: the firing set survives a restart (journal.dir/webhook/am_firing),
    so Alertmanager keeps hearing of a firing alert it would otherwise time out,
    and the engine is told of it, so it resolves under the same id."""
    rec = Recorder().start()
    d = am_daemon(tmp_path, rec.url, resend_s=1, journal=tmp_path / "j")
    try:
        d.start()
        publish(d, [("AAA", "200")])
        assert wait_for(lambda: sent(rec), 10)
        old = sent(rec)[0][0]
        d.stop()
        d.pub.close()
        d.pub = None  # publish() reconnects to the new process
        n = len(rec.snapshot())
        d.start()  # no tick after the restart: only the kept set can be sent
        assert wait_for(lambda: sent(rec, n).count((old, False)) >= 2, 15), sent(rec, n)
        publish(d, [("AAA", "100")])
        assert wait_for(lambda: (old, True) in sent(rec, n), 10), sent(rec, n)
        assert {a for a, _ in sent(rec, n)} == {old}  # never fired again under a new id
        time.sleep(2.5)
        k = len(rec.snapshot())
        time.sleep(2.0)
        assert len(rec.snapshot()) == k  # resolved: nothing firing is re-sent
        # and a second restart has nothing left to send
        d.stop()
        d.start()
        time.sleep(3.0)
        assert len(rec.snapshot()) == k
    finally:
        d.cleanup()
        rec.stop()


@pytest.mark.skipif(not AM_BIN, reason="prometheus-alertmanager not installed")
def test_real_alertmanager_accepts_and_resolves(tmp_path):
    am = Alertmanager().start()
    d = am_daemon(tmp_path, am.url, resend_s=60)
    try:
        d.start()
        publish(d, [("AAA", "200")])

        def active():
            return [a for a in am.alerts() if a["labels"].get("alertname") == "price_above"]
        got = wait_for(active, 15)
        assert got, am.alerts()
        a = got[0]
        assert a["labels"] == {"alertname": "price_above", "portfolio_id": "p-aaa",
                               "severity": "medium", "symbol": "AAA"}
        assert a["annotations"]["message"] == "AAA 200 ≥ 150"
        assert a["status"]["state"] in ("active", "unprocessed")
        assert not any(e.get("event") == "alertmanager_error" for e in d.log_events())
        publish(d, [("AAA", "100")])
        # resolved: endsAt in the past, Alertmanager no longer lists it as active
        assert wait_for(lambda: not [x for x in active()
                                     if x["status"]["state"] == "active"
                                     and rfc3339_ns(x["endsAt"]) > time.time_ns()], 15), active()
        assert not any(e.get("event") == "alertmanager_error" for e in d.log_events())
    finally:
        d.cleanup()
        am.cleanup()
