"""With server.threads = 2, a user's connections land on different service
threads; their `notifications` stream must still number the same alert with
the same seq on both (SPEC §5: seq per user's notifications)."""
import asyncio
import json
import time

import websockets

from tgtest import Daemon, run, scaled


def test_same_alert_same_seq_across_threads():
    d = Daemon(config='feeds = ({ name = "syn"; type = "synthetic"; rate = 2000; });\n'
                      'server = { listen = "127.0.0.1:0"; threads = 2; };\n')
    d.config = d.config.replace("127.0.0.1:0", "127.0.0.1:%d" % d.port)
    d.start()
    try:
        user = d.token("nina")
        admin = d.token("root", roles=["admin"])

        async def sub():
            w = await websockets.connect(d.url() + "?token=" + user)
            est = json.loads(await w.recv())
            await w.send(json.dumps({"type": "subscribe", "channel": "notifications", "id": 1}))
            return w, est["client_id"]

        async def alerts(w, n):
            got = []
            while len(got) < n:
                for line in (await asyncio.wait_for(w.recv(), scaled(10))).split("\n"):
                    m = json.loads(line)
                    if m["type"] == "alert":
                        got.append((m["alert_id"], m["state"], m["seq"]))
            return got

        async def put(i, sym):
            body = json.dumps({"owner": "nina", "cash": "1", "holdings": [
                {"symbol": sym, "quantity": "1", "cost_basis": "1", "target_weight": "0"}],
                "alerts": {"rebalance_drift": None, "loss_limit": None,
                           "gain_target": None, "price_above": {sym: "1"}}}).encode()
            st, _ = d.http("/api/v1/portfolios/p-nina-%d" % i, method="PUT", body=body,
                           token=admin, headers={"Content-Type": "application/json"})
            assert st == 200

        async def go():
            # the first connection sees alert 1 before the second one exists
            w1, c1 = await sub()
            await asyncio.sleep(0.2)
            await put(0, "AAPL")
            first = await alerts(w1, 1)
            assert first[0][2] == 1
            # connections are dealt round-robin (HTTP ones too): take one on the other thread
            for _ in range(4):
                w2, c2 = await sub()
                if c2.split("-")[1] != c1.split("-")[1]:  # c-<thread>-<n>
                    break
                await w2.close()
            assert c1.split("-")[1] != c2.split("-")[1], (c1, c2)
            await asyncio.sleep(0.2)
            await put(1, "MSFT")
            await put(2, "NVDA")
            a1, a2 = await alerts(w1, 2), await alerts(w2, 2)
            assert a1 == a2, (a1, a2)
            assert [s for _, _, s in a1] == [2, 3]
            await w1.close()
            await w2.close()
        run(go())
    finally:
        d.cleanup()


