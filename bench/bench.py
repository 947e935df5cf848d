"""pinshim tunnel benchmark, side by side with the anchors in one run:
direct TLS, nginx `stream` with proxy_ssl_verify, HAProxy tcp with
`ssl verify required`, stunnel client mode.

    make bench            (or: BUILD=build /usr/bin/python3 bench/bench.py)

Everything on 127.0.0.1. The upstream is nginx over TLS 1.3. Each proxy and
the upstream run on CPU 0 (taskset), the load generator (wrk) on CPU 1.
Workloads, as in the performance issue:

  (a) keep-alive GET of 4 KiB, 50 connections: requests/s
  (b) GET of 1 MiB, 8 connections: MiB/s (wrk's unit) and the proxy's CPU
      seconds per GB relayed
  (c) `Connection: close` GET of an empty file, 20 connections: requests/s,
      and the share of upstream TLS sessions the upstream saw resumed
  (d) memory per idle connection (each having relayed one request) at
      IDLE connections, every proxy freshly started, and its RSS at start

BENCH_JSON=FILE keeps the rows there for bench/intercept_bench.py, which
then prints one table of both (make bench does).
BASELINE=/path/to/pinshim adds an older pinshim build as one more candidate
(before and after a change, in one run). Each throughput figure is the median of RUNS runs of SECS seconds, with the
spread (min-max). Then bench/intercept.py: forward mode's time to first
byte for a new and a repeated host against direct TLS. Numbers, not
assertions: this is not a test.
"""

import json
import os
import re
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

SECS = float(os.environ.get("SECS", "5"))
RUNS = int(os.environ.get("RUNS", "2"))
IDLE = [int(x) for x in os.environ.get("IDLE", "1000,10000").split(",")]
ONLY = os.environ.get("ONLY", "")       # e.g. "pinshim,nginx"
# Another pinshim binary (an older build) as one more candidate, so a change
# is measured before and after in one run: BASELINE=/path/to/pinshim
BASELINE = os.environ.get("BASELINE", "")
CPU_PROXY, CPU_LOAD = "0", "1"


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


def small_upstream(ctx, tmp):
    """nginx over TLS (the test PKI's leaf chain) serving /small ("ok")
    from tmp/www: its port."""
    pki = harness.pki()
    (tmp / "www").mkdir()
    (tmp / "www" / "small").write_text("ok")
    up, _ = harness.nginx(ctx, pki / "leaf-chain.pem", pki / "leaf.key",
                          tmp / "www")
    return up


