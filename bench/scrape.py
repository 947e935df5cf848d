"""What a scrape of [shim] status costs: time and bytes of /metrics and
/status, idle and while wrk drives HTTP through a pinned tunnel; and what
scraping in a loop costs the relayed traffic (wrk's requests/s without
and with a scraper running).

    BUILD=build /usr/bin/python3 bench/scrape.py
"""

import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" /
                       "integration"))
import harness  # noqa: E402
from bench import Ctx, small_upstream, wrk  # noqa: E402

N = int(os.environ.get("N", "500"))


def timed(port, path, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times, size = [], 0
    for _ in range(n):
        t = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        times.append(time.perf_counter() - t)
        size = len(body)
        assert r.status == 200, r.status
    c.close()
    times.sort()
    return (sum(times) / n * 1e3, times[int(n * 0.99) - 1] * 1e3, size)


def main():
    tmp = tempfile.mkdtemp(prefix="pinshim-scrape-")
    ctx = Ctx(tmp)
    try:
        pki = harness.pki()
        t = Path(tmp)
        up = small_upstream(ctx, t)
        hosts = t / "hosts"
        hosts.write_text("127.0.0.1 api.test\n")
        lport, sport = harness.free_port(), harness.free_port()
        (t / "p.ini").write_text("""[shim]
status = 127.0.0.1:%d
[upstream]
ca_file = %s
hosts_file = %s
[domain:api.test]
pins = %s
[listen:api]
mode = tunnel
bind = 127.0.0.1:%d
connect = api.test:%d
""" % (sport, pki / "ca.pem", hosts, harness.pin_of(pki / "leaf.pem"),
            lport, up))
        shim = harness.Proc(ctx, ["taskset", "-c", "0", str(harness.PINSHIM),
                                  "run", "-c", str(t / "p.ini")], "pinshim")
        harness.wait_port(sport, shim.p)
        harness.wait_port(lport, shim.p)
        wrk(lport, False, "/small", 32)          # warm: verdict series
        print("pinshim %s: [shim] status scrape cost (%d scrapes each, one "
              "keep-alive client)" % (git_rev(), N))
        for path in ("/metrics", "/status"):
            mean, p99, size = timed(sport, path, N)
            print("  %-8s idle:     %.3f ms mean, %.3f ms p99, %d bytes" %
                  (path, mean, p99, size))
        base_rps, _ = wrk(lport, False, "/small", 32)
        stop = threading.Event()
        got = []

        def loop():
            while not stop.is_set():
                got.append(timed(sport, "/metrics", 50))

        th = threading.Thread(target=loop)
        th.start()
        rps, _ = wrk(lport, False, "/small", 32)
        stop.set()
        th.join()
        mean = sum(g[0] for g in got) / len(got)
        p99 = max(g[1] for g in got)
        print("  /metrics under load: %.3f ms mean, %.3f ms worst p99 "
              "(%d scrapes during wrk)" % (mean, p99, 50 * len(got)))
        print("  tunnel under wrk -c32 (HTTP, keep-alive): %.0f req/s "
              "alone, %.0f req/s with a scraper in a loop (%.1f%%)" %
              (base_rps, rps, (rps / base_rps - 1) * 100))
    finally:
        ctx.close()
        harness.cleanup_pki()


def git_rev():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


if __name__ == "__main__":
    main()
