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


def am_daemon(tmp_path, am_url, resend_s=1):
    # no webhook: the Alertmanager alone; webhook_url "" is the default
    d = make_daemon(tmp_path, "", symbols=("AAA",),
                    extra_alerts='alertmanager_url = "%s"; alertmanager_resend_s = %d;'
                    % (am_url, resend_s))
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


def test_firing_set_survives_a_restart(tmp_path):
    """With journal.dir the alerts firing at Alertmanager are kept on disk: after
    a restart they are re-sent (same alert, same startsAt) with no new event, so
    Alertmanager does not time them out while they still fire; the resolution
    empties the set."""
    rec = Recorder().start()
    journal = tmp_path / "journal"
    d = make_daemon(tmp_path, "", symbols=("AAA",), journal=str(journal),
                    extra_alerts='alertmanager_url = "%s"; alertmanager_resend_s = 1;' % rec.url)
    d.config = d.config.replace('webhook_url = ""; ', "")
    state = journal / "webhook" / "am_firing.log"
    try:
        d.start()
        publish(d, [("AAA", "200")])
        assert wait_for(lambda: len(rec.snapshot()) >= 1, 10), rec.snapshot()
        first = json.loads(rec.snapshot()[0]["body"])[0]
        assert wait_for(lambda: state.exists() and state.read_text().count("\n") == 1, 10)
        line = state.read_text()
        assert first["annotations"]["alert_id"] in line
        d.pub.close()
        d.pub = None
        assert d.stop() == 0
        n = len(rec.snapshot())
        d.start()
        # no tick since the restart: the kept alert is re-sent as it was; the
        # engine may fire the same condition again under a new alert_id (no
        # saved alert state here): the same labels, so the same alert there,
        # and its startsAt stays the first one
        assert wait_for(lambda: len(rec.snapshot()) >= n + 2, 15), rec.snapshot()[n:]
        again = [x for r in rec.snapshot()[n:] for x in json.loads(r["body"])]
        assert any(x["annotations"]["alert_id"] == first["annotations"]["alert_id"]
                   for x in again), again
        # (the feed's publisher is gone after the restart: a breaker_open system
        # alert may fire too; it is a different label set)
        same = [x for x in again if x["labels"]["alertname"] == "price_above"]
        assert all(x["labels"] == first["labels"] for x in same), again
        assert all(x["startsAt"] == first["startsAt"] and "endsAt" not in x for x in same)
        assert any(e.get("event") == "alertmanager_firing_restored" for e in d.log_events())
        # one alert per label set in the set, whatever its ids
        assert wait_for(lambda: state.read_text().count("price_above") == 1, 10), \
            state.read_text()
        # resolved after the restart: Alertmanager hears it, the set is emptied
        publish(d, [("AAA", "100")])
        assert wait_for(lambda: any("endsAt" in x and x["labels"] == first["labels"]
                                    and x["startsAt"] == first["startsAt"]
                                    for r in rec.snapshot()[n:]
                                    for x in json.loads(r["body"])), 15)
        assert wait_for(lambda: "price_above" not in state.read_text(), 10), state.read_text()
    finally:
        d.cleanup()
        rec.stop()


def test_firing_set_file_torn_or_foreign_lines_are_skipped(tmp_path):
    """A torn last line or foreign text in am_firing.log is skipped and logged,
    never fatal; well-formed lines are still re-sent."""
    rec = Recorder().start()
    journal = tmp_path / "journal"
    (journal / "webhook").mkdir(parents=True)
    good = json.dumps({"type": "alert", "alert_id": "a-00000000000000aa", "portfolio_id": "p-aaa",
                       "rule": "price_above", "state": "firing", "severity": "medium",
                       "symbol": "AAA", "message": "AAA 200 \u2265 150", "value": 200,
                       "threshold": 150, "ts": 1763800000000000000}, separators=(",", ":"))
    (journal / "webhook" / "am_firing.log").write_text(
        "garbage without a number\n1763800000000000000 " + good + "\n" + "17638 {\"al")
    d = make_daemon(tmp_path, "", symbols=("AAA",), journal=str(journal),
                    extra_alerts='alertmanager_url = "%s"; alertmanager_resend_s = 1;' % rec.url)
    d.config = d.config.replace('webhook_url = ""; ', "")
    try:
        d.start()
        assert wait_for(lambda: any(x["annotations"].get("alert_id") == "a-00000000000000aa"
                                    for r in rec.snapshot() for x in json.loads(r["body"])), 10)
        skipped = [e for e in d.log_events() if e.get("event") == "alertmanager_state_lines_skipped"]
        assert skipped and skipped[0]["lines"] == 2, d.log()[-2000:]
        assert d.proc.poll() is None
    finally:
        d.cleanup()
        rec.stop()
