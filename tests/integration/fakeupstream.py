"""A fake market-data provider for the `ws` feed tests (issue 5).

Serves one provider format (finnhub, alpaca, polygon, coinbase, binance,
tickgate) over WebSocket on 127.0.0.1 and can be told to misbehave:

    up = FakeUpstream("finnhub", symbols=["AAPL", "MSFT"]).start()
    up.url                  # ws://127.0.0.1:<port>/
    up.stall()              # keep the connection, send nothing
    up.garbage()            # send malformed messages instead of ticks
    up.bad_prices()         # send ticks with prices <= 0
    up.slow(0.5)            # one message per 0.5 s
    up.die()                # drop every connection and refuse new ones
    up.resume()             # back to normal (restarts the listener if it died)
    up.stop()               # end of test

The server runs on its own thread with its own asyncio loop, so tests drive
it with plain method calls whether they are async or not. Every price it sends
is recorded (`sent`), and so is every message a client sends it
(`received`, e.g. subscribe requests). Prices rise by one cent per message so
each is unique and a quote can be traced back to the tick that made it.

Run standalone with a control port for manual experiments:
    /usr/bin/python3 fakeupstream.py --format finnhub --port 9100 --control 9101
then send lines like `stall`, `garbage`, `bad_prices`, `slow 0.5`, `die`,
`resume` to the control port (one command per line, answered with `ok`).
"""
import asyncio
import datetime
import json
import socket
import threading
import time

import websockets

