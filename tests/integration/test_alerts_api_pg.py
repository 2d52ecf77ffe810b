"""Issue 13 item 1 / SPEC §13 "Alert API": with PostgreSQL, GET /api/v1/alerts
and /api/v1/alerts/active answer from `portfolio_alerts` (full history, feed
alerts for admins), merged with the in-memory events not written yet.

- after a restart (memory empty) the earlier alerts come back from the table,
  with every filter and the authorization (owner, shared, admin; feed alerts
  admins only; a stranger sees nothing);
- /active lists the alerts still firing;
- an alert fired while its row cannot be written yet (the table locked) is in
  the answer, a resolution not yet written hides the row's stale "firing",
  and once the rows land nothing is listed twice;
- PostgreSQL down or not answering: 200 from memory, marked by the header
  X-Tickgate-Alerts-Source: memory;
- a query PostgreSQL refuses is no outage (a non-UTF-8 filter gets 400 first);
- the merge loses nothing: PostgreSQL leaves out only what memory answers for
  this caller, before its LIMIT (/active?limit=1 behind a resolution not yet
  written; a portfolio shared after its alerts fired).
"""
import json
import socket
import threading
import time
import urllib.parse
import urllib.request

import pytest

from tgtest import Daemon, free_port, wait_for
import tgtest
from test_alerts_api import connect
from test_persistence_pg import cluster, db  # noqa: F401  (fixtures: a migrated database)

pytestmark = pytest.mark.skipif(not tgtest.have_postgres(), reason="no PostgreSQL 15")


def make(tmp_path, url):
    pf = tmp_path / "pf.json"
    off = {"rebalance_drift": None, "loss_limit": None, "gain_target": None}
    pf.write_text(json.dumps({"portfolios": [
        {"id": "p-aaa", "owner": "u-1", "shared_with": ["u-2"], "cash": "0",
         "holdings": [{"symbol": "AAA", "quantity": "1", "cost_basis": "100",
                       "target_weight": "0"}],
         "alerts": dict(off, price_above={"AAA": "150"}, price_below={"AAA": "50"})},
        {"id": "p-bbb", "owner": "u-9", "cash": "0",
         "holdings": [{"symbol": "BBB", "quantity": "1", "cost_basis": "100",
                       "target_weight": "0"}],
         "alerts": dict(off, price_below={"BBB": "50"})}]}))
    feed_port = free_port()
    d = Daemon(config='feeds = ({ name = "pub"; type = "tcp"; listen = "127.0.0.1:%d"; '
                      'breaker = { stale_after_ms = 0; }; });\n'
                      'engine = { portfolios_file = "%s"; unpriced_after_s = 3600; };\n'
                      'limits = { http_per_min = 1000000; };\n'
                      'postgres = { url = "%s"; snapshot_interval_ms = 100; };\n'
                      % (feed_port, pf, url))
    d.feed_port = feed_port
    return d


def send(sock, ticks):
    """One tick at a time, 20 ms apart: an alert's ts is its tick's arrival, and
    events of one instant have no order PostgreSQL could give back (it breaks
    the tie by id)."""
    for s, p in ticks:
        sock.sendall(("%s %s 1 %d\n" % (s, p, time.time_ns())).encode())
        time.sleep(0.02)


def get(d, tok, path, **q):
    """(status, data, X-Tickgate-Alerts-Source)"""
    qs = urllib.parse.urlencode({k: v for k, v in q.items() if v is not None})
    req = urllib.request.Request("http://127.0.0.1:%d%s%s" % (d.port, path,
                                                               "?" + qs if qs else ""))
    req.add_header("Authorization", "Bearer " + tok)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())["data"], r.headers.get(
                "X-Tickgate-Alerts-Source")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), e.headers.get("X-Tickgate-Alerts-Source")


def events(data):
    return [(a["alert_id"], a["state"]) for a in data]


