"""Memory of an idle intercepted connection: the RSS that N connections
through forward mode add to pinshim's worker (CONNECT, TLS to the leaf
pinshim minted for one repeated name, one request answered, then idle),
beside the tunnel's, from a fresh pinshim each time.

    BUILD=build /usr/bin/python3 bench/idle_intercept.py
    N=1000 RUNS=3 BASELINE=/path/to/old/pinshim ...   (defaults shown)

A few connections open and close first, so the leaf, the CA's state and
the session caches exist before the count starts: what is measured is
what each further connection holds while it sits idle. The connections
are opened one after another, each answered before the next, so the
handshake's scratch memory is reused rather than counted N times.
Numbers, no asserts.
"""

import os
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" /
                       "integration"))
import harness  # noqa: E402
from bench import UPSTREAM, Ctx, rss_kib, pinned  # noqa: E402

N = int(os.environ.get("N", "1000"))
RUNS = int(os.environ.get("RUNS", "3"))
BASELINE = os.environ.get("BASELINE", "")
WARM = 8
NAME = "api.test"

INI = """[shim]
state_dir = %(state)s
log_level = warn
[upstream]
ca_file = %(ca)s
hosts_file = %(hosts)s
[domain:api.test]
pins = %(pin)s
[listen:proxy]
mode = forward
bind = 127.0.0.1:%(fport)d
ports = %(up)d
max_conns = 100000
max_conns_per_client = 100000
[listen:tunnel]
mode = tunnel
bind = 127.0.0.1:%(tport)d
connect = api.test:%(up)d
max_conns = 100000
max_conns_per_client = 100000
"""

REQ = b"GET /small HTTP/1.1\r\nHost: api.test\r\n\r\n"


def answered(s):
    data = b""
    while b"\r\n\r\nok" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("connection closed before the answer")
        data += chunk


def intercepted(tls, fport, up):
    s = socket.create_connection(("127.0.0.1", fport), timeout=30)
    s.sendall(b"CONNECT %s:%d HTTP/1.1\r\n\r\n" % (NAME.encode(), up))
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(1)
        if not b:
            raise SystemExit("proxy closed: %r" % head)
        head += b
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit("proxy said: %r" % head)
    t = tls.wrap_socket(s, server_hostname=NAME)
    t.sendall(REQ)
    answered(t)
    return t


def tunneled(tport):
    s = socket.create_connection(("127.0.0.1", tport), timeout=30)
    s.sendall(REQ)
    answered(s)
    return s


def measure(ctx, binary, ini, open_one):
    """KiB per idle connection over N, from a fresh pinshim."""
    proc = harness.Proc(ctx, pinned([binary, "run", "-c", str(ini)]),
                        "pinshim")
    try:
        harness.wait_port(ctx.vars["fport"], proc.p)
        harness.wait_port(ctx.vars["tport"], proc.p)
        pid = proc.p.pid
        for _ in range(WARM):
            open_one().close()
        before = rss_kib(pid)
        socks = []
        try:
            for _ in range(N):
                socks.append(open_one())
            return (rss_kib(pid) - before) / N
        finally:
            for s in socks:
                s.close()
    finally:
        proc.stop()


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="pinshim-idlebench-")
    ctx = Ctx(tmp)
    try:
        pki = harness.pki()
        t = Path(tmp)
        (t / "www").mkdir()
        (t / "www" / "small").write_text("ok")
        (t / "upstream").mkdir()
        up = harness.free_port()
        (t / "upstream" / "nginx.conf").write_text(UPSTREAM % {
            "p": t / "upstream", "port": up, "chain": pki / "leaf-chain.pem",
            "key": pki / "leaf.key", "root": t / "www", "nofile": hard})
        upstream = harness.Proc(ctx, pinned(
            ["nginx", "-p", str(t / "upstream"), "-c",
             str(t / "upstream" / "nginx.conf"), "-e",
             str(t / "upstream" / "error.log")]), "upstream")
        harness.wait_port(up, upstream.p)
        (t / "hosts").write_text("127.0.0.1 %s\n" % NAME)
        subprocess.run([str(harness.PINSHIM), "ca", "init",
                        t / "state" / "ca"], check=True, capture_output=True)
        ctx.vars = {"state": t / "state", "ca": pki / "ca.pem",
                    "hosts": t / "hosts",
                    "pin": harness.pin_of(pki / "leaf.pem"), "up": up,
                    "fport": harness.free_port(),
                    "tport": harness.free_port()}
        ini = t / "p.ini"
        ini.write_text(INI % ctx.vars)
        tls = ssl.create_default_context(cafile=str(t / "state" / "ca" /
                                                    "ca.pem"))
        binaries = [("pinshim", str(harness.PINSHIM))]
        if BASELINE:
            binaries.append(("baseline", BASELINE))
        print("KiB of RSS per idle connection, %d connections, %d run(s): "
              "median (min-max)" % (N, RUNS))
        for label, binary in binaries:
            for mode, open_one in (
                    ("intercepted (forward)",
                     lambda: intercepted(tls, ctx.vars["fport"], up)),
                    ("tunnel", lambda: tunneled(ctx.vars["tport"]))):
                xs = [measure(ctx, binary, ini, open_one)
                      for _ in range(RUNS)]
                print("  %-9s %-22s %6.1f  (%.1f-%.1f)" % (
                    label, mode, statistics.median(xs), min(xs), max(xs)))
    finally:
        ctx.close()
        harness.cleanup_pki()


if __name__ == "__main__":
    main()