def rss_kib(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_secs(pid):
    f = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def pinned(argv):
    return ["taskset", "-c", CPU_PROXY] + argv


# The upstream: nginx, TLS 1.3, enough descriptors for the idle test, and
# a log of $ssl_session_reused for workload (c) only.
UPSTREAM = """
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile %(nofile)d;
error_log %(p)s/error.log;
pid %(p)s/nginx.pid;
events { worker_connections %(nofile)d; }
http {
    access_log off;
    client_body_temp_path %(p)s/body;
    proxy_temp_path %(p)s/proxy;
    fastcgi_temp_path %(p)s/fastcgi;
    uwsgi_temp_path %(p)s/uwsgi;
    scgi_temp_path %(p)s/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 600s;
    log_format reused "$ssl_session_reused";
    server {
        listen 127.0.0.1:%(port)d ssl;
        ssl_certificate %(chain)s;
        ssl_certificate_key %(key)s;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:up:10m;
        root %(root)s;
        location = /0 { access_log %(p)s/reused.log reused; }
    }
}
"""

NGINX_STREAM = """
load_module %(module)s;
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile %(nofile)d;
error_log %(p)s/error.log;
pid %(p)s/nginx.pid;
events { worker_connections %(nofile)d; }
stream {
    server {
        listen 127.0.0.1:%(port)d;
        proxy_pass 127.0.0.1:%(up)d;
        proxy_ssl on;
        proxy_ssl_verify on;
        proxy_ssl_trusted_certificate %(ca)s;
        proxy_ssl_name api.test;
        proxy_ssl_server_name on;
        proxy_ssl_session_reuse on;
        proxy_ssl_protocols TLSv1.2 TLSv1.3;
    }
}
"""

HAPROXY = """global
    maxconn %(maxconn)d
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 600s
    timeout server 600s
frontend f
    bind 127.0.0.1:%(port)d
    default_backend b
backend b
    server s 127.0.0.1:%(up)d ssl verify required ca-file %(ca)s sni str(api.test) verifyhost api.test
"""

STUNNEL = """foreground = yes
pid =
debug = 3
[bench]
client = yes
accept = 127.0.0.1:%(port)d
connect = 127.0.0.1:%(up)d
sni = api.test
checkHost = api.test
verifyChain = yes
CAfile = %(ca)s
"""

PINSHIM_INI = """[shim]
; verdict and close lines per connection cost the loop; the anchors log
; nothing per connection either
log_level = warn
[upstream]
ca_file = %(ca)s
hosts_file = %(hosts)s
[domain:api.test]
pins = %(pin)s
[listen:bench]
mode = tunnel
bind = 127.0.0.1:%(port)d
connect = api.test:%(up)d
; one client (this script) holds every idle connection
max_conns = 100000
max_conns_per_client = 100000
"""


class Proxy:
    """One relay under test: restartable, so each idle measurement starts
    from a fresh process."""

    def __init__(self, ctx, name, label, conf, argv, nofile):
        self.ctx, self.name, self.label = ctx, name, label
        self.conf, self.argv, self.nofile = conf, argv, nofile
        self.port = harness.free_port()
        self.proc = None

    def start(self):
        d = Path(self.ctx.tmp) / self.name
        d.mkdir(exist_ok=True)
        path = d / "conf"
        path.write_text(self.conf % dict(self.ctx.vars, port=self.port,
                                         p=d))
        self.proc = harness.Proc(self.ctx, pinned(self.argv(path)),
                                 "%s-%d" % (self.name, time.monotonic_ns()))
        harness.wait_port(self.port, self.proc.p)
        return self.proc.p.pid

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


def wrk(port, tls, path, conns, close=False, url=None, wrap=()):
    """wrk on CPU_LOAD: (requests/s, MiB/s). url: another target than
    127.0.0.1:port; wrap: what runs it (bench/intercept_bench.py: in the
    client's network namespace)."""
    url = url or "%s://127.0.0.1:%d%s" % ("https" if tls else "http", port,
                                          path)
    argv = list(wrap) + ["taskset", "-c", CPU_LOAD, "wrk", "-t1",
                         "-c%d" % conns, "-d%ds" % SECS, "-H",
                         "Host: api.test"]
    if close:
        argv += ["-H", "Connection: close"]
    out = subprocess.run(argv + [url], capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    scale = {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1, "GB": 1024}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors",
                       out)
    if errors:
        print("  (wrk on %s: %s)" % (url, errors.group(0)), file=sys.stderr)
    return rps, float(m.group(1)) * scale


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def idle_cost(port, pid, n):
    """Open n keep-alive connections one after another (each answered
    before the next, so handshake scratch memory is reused rather than
    counted n times over), leave them idle, then measure. KiB each; and
    the RSS once they are closed again and the proxy is back to its
    descriptors of before (plus 2 s to settle)."""
    line = b"GET /small HTTP/1.1\r\nHost: api.test\r\n\r\n"
    before = rss_kib(pid)
    nfd = fds(pid)
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            socks.append(s)
            s.sendall(line)
            data = b""
            while b"\r\n\r\nok" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    return None
                data += chunk
        cost = (rss_kib(pid) - before) / n
    except OSError:
        return None, None
    finally:
        for s in socks:
            s.close()
    end = time.monotonic() + 60
    while fds(pid) > nfd + 2 and time.monotonic() < end:
        time.sleep(0.1)
    time.sleep(2)
    return cost, rss_kib(pid)


def spread(xs, fmt):
    if not xs:
        return "-"
    m = statistics.median(xs)
    return (fmt % m) + (" (%s-%s)" % (fmt % min(xs), fmt % max(xs))
                        if len(xs) > 1 else "")


def reused_share(log, start):
    with open(log, "rb") as f:
        f.seek(start)
        marks = f.read().split()
    return (100.0 * marks.count(b"r") / len(marks)) if marks else None


def start_upstream(ctx, tmp, pki, root, nofile):
    """The upstream of the loopback benches (this one, profile.py): nginx
    as UPSTREAM says, serving root with the test PKI's leaf, on CPU_PROXY,
    answering: (its port, a hosts file naming it api.test, its directory,
    its harness.Proc)."""
    hosts = Path(tmp) / "hosts"
    hosts.write_text("127.0.0.1 api.test\n")
    updir = Path(tmp) / "upstream"
    updir.mkdir()
    up = harness.free_port()
    (updir / "nginx.conf").write_text(UPSTREAM % {
        "p": updir, "port": up, "chain": pki / "leaf-chain.pem",
        "key": pki / "leaf.key", "root": root, "nofile": nofile})
    upstream = harness.Proc(ctx, pinned(["nginx", "-p", str(updir), "-c",
                                         str(updir / "nginx.conf"), "-e",
                                         str(updir / "error.log")]),
                            "upstream")
    harness.wait_port(up, upstream.p)
    return up, hosts, updir, upstream


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="pinshim-bench-")
    ctx = Ctx(tmp)
    try:
        pki = harness.pki()
        root = Path(tmp) / "www"
        root.mkdir()
        (root / "4k").write_bytes(os.urandom(4096))
        (root / "1m").write_bytes(os.urandom(1 << 20))
        (root / "0").write_bytes(b"")
        (root / "small").write_text("ok")
        up, hosts, updir, _ = start_upstream(ctx, tmp, pki, root, hard)
        reused_log = updir / "reused.log"
        ctx.vars = {"up": up, "ca": pki / "ca.pem", "hosts": hosts,
                    "pin": harness.pin_of(pki / "leaf.pem"), "nofile": hard,
                    "maxconn": (hard - 64) // 2,
                    "module": "/usr/lib/nginx/modules/ngx_stream_module.so"}

        proxies = [Proxy(ctx, "pinshim", "pinshim %s (wolfSSL %s)" %
                         (git_rev(), wolfssl_version()), PINSHIM_INI,
                         lambda c: [str(harness.PINSHIM), "run", "-c",
                                    str(c)], hard)]
        if BASELINE:
            proxies.append(Proxy(ctx, "baseline", "pinshim %s (baseline)" %
                                 binary_version(BASELINE), PINSHIM_INI,
                                 lambda c: [BASELINE, "run", "-c", str(c)],
                                 hard))
        if shutil.which("nginx") and \
                os.path.exists(ctx.vars["module"]):
            proxies.append(Proxy(ctx, "nginx", "nginx %s stream" %
                                 nginx_version(), NGINX_STREAM,
                                 lambda c: ["nginx", "-p", str(c.parent),
                                            "-c", str(c), "-e",
                                            str(c.parent / "error.log")],
                                 hard))
        if shutil.which("haproxy"):
            proxies.append(Proxy(ctx, "haproxy", "HAProxy %s tcp" %
                                 haproxy_version(), HAPROXY,
                                 lambda c: ["haproxy", "-db", "-f", str(c)],
                                 hard))
        st = shutil.which("stunnel4") or shutil.which("stunnel")
        if st:
            proxies.append(Proxy(ctx, "stunnel", "stunnel %s" %
                                 stunnel_version(), STUNNEL,
                                 lambda c: [st, str(c)], hard))
        if ONLY:
            proxies = [p for p in proxies if p.name in ONLY.split(",")]

        print("pinshim benchmark on %s, %d cores; proxy and upstream on CPU "
              "%s, wrk on CPU %s; %d run(s) of %gs each, median (min-max)"
              % (os.uname().machine, os.cpu_count(), CPU_PROXY, CPU_LOAD,
                 RUNS, SECS))
        rows = {"direct": {"label": "direct TLS (wrk+OpenSSL to nginx)"}}
        for p in proxies:
            rows[p.name] = {"label": p.label}
        for p in proxies:
            p.start()
        for _ in range(RUNS):
            for key in rows:
                p = next((q for q in proxies if q.name == key), None)
                port, tls = (up, True) if p is None else (p.port, False)
                r = rows[key]
                r.setdefault("a", []).append(wrk(port, tls, "/4k", 50)[0])
                cpu0 = cpu_secs(p.proc.p.pid) if p else None
                rps, mib = wrk(port, tls, "/1m", 8)
                r.setdefault("b", []).append(mib)
                if p:
                    gb = mib * 2**20 * SECS / 1e9
                    r.setdefault("cpu", []).append(
                        (cpu_secs(p.proc.p.pid) - cpu0) / gb)
                start = reused_log.stat().st_size if reused_log.exists() \
                    else 0
                r.setdefault("c", []).append(
                    wrk(port, tls, "/0", 20, close=True)[0])
                share = reused_share(reused_log, start)
                if share is not None:
                    r.setdefault("res", []).append(share)
        for p in proxies:
            p.stop()

        # (d): every proxy fresh for each count
        for p in proxies:
            r = rows[p.name]
            for n in IDLE:
                n = min(n, (hard - 64) // 2 - 16)
                pid = p.start()
                r["start"] = rss_kib(pid)
                cost, after = idle_cost(p.port, pid, n)
                r["idle%d" % n] = cost
                r["after"] = after
                r.setdefault("idle_ns", []).append(n)
                p.stop()

        idle_ns = sorted({n for r in rows.values()
                          for n in r.get("idle_ns", [])})
        if os.environ.get("BENCH_JSON"):    # for intercept_bench's summary
            with open(os.environ["BENCH_JSON"], "w") as f:
                json.dump(rows, f)
        print()
        head = ["(a) 4 KiB keep-alive req/s", "(b) 1 MiB MiB/s",
                "(b) CPU s/GB", "(c) close req/s", "(c) resumed %"] + \
            ["(d) KiB/idle @%d" % n for n in idle_ns] + \
            ["RSS start KiB", "RSS after the last burst KiB"]
        print("| path | " + " | ".join(head) + " |")
        print("| --- |" + " ---: |" * len(head))
        for key, r in rows.items():
            cells = [spread(r.get("a", []), "%.0f"),
                     spread(r.get("b", []), "%.0f"),
                     spread(r.get("cpu", []), "%.2f"),
                     spread(r.get("c", []), "%.0f"),
                     spread(r.get("res", []), "%.0f")]
            for n in idle_ns:
                v = r.get("idle%d" % n)
                cells.append("%.1f" % v if v is not None else "-")
            cells.append(str(r.get("start", "-")))
            cells.append(str(r.get("after") or "-"))
            print("| %s | %s |" % (r["label"], " | ".join(cells)))
        if "pinshim" in rows and "baseline" in rows:
            print()
            for w, name in (("a", "(a)"), ("b", "(b)"), ("c", "(c)")):
                ps, bs = rows["pinshim"].get(w), rows["baseline"].get(w)
                if ps and bs:
                    print("pinshim / baseline %s: %.2f" % (
                        name, statistics.median(ps) / statistics.median(bs)))
        if "pinshim" in rows and "nginx" in rows:
            print()
            for w, name in (("a", "(a)"), ("b", "(b)"), ("c", "(c)")):
                ps, ns = rows["pinshim"].get(w), rows["nginx"].get(w)
                if ps and ns:
                    print("pinshim / nginx-stream %s: %.2f" % (
                        name, statistics.median(ps) / statistics.median(ns)))
        size = stripped_size()
        if size:
            print("pinshim binary, stripped: %d KiB" % (size // 1024))
    finally:
        ctx.close()
        harness.cleanup_pki()
        shutil.rmtree(tmp, ignore_errors=True)


def git_rev():
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True,
                         cwd=Path(__file__).parent)
    return out.stdout.strip() or "?"


def stripped_size():
    tmp = Path(tempfile.mkdtemp())
    try:
        out = tmp / "pinshim"
        if subprocess.run(["strip", "-o", str(out), str(harness.PINSHIM)],
                          capture_output=True).returncode != 0:
            return None
        return out.stat().st_size
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def binary_version(path):
    out = subprocess.run([path, "version"], capture_output=True,
                         text=True).stdout.strip()
    return out.splitlines()[0] if out else "?"


def wolfssl_version():
    out = subprocess.run([str(harness.PINSHIM), "version"],
                         capture_output=True, text=True).stdout
    return out.split("wolfSSL ")[1].split(",")[0] if "wolfSSL" in out else "?"


def nginx_version():
    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True)
    return out.stderr.strip().split("/")[-1].split()[0]


def stunnel_version():
    out = subprocess.run([shutil.which("stunnel4") or "stunnel", "-version"],
                         capture_output=True, text=True)
    m = re.search(r"^stunnel (\S+)", out.stdout + out.stderr, re.M)
    return m.group(1) if m else "?"


def haproxy_version():
    out = subprocess.run(["haproxy", "-v"], capture_output=True, text=True)
    return out.stdout.split()[2] if out.stdout else ""


if __name__ == "__main__":
    main()
