"""The longest the event loop is blocked by pinshim's own work: loading a
~1 MiB signed feed (at start and on SIGHUP) and reloading the system CA
bundle, read off the log's millisecond timestamps. Numbers, not a test.

    BUILD=build /usr/bin/python3 bench/stall.py
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" /
                       "integration"))
import harness  # noqa: E402
from bench import Ctx  # noqa: E402

BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PIN = "sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def stamp(line):
    return datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def between(log, start, end, after=0):
    text = log.read_text().splitlines()
    s = next(i for i, l in enumerate(text) if i >= after and start in l)
    e = next(i for i, l in enumerate(text) if i > s and end in l)
    return (stamp(text[e]) - stamp(text[s])) * 1000, e


def main():
    tmp = Path(tempfile.mkdtemp(prefix="pinshim-stall-"))
    ctx = Ctx(tmp)
    try:
        run(ctx, tmp)
    finally:
        ctx.close()
        if not os.environ.get("PINSHIM_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


def run(ctx, tmp):
    pinshim = harness.PINSHIM
    state = tmp / "state"
    state.mkdir()
    subprocess.run([str(pinshim), "feed", "keygen", tmp / "k"], check=True,
                   capture_output=True)
    n = 11000
    body = ("[feed]\nversion = 1\nissued = 2026-01-01T00:00:00Z\n"
            "expires = 2099-01-01T00:00:00Z\n\n" +
            "".join("[domain:host%05d.example.com]\npins = %s\n\n" % (i, PIN)
                    for i in range(n)))
    (tmp / "big.body").write_text(body)
    subprocess.run([str(pinshim), "feed", "sign", "--key", tmp / "k.key",
                    tmp / "big.body", "-o", state / "pins.feed"], check=True,
                   capture_output=True)
    size = (state / "pins.feed").stat().st_size
    bundle = tmp / "bundle.pem"
    shutil.copy(BUNDLE, bundle)
    certs = bundle.read_text().count("BEGIN CERTIFICATE")
    port = harness.free_port()
    ini = tmp / "pinshim.ini"
    ini.write_text("""[shim]
state_dir = %s
[feed]
url = https://127.0.0.1:9/pins.feed
public_key = %s
refresh = 86400
[upstream]
ca_file = %s
[listen:api]
mode = tunnel
bind = 127.0.0.1:%d
connect = api.example.com:443
""" % (state, (tmp / "k.pub").read_text().strip(), bundle, port))
    log = tmp / "pinshim.log"
    with open(log, "wb") as out:
        p = subprocess.Popen([str(pinshim), "run", "-c", str(ini)],
                             stdout=out, stderr=subprocess.STDOUT)
    ctx.addCleanup(p.kill)
    lf = harness.LogFile(log)
    lf.wait("pinshim started")
    start_ms, _ = between(log, "listening", "cached version 1 in force")
    results = [("start: verify + load the cached feed", start_ms)]
    after = 0
    for label, touch in (("SIGHUP, bundle unchanged", False),
                         ("SIGHUP, bundle changed (parsed again)", True)):
        if touch:
            os.utime(bundle, (time.time() + 5, time.time() + 5))
        p.send_signal(signal.SIGHUP)
        ms, after = None, after
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                ms, after = between(log, "SIGHUP: reloading", "reload: ",
                                    after + 1 if after else 0)
                break
            except StopIteration:
                time.sleep(0.05)
        results.append((label, ms))
    p.send_signal(signal.SIGTERM)
    p.wait(10)
    print("loop stalls, feed %d bytes / %d rules, bundle %d certificates:"
          % (size, n + 0, certs))
    for label, ms in results:
        print("  %-44s %7.1f ms" % (label, ms))


if __name__ == "__main__":
    main()
