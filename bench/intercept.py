"""Cost of an intercepted connection through the forward proxy: the first
one to a new host (a leaf minted, two handshakes) against a repeated one
(the leaf from the cache), with a direct TLS connection as the anchor.

    BUILD=build /usr/bin/python3 bench/intercept.py

Each sample is a full exchange from a Python (OpenSSL) client: TCP
connect, CONNECT + 200, the TLS handshake with pinshim, GET /small and
the first byte of the answer. Medians over N samples; numbers, no asserts.
"""

import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" /
                       "integration"))
import harness  # noqa: E402
from bench import Ctx, small_upstream  # noqa: E402

N = int(os.environ.get("N", "40"))


def exchange(ctx, name, port, proxy=None):
    t0 = time.perf_counter()
    if proxy:
        s = socket.create_connection(("127.0.0.1", proxy))
        s.sendall(b"CONNECT %s:%d HTTP/1.1\r\n\r\n" % (name.encode(), port))
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit("proxy said: %r" % head)
    else:
        s = socket.create_connection(("127.0.0.1", port))
    t = ctx.wrap_socket(s, server_hostname=name)
    t.sendall(b"GET /small HTTP/1.0\r\nHost: %s\r\n\r\n" % name.encode())
    t.recv(1)
    dt = time.perf_counter() - t0
    t.close()
    return dt * 1000


def main():
    tmp = tempfile.mkdtemp(prefix="pinshim-icbench-")
    ctx = Ctx(tmp)
    try:
        pki = harness.pki()
        t = Path(tmp)
        up = small_upstream(ctx, t)
        names = ["h%d.api.test" % i for i in range(N)]
        (t / "hosts").write_text("127.0.0.1 %s\n" % " ".join(names))
        subprocess.run([str(harness.PINSHIM), "ca", "init", t / "state" /
                        "ca"], check=True, capture_output=True)
        pport = harness.free_port()
        (t / "p.ini").write_text("""[shim]
state_dir = %s
log_level = warn
[upstream]
ca_file = %s
hosts_file = %s
[domain:*.api.test]
pins = %s
[listen:proxy]
mode = forward
bind = 127.0.0.1:%d
ports = %d
""" % (t / "state", pki / "ca.pem", t / "hosts",
            harness.pin_of(pki / "leaf.pem"), pport, up))
        shim = harness.Proc(ctx, [str(harness.PINSHIM), "run", "-c",
                                  str(t / "p.ini")], "pinshim")
        harness.wait_port(pport, shim.p)

        via = ssl.create_default_context(cafile=str(t / "state" / "ca" /
                                                      "ca.pem"))
        direct_ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        direct = [exchange(direct_ctx, n, up) for n in names]
        first = [exchange(via, n, up, pport) for n in names]
        again = [exchange(via, names[0], up, pport) for _ in names]
        print("intercepted connection cost, %d samples each, median "
              "(p90) in ms" % N)
        for label, xs in (("direct TLS to nginx (anchor)", direct),
                          ("pinshim, new host: mint + 2 handshakes", first),
                          ("pinshim, repeated host: cached leaf", again)):
            xs = sorted(xs)
            print("  %-42s %7.2f  (%.2f)" % (label, statistics.median(xs),
                                             xs[int(len(xs) * 0.9) - 1]))
    finally:
        ctx.close()
        harness.cleanup_pki()


if __name__ == "__main__":
    main()
