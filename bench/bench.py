"""pinshim tunnel benchmark: throughput and memory per idle connection,
side by side with the anchors (direct TLS, stunnel, HAProxy) in one run.

    make bench            (or: BUILD=build /usr/bin/python3 bench/bench.py)

Everything on 127.0.0.1. The upstream is nginx over TLS serving a file of
SIZE_MB; each path downloads it with curl (plain HTTP into the tunnels,
HTTPS for direct) REPEAT times and the median MB/s is printed. Then IDLE
connections are opened through each tunnel and left idle after the server
answered once, and the growth of the tunnel process's RSS is divided by
their number. Then SHORT connections in a row, each one small
`Connection: close` request (a full upstream handshake each), give
requests per second. Numbers, not assertions: this is not a test.
"""

import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" /
                       "integration"))
import harness  # noqa: E402

SIZE_MB = int(os.environ.get("SIZE_MB", "256"))
REPEAT = int(os.environ.get("REPEAT", "3"))
IDLE = int(os.environ.get("IDLE", "1000"))
SHORT = int(os.environ.get("SHORT", "300"))


class Ctx:
    """Just enough of a TestCase for the harness helpers."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.cleanups = []

    def addCleanup(self, fn, *args):
        self.cleanups.append((fn, args))

    def close(self):
        for fn, args in reversed(self.cleanups):
            try:
                fn(*args)
            except Exception as e:  # keep tearing down
                print("cleanup:", e, file=sys.stderr)


def rss_kib(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def download(url, cacert=None):
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} "
            "%{time_total}", "-H", "Host: api.test", url]
    if cacert:
        argv[1:1] = ["--cacert", str(cacert), "--resolve",
                     "api.test:%s:127.0.0.1" % url.rsplit(":", 1)[1]
                     .split("/")[0]]
    out = subprocess.run(argv, check=True, capture_output=True,
                         text=True).stdout.split()
    size, secs = int(out[0]), float(out[1])
    if size != SIZE_MB * 1024 * 1024:
        raise SystemExit("short download from %s: %d bytes" % (url, size))
    return size / secs / 1e6


def short_rate(port, tls, n):
    """n connections one after another, each GET /small with Connection:
    close, read to the end; requests per second."""
    import ssl
    ctx = None
    if tls:
        ctx = ssl.create_default_context(cafile=str(harness.pki() /
                                                    "ca.pem"))
    req = b"GET /small HTTP/1.1\r\nHost: api.test\r\nConnection: close" \
        b"\r\n\r\n"
    t = time.monotonic()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        if ctx is not None:
            s = ctx.wrap_socket(s, server_hostname="api.test")
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        if not data.endswith(b"ok"):
            raise SystemExit("short request on port %d failed" % port)
    return n / (time.monotonic() - t)


def idle_cost(port, pid, n, line=b"GET /small HTTP/1.1\r\nHost: api.test\r\n"
              b"\r\n"):
    """Open n keep-alive connections one after another (each answered
    before the next, so handshake scratch memory is reused rather than
    counted n times over), leave them idle, then measure."""
    before = rss_kib(pid)
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(line)
        socks.append(s)
        data = b""
        while b"\r\n\r\nok" not in data:
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("connection closed during idle test")
            data += chunk
    after = rss_kib(pid)
    for s in socks:
        s.close()
    return (after - before) * 1024 / n


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="pinshim-bench-")
    ctx = Ctx(tmp)
    try:
        pki = harness.pki()
        root = Path(tmp) / "www"
        root.mkdir()
        with open(root / "big", "wb") as f:
            block = os.urandom(1024 * 1024)
            for _ in range(SIZE_MB):
                f.write(block)
        (root / "small").write_text("ok")
        up, _ = harness.nginx(ctx, pki / "leaf-chain.pem", pki / "leaf.key",
                              root)
        hosts = Path(tmp) / "hosts"
        hosts.write_text("127.0.0.1 api.test\n")

        # pinshim
        pport = harness.free_port()
        ini = Path(tmp) / "pinshim.ini"
        ini.write_text("""[upstream]