def same_event(live, back):
    """A read-back event equals the live one but for what the row cannot keep:
    ts in whole microseconds, a resolution's own value/threshold/message, and
    a feed alert's seq."""
    assert back["ts"] == live["ts"] // 1000 * 1000, (live, back)
    skip = {"ts", "seq"} | ({"value", "threshold", "message"}
                            if live["state"] == "resolved" else set())
    assert {k: v for k, v in live.items() if k not in skip} == \
        {k: v for k, v in back.items() if k not in skip}, (live, back)


def test_alerts_from_postgres_after_restart(tmp_path, db):
    pgc, url, q = db
    d = make(tmp_path, url)
    d.start()
    try:
        admin = d.token("ops", roles=["admin"])
        u1, u2, u3 = d.token("u-1"), d.token("u-2"), d.token("u-3")
        pub = connect(d)
        send(pub, [("AAA", "200"), ("BBB", "40")])        # A1 above fires, B1 below fires
        time.sleep(0.3)
        mid = time.time_ns()
        time.sleep(0.2)
        send(pub, [("AAA", "100"), ("AAA", "201")])       # A1 resolves, A2 above fires
        pub.close()                                       # publisher gone: breaker_open (feed)
        assert wait_for(lambda: any(a["rule"] == "breaker_open"
                                    for a in get(d, admin, "/api/v1/alerts")[1]), 10)
        live = get(d, admin, "/api/v1/alerts")[1]
        assert len(live) == 5, live                       # A1 f, B1 f, A1 r, A2 f, feed f
        # every row written (the resolution too) before the restart
        assert wait_for(lambda: q("SELECT count(*), count(resolved_at) FROM portfolio_alerts")
                        == [(4, 1)], 15)
        d.stop()
        d.start()
        wait_for(lambda: json.loads(d.http("/api/v1/portfolios/p-aaa", token=u2)[1])
                 .get("success"), 10)

        # memory is empty now: the whole history comes from the table, same order
        st, back, src = get(d, admin, "/api/v1/alerts")
        assert st == 200 and src == "postgres", (st, back, src)
        assert events(back) == events(live), json.dumps([[(a["alert_id"], a["state"], a["ts"]) for a in x] for x in (back, live)])
        for a, b in zip(live, back):
            same_event(a, b)
        feed = [a for a in back if "feed" in a]
        assert len(feed) == 1 and feed[0]["feed"] == "pub" and "portfolio_id" not in feed[0]

        # filters, in SQL, in any combination
        def ids(tok, path="/api/v1/alerts", **f):
            st, data, src = get(d, tok, path, **f)
            assert st == 200 and src == "postgres", (st, data, src)
            return events(data)
        byid = {}
        for a in live:
            byid.setdefault(a["rule"] + "/" + a.get("portfolio_id", "-"), set()).add(a["alert_id"])
        want = lambda pred: [(a["alert_id"], a["state"]) for a in live if pred(a)]  # noqa: E731
        assert ids(admin, portfolio_id="p-aaa", state="firing") == \
            want(lambda a: a.get("portfolio_id") == "p-aaa" and a["state"] == "firing")
        assert ids(admin, state="firing", portfolio_id="p-aaa") == \
            ids(admin, portfolio_id="p-aaa", state="firing")
        assert ids(admin, state="resolved") == want(lambda a: a["state"] == "resolved")
        assert len(ids(admin, state="resolved")) == 1
        assert ids(admin, rule="price_below") == want(lambda a: a["rule"] == "price_below")
        assert ids(admin, rule="breaker_open") == want(lambda a: a["rule"] == "breaker_open")
        assert ids(admin, since=mid) == want(lambda a: a["ts"] >= mid)
        assert 0 < len(ids(admin, since=mid)) < len(live)
        assert ids(admin, limit=2) == events(live)[:2]
        assert ids(admin, portfolio_id="p-bbb", rule="price_above") == []

        # authorization: owner and shared see p-aaa only, never the feed alert; a stranger nothing
        pa = want(lambda a: a.get("portfolio_id") == "p-aaa")
        assert len(pa) == 3
        assert ids(u1) == pa
        assert ids(u2) == pa
        assert ids(u3) == []
        assert ids(u1, portfolio_id="p-bbb") == []
        assert ids(d.token("u-4", portfolios=["p-bbb"])) == \
            want(lambda a: a.get("portfolio_id") == "p-bbb")

        # active: what still fires (A2, B1 and the feed alert; A1 was resolved)
        firing = {i for i, s in events(live) if s == "firing"} - \
            {i for i, s in events(live) if s == "resolved"}
        act = ids(admin, "/api/v1/alerts/active")
        assert {i for i, _ in act} == firing and len(act) == 3
        assert all(s == "firing" for _, s in act)
        assert [i for i, _ in ids(u1, "/api/v1/alerts/active")] == \
            [i for i, _ in act if i in byid["price_above/p-aaa"]]
        assert ids(u3, "/api/v1/alerts/active") == []
        assert ids(admin, "/api/v1/alerts/active", state="resolved") == []
        a2 = [i for i, _ in ids(u1, "/api/v1/alerts/active")]
        assert len(a2) == 1

        # rows no tickgate wrote (edited by hand, another tool): skipped and
        # logged, never a crash and never a hidden history
        bad = [("a-bad-rule", "no_such_rule", "high", "x", '{"value":"1","threshold":"2"}'),
               ("a-bad-value", "price_above", "high", "x", '{"value":"abc","threshold":"2"}'),
               ("a-bad-huge", "price_above", "high", "x", '{"value":"1e400","threshold":"2"}'),
               ("a-bad-meta", "price_above", "high", "x", '[1, 2]'),
               ("a-bad-sev", "price_above", "urgent", "x", '{"value":"1","threshold":"2"}'),
               ("a-bad-msg", "price_above", "high", "x" * 5000, '{"value":"1","threshold":"2"}')]
        for bid, rule, sev, msg, meta in bad:
            q("INSERT INTO portfolio_alerts (id, user_id, portfolio_id, alert_type, severity, "
              "title, message, metadata) VALUES (%s, 'u-1', 'p-aaa', %s, %s, 't', %s, %s)",
              (bid, rule, sev, msg, meta))
        q("INSERT INTO portfolio_alerts (id, alert_type, severity, message, metadata) VALUES "
          "('a-bad-feed', 'breaker_open', 'high', 'no feed named', '{}')")
        st, withbad, src = get(d, admin, "/api/v1/alerts")
        assert st == 200 and src == "postgres" and withbad == back, withbad
        assert ids(u1) == pa
        assert {i for i, _ in ids(admin, "/api/v1/alerts/active")} == firing
        assert any(e.get("event") == "alert_row_invalid" for e in d.log_events())
        q("DELETE FROM portfolio_alerts WHERE id LIKE 'a-bad-%%'")

        # a just-fired alert not yet in PostgreSQL: hold the writer off with a
        # lock that still lets readers in
        import psycopg2
        lk = psycopg2.connect(host="127.0.0.1", port=pgc.port, user="postgres",
                              dbname=url.rsplit("/", 1)[1])
        try:
            cur = lk.cursor()
            cur.execute("LOCK TABLE portfolio_alerts IN EXCLUSIVE MODE")
            pub = connect(d)
            send(pub, [("AAA", "40")])                    # A2 resolves, A3 below fires
            assert wait_for(lambda: len(get(d, u1, "/api/v1/alerts")[1]) == len(pa) + 2, 10)
            st, held, src = get(d, u1, "/api/v1/alerts")
            assert st == 200 and src == "postgres"
            assert q("SELECT count(*) FROM portfolio_alerts") == [(4,)]  # not written yet
            assert held[0]["rule"] == "price_below" and held[0]["state"] == "firing"
            a3 = held[0]["alert_id"]
            assert events(held[:2]) in ([(a3, "firing"), (a2[0], "resolved")],
                                        [(a2[0], "resolved"), (a3, "firing")])
            assert events(held[2:]) == pa
            # active: A3 from memory; A2's row still says firing, memory knows better
            act_u1 = ids(u1, "/api/v1/alerts/active")
            assert act_u1 == [(a3, "firing")], act_u1
            assert {i for i, _ in ids(admin, "/api/v1/alerts/active")} == firing - {a2[0]} | {a3}
            assert ids(u3, "/api/v1/alerts") == []
            lk.rollback()                                 # the writer goes on
            assert wait_for(lambda: q("SELECT count(*), count(resolved_at) FROM "
                                      "portfolio_alerts") == [(5, 2)], 15)
            # both sources hold them now: listed once, the live copy
            st, after, src = get(d, u1, "/api/v1/alerts")
            assert src == "postgres" and after == held, (after, held)
            assert len(set(events(after))) == len(after)
            # PostgreSQL slow (the query waits behind a lock): the wait is
            # bounded and the answer is memory alone, marked; later it is asked again
            cur.execute("LOCK TABLE portfolio_alerts IN ACCESS EXCLUSIVE MODE")
            st, mem, src = get(d, u1, "/api/v1/alerts")
            assert st == 200 and src == "memory", (st, mem, src)
            assert mem == held[:2]                        # what this process saw itself
            lk.rollback()
            assert any(e.get("event") == "alerts_api_fallback" and "no answer within" in
                       e.get("error", "") for e in d.log_events())
            assert wait_for(lambda: get(d, u1, "/api/v1/alerts")[2] == "postgres", 60)
            assert get(d, u1, "/api/v1/alerts")[1] == held
            pub.close()
        finally:
            lk.close()
    finally:
        d.cleanup()


