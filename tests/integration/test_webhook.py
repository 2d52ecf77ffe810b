"""Issue 16 / 13.4: alert webhook delivery against a real recording HTTP
receiver - signature, headers and body, order, retry timing and give-up,
dropped 4xx, a slow receiver, redelivery across a restart with journal.dir,
metrics, and the secret masked by check-config."""
import hashlib
import hmac
import json
import os
import socket
import subprocess
import time

from tgtest import BIN, Daemon, free_port, wait_for
from receivers import Recorder

SECRET = "whsec-0123456789abcdef"


def metric(d, name, labels=""):
    want = name + ("{%s}" % labels if labels else "")
    for line in d.http("/metrics")[1].decode().splitlines():
        if line.startswith(want + " "):
            return float(line.split()[1])
    return None


def make_daemon(tmp_path, hook_url, extra_alerts="", journal=None, symbols=("AAA", "BBB")):
    """A daemon with a tcp feed we publish on and one portfolio per symbol."""
    pf = tmp_path / "pf.json"
    pf.write_text(json.dumps({"portfolios": [{
        "id": "p-" + s.lower(), "owner": "u-1", "cash": "0",
        "holdings": [{"symbol": s, "quantity": "1", "cost_basis": "100", "target_weight": "0"}],
        "alerts": {"price_above": {s: "150"}, "rebalance_drift": None, "loss_limit": None,
                   "gain_target": None}} for s in symbols]}))
    feed_port = free_port()
    conf = ('feeds = ({ name = "pub"; type = "tcp"; listen = "127.0.0.1:%d"; '
            'breaker = { stale_after_ms = 0; }; });\n'
            'engine = { portfolios_file = "%s"; };\n'
            'alerts = { webhook_url = "%s"; webhook_secret = "%s"; %s };\n'
            % (feed_port, pf, hook_url, SECRET, extra_alerts))
    if journal:
        conf += 'journal = { dir = "%s"; };\n' % journal
    d = Daemon(config=conf)
    d.feed_port = feed_port
    return d


def publish(d, ticks):
    """ticks: [(symbol, price)], sent in order on the tcp feed. The publisher
    stays connected (a publisher that goes away opens the feed's breaker,
    a system alert these tests do not want)."""
    if not getattr(d, "pub", None):
        def connect():  # no probe connection: its close would be a disconnect too
            try:
                return socket.create_connection(("127.0.0.1", d.feed_port))
            except OSError:
                return None
        d.pub = wait_for(connect, 10)
        assert d.pub
    now = time.time_ns()
    data = "".join("%s %s 1 %d\n" % (s, p, now + i) for i, (s, p) in enumerate(ticks))
    d.pub.sendall(data.encode())
    time.sleep(0.3)


def alert_log(d):
    """The alert events in the order the engine raised them (its log)."""
    return ["%s:%s" % (e["alert_id"], e["state"]) for e in d.log_events()
            if e.get("event") == "alert"]


CROSSINGS = [("AAA", "200"), ("BBB", "200"), ("AAA", "100"), ("BBB", "100"),
             ("AAA", "201"), ("BBB", "202"), ("AAA", "99"), ("BBB", "98")]


def test_signed_ordered_delivery_and_metrics(tmp_path):
    rec = Recorder().start()
    d = make_daemon(tmp_path, rec.url + "/hook")
    try:
        d.start()
        # exported from start, at 0
        assert metric(d, "tickgate_webhook_backlog") == 0
        assert metric(d, "tickgate_webhook_sent_total", 'result="delivered"') == 0
        publish(d, CROSSINGS)
        assert wait_for(lambda: len(rec.snapshot()) >= 8, 20), rec.snapshot()
        time.sleep(0.5)
        reqs = rec.snapshot()
        assert len(reqs) == 8  # 200 each: nothing is sent twice
        raised = alert_log(d)
        assert [r["headers"]["x-tickgate-delivery"] for r in reqs] == raised
        for r in reqs:
            assert r["path"] == "/hook"
            assert r["headers"]["content-type"] == "application/json"
            want = "sha256=" + hmac.new(SECRET.encode(), r["body"], hashlib.sha256).hexdigest()
            assert r["headers"]["x-tickgate-signature"] == want
            body = json.loads(r["body"])
            assert body["type"] == "alert" and body["rule"] == "price_above"
            assert r["headers"]["x-tickgate-delivery"] == "%s:%s" % (body["alert_id"],
                                                                      body["state"])
        # per portfolio: firing, resolved, firing, resolved with one id per episode
        for pid, sym, values in (("p-aaa", "AAA", [200, 100, 201, 99]),
                                 ("p-bbb", "BBB", [200, 100, 202, 98])):
            mine = [json.loads(r["body"]) for r in reqs
                    if json.loads(r["body"])["portfolio_id"] == pid]
            assert [m["state"] for m in mine] == ["firing", "resolved", "firing", "resolved"]
            assert [m["value"] for m in mine] == values
            assert all(m["symbol"] == sym and m["threshold"] == 150 for m in mine)
            assert mine[0]["alert_id"] == mine[1]["alert_id"] != mine[2]["alert_id"]
            assert mine[2]["alert_id"] == mine[3]["alert_id"]
        assert wait_for(lambda: metric(d, "tickgate_webhook_sent_total",
                                       'result="delivered"') == 8, 5)
        assert metric(d, "tickgate_webhook_backlog") == 0
        # a tampered body does not verify
        bad = hmac.new(SECRET.encode(), reqs[0]["body"] + b" ", hashlib.sha256).hexdigest()
        assert reqs[0]["headers"]["x-tickgate-signature"] != "sha256=" + bad
        assert SECRET not in d.log()
    finally:
        d.cleanup()
        rec.stop()


