"""/metrics (SPEC §6): promtool-valid exposition with every listed metric."""
import shutil
import subprocess

import pytest

import tgtest
from tgtest import connect_auth, mint, run

LISTED = ["tickgate_ticks_received_total", "tickgate_ticks_rejected_total",
          "tickgate_ticks_accepted_total", "tickgate_breaker_state",
          "tickgate_breaker_transitions_total", "tickgate_ring_depth",
          "tickgate_ring_dropped_total", "tickgate_engine_tick_seconds",
          "tickgate_tick_to_send_seconds", "tickgate_clients_connected",
          "tickgate_messages_sent_total", "tickgate_messages_conflated_total",
          "tickgate_clients_closed_total", "tickgate_auth_failures_total",
          "tickgate_alerts_total", "tickgate_journal_bytes_total", "tickgate_io_uring_enabled"]
UNBUILT = ["tickgate_snapshot_rows_total", "tickgate_snapshot_backlog",
           "tickgate_snapshot_dropped_total", "tickgate_redis_up", "tickgate_postgres_up"]
HISTOGRAMS = ["tickgate_engine_tick_seconds", "tickgate_tick_to_send_seconds"]


@pytest.fixture(scope="module")
def text():
    d = tgtest.start_daemon(tgtest.feed_conf(rate=200))
    try:
        async def go():
            c, _ = await connect_auth(d.url(), mint())
            await c.subscribe("market_data", ["*"], id=1)
            await c.collect(1)
            await c.close()
            bad = await tgtest.WS.open(d.url(), token="x.y.z")
            await bad.until_closed(3)
        run(go())
        yield tgtest.metrics_text("http://127.0.0.1:%d" % d.port)
    finally:
        d.cleanup()


def test_promtool_check_metrics(text):
    assert shutil.which("promtool"), "Debian package prometheus provides promtool"
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    # promtool exits 1 for lint warnings too; only parse errors matter here
    errs = [l for l in (r.stdout + r.stderr).splitlines()
            if l and "error" in l.lower() and "lint" not in l.lower()]
    assert r.returncode == 0 or not errs, r.stdout + r.stderr


def names(text):
    out = set()
    for l in text.splitlines():
        if l.startswith("# TYPE "):
            out.add(l.split()[2])
    return out


@pytest.mark.parametrize("name", LISTED)
def test_listed_metric_present(text, name):
    assert name in names(text), name


@pytest.mark.parametrize("name", UNBUILT)
def test_store_metric_present_without_store(text, name):
    """SPEC §15: store metrics read 0 with the store disabled."""
    assert name in names(text), name
    assert tgtest.metric_value(text, name) == 0, name


@pytest.fixture(scope="module")
def fresh():
    """/metrics of a daemon that has seen no client, close or auth failure yet."""
    d = tgtest.start_daemon(tgtest.feed_conf(rate=10))
    try:
        yield tgtest.metrics_text("http://127.0.0.1:%d" % d.port)
    finally:
        d.cleanup()


@pytest.mark.parametrize("name", LISTED + UNBUILT)
def test_every_listed_metric_from_start(fresh, name):
    """SPEC §15: every §6 metric is exported from the start, so absent() rules work."""
    assert name in names(fresh), name


@pytest.mark.parametrize("name,labels", [
    ("tickgate_clients_closed_total", {"code": "4008"}),
    ("tickgate_clients_closed_total", {"code": "1008"}),
    ("tickgate_clients_closed_total", {"code": "1001"}),
    ("tickgate_auth_failures_total", {"reason": "revoked"}),
    ("tickgate_auth_failures_total", {"reason": "expired"}),
    ("tickgate_auth_failures_total", {"reason": "bad_signature"}),
    ("tickgate_snapshot_rows_total", {"table": "quote_snapshots"}),
    ("tickgate_redis_up", None),
    ("tickgate_postgres_up", None),
    ("tickgate_store_configured", {"store": "redis"}),
    ("tickgate_store_configured", {"store": "postgres"}),
])
def test_series_at_zero_from_start(fresh, name, labels):
    assert tgtest.metric_value(fresh, name, labels) == 0, (name, labels)


@pytest.mark.parametrize("name", HISTOGRAMS)
def test_histograms_have_bucket_sum_count(text, name):
    assert "# TYPE %s histogram" % name in text
    for suffix in ("_bucket", "_sum", "_count"):
        assert any(l.startswith(name + suffix) for l in text.splitlines()), name + suffix
    assert any(l.startswith(name + '_bucket{le="+Inf"}') or
               (l.startswith(name + "_bucket{") and 'le="+Inf"' in l) for l in text.splitlines())


def test_values_move(text):
    assert tgtest.metric_value(text, "tickgate_ticks_accepted_total") > 0
    assert tgtest.metric_value(text, "tickgate_messages_sent_total",
                              {"channel": "market_data"}) > 0
    assert tgtest.metric_value(text, "tickgate_auth_failures_total") >= 1
    assert tgtest.metric_value(text, "tickgate_tick_to_send_seconds_count") > 0