def test_alerts_without_postgres_answer_from_memory(tmp_path):
    """PostgreSQL unreachable (refused) or not answering (a listener that
    never speaks): the API answers 200 from memory, says so in the header, and
    logs it; it never answers 500."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    held, stop = [], threading.Event()

    def accept():
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                pass
    th = threading.Thread(target=accept, daemon=True)
    th.start()
    try:
        for url in ("postgresql://postgres@127.0.0.1:%d/x" % free_port(),
                    "postgresql://postgres@127.0.0.1:%d/x" % silent.getsockname()[1]):
            d = make(tmp_path, url)
            d.start()
            try:
                u1 = d.token("u-1")
                pub = connect(d)
                send(pub, [("AAA", "200")])
                assert wait_for(lambda: get(d, u1, "/api/v1/alerts")[1], 15)
                for path in ("/api/v1/alerts", "/api/v1/alerts/active"):
                    st, data, src = get(d, u1, path)
                    assert st == 200 and src == "memory", (url, st, data, src)
                    assert [(a["rule"], a["state"]) for a in data] == \
                        [("price_above", "firing")]
                assert get(d, d.token("u-3"), "/api/v1/alerts")[1] == []
                assert any(e.get("event") == "alerts_api_fallback" for e in d.log_events())
                pub.close()
            finally:
                d.cleanup()
    finally:
        stop.set()
        th.join()
        for s in held:
            s.close()
        silent.close()


def reader_pid(q):
    """The backend of the (one) service thread's reading connection: the last
    one to run the alerts query."""
    rows = q("SELECT pid FROM pg_stat_activity WHERE query LIKE '%%ts_us%%' "
             "AND pid <> pg_backend_pid()")
    assert len(rows) == 1, rows
    return rows[0][0]


def test_refused_query_is_no_outage(tmp_path, db):
    """A query PostgreSQL refuses is the request's or the schema's problem, not
    an outage: a text filter that is not UTF-8 (%FF) gets 400 before it
    reaches PostgreSQL; a query the server refuses (here: a column renamed
    away) gets an error, keeps the thread's reading connection (bars and
    acks share it), logs no alerts_api_fallback, and the next request is
    answered from PostgreSQL again at once, not from memory for 10 s."""
    pgc, url, q = db
    d = make(tmp_path, url)
    d.start()
    try:
        u1 = d.token("u-1")
        pub = connect(d)
        send(pub, [("AAA", "200")])
        assert wait_for(lambda: q("SELECT count(*) FROM portfolio_alerts") == [(1,)], 15)
        st, data, src = get(d, u1, "/api/v1/alerts")
        assert st == 200 and src == "postgres" and len(data) == 1, (st, data, src)
        pid = reader_pid(q)
        for arg in ({"portfolio_id": b"\xff"}, {"portfolio_id": b"p-\xc3"},
                    {"rule": b"\xff"}, {"portfolio_id": b"\xed\xa0\x80"}):
            for path in ("/api/v1/alerts", "/api/v1/alerts/active"):
                st, body, src = get(d, u1, path, **arg)
                assert st == 400, (arg, st, body)
                assert body["success"] is False and body["error"]["code"] == "bad_request", body
                st, data, src = get(d, u1, path)
                assert st == 200 and src == "postgres" and len(data) == 1, (arg, st, data, src)
        # an alert id that is not UTF-8 is no alert (never a query PostgreSQL refuses)
        st, raw = d.http("/api/v1/alerts/a-%FF/ack", method="POST", token=u1)
        assert st == 404 and json.loads(raw)["error"]["code"] == "not_found", (st, raw)
        assert get(d, u1, "/api/v1/alerts")[2] == "postgres"
        # valid UTF-8 that names no portfolio is a filter like any other
        st, data, src = get(d, u1, "/api/v1/alerts", portfolio_id="p-\u00e9")
        assert st == 200 and src == "postgres" and data == [], (st, data, src)

        q("ALTER TABLE portfolio_alerts RENAME COLUMN resolved_at TO resolved_at_x")
        try:
            st, body, src = get(d, u1, "/api/v1/alerts")
            assert st == 500 and body["success"] is False, (st, body, src)
            assert body["error"]["code"] == "internal", body
        finally:
            q("ALTER TABLE portfolio_alerts RENAME COLUMN resolved_at_x TO resolved_at")
        st, data, src = get(d, u1, "/api/v1/alerts")
        assert st == 200 and src == "postgres" and len(data) == 1, (st, data, src)
        assert reader_pid(q) == pid                       # the same connection throughout
        ev = d.log_events()
        assert not any(e.get("event") == "alerts_api_fallback" for e in ev), ev
        assert any(e.get("event") == "alerts_api_query_refused" for e in ev)
        pub.close()
    finally:
        d.cleanup()


def test_active_limit_counts_only_what_memory_does_not_answer(tmp_path, db):
    """/active?limit=1: alert X's resolution is in memory but not yet in its
    row, an older alert Y still fires (its event only in the table, memory
    was emptied by a restart). PostgreSQL's newest firing row is X, which
    memory knows resolved: it must be left out before the LIMIT, else the
    answer is [] instead of [Y]."""
    pgc, url, q = db
    d = make(tmp_path, url)
    d.start()
    try:
        admin = d.token("u-5", portfolios=["p-aaa", "p-bbb"])  # no feed alerts
        pub = connect(d)
        send(pub, [("BBB", "40")])                        # Y: p-bbb below fires
        time.sleep(0.05)
        send(pub, [("AAA", "200")])                       # X: p-aaa above fires
        assert wait_for(lambda: q("SELECT count(*) FROM portfolio_alerts") == [(2,)], 15)
        y, x = [r[0] for r in q("SELECT id FROM portfolio_alerts ORDER BY created_at")]
        pub.close()
        d.stop()
        d.start()
        st, data, src = get(d, admin, "/api/v1/alerts/active")
        assert st == 200 and src == "postgres" and [a["alert_id"] for a in data] == [x, y], data
        import psycopg2
        lk = psycopg2.connect(host="127.0.0.1", port=pgc.port, user="postgres",
                              dbname=url.rsplit("/", 1)[1])
        try:
            lk.cursor().execute("LOCK TABLE portfolio_alerts IN EXCLUSIVE MODE")
            pub = connect(d)
            send(pub, [("AAA", "100")])                   # X resolves; its row waits
            assert wait_for(lambda: (x, "resolved") in events(
                get(d, admin, "/api/v1/alerts")[1]), 10)
            assert q("SELECT count(resolved_at) FROM portfolio_alerts") == [(0,)]
            for lim in (1, 2, None):
                st, data, src = get(d, admin, "/api/v1/alerts/active", limit=lim)
                assert st == 200 and src == "postgres", (st, data, src)
                assert events(data) == [(y, "firing")], (lim, data)
            # the history: X's resolution from memory, then both firings from the table
            st, data, src = get(d, admin, "/api/v1/alerts", limit=2)
            assert events(data) == [(x, "resolved"), (x, "firing")], data
            st, data, src = get(d, admin, "/api/v1/alerts")
            assert events(data) == [(x, "resolved"), (x, "firing"), (y, "firing")], data
            lk.rollback()
            pub.close()
        finally:
            lk.close()
    finally:
        d.cleanup()


def test_alerts_of_a_portfolio_shared_later(tmp_path, db):
    """Alerts that fired before their portfolio was shared with u-3: memory's
    copies carry the ACL of their publication (not u-3), the rows answer with
    today's sharing. u-3 gets them from PostgreSQL; memory holding them for
    others must not hide them."""
    pgc, url, q = db
    d = make(tmp_path, url)
    d.start()
    try:
        u3, u9 = d.token("u-3"), d.token("u-9")
        pub = connect(d)
        send(pub, [("BBB", "40")])                        # p-bbb (owner u-9) below fires
        assert wait_for(lambda: q("SELECT count(*) FROM portfolio_alerts") == [(1,)], 15)
        (bid,), = q("SELECT id FROM portfolio_alerts")
        assert events(get(d, u9, "/api/v1/alerts")[1]) == [(bid, "firing")]
        assert get(d, u3, "/api/v1/alerts")[1] == []
        body = {"owner": "u-9", "shared_with": ["u-3"], "cash": "0",
                "holdings": [{"symbol": "BBB", "quantity": "1", "cost_basis": "100",
                              "target_weight": "0"}],
                "alerts": {"rebalance_drift": None, "loss_limit": None, "gain_target": None,
                           "price_below": {"BBB": "50"}}}
        st, raw = d.http("/api/v1/portfolios/p-bbb", method="PUT",
                         token=d.token("ops", roles=["admin"]), body=json.dumps(body).encode())
        assert st == 200, raw
        send(pub, [("BBB", "41")])                        # a new portfolio message, new ACL
        assert wait_for(lambda: json.loads(d.http("/api/v1/portfolios/p-bbb", token=u3)[1])
                        .get("success"), 10)
        for path in ("/api/v1/alerts", "/api/v1/alerts/active"):
            st, data, src = get(d, u3, path)
            assert st == 200 and src == "postgres", (st, data, src)
            assert events(data) == [(bid, "firing")], (path, data)
            own = get(d, u9, path)[1]                     # the owner: memory's copy
            assert events(own) == events(data)
            same_event(own[0], data[0])
        pub.close()
    finally:
        d.cleanup()


def test_row_of_control_bytes(tmp_path, db):
    """A row edited by hand whose every string field is control bytes (each
    escaped to six in JSON, past 2 KiB for the row) is answered whole; it
    used to fail the whole request."""
    pgc, url, q = db
    d = make(tmp_path, url)
    d.start()
    try:
        admin = d.token("ops", roles=["admin"])
        pid, sym, msg = "\x01" * 128, "\x02" * 31, "\x1f" * 159
        q("INSERT INTO portfolio_alerts (id, user_id, portfolio_id, alert_type, severity, "
          "title, message, metadata) VALUES ('a-ctl', 'u-1', %s, 'price_above', 'high', 't', "
          "%s, %s)", (pid, msg, json.dumps({"value": "1", "threshold": "2", "symbol": sym})))
        st, data, src = get(d, admin, "/api/v1/alerts")
        assert st == 200 and src == "postgres", (st, data, src)
        assert len(data) == 1 and data[0]["alert_id"] == "a-ctl", data
        assert (data[0]["portfolio_id"], data[0]["symbol"], data[0]["message"]) == (pid, sym, msg)
        st, data, src = get(d, admin, "/api/v1/alerts/active")
        assert st == 200 and [a["alert_id"] for a in data] == ["a-ctl"], (st, data)
    finally:
        d.cleanup()
