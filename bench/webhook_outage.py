#!/usr/bin/python3
"""Issue 16's delivery goal, literally: a webhook receiver that is down for
OUTAGE_S (default 600 s = 10 minutes) and then comes back receives every alert
event, exactly in the order the engine raised them, with duplicates only where
a response was lost. Not a test (it takes OUTAGE_S + a couple of minutes):
run it, then record its last line in bench/RESULTS.md.

    /usr/bin/python3 bench/webhook_outage.py            # from the repository root
    OUTAGE_S=60 /usr/bin/python3 bench/webhook_outage.py

Loopback only, bounded: one tickgate (build/tickgate), one recording receiver
answering 503 until the outage ends, alert crossings published every
CROSS_EVERY_S seconds during the outage; stops by itself.
"""
import os
import sys
import tempfile
import time
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
os.environ.setdefault("TG_BIN", str(HERE.parent / "build" / "tickgate"))

from receivers import Recorder  # noqa: E402
from test_webhook import alert_log, make_daemon, metric, publish  # noqa: E402
from tgtest import wait_for  # noqa: E402

OUTAGE_S = float(os.environ.get("OUTAGE_S", "600"))
CROSS_EVERY_S = float(os.environ.get("CROSS_EVERY_S", "10"))


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tg-outage-"))
    t_end = time.monotonic() + OUTAGE_S
    rec = Recorder(lambda req: 503 if time.monotonic() < t_end else 200).start()
    d = make_daemon(tmp, rec.url + "/hook", journal=str(tmp / "journal"),
                    extra_alerts="webhook_max_retry_s = %d;" % int(OUTAGE_S * 3 + 600))
    try:
        d.start()
        k = 0
        while time.monotonic() < t_end - 1:
            up = k % 2 == 0
            publish(d, [("AAA", "200" if up else "100"), ("BBB", "201" if up else "99")])
            k += 1
            time.sleep(min(CROSS_EVERY_S, max(0.0, t_end - time.monotonic() - 1)))
        raised = alert_log(d)
        print("outage over after %.0f s: %d events raised, %d attempts refused"
              % (OUTAGE_S, len(raised), len(rec.snapshot())), flush=True)
        ok = wait_for(lambda: metric(d, "tickgate_webhook_backlog") == 0, 180)
        delivered = [r["headers"]["x-tickgate-delivery"] for r in rec.snapshot()
                     if r.get("status") == 200]
        firsts = []
        for x in delivered:
            if x not in firsts:
                firsts.append(x)
        dups = len(delivered) - len(firsts)
        in_order = firsts == raised
        print("webhook_outage: outage %.0f s, %d events, backlog drained: %s, delivered in "
              "order: %s, duplicates %d, refused attempts %d"
              % (OUTAGE_S, len(raised), ok, in_order, dups,
                 sum(1 for r in rec.snapshot() if r.get("status") == 503)), flush=True)
        return 0 if ok and in_order else 1
    finally:
        d.cleanup()
        rec.stop()


if __name__ == "__main__":
    sys.exit(main())
