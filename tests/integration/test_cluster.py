"""Issue 17: one stream, any node (SPEC §14) - one ingest node and two gateway
nodes on a real Redis stream bus and a real PostgreSQL, all on loopback.

The ingest node (`node.role = "ingest"`) has a `tcp` feed this test drives and
publishes its engine output on `redis.bus_channel`; the gateways
(`node.role = "gateway"`, two service threads each) run no feed and no engine.
One scenario, in order:

  1. every node announces the same epoch, and a market_data client on each
     node gets the same (symbol, seq, ts) sequence;
  2. a client leaves gateway 1, ticks go on, and it comes back on gateway 2
     with `epoch` + `since`: exactly the missed quotes, then `recovered`
     complete:true for every symbol; so does a gateway started only now
     (it reads the stream from the start of the epoch before it is ready);
  3. authorization on a gateway comes from the ACL carried on the bus: the
     owner and the user it is shared with read the portfolio, another user
     gets `forbidden`; the portfolio's current state (seq, ts, value) is the
     same on every node;
  4. only the ingest node writes PostgreSQL rows: the gateways are configured
     with a database of their own, which stays empty;
  5. Redis stopped and started again (it keeps no data): the gateways keep
     their clients, report `degraded` meanwhile, and then deliver every quote
     the ingest node produced during the outage, with no seq gap;
  6. failover to a standby ingest node (a new epoch): gateway clients are
     closed with 1012; reconnecting with the old epoch gets the current state
     and complete:false, and the new epoch.

Every process is stopped by PID at the end.
"""
import asyncio
import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

import tgtest
from tgtest import BIN, Client, Daemon, free_port, scaled

pytestmark = pytest.mark.skipif(not (tgtest.have_redis() and tgtest.have_postgres()),
                                reason="needs redis-server and PostgreSQL")

SYMS = ["CLA", "CLB", "CLC"]
BUS = "tickgate:bus"
TEST_BUDGET_S = scaled(150)
RECV_S = scaled(15)    # a batch of messages must arrive within this (loaded, sanitized)


def ingest_config(d, feed_port, redis_url, pg_url):
    return ('server = { listen = "127.0.0.1:%d"; };\n'
            'node = { role = "ingest"; };\n'
            'feeds = ( { name = "in"; type = "tcp"; priority = 0; listen = "127.0.0.1:%d";\n'
            '            breaker = { stale_after_ms = 0; }; } );\n'
            'redis = { url = "%s"; bus_channel = "%s"; };\n'
            'postgres = { url = "%s"; snapshot_interval_ms = 200; };\n'
            'log = { level = "info"; format = "json"; };\n'
            % (d.port, feed_port, redis_url, BUS, pg_url))


def gateway_config(d, redis_url, pg_url):
    return ('server = { listen = "127.0.0.1:%d"; threads = 2; };\n'
            'node = { role = "gateway"; };\n'
            'limits = { max_conns_per_ip = 100000; };\n'
            'redis = { url = "%s"; bus_channel = "%s"; };\n'
            'postgres = { url = "%s"; };\n'
            'log = { level = "info"; format = "json"; };\n'
            % (d.port, redis_url, BUS, pg_url))