def test_retry_backoff_then_give_up(tmp_path):
    """500 forever: attempts at 0, +1 s, +3 s (1 s doubling, ±20 % jitter), then
    expired at webhook_max_retry_s = 5 (the next wait, 4 s ± 20 %, would end past it)."""
    rec = Recorder(lambda req: 500).start()
    d = make_daemon(tmp_path, rec.url, "webhook_max_retry_s = 5;", symbols=("AAA",))
    try:
        d.start()
        publish(d, [("AAA", "200")])
        assert wait_for(lambda: metric(d, "tickgate_webhook_sent_total",
                                       'result="expired"') == 1, 30)
        time.sleep(1.5)
        reqs = rec.snapshot()
        assert len(reqs) == 3, [r["t"] for r in reqs]
        assert len({r["headers"]["x-tickgate-delivery"] for r in reqs}) == 1
        gaps = [b["t"] - a["t"] for a, b in zip(reqs, reqs[1:])]
        # never earlier than the backoff minus its jitter (a loaded machine may only be later)
        assert gaps[0] >= 0.75 and gaps[1] >= 1.55, gaps
        assert metric(d, "tickgate_webhook_sent_total", 'result="retried"') == 2
        assert metric(d, "tickgate_webhook_sent_total", 'result="delivered"') == 0
        assert metric(d, "tickgate_webhook_backlog") == 0
        assert any(e.get("event") == "webhook_expired" for e in d.log_events())
    finally:
        d.cleanup()
        rec.stop()


def test_retryable_statuses_then_success_and_4xx_dropped(tmp_path):
    """429, 408, 503 are retried and the event then delivered once; a 400 drops
    the event (counted) and the queue moves on to the next one."""
    script = {1: 429, 2: 408, 3: 503, 4: 200, 5: 400, 6: 200}
    rec = Recorder(lambda req: script.get(req["n"], 200)).start()
    d = make_daemon(tmp_path, rec.url, symbols=("AAA",))
    try:
        d.start()
        publish(d, [("AAA", "200"), ("AAA", "100")])
        assert wait_for(lambda: len(rec.snapshot()) >= 5, 30), rec.snapshot()
        publish(d, [("AAA", "300")])  # after the dropped one, the queue goes on
        assert wait_for(lambda: len(rec.snapshot()) >= 6, 30), rec.snapshot()
        time.sleep(0.5)
        reqs = rec.snapshot()
        assert len(reqs) == 6
        raised = alert_log(d)
        assert len(raised) == 3
        ids = [r["headers"]["x-tickgate-delivery"] for r in reqs]
        assert ids == [raised[0]] * 4 + [raised[1], raised[2]]
        gaps = [b["t"] - a["t"] for a, b in zip(reqs[:4], reqs[1:4])]
        assert gaps[0] >= 0.75 and gaps[1] >= 1.55 and gaps[2] >= 3.15, gaps
        assert metric(d, "tickgate_webhook_sent_total", 'result="retried"') == 3
        assert metric(d, "tickgate_webhook_sent_total", 'result="rejected"') == 1
        assert wait_for(lambda: metric(d, "tickgate_webhook_sent_total",
                                       'result="delivered"') == 2, 5)
        assert any(e.get("event") == "webhook_rejected" and e.get("status") == 400
                   for e in d.log_events())
    finally:
        d.cleanup()
        rec.stop()


