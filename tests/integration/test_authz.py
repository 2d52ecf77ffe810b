"""Authorization (SPEC §5): owner, shared_with, token `portfolios` claim, admin;
forbidden keeps the connection; system needs admin; alerts reach exactly the
users who may read the portfolio."""
import asyncio
import os

import pytest

import tgtest
from tgtest import SECRET, cents, connect_auth, crossing_level, mint, portfolio, run, synth_paths

SYMS = ["AAPL", "MSFT"]
RATE = 400


@pytest.fixture(scope="module")
def d():
    d = tgtest.Daemon(config="", secret=SECRET)
    path = synth_paths(42, SYMS, 200 * 40)["AAPL"]
    level, _ = crossing_level(path, RATE // 2, RATE // 2 * 30)
    pf = [portfolio("p-shared", "owner1", [("AAPL", "10", "1000", "1")], shared_with=["friend"],
                    alerts={"price_above": {"AAPL": cents(level)}}),
          portfolio("p-private", "owner2", [("MSFT", "10", "1000", "1")],
                    alerts={"price_above": {"AAPL": cents(level)}}),
          portfolio("p-claimed", "owner3", [("MSFT", "5", "500", "1")])]
    f = tgtest.write_portfolios(os.path.join(d.dir, "p.json"), pf)
    d.config = tgtest.feed_conf(rate=RATE, symbols=SYMS) + 'engine = { portfolios_file = "%s"; };\n' % f
    d.start()
    tgtest.wait_quotes("http://127.0.0.1:%d" % d.port, mint(sub="x"), SYMS)
    yield d
    d.cleanup()


async def try_sub(d, token, pid, id=1):
    c, _ = await connect_auth(d.url(), token)
    await c.subscribe("portfolio_updates", [pid], id=id)
    m = await c.recv(5)
    return c, m


@pytest.mark.parametrize("who,pid,ok", [
    (dict(sub="owner1"), "p-shared", True),
    (dict(sub="friend"), "p-shared", True),
    (dict(sub="friend"), "p-private", False),
    (dict(sub="owner2"), "p-shared", False),
    (dict(sub="someone", portfolios=["p-claimed"]), "p-claimed", True),
    (dict(sub="someone", portfolios=["p-claimed"]), "p-private", False),
    (dict(sub="root", roles=["admin"]), "p-private", True),
])
def test_portfolio_access(d, who, pid, ok):
    async def go():
        c, m = await try_sub(d, mint(**who), pid, id=42)
        if ok:
            assert m["type"] == "subscription_confirmed" and m["portfolio_ids"] == [pid]
            st = await c.recv()
            assert st["type"] == "portfolio" and st["portfolio_id"] == pid
        else:
            assert m == {"type": "error", "code": "forbidden", "message": m["message"], "id": 42}
            await c.send({"type": "ping", "id": 1})
            assert (await c.recv_type("pong"))["id"] == 1, "connection kept"
            snap_id = "s"
            await c.send({"type": "snapshot", "channel": "portfolio_updates",
                          "portfolio_ids": [pid], "id": snap_id})
            m = await c.recv()
            assert m["type"] == "error" and m["code"] == "forbidden" and m["id"] == "s"
        await c.close()
    run(go())


def test_unknown_portfolio_looks_forbidden_to_non_admin(d):
    async def go():
        c, m = await try_sub(d, mint(sub="friend"), "p-does-not-exist", id=7)
        assert m["type"] == "error" and m["code"] == "forbidden" and m["id"] == 7
        await c.close()
    run(go())


def test_partial_accept(d):
    async def go():
        c, _ = await connect_auth(d.url(), mint(sub="friend"))
        await c.subscribe("portfolio_updates", ["p-private", "p-shared"], id=9)
        msgs = [await c.recv() for _ in range(2)]
        types = sorted(m["type"] for m in msgs)
        assert types == ["error", "subscription_confirmed"], msgs
        conf = [m for m in msgs if m["type"] == "subscription_confirmed"][0]
        assert conf["portfolio_ids"] == ["p-shared"] and conf["id"] == 9
        await c.close()
    run(go())


def test_system_needs_admin(d):
    async def go():
        c, _ = await connect_auth(d.url(), mint(sub="owner1"))
        await c.subscribe("system", id=4)
        m = await c.recv()
        assert m["type"] == "error" and m["code"] == "forbidden" and m["id"] == 4
        c2, _ = await connect_auth(d.url(), mint(sub="root", roles=["admin"]))
        await c2.subscribe("system", id=4)
        m = await c2.recv()
        assert m["type"] == "subscription_confirmed" and m["channel"] == "system"
        await c.close()
        await c2.close()
    run(go())


def test_alerts_reach_exactly_the_readers(d):
    async def go():
        users = {"owner1": mint(sub="owner1"), "friend": mint(sub="friend"),
                 "owner2": mint(sub="owner2"), "stranger": mint(sub="stranger"),
                 "claimer": mint(sub="claimer", portfolios=["p-shared"]),
                 "root": mint(sub="root", roles=["admin"])}
        cs = {}
        for u, t in users.items():
            c, _ = await connect_auth(d.url(), t)
            await c.subscribe("notifications", id=1)
            assert (await c.recv())["type"] == "subscription_confirmed"
            cs[u] = c
        got = await asyncio.gather(*(c.collect(12) for c in cs.values()))
        alerts = {u: [m for m in g if m["type"] == "alert"] for u, g in zip(cs, got)}
        pids = {u: {a["portfolio_id"] for a in al} for u, al in alerts.items()}
        assert alerts["owner1"], "no alert in 12 s"
        assert pids["owner1"] == {"p-shared"}
        assert pids["friend"] == {"p-shared"}, "shared_with users get the alerts"
        assert pids["claimer"] <= {"p-shared"} and pids["claimer"], "portfolios claim"
        assert pids["owner2"] == {"p-private"}
        assert pids["stranger"] == set()
        assert pids["root"] == {"p-shared", "p-private"}
        ids1 = [a["alert_id"] + a["state"] for a in alerts["owner1"]]
        ids2 = [a["alert_id"] + a["state"] for a in alerts["friend"]]
        common = min(len(ids1), len(ids2))
        assert common and ids1[-common:] == ids2[-common:] or ids1[:common] == ids2[:common]
        for u in ("owner1", "friend"):
            seqs = [a["seq"] for a in alerts[u]]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (u, seqs)
        for c in cs.values():
            await c.close()
    run(go())
