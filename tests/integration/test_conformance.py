"""Runs the conformance suite (tests/integration/conformance/) under CTest.

The suite is meant to be run on its own against any deployment
(TG_URL=ws://host:port TG_TOKEN_SECRET=... python3 -m pytest
tests/integration/conformance); here it runs against the daemon it starts.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def test_conformance_suite():
    env = dict(os.environ)
    env.pop("TG_URL", None)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEx",
                        os.path.join(HERE, "conformance")], env=env, capture_output=True,
                       text=True, timeout=240)
    tail = "\n".join(r.stdout.splitlines()[-40:])
    assert r.returncode == 0, tail