def test_timeout_is_retried(tmp_path):
    """A receiver slower than webhook_timeout_ms counts as a failure and is retried."""
    def slow_first(req):
        if req["n"] == 1:
            time.sleep(2.0)
        return 200
    rec = Recorder(slow_first).start()
    d = make_daemon(tmp_path, rec.url, "webhook_timeout_ms = 300;", symbols=("AAA",))
    try:
        d.start()
        publish(d, [("AAA", "200")])
        assert wait_for(lambda: metric(d, "tickgate_webhook_sent_total",
                                       'result="delivered"') == 1, 20)
        reqs = rec.snapshot()
        assert len(reqs) == 2 and reqs[0]["body"] == reqs[1]["body"]
        assert metric(d, "tickgate_webhook_sent_total", 'result="retried"') == 1
    finally:
        d.cleanup()
        rec.stop()


def test_undelivered_events_survive_a_restart_in_order(tmp_path):
    """Receiver answering 500 while tickgate runs; tickgate restarts; the
    receiver recovers and gets every event of the first run, in order (a
    duplicate only where an attempt's answer was lost)."""
    jdir = tmp_path / "journal"
    down = {"on": True}
    rec = Recorder(lambda req: 500 if down["on"] else 200).start()
    d = make_daemon(tmp_path, rec.url, journal=str(jdir))
    try:
        d.start()
        publish(d, CROSSINGS)
        assert wait_for(lambda: len(alert_log(d)) == 8, 10)
        raised = alert_log(d)
        assert wait_for(lambda: metric(d, "tickgate_webhook_backlog") == 8, 10)
        assert d.stop() == 0
        assert (jdir / "webhook" / "queue.log").stat().st_size > 0
        # second run: no crossings (a price inside the band), receiver healthy
        down["on"] = False
        n_before = len(rec.snapshot())
        d2 = make_daemon(tmp_path, rec.url, journal=str(jdir))
        try:
            d2.start()
            assert wait_for(lambda: metric(d2, "tickgate_webhook_sent_total",
                                           'result="delivered"') == 8, 30)
            got = [r["headers"]["x-tickgate-delivery"] for r in rec.snapshot()[n_before:]]
            assert got == raised
            assert alert_log(d2) == []
            assert wait_for(lambda: metric(d2, "tickgate_webhook_backlog") == 0, 10)
        finally:
            d2.cleanup()
        # everything delivered: the queue file starts over
        assert (jdir / "webhook" / "queue.log").stat().st_size == 0
        # a third start has nothing to send
        n3 = len(rec.snapshot())
        d3 = make_daemon(tmp_path, rec.url, journal=str(jdir))
        try:
            d3.start()
            time.sleep(1.0)
            assert len(rec.snapshot()) == n3
        finally:
            d3.cleanup()
    finally:
        d.cleanup()
        rec.stop()


def test_check_config_masks_the_secret(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text('alerts = { webhook_url = "http://127.0.0.1:9/h"; '
                    'webhook_secret = "%s"; alertmanager_url = "http://127.0.0.1:9"; };\n'
                    'auth = { jwt_secret = "x-0123456789abcdef0123456789"; };\n' % SECRET)
    r = subprocess.run([BIN, "--config", str(conf), "check-config"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert SECRET not in out
    assert "webhook_secret" in out
    bad = tmp_path / "bad.conf"
    bad.write_text('alerts = { alertmanager_url = "ftp://x"; };\n')
    r = subprocess.run([BIN, "--config", str(bad), "check-config"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "alerts.alertmanager_url" in r.stderr


def test_hanging_receiver_does_not_block_shutdown(tmp_path):
    """A receiver that never answers: SIGTERM still ends the process cleanly
    (the transfer in flight is aborted) and the event stays on disk."""
    release = {"go": False}

    def hang(req):
        end = time.time() + 60
        while not release["go"] and time.time() < end:
            time.sleep(0.05)
        return 200
    rec = Recorder(hang).start()
    jdir = tmp_path / "journal"
    d = make_daemon(tmp_path, rec.url, "webhook_timeout_ms = 600000;", journal=str(jdir),
                    symbols=("AAA",))
    try:
        d.start()
        publish(d, [("AAA", "200")])
        assert wait_for(lambda: len(rec.snapshot()) == 1, 10)
        assert d.stop() == 0  # not killed: Daemon.stop kills after 10 s
        assert (jdir / "webhook" / "queue.log").stat().st_size > 0
    finally:
        release["go"] = True
        d.cleanup()
        rec.stop()