ca_file = %s
hosts_file = %s
[domain:api.test]
pins = %s
[listen:bench]
mode = tunnel
bind = 127.0.0.1:%d
connect = api.test:%d
; one client (this script) holds every idle connection
max_conns = 100000
max_conns_per_client = 100000
""" % (pki / "ca.pem", hosts, harness.pin_of(pki / "leaf.pem"), pport, up))
        shim = harness.Proc(ctx, [str(harness.PINSHIM), "run", "-c",
                                  str(ini)], "pinshim")
        shim.log.wait("pinshim started", proc=shim.p)
        # keep its log small during the idle test
        paths = {"direct TLS (curl+OpenSSL)": ("https://api.test:%d/big" % up,
                                               None),
                 "pinshim tunnel (wolfSSL %s)" % wolfssl_version():
                 ("http://127.0.0.1:%d/big" % pport, shim.p.pid)}

        # stunnel, client mode: the same job without pins
        if shutil.which("stunnel4") or shutil.which("stunnel"):
            sport = harness.free_port()
            sconf = Path(tmp) / "stunnel.conf"
            sconf.write_text("""foreground = yes
pid =
debug = 3
[bench]
client = yes
accept = 127.0.0.1:%d
connect = 127.0.0.1:%d
sni = api.test
checkHost = api.test
verifyChain = yes
CAfile = %s
""" % (sport, up, pki / "ca.pem"))
            st = harness.Proc(ctx, [shutil.which("stunnel4") or
                                    shutil.which("stunnel"), str(sconf)],
                              "stunnel")
            harness.wait_port(sport, st.p)
            paths["stunnel %s" % stunnel_version()] = (
                "http://127.0.0.1:%d/big" % sport, st.p.pid)

        # HAProxy: TCP in, TLS out with verification
        if shutil.which("haproxy"):
            hport = harness.free_port()
            hconf = Path(tmp) / "haproxy.cfg"
            hconf.write_text("""global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend f
    bind 127.0.0.1:%d
    default_backend b
backend b
    server s 127.0.0.1:%d ssl verify required ca-file %s sni str(api.test) verifyhost api.test
""" % (hport, up, pki / "ca.pem"))
            hp = harness.Proc(ctx, ["haproxy", "-db", "-f", str(hconf)],
                              "haproxy")
            harness.wait_port(hport, hp.p)
            paths["HAProxy %s" % haproxy_version()] = (
                "http://127.0.0.1:%d/big" % hport, hp.p.pid)

        print("pinshim benchmark on %s, %d cores; %d MB file, median of %d;"
              " %d idle connections; %d short ones in a row"
              % (os.uname().machine, os.cpu_count(), SIZE_MB, REPEAT, IDLE,
                 SHORT))
        print("%-36s %12s %18s %14s" % ("path", "MB/s", "bytes/idle conn",
                                        "short req/s"))
        for name, (url, pid) in paths.items():
            rates = [download(url, pki / "ca.pem" if url.startswith("https")
                              else None) for _ in range(REPEAT)]
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            idle = ("%18.0f" % idle_cost(port, pid, IDLE)) if pid else \
                "%18s" % "-"
            short = short_rate(port, url.startswith("https"), SHORT)
            print("%-36s %12.1f %s %14.0f" % (name, statistics.median(rates),
                                              idle, short))
    finally:
        ctx.close()
        harness.cleanup_pki()
        shutil.rmtree(tmp, ignore_errors=True)


def wolfssl_version():
    out = subprocess.run([str(harness.PINSHIM), "version"],
                         capture_output=True, text=True).stdout
    return out.split("wolfSSL ")[1].split(",")[0] if "wolfSSL" in out else "?"


def stunnel_version():
    out = subprocess.run([shutil.which("stunnel4") or "stunnel", "-version"],
                         capture_output=True, text=True)
    text = out.stdout + out.stderr
    return text.split()[1] if text.startswith("stunnel") else ""


def haproxy_version():
    out = subprocess.run(["haproxy", "-v"], capture_output=True, text=True)
    return out.stdout.split()[2] if out.stdout else ""


if __name__ == "__main__":
    main()