def test_since_recovery_complete_on_the_other_thread():
    """One notifications history per user for all threads (SPEC §11): a
    reconnect with `since` that lands on a thread which never served the user
    still gets exactly the missed alerts and complete:true."""
    d = Daemon(config='feeds = ({ name = "syn"; type = "synthetic"; rate = 2000; });\n'
                      'server = { listen = "127.0.0.1:0"; threads = 2; };\n')
    d.config = d.config.replace("127.0.0.1:0", "127.0.0.1:%d" % d.port)
    d.start()
    try:
        user = d.token("omar")
        admin = d.token("root", roles=["admin"])

        async def conn():
            w = await websockets.connect(d.url() + "?token=" + user)
            est = json.loads(await w.recv())
            return w, est

        async def msgs(w, pred, n):
            got = []
            while len(got) < n:
                for line in (await asyncio.wait_for(w.recv(), scaled(10))).split("\n"):
                    m = json.loads(line)
                    if pred(m):
                        got.append(m)
            return got

        def put(i, sym):
            body = json.dumps({"owner": "omar", "cash": "1", "holdings": [
                {"symbol": sym, "quantity": "1", "cost_basis": "1", "target_weight": "0"}],
                "alerts": {"rebalance_drift": None, "loss_limit": None,
                           "gain_target": None, "price_above": {sym: "1"}}}).encode()
            st, _ = d.http("/api/v1/portfolios/p-omar-%d" % i, method="PUT", body=body,
                           token=admin, headers={"Content-Type": "application/json"})
            assert st == 200

        async def go():
            w1, est1 = await conn()
            await w1.send(json.dumps({"type": "subscribe", "channel": "notifications"}))
            await asyncio.sleep(0.2)
            put(0, "AAPL")
            a1 = await msgs(w1, lambda m: m["type"] == "alert", 1)
            assert a1[0]["seq"] == 1
            thread1 = est1["client_id"].split("-")[1]
            await w1.close()
            # offline: two more alerts, only thread 1 knows the user
            put(1, "MSFT")
            put(2, "NVDA")
            await asyncio.sleep(0.5)
            for _ in range(6):
                w2, est2 = await conn()
                if est2["client_id"].split("-")[1] != thread1:
                    break
                await w2.close()
            assert est2["client_id"].split("-")[1] != thread1, (est1, est2)
            await w2.send(json.dumps({"type": "subscribe", "channel": "notifications",
                                      "epoch": est1["epoch"], "since": {"notifications": 1}}))
            got = await msgs(w2, lambda m: m["type"] in ("alert", "recovered"), 3)
            assert [m["type"] for m in got] == ["alert", "alert", "recovered"], got
            assert [m["seq"] for m in got[:2]] == [2, 3], got
            assert got[2]["complete"] is True, got
            # live alerts continue after the replayed ones, no duplicates
            put(3, "SPY")
            live = await msgs(w2, lambda m: m["type"] == "alert", 1)
            assert live[0]["seq"] == 4, live
            await w2.close()
        run(go())
    finally:
        d.cleanup()


def test_market_data_since_complete_on_either_thread():
    """Every service thread holds the same market-data history: a reconnect
    with `since` gets the missed quotes and complete:true on either thread."""
    d = Daemon(config='feeds = ({ name = "syn"; type = "synthetic"; rate = 200; '
                      'symbols = ["AAPL"]; });\n'
                      'server = { listen = "127.0.0.1:0"; threads = 2; };\n')
    d.config = d.config.replace("127.0.0.1:0", "127.0.0.1:%d" % d.port)
    d.start()
    try:
        tok = d.token("mia")

        async def go():
            w1 = await websockets.connect(d.url() + "?token=" + tok)
            est1 = json.loads(await w1.recv())
            await w1.send(json.dumps({"type": "subscribe", "channel": "market_data",
                                      "symbols": ["AAPL"]}))
            seq = None
            while seq is None:
                for line in (await asyncio.wait_for(w1.recv(), scaled(10))).split("\n"):
                    m = json.loads(line)
                    if m["type"] == "quote":
                        seq = m["seq"]
            await w1.close()
            await asyncio.sleep(0.3)  # quotes go on meanwhile
            threads = set()
            for _ in range(4):
                w, est = await websockets.connect(d.url() + "?token=" + tok), None
                est = json.loads(await w.recv())
                threads.add(est["client_id"].split("-")[1])
                await w.send(json.dumps({"type": "subscribe", "channel": "market_data",
                                         "symbols": ["AAPL"], "epoch": est1["epoch"],
                                         "since": {"AAPL": seq}}))
                # up to `recovered`: live quotes may follow it in the same frame, and
                # they keep coming, so the wait has one deadline for the whole replay
                got = []
                end = time.monotonic() + scaled(10)
                while not got or got[-1]["type"] != "recovered":
                    left = end - time.monotonic()
                    assert left > 0, ("no recovered", got[-5:])
                    for line in (await asyncio.wait_for(w.recv(), left)).split("\n"):
                        m = json.loads(line)
                        if m["type"] in ("quote", "recovered") and \
                                (not got or got[-1]["type"] != "recovered"):
                            got.append(m)
                rec = got[-1]
                assert rec["complete"] is True, rec
                seqs = [m["seq"] for m in got[:-1]]
                assert seqs == list(range(seq + 1, seq + 1 + len(seqs))) and seqs, seqs
                await w.close()
            assert len(threads) == 2, threads
        run(go())
    finally:
        d.cleanup()
