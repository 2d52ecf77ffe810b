"""SIGHUP reloads the config file's `alerts` and `limits` sections as well as
the log settings and portfolios; clients stay connected (SPEC §15, issue 13
item 7)."""
import asyncio
import os
import signal

import tgtest
from tgtest import connect_auth, mint, run, wait_for

SYMS = ("AAPL", "MSFT")


def conf(d, limits, alerts):
    return (tgtest.feed_conf(rate=100, symbols=SYMS) +
            'engine = { portfolios_file = "%s"; };\n' % os.path.join(d.dir, "portfolios.json") +
            "limits = { %s };\nalerts = { %s };\n" % (limits, alerts))


def start(limits, alerts):
    d = tgtest.Daemon(config="", secret=tgtest.SECRET)
    # one holding bought at 1 a share: pnl_pct is P - 1 (the synthetic walk: 20..520)
    tgtest.write_portfolios(os.path.join(d.dir, "portfolios.json"), [
        tgtest.portfolio("p-hup", "u-hup", [("AAPL", "10", "10", "1")], cash="0")])
    d.config = conf(d, limits, alerts)
    d.start()
    return d


def reload(d, limits, alerts):
    n = sum(1 for e in d.log_events() if e.get("event") == "config_reloaded")
    d.config = conf(d, limits, alerts)
    with open(os.path.join(d.dir, "tickgate.conf"), "w") as f:
        f.write(d.conf_text())
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: sum(1 for e in d.log_events()
                                if e.get("event") == "config_reloaded") > n, 10)


QUIET_ALERTS = "rebalance_drift = 1.0; loss_limit = 1.0; gain_target = 1000;"


def test_sighup_reloads_limits_clients_stay():
    d = start("msgs_per_s = 1000; burst = 1000;", QUIET_ALERTS)
    try:
        async def go():
            c, _ = await connect_auth(d.url(), mint(sub="u-1"))
            for i in range(12):
                await c.send({"type": "ping", "id": i})
            msgs = await c.collect(1)
            assert [m["type"] for m in msgs].count("pong") == 12
            assert not [m for m in msgs if m["type"] == "error"]

            await asyncio.get_running_loop().run_in_executor(
                None, reload, d, "msgs_per_s = 1; burst = 5;", QUIET_ALERTS)
            # the service thread takes the new limits at its next wake-up
            ok = await asyncio.get_running_loop().run_in_executor(None, lambda: wait_for(
                lambda: any(e.get("event") == "limits_reloaded" for e in d.log_events()), 10))
            assert ok, "the gateway thread did not take the new limits"
            for i in range(12):
                await c.send({"type": "ping", "id": 100 + i})
            msgs = await c.collect(1.5)
            errs = [m for m in msgs if m["type"] == "error"]
            assert errs and {e["code"] for e in errs} == {"rate_limited"}, msgs
            assert [m["type"] for m in msgs].count("pong") < 12
            # the same connection is still served
            await asyncio.sleep(2)
            await c.send({"type": "ping", "id": "alive"})
            assert (await c.recv_type("pong"))["id"] == "alive"
            await c.close()
        run(go())
    finally:
        d.cleanup()


def test_sighup_reloads_alert_thresholds():
    d = start("", QUIET_ALERTS)
    try:
        async def go():
            c, _ = await connect_auth(d.url(), mint(sub="u-hup"))
            await c.subscribe("notifications", id=1)
            msgs = await c.collect(2)
            assert not [m for m in msgs if m.get("type") == "alert"
                        and m.get("rule") == "gain_target"], "gain_target 1000 does not fire"
            await asyncio.get_running_loop().run_in_executor(
                None, reload, d, "", "rebalance_drift = 1.0; loss_limit = 1.0; gain_target = 0.2;")
            for _ in range(100):
                m = await c.recv(10)
                if m.get("type") == "alert" and m.get("rule") == "gain_target":
                    assert m["state"] == "firing" and m["portfolio_id"] == "p-hup"
                    break
            else:
                raise AssertionError("no gain_target alert after the reload")
            await c.close()
        run(go())
    finally:
        d.cleanup()