class Feeder:
    """The publisher connected to the ingest node's tcp feed."""

    def __init__(self, port):
        end = time.monotonic() + scaled(15)
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > end:
                    raise AssertionError("ingest tcp feed does not listen on %d" % port)
                time.sleep(0.05)
        self.i = 0

    def send(self, n):
        lines = []
        for _ in range(n):
            i = self.i
            self.i += 1
            lines.append("%s %d.%02d %d\n" % (SYMS[i % 3], 100 + i // 100, i % 100, i + 1))
        self.sock.sendall("".join(lines).encode())

    def close(self):
        self.sock.close()


def ready(d):
    """(status code, body) of /health/ready, or (None, None) when not answering."""
    try:
        st, body = d.http("/health/ready")
        return st, json.loads(body)
    except (OSError, ValueError):
        return None, None


async def wait_until(pred, timeout, what):
    end = time.monotonic() + timeout
    while True:
        v = await asyncio.to_thread(pred)
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("%s: not within %d s" % (what, timeout))
        await asyncio.sleep(0.1)


def metric(d, name):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.port, timeout=3) as r:
            text = r.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


async def connect(d, sub, roles=()):
    c = await Client.connect(d.url() + "?token=" + d.token(sub, roles=roles))
    m = await c.recv_type("connection_established", RECV_S)
    return c, m["epoch"]


async def md_client(d, sub="u-md"):
    c, epoch = await connect(d, sub)
    await c.send({"type": "subscribe", "channel": "market_data", "symbols": SYMS, "id": 1})
    m = await c.recv(RECV_S)
    assert m["type"] == "subscription_confirmed", m
    return c, epoch


async def take(c, n, what, last_seq=None):
    """The next n quotes as (symbol, seq, ts); checks seq continuity per symbol."""
    got = []
    end = time.monotonic() + RECV_S
    while len(got) < n:
        try:
            m = await c.recv(max(0.01, end - time.monotonic()))
        except asyncio.TimeoutError:
            raise AssertionError("%s: %d of %d quotes within %d s" % (what, len(got), n, RECV_S))
        if m.get("type") != "quote":
            continue
        got.append((m["symbol"], m["seq"], m["ts"]))
    if last_seq is not None:
        for s, seq, _ in got:
            if s in last_seq:
                assert seq == last_seq[s] + 1, "%s: %s seq %d after %d" % (what, s, seq,
                                                                           last_seq[s])
            last_seq[s] = seq
    return got


def last_seqs(quotes):
    out = {}
    for s, seq, _ in quotes:
        out[s] = seq
    return out


def make_db(pg):
    name = "t_" + uuid.uuid4().hex[:12]
    pg.sql("CREATE DATABASE " + name)
    url = "postgresql://postgres@127.0.0.1:%d/%s" % (pg.port, name)
    r = subprocess.run([BIN, "migrate"], env=dict(os.environ, TICKGATE_POSTGRES_URL=url),
                       capture_output=True, text=True, timeout=scaled(60))
    assert r.returncode == 0, r.stderr
    return name, url


def db_sql(pg, name, q):
    import psycopg2
    conn = psycopg2.connect(host="127.0.0.1", port=pg.port, user="postgres", dbname=name)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(q)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def test_one_stream_any_node():
    redis_srv = tgtest.Redis()
    pg = tgtest.Postgres()
    ingest, gw1, gw2 = Daemon(), Daemon(), Daemon()
    standby, late = Daemon(), Daemon()
    daemons = {"ingest": ingest, "gw1": gw1, "gw2": gw2, "late": late, "standby": standby}
    exits = {}

    async def scenario():
        redis_srv.start()
        pg.start()
        idb, iurl = make_db(pg)
        gdb, gurl = make_db(pg)
        db_sql(pg, idb, "INSERT INTO portfolios (id, owner, cash) VALUES ('p-1', 'u-own', 1000)")
        db_sql(pg, idb, "INSERT INTO holdings VALUES ('p-1', 'CLA', 10, 1000, 0.5)")
        db_sql(pg, idb, "INSERT INTO portfolio_shares (portfolio_id, user_id) "
                        "VALUES ('p-1', 'u-sh')")
        feed_port = free_port()
        ingest.config = ingest_config(ingest, feed_port, redis_srv.url, iurl)
        gw1.config = gateway_config(gw1, redis_srv.url, gurl)
        gw2.config = gateway_config(gw2, redis_srv.url, gurl)
        ingest.start()
        feeder = Feeder(feed_port)
        gw1.start()
        gw2.start()
        # a gateway is ready once it knows the ingest epoch (the portfolio the
        # ingest engine publishes at start is on the bus already)
        for name, d in (("gateway 1", gw1), ("gateway 2", gw2)):
            await wait_until(lambda d=d: ready(d)[0] == 200, RECV_S, name + " ready")
            st, body = ready(d)
            assert body["components"]["role"] == "gateway" and \
                body["components"]["bus"] == "ok", body
            assert body["components"]["feeds"] == {}, body
            # postgres.url is set, but a gateway node does not use it
            assert body["components"]["postgres"] == "disabled", body

        # 1. same epoch, same (symbol, seq, ts) everywhere
        ci, ei = await md_client(ingest)
        c1, e1 = await md_client(gw1)
        c2, e2 = await md_client(gw2)
        assert ei == e1 == e2, ("epochs differ", ei, e1, e2)
        seq_i, seq_1, seq_2 = {}, {}, {}
        feeder.send(30)
        qi = await take(ci, 30, "ingest batch 1", seq_i)
        q1 = await take(c1, 30, "gateway 1 batch 1", seq_1)
        q2 = await take(c2, 30, "gateway 2 batch 1", seq_2)
        assert q1 == qi and q2 == qi, ("quotes differ", qi, q1, q2)

        # 2. leave gateway 1, come back on gateway 2 with epoch + since
        since = last_seqs(q1)
        await c1.close()
        feeder.send(30)
        missed = await take(ci, 30, "ingest batch 2", seq_i)
        assert await take(c2, 30, "gateway 2 batch 2", seq_2) == missed
        c3, e3 = await connect(gw2, "u-md")
        assert e3 == ei
        await c3.send({"type": "subscribe", "channel": "market_data", "symbols": SYMS, "id": 2,
                       "epoch": e1, "since": since})
        got, recovered = [], {}
        end = time.monotonic() + RECV_S
        while len(recovered) < len(SYMS):
            m = await c3.recv(max(0.01, end - time.monotonic()))
            if m["type"] == "quote":
                assert m["symbol"] not in recovered, ("quote after its recovered", m)
                got.append((m["symbol"], m["seq"], m["ts"]))
            elif m["type"] == "recovered":
                recovered[m["key"]] = m
        for s in SYMS:
            assert recovered[s]["complete"] is True and recovered[s]["from_seq"] == since[s], \
                recovered[s]
            assert [q for q in got if q[0] == s] == [q for q in missed if q[0] == s], s
        assert sorted(got, key=lambda q: q[1:]) == sorted(missed, key=lambda q: q[1:])
        await c3.close()
        # a gateway that starts now has the same history
        late.port = free_port()  # picked now: the one from the start may be taken by now
        late.config = gateway_config(late, redis_srv.url, gurl)
        late.start()
        await wait_until(lambda: ready(late)[0] == 200, RECV_S, "late gateway ready")
        c5, e5 = await connect(late, "u-md")
        assert e5 == ei
        await c5.send({"type": "subscribe", "channel": "market_data", "symbols": SYMS, "id": 6,
                       "epoch": e1, "since": since})
        got, recovered = [], {}
        end = time.monotonic() + RECV_S
        while len(recovered) < len(SYMS):
            m = await c5.recv(max(0.01, end - time.monotonic()))
            if m["type"] == "quote":
                got.append((m["symbol"], m["seq"], m["ts"]))
            elif m["type"] == "recovered":
                recovered[m["key"]] = m
        assert all(r["complete"] is True for r in recovered.values()), recovered
        assert sorted(got, key=lambda q: q[1:]) == sorted(missed, key=lambda q: q[1:])
        await c5.close()
        exits["late"] = await asyncio.to_thread(late.stop)

        # 3. authorization from the ACL on the bus; the same portfolio state everywhere
        states = []
        for d in (ingest, gw1, gw2):
            for user, allowed in (("u-own", True), ("u-sh", True), ("u-other", False)):
                c, _ = await connect(d, user)
                await c.send({"type": "subscribe", "channel": "portfolio_updates",
                              "portfolio_ids": ["p-1"], "id": 3})
                m = await c.recv(RECV_S)
                if allowed:
                    assert m["type"] == "subscription_confirmed", (user, m)
                    p = await c.recv_type("portfolio", RECV_S)
                    assert p["portfolio_id"] == "p-1"
                    if user == "u-own":
                        states.append((p["seq"], p["ts"], p["value"]))
                else:
                    assert m["type"] == "error" and m["code"] == "forbidden", (user, m)
                await c.close()
        assert states[0] == states[1] == states[2], ("portfolio state differs", states)

        # 4. only the ingest node writes PostgreSQL rows
        await wait_until(lambda: db_sql(pg, idb, "SELECT count(*) FROM quote_snapshots")[0][0] > 0,
                         RECV_S, "ingest quote_snapshots rows")
        await wait_until(
            lambda: db_sql(pg, idb, "SELECT count(*) FROM portfolio_snapshots")[0][0] > 0,
            RECV_S, "ingest portfolio_snapshots rows")
        for table in ("quote_snapshots", "portfolio_snapshots", "portfolio_alerts"):
            n = db_sql(pg, gdb, "SELECT count(*) FROM " + table)[0][0]
            assert n == 0, "a gateway wrote %d rows into %s" % (n, table)

        # 5. Redis restart on the stream bus: nothing lost, clients kept
        await asyncio.to_thread(redis_srv.stop)
        await wait_until(lambda: (ready(gw2)[1] or {}).get("status") == "degraded", RECV_S,
                         "gateway 2 degraded during the bus outage")
        assert ready(gw2)[0] == 200
        await wait_until(lambda: metric(gw2, "tickgate_bus_up") == 0, RECV_S,
                         "gateway 2 tickgate_bus_up 0")
        feeder.send(30)
        during = await take(ci, 30, "ingest during the outage", seq_i)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(redis_srv.start)
        after = await take(c2, 30, "gateway 2 after the Redis restart", seq_2)
        assert after == during, ("quotes lost or changed across the Redis restart", during,
                                 after)
        await wait_until(lambda: (ready(gw2)[1] or {}).get("status") == "ready", RECV_S,
                         "gateway 2 ready again")
        feeder.send(9)
        assert await take(c2, 9, "gateway 2 after the outage", seq_2) == \
            await take(ci, 9, "ingest after the outage", seq_i)
        assert c2.ws.close_code is None, "gateway 2 dropped its client"

        # 6. failover: a standby ingest node (new epoch)
        feeder.close()
        pf, _ = await connect(gw2, "u-own")
        await pf.send({"type": "subscribe", "channel": "portfolio_updates",
                       "portfolio_ids": ["p-1"], "id": 4})
        old = await pf.recv_type("portfolio", RECV_S)
        await pf.close()
        await ci.close()
        exits["ingest"] = await asyncio.to_thread(ingest.stop)
        standby.port = free_port()
        standby.config = ingest_config(standby, free_port(), redis_srv.url, iurl)
        standby.start()
        closed = await asyncio.wait_for(c2.ws.wait_closed(), RECV_S)
        del closed
        assert c2.ws.close_code == 1012, c2.ws.close_code
        cs, es = await connect(standby, "u-own")
        await cs.close()
        assert es != ei
        await wait_until(lambda: ready(gw2)[0] == 200, RECV_S, "gateway 2 ready on the new epoch")
        c4, e4 = await connect(gw2, "u-own")
        assert e4 == es, ("gateway epoch is not the standby's", e4, es)
        await c4.send({"type": "subscribe", "channel": "portfolio_updates",
                       "portfolio_ids": ["p-1"], "id": 5, "epoch": ei,
                       "since": {"p-1": old["seq"]}})
        m = await c4.recv(RECV_S)
        assert m["type"] == "subscription_confirmed", m
        p = await c4.recv_type("portfolio", RECV_S)
        r = await c4.recv_type("recovered", RECV_S)
        assert p["portfolio_id"] == "p-1" and r["key"] == "p-1" and r["complete"] is False, (p, r)
        await c4.close()

    ok = False
    try:
        asyncio.run(asyncio.wait_for(scenario(), TEST_BUDGET_S))
        ok = True
    finally:
        for name, d in daemons.items():
            if d.proc is not None and name not in exits:
                exits[name] = d.stop()
        if not ok:
            for name, d in daemons.items():
                if getattr(d, "stderr", None):
                    print("---- %s (exit %s) ----\n%s" % (name, exits.get(name), d.log()[-5000:]))
        try:
            for d in daemons.values():
                d.cleanup()
        finally:
            redis_srv.cleanup()
            pg.cleanup()
    assert all(code == 0 for code in exits.values()), exits


def pubsub_config(d, role, redis_url, feed_port=None):
    feeds = ('feeds = ( { name = "in"; type = "tcp"; listen = "127.0.0.1:%d";\n'
             '            breaker = { stale_after_ms = 0; }; } );\n' % feed_port) if feed_port else ""
    return ('server = { listen = "127.0.0.1:%d"; };\n'
            'node = { role = "%s"; };\n%s'
            'redis = { url = "%s"; bus_channel = "tickgate:bus-ps"; bus_mode = "pubsub"; };\n'
            'log = { level = "info"; format = "json"; };\n' % (d.port, role, feeds, redis_url))


def test_pubsub_bus_outage_gives_current_state_and_complete_false():
    """redis.bus_mode = "pubsub": the same stream while Redis is up; across an
    outage (messages lost) each connected client gets `recovered`
    complete:false plus the current state per key, history starts over, and
    the flow resumes."""
    redis_srv = tgtest.Redis()
    ingest, gw = Daemon(), Daemon()
    exits = {}

    async def scenario():
        redis_srv.start()
        feed_port = free_port()
        ingest.config = pubsub_config(ingest, "ingest", redis_srv.url, feed_port)
        gw.config = pubsub_config(gw, "gateway", redis_srv.url)
        ingest.start()
        gw.start()
        feeder = Feeder(feed_port)
        # no message yet: the publisher's heartbeat gives the gateway the epoch
        await wait_until(lambda: ready(gw)[0] == 200, RECV_S, "gateway ready")
        ci, ei = await md_client(ingest)
        cg, eg = await md_client(gw)
        assert ei == eg
        seq_i, seq_g = {}, {}
        feeder.send(9)
        qi = await take(ci, 9, "ingest", seq_i)
        assert await take(cg, 9, "gateway", seq_g) == qi
        before = last_seqs(qi)

        await asyncio.to_thread(redis_srv.stop)
        await wait_until(lambda: (ready(gw)[1] or {}).get("status") == "degraded", RECV_S,
                         "gateway degraded")
        feeder.send(9)
        during = await take(ci, 9, "ingest during the outage", seq_i)
        await asyncio.to_thread(redis_srv.start)
        recovered, states = {}, {}
        end = time.monotonic() + RECV_S
        while len(recovered) < len(SYMS):
            m = await cg.recv(max(0.01, end - time.monotonic()))
            if m["type"] == "recovered":
                recovered[m["key"]] = m
            elif m["type"] == "quote" and m["symbol"] not in recovered:
                continue  # resent by the publisher before the gateway noticed the gap
            elif m["type"] == "quote":
                states.setdefault(m["symbol"], m)
        for s_ in SYMS:
            assert recovered[s_]["complete"] is False, recovered[s_]
        # the flow resumes: the last ticks reach the gateway client
        await wait_until(lambda: (ready(gw)[1] or {}).get("status") == "ready", RECV_S,
                         "gateway ready again")
        feeder.send(9)
        want = await take(ci, 9, "ingest after the outage", seq_i)
        last = {}
        end = time.monotonic() + RECV_S
        while last != last_seqs(want):
            m = await cg.recv(max(0.01, end - time.monotonic()))
            if m["type"] == "quote":
                last[m["symbol"]] = m["seq"]
        # history started over at the gap: a `since` from before the outage is
        # answered complete:false - unless the publisher's resend of what it
        # buffered reached the gateway after it resubscribed, in which case the
        # replay must be exactly what the ingest node sent
        c2, _ = await connect(gw, "u-md")
        await c2.send({"type": "subscribe", "channel": "market_data", "symbols": SYMS[:1],
                       "id": 2, "epoch": ei, "since": {SYMS[0]: before[SYMS[0]]}})
        replay = []
        end = time.monotonic() + RECV_S * 4  # live messages keep coming: one bound
        while True:
            assert time.monotonic() < end, "no recovered"
            m = await c2.recv(RECV_S)
            if m["type"] == "quote":
                replay.append((m["symbol"], m["seq"], m["ts"]))
            elif m["type"] == "recovered":
                break
        if m["complete"]:
            sent = [q for q in during + want if q[0] == SYMS[0]]
            assert replay == sent, (replay, sent)
        else:
            assert len(replay) == 1, replay  # the current state
        feeder.close()
        for c in (ci, cg, c2):
            await c.close()

    ok = False
    try:
        asyncio.run(asyncio.wait_for(scenario(), scaled(90)))
        ok = True
    finally:
        for name, d in (("ingest", ingest), ("gw", gw)):
            if d.proc is not None:
                exits[name] = d.stop()
            if not ok and getattr(d, "stderr", None):
                print("---- %s ----\n%s" % (name, d.log()[-4000:]))
        try:
            ingest.cleanup()
            gw.cleanup()
        finally:
            redis_srv.cleanup()
    assert all(code == 0 for code in exits.values()), exits


def notif_config(d, role, redis_url, feed_port=None, pf=None, pg_url=None):
    feeds = ('feeds = ( { name = "in"; type = "tcp"; listen = "127.0.0.1:%d";\n'
             '            breaker = { stale_after_ms = 0; }; } );\n'
             'engine = { portfolios_file = "%s"; };\n' % (feed_port, pf)) if feed_port else ""
    if pg_url:
        feeds += 'postgres = { url = "%s"; };\n' % pg_url
    return ('server = { listen = "127.0.0.1:%d"; threads = 2; };\n'
            'node = { role = "%s"; };\n%s'
            'redis = { url = "%s"; bus_channel = "tickgate:bus-notif"; };\n'
            'log = { level = "info"; format = "json"; };\n' % (d.port, role, feeds, redis_url))


async def notifs(c, n):
    """The next n alert messages of c as (alert_id, state, seq, ts)."""
    out = []
    while len(out) < n:
        m = await c.recv(RECV_S)
        if m["type"] == "alert":
            out.append((m["alert_id"], m["state"], m["seq"], m["ts"]))
    return out


def test_notifications_seq_same_on_every_node(tmp_path):
    """A user's notifications seq is numbered once, by the ingest engine, and
    carried on the bus: a gateway where the user subscribes only after an
    alert sends the next one with the ingest node's seq (not its own count
    from 1), and a gateway the user never visited resumes the stream with
    `since` and complete:true."""
    redis_srv = tgtest.Redis()
    ingest, gw1, gw2 = Daemon(), Daemon(), Daemon()
    exits = {}
    pf = tmp_path / "pf.json"
    off = {"rebalance_drift": None, "loss_limit": None, "gain_target": None}
    pf.write_text(json.dumps({"portfolios": [
        {"id": "p-n", "owner": "u-1", "shared_with": ["u-2"], "cash": "0",
         "holdings": [{"symbol": "CLA", "quantity": "1", "cost_basis": "100",
                       "target_weight": "0"}],
         "alerts": dict(off, price_above={"CLA": "150"})}]}))

    async def scenario():
        redis_srv.start()
        feed_port = free_port()
        ingest.config = notif_config(ingest, "ingest", redis_srv.url, feed_port, pf)
        gw1.config = notif_config(gw1, "gateway", redis_srv.url)
        gw2.config = notif_config(gw2, "gateway", redis_srv.url)
        ingest.start()
        gw1.start()
        gw2.start()
        feeder = Feeder(feed_port)
        for name, d in (("gateway 1", gw1), ("gateway 2", gw2)):
            await wait_until(lambda d=d: ready(d)[0] == 200, RECV_S, name + " ready")

        def tick(price):
            feeder.sock.sendall(("CLA %s 1\n" % price).encode())

        ci, ei = await connect(ingest, "u-2")
        await ci.send({"type": "subscribe", "channel": "notifications", "id": 1})
        await ci.recv_type("subscription_confirmed", RECV_S)
        ca, _ = await connect(ingest, "ops", roles=("admin",))  # an admin reads every alert
        await ca.send({"type": "subscribe", "channel": "notifications", "id": 1})
        await ca.recv_type("subscription_confirmed", RECV_S)
        tick("200")  # fires: u-2's first notification on every node
        first = await notifs(ci, 1)
        admin_first = await notifs(ca, 1)
        assert first[0][1] == "firing" and first[0][2] >= 1, first
        # u-2 arrives on gateway 1 only now
        c1, e1 = await connect(gw1, "u-2")
        assert e1 == ei
        await c1.send({"type": "subscribe", "channel": "notifications", "id": 1})
        await c1.recv_type("subscription_confirmed", RECV_S)
        tick("100")  # resolves
        second_i = await notifs(ci, 1)
        second_1 = await notifs(c1, 1)
        assert second_1 == second_i, ("gateway renumbers notifications", second_i, second_1)
        assert second_i[0][2] == first[0][2] + 1, (first, second_i)
        since = second_1[0][2]
        await c1.close()
        tick("200")  # fires again while u-2 is away from the gateways
        missed = await notifs(ci, 1)
        # back on gateway 2, where u-2 never subscribed
        c2, e2 = await connect(gw2, "u-2")
        assert e2 == ei
        await c2.send({"type": "subscribe", "channel": "notifications", "id": 2,
                       "epoch": e1, "since": {"notifications": since}})
        got = []
        end = time.monotonic() + RECV_S * 4  # live messages keep coming: one bound
        while True:
            assert time.monotonic() < end, "no recovered"
            m = await c2.recv(RECV_S)
            if m["type"] == "alert":
                got.append((m["alert_id"], m["state"], m["seq"], m["ts"]))
            elif m["type"] == "recovered":
                break
        assert m["complete"] is True and m["from_seq"] == since, m
        assert got == missed, (got, missed)
        # the admin, who only ever subscribed on the ingest node, resumes on
        # gateway 2 too: the admins' stream is kept on every node
        admin_later = await notifs(ca, 2)
        await ca.close()
        ca2, _ = await connect(gw2, "ops", roles=("admin",))
        await ca2.send({"type": "subscribe", "channel": "notifications", "id": 2,
                        "epoch": e1, "since": {"notifications": admin_first[0][2]}})
        agot = []
        end = time.monotonic() + RECV_S * 4  # live messages keep coming: one bound
        while True:
            assert time.monotonic() < end, "no recovered"
            m = await ca2.recv(RECV_S)
            if m["type"] == "alert":
                agot.append((m["alert_id"], m["state"], m["seq"], m["ts"]))
            elif m["type"] == "recovered":
                break
        assert m["complete"] is True, m
        assert agot == admin_later, (agot, admin_later)
        feeder.close()
        for c in (ci, c2, ca2):
            await c.close()

    ok = False
    try:
        asyncio.run(asyncio.wait_for(scenario(), scaled(90)))
        ok = True
    finally:
        for name, d in (("ingest", ingest), ("gw1", gw1), ("gw2", gw2)):
            if d.proc is not None:
                exits[name] = d.stop()
            if not ok and getattr(d, "stderr", None):
                print("---- %s ----\n%s" % (name, d.log()[-4000:]))
        try:
            for d in (ingest, gw1, gw2):
                d.cleanup()
        finally:
            redis_srv.cleanup()
    assert all(code == 0 for code in exits.values()), exits


def test_bars_same_on_gateway_and_resume_there(tmp_path):
    """Bars (SPEC §12) come over the bus like every engine message: a gateway
    sends the same `bar` messages (key SYMBOL@INTERVAL, seq, start, OHLCV) as
    the ingest node, and `since` on a bars key resumes on the gateway with
    complete:true."""
    redis_srv = tgtest.Redis()
    ingest, gw = Daemon(), Daemon()
    exits = {}
    pf = tmp_path / "pf.json"
    pf.write_text(json.dumps({"portfolios": []}))

    async def scenario():
        redis_srv.start()
        feed_port = free_port()
        ingest.config = notif_config(ingest, "ingest", redis_srv.url, feed_port, pf)
        gw.config = notif_config(gw, "gateway", redis_srv.url)
        ingest.start()
        gw.start()
        feeder = Feeder(feed_port)
        await wait_until(lambda: ready(gw)[0] == 200, RECV_S, "gateway ready")
        sub = {"type": "subscribe", "channel": "bars", "symbols": ["CLA"], "interval": "1s",
               "id": 1}
        ci, ei = await connect(ingest, "u-b")
        cg, eg = await connect(gw, "u-b")
        assert ei == eg
        for c in (ci, cg):
            await c.send(sub)
            await c.recv_type("subscription_confirmed", RECV_S)

        async def bars(c, n_final):
            """bar messages up to and including the n_final-th final one."""
            out, finals = [], 0
            while finals < n_final:
                m = await c.recv(RECV_S)
                if m["type"] == "bar":
                    out.append((m["symbol"], m["interval"], m["seq"], m["start"], m["close"],
                                m["volume"], m["final"]))
                    finals += m["final"]
            return out

        async def trade_for(seconds):
            end = time.monotonic() + seconds
            i = 0
            while time.monotonic() < end:
                feeder.sock.sendall(("CLA %d.%02d 10\n" % (100 + i // 100, i % 100)).encode())
                i += 1
                await asyncio.sleep(0.05)

        await trade_for(2.3)
        bi = await bars(ci, 2)
        bg = await bars(cg, 2)
        assert bi == bg, ("bars differ", bi, bg)
        since = bg[-1][2]
        await cg.close()
        await trade_for(2.3)
        missed = await bars(ci, 2)
        c2, _ = await connect(gw, "u-b")
        await c2.send(dict(sub, id=2, epoch=ei, since={"CLA@1s": since}))
        got = []
        end = time.monotonic() + RECV_S * 4  # live messages keep coming: one bound
        while True:
            assert time.monotonic() < end, "no recovered"
            m = await c2.recv(RECV_S)
            if m["type"] == "bar":
                got.append((m["symbol"], m["interval"], m["seq"], m["start"], m["close"],
                            m["volume"], m["final"]))
            elif m["type"] == "recovered":
                break
        assert m["complete"] is True and m["key"] == "CLA@1s", m
        assert got[:len(missed)] == missed, (got, missed)
        assert [b[2] for b in got] == list(range(since + 1, since + 1 + len(got))), got
        feeder.close()
        for c in (ci, c2):
            await c.close()

    ok = False
    try:
        asyncio.run(asyncio.wait_for(scenario(), scaled(90)))
        ok = True
    finally:
        for name, d in (("ingest", ingest), ("gw", gw)):
            if d.proc is not None:
                exits[name] = d.stop()
            if not ok and getattr(d, "stderr", None):
                print("---- %s ----\n%s" % (name, d.log()[-4000:]))
        try:
            for d in (ingest, gw):
                d.cleanup()
        finally:
            redis_srv.cleanup()
    assert all(code == 0 for code in exits.values()), exits


def test_bars_rest_on_gateway_reads_the_ingest_rows(tmp_path):
    """GET /api/v1/bars on a gateway node (no engine) answers from PostgreSQL,
    read only: the final bars the ingest node wrote, identical to the ingest
    node's answer (SPEC §12, §14)."""
    redis_srv = tgtest.Redis()
    pg = tgtest.Postgres()
    ingest, gw = Daemon(), Daemon()
    exits = {}
    pf = tmp_path / "pf.json"
    pf.write_text(json.dumps({"portfolios": []}))

    def rest_bars(d):
        st, body = d.http("/api/v1/bars/CLA?interval=1s", token=d.token("u-b"))
        assert st == 200, (st, body)
        return [(b["symbol"], b["interval"], b["start"], b["open"], b["high"], b["low"],
                 b["close"], b["volume"]) for b in json.loads(body)["data"]]

    async def scenario():
        redis_srv.start()
        pg.start()
        _, url = make_db(pg)
        feed_port = free_port()
        ingest.config = notif_config(ingest, "ingest", redis_srv.url, feed_port, pf, url)
        gw.config = notif_config(gw, "gateway", redis_srv.url, pg_url=url)
        ingest.start()
        gw.start()
        feeder = Feeder(feed_port)
        await wait_until(lambda: ready(gw)[0] == 200, RECV_S, "gateway ready")
        end = time.monotonic() + 3.3
        i = 0
        while time.monotonic() < end:
            feeder.sock.sendall(("CLA %d.%02d 10\n" % (100 + i // 100, i % 100)).encode())
            i += 1
            await asyncio.sleep(0.05)
        await wait_until(lambda: len(rest_bars(ingest)) >= 2, RECV_S, "ingest REST bars")
        bi = rest_bars(ingest)
        bg = rest_bars(gw)
        assert bg == bi, ("REST bars differ", bi, bg)
        feeder.close()

    ok = False
    try:
        asyncio.run(asyncio.wait_for(scenario(), scaled(90)))
        ok = True
    finally:
        for name, d in (("ingest", ingest), ("gw", gw)):
            if d.proc is not None:
                exits[name] = d.stop()
            if not ok and getattr(d, "stderr", None):
                print("---- %s ----\n%s" % (name, d.log()[-4000:]))
        try:
            for d in (ingest, gw):
                d.cleanup()
        finally:
            try:
                pg.cleanup()
            finally:
                redis_srv.cleanup()
    assert all(code == 0 for code in exits.values()), exits
