"""Issue 2 end to end: synthetic feed -> engine -> WebSocket client, then SIGTERM."""
import asyncio
import json
import re
import signal
import time

import websockets

from tgtest import Daemon, run, scaled

NUM = re.compile(r'"price":(-?[0-9.eE+-]+)')


def test_quotes_flow_in_order_then_sigterm_closes_1001():
    d = Daemon(config='feeds = ({ name = "synthetic"; type = "synthetic"; rate = 1000; });\n')
    d.start()
    try:
        tok = d.token("u-1")

        async def go():
            ws = await websockets.connect(d.url() + "?token=" + tok)
            first = json.loads(await ws.recv())
            assert first["type"] == "connection_established"
            assert first["user_id"] == "u-1" and first["protocol"] == 1
            assert first["epoch"].startswith("e-")
            await ws.send(json.dumps({"type": "subscribe", "channel": "market_data",
                                      "symbols": ["*"], "id": 1}))
            last_seq, counts, raw_prices = {}, {}, []
            confirmed = False
            end = time.time() + 5
            while time.time() < end:
                frame = await asyncio.wait_for(ws.recv(), 2)
                assert not frame.endswith("\n")
                for line in frame.split("\n"):
                    m = json.loads(line)
                    if m["type"] == "subscription_confirmed":
                        assert m["id"] == 1 and m["symbols"] == ["*"]
                        confirmed = True
                        continue
                    assert confirmed, "data before the confirmation"
                    assert m["type"] == "quote"
                    sym = m["symbol"]
                    if sym in last_seq:
                        assert m["seq"] == last_seq[sym] + 1, (sym, last_seq[sym], m["seq"])
                    last_seq[sym] = m["seq"]
                    counts[sym] = counts.get(sym, 0) + 1
                    assert abs(m["ts"] / 1e9 - time.time()) < 1.0
                    raw_prices.append(NUM.search(line).group(1))
                    assert m["price"] > 0
            assert len(last_seq) >= 50, len(last_seq)
            total = sum(counts.values())
            assert 3500 <= total <= 6500, total  # 1000 ticks/s for 5 s
            for p in raw_prices:
                assert "e" not in p.lower() and "E" not in p
                if "." in p:
                    frac = p.split(".")[1]
                    assert 1 <= len(frac) <= 8 and not frac.endswith("0"), p
            t0 = time.time()
            d.proc.send_signal(signal.SIGTERM)
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as e:
                assert e.code == 1001, e.code
            assert time.time() - t0 < scaled(5)

        run(go())
        assert d.proc.wait(timeout=5) == 0
        events = [e["event"] for e in d.log_events()]
        assert "startup" in events and "shutdown" in events
    finally:
        d.cleanup()


def test_embedded_default_prints_token_and_url():
    d = Daemon(config=None, secret=None)
    d.start(embedded=True)
    try:
        time.sleep(0.5)
        assert d.stop() == 0
        out = "\n".join(d.stdout_lines)
        assert "http://127.0.0.1:%d/" % d.port in out
        tokens = [l for l in d.stdout_lines if l.count(".") == 2 and l.startswith("eyJ")]
        assert len(tokens) == 1
    finally:
        d.cleanup()