FORMATS = ("finnhub", "alpaca", "polygon", "coinbase", "binance", "tickgate")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dec(cents):
    """Cents as an exact decimal string: 18753 -> '187.53'."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return "%s%d.%02d" % (sign, cents // 100, cents % 100)


def _iso(ns):
    dt = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (ns % 10**9)


def _iso_us(ns):
    dt = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % ((ns % 10**9) // 1000)


class Tick:
    """What the fake sent for one symbol in one message (prices as decimal strings)."""

    def __init__(self, symbol, price, size, bid, ask, ts_ns):
        self.symbol, self.price, self.size = symbol, price, size
        self.bid, self.ask, self.ts_ns = bid, ask, ts_ns

    def __repr__(self):
        return "Tick(%s %s x%s %s/%s @%d)" % (self.symbol, self.price, self.size, self.bid,
                                             self.ask, self.ts_ns)


class FakeUpstream:
    def __init__(self, fmt, symbols=("AAPL", "MSFT"), interval=0.01, base_cents=10000,
                 port=None, ssl_context=None):
        assert fmt in FORMATS, fmt
        self.fmt = fmt
        self.symbols = list(symbols)
        self.interval = interval
        self.port = port or _free_port()
        self.ssl = ssl_context
        self.url = "%s://127.0.0.1:%d/" % ("wss" if ssl_context else "ws", self.port)
        self.mode = "normal"
        self.sent = []          # Tick, in send order
        self.received = []      # text messages clients sent us
        self.connections = 0    # connections accepted so far
        self.garbage_sent = 0
        self.bad_sent = 0
        self._cents = base_cents
        self._seq = 1000
        self._loop = None
        self._server = None
        self._clients = set()
        self._thread = None
        self._ready = threading.Event()
        self._stopping = False

    # ---- control API (any thread) ----

    def start(self):
        self._thread = threading.Thread(target=self._run, name="fake-" + self.fmt, daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("fake upstream did not start")
        return self

    def stall(self):
        self.mode = "stall"

    def garbage(self):
        self.mode = "garbage"

    def bad_prices(self):
        self.mode = "bad_prices"

    def slow(self, interval):
        self.interval = interval

    def die(self):
        """Close every connection and the listener: reconnects are refused."""
        self.mode = "dead"
        self._call(self._die())

    def resume(self, interval=None):
        if interval is not None:
            self.interval = interval
        if self.mode == "dead":
            self._call(self._listen())
        self.mode = "normal"

    def stop(self):
        self._stopping = True
        if self._loop:
            try:
                self._call(self._die(), timeout=3)
            except Exception:
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    def _call(self, coro, timeout=5):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # ---- server (its own thread) ----

    def _run(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._listen())
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _listen(self):
        self._server = await websockets.serve(self._handler, "127.0.0.1", self.port,
                                              max_size=None, ping_interval=None, ssl=self.ssl)

    async def _die(self):
        if self._server:
            self._server.close()
            for ws in list(self._clients):
                ws.transport.abort()  # no close frame: the connection just dies
            await self._server.wait_closed()
            self._server = None

    async def _handler(self, ws, *path):
        self.connections += 1
        self._clients.add(ws)
        reader = asyncio.ensure_future(self._read(ws))
        try:
            if self.fmt == "alpaca":
                await ws.send('[{"T":"success","msg":"connected"}]')
            while not self._stopping and self.mode != "dead":
                await asyncio.sleep(self.interval)
                msg = self._next_message()
                if msg is not None:
                    for m in msg if isinstance(msg, list) else [msg]:
                        await ws.send(m)
        except websockets.ConnectionClosed:
            pass
        finally:
            reader.cancel()
            self._clients.discard(ws)

    async def _read(self, ws):
        try:
            async for m in ws:
                self.received.append(m if isinstance(m, str) else m.decode("utf-8", "replace"))
        except websockets.ConnectionClosed:
            pass

    # ---- messages ----

    def _next_message(self):
        mode = self.mode
        if mode == "stall":
            return None
        if mode == "garbage":
            self.garbage_sent += 1
            return ['{"type":"trade","data":[{"p":1', "garbage!!", "[[[", '{"ev":'][
                self.garbage_sent % 4]
        self._cents += 1
        self._seq += 1
        now = time.time_ns()
        ticks = []
        for i, sym in enumerate(self.symbols):
            c = self._cents + 1000 * i
            if mode == "bad_prices":
                self.bad_sent += 1
                price = _dec(-c) if self.bad_sent % 2 else "0"
                ticks.append(Tick(sym, price, "10", None, None, now))
            else:
                ticks.append(Tick(sym, _dec(c), str(1 + self._seq % 50), _dec(c - 1),
                                  _dec(c + 1), now))
        if mode != "bad_prices":
            self.sent.extend(ticks)
        return getattr(self, "_fmt_" + self.fmt)(ticks)

    def _fmt_finnhub(self, ticks):
        data = ",".join('{"p":%s,"s":"%s","t":%d,"v":%s,"c":null}' % (
            t.price, t.symbol, t.ts_ns // 10**6, t.size) for t in ticks)
        return '{"type":"trade","data":[%s]}' % data

    def _fmt_alpaca(self, ticks):
        els = []
        for t in ticks:
            self._seq += 1
            els.append('{"T":"t","i":%d,"S":"%s","x":"V","p":%s,"s":%s,"t":"%s","c":["@"],"z":"C"}'
                       % (self._seq, t.symbol, t.price, t.size, _iso(t.ts_ns)))
            if t.bid:
                els.append('{"T":"q","S":"%s","bx":"V","bp":%s,"bs":1,"ax":"V","ap":%s,"as":2,'
                           '"t":"%s","c":["R"],"z":"C"}' % (t.symbol, t.bid, t.ask,
                                                            _iso(t.ts_ns)))
        return "[" + ",".join(els) + "]"

    def _fmt_polygon(self, ticks):
        els = []
        for t in ticks:
            self._seq += 1
            els.append('{"ev":"T","sym":"%s","x":4,"i":"%d","z":3,"p":%s,"s":%s,"t":%d,"q":%d}'
                       % (t.symbol, self._seq, t.price, t.size, t.ts_ns // 10**6, self._seq))
            if t.bid:
                els.append('{"ev":"Q","sym":"%s","bx":4,"bp":%s,"bs":1,"ax":7,"ap":%s,"as":2,'
                           '"t":%d,"q":%d,"z":3}' % (t.symbol, t.bid, t.ask, t.ts_ns // 10**6,
                                                    self._seq))
        return "[" + ",".join(els) + "]"

    def _fmt_coinbase(self, ticks):
        out = []
        for t in ticks:
            self._seq += 1
            if t.bid:
                out.append(json.dumps({
                    "type": "ticker", "sequence": self._seq, "product_id": t.symbol,
                    "price": t.price, "best_bid": t.bid, "best_ask": t.ask, "side": "buy",
                    "time": _iso_us(t.ts_ns), "trade_id": self._seq, "last_size": t.size}))
            else:
                out.append(json.dumps({
                    "type": "match", "trade_id": self._seq, "sequence": self._seq,
                    "time": _iso_us(t.ts_ns), "product_id": t.symbol, "size": t.size,
                    "price": t.price, "side": "sell"}))
        return out

    def _fmt_binance(self, ticks):
        out = []
        for t in ticks:
            self._seq += 1
            ms = t.ts_ns // 10**6
            out.append('{"e":"trade","E":%d,"s":"%s","t":%d,"p":"%s","q":"%s","T":%d,'
                       '"m":false,"M":true}' % (ms, t.symbol, self._seq, t.price, t.size, ms))
            if t.bid:
                out.append('{"u":%d,"s":"%s","b":"%s","B":"1.0","a":"%s","A":"2.0"}'
                           % (self._seq, t.symbol, t.bid, t.ask))
        return out

    def _fmt_tickgate(self, ticks):
        lines = []
        for t in ticks:
            self._seq += 1
            if t.bid:
                lines.append('{"type":"quote","symbol":"%s","price":%s,"bid":%s,"ask":%s,'
                             '"size":%s,"source":"up","ts":%d,"seq":%d}'
                             % (t.symbol, t.price, t.bid, t.ask, t.size, t.ts_ns, self._seq))
            else:
                lines.append('{"type":"quote","symbol":"%s","price":%s,"size":%s,'
                             '"source":"up","ts":%d,"seq":%d}'
                             % (t.symbol, t.price, t.size, t.ts_ns, self._seq))
        return "\n".join(lines)


def _main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--format", default="finnhub", choices=FORMATS)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control", type=int, default=0, help="control port (line commands)")
    ap.add_argument("--symbols", default="AAPL,MSFT")
    ap.add_argument("--interval", type=float, default=0.01)
    ap.add_argument("--seconds", type=float, default=600, help="exit after this long")
    a = ap.parse_args()
    up = FakeUpstream(a.format, a.symbols.split(","), a.interval, port=a.port or None).start()
    print(up.url, flush=True)
    srv = None
    if a.control:
        srv = socket.create_server(("127.0.0.1", a.control))
        srv.settimeout(0.5)
    end = time.time() + a.seconds
    try:
        while time.time() < end:
            if not srv:
                time.sleep(0.5)
                continue
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            with c, c.makefile("rw") as fh:
                for line in fh:
                    cmd, *arg = line.split()
                    if cmd == "slow":
                        up.slow(float(arg[0]))
                    elif cmd in ("stall", "garbage", "bad_prices", "die", "resume"):
                        getattr(up, cmd)()
                    else:
                        fh.write("unknown\n")
                        fh.flush()
                        continue
                    fh.write("ok\n")
                    fh.flush()
    finally:
        up.stop()


if __name__ == "__main__":
    _main()
