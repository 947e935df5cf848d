"""Interception benchmark: pinshim in transparent and forward mode side by
side with HAProxy, Squid (ssl_bump) and mitmproxy, and direct TLS as the
anchor, every candidate in one run.

    make bench    (or, as root: BUILD=build /usr/bin/python3 \
                   bench/intercept_bench.py)

Topology: three network namespaces, as tests/integration/test_intercept.py's
transparent tests make them, with this bench's own names:

    pib-c 10.247.1.2 ---- 10.247.1.1 pib-g 10.247.2.1 ---- 10.247.2.2 pib-s
    the client: wrk and   the gateway: every candidate;   the upstream:
    this script's load    nftables REDIRECTs tcp dport    nginx, TLS 1.3,
    generator; CPU 1      443 to the one measured; CPU 0  api.test; CPU 0

Every transparent candidate gets the very same client command (wrk
https://api.test/4k, api.test being 10.247.2.2 in the client's
/etc/netns/pib-c/hosts): only the gateway's one nftables rule changes, to
redirect to the candidate's port; for direct TLS there is no rule and the
gateway routes the packets. So every path crosses the same two veths.
wrk has no proxy support, so pinshim's forward mode (CONNECT to
10.247.1.1:3128) is measured only where the bench's own clients are:
(a'), (b'), (c') and (d) (bench/tlsload.c), the idle cost (e) and the
time to first byte (this script, Python ssl).
Names: api.test from a hosts file; (d)'s new names from a DNS server in
the gateway namespace (this script, on CPU 1: the network's resolver, not
the proxy's work), for pinshim's forward mode and Squid, which resolve
them; the transparent others connect to the original destination.
Its relay after the handshake is the same code as transparent mode's.

Every candidate intercepts with the same CA (made by `pinshim ca init`,
ECDSA P-256; HAProxy, Squid and mitmproxy put the CA's own key in every
leaf they mint, pinshim makes a P-256 key pair per leaf, and its keeper
process signs) and verifies the upstream against the test PKI's root alone; the client verifies the
candidate's leaf against that CA (tlsload, the checks, the TTFB and idle
clients; wrk verifies nothing, as in bench/bench.py).

Workloads, each the median of RUNS runs of SECS seconds with the spread:

  (a) keep-alive GET of 4 KiB, wrk, 50 connections: requests/s, and the
      CPU per request of the candidate's process tree and of the upstream
      (they share CPU 0: what the ratio of requests/s is made of)
  (b) GET of 1 MiB, wrk, 8 connections: MiB/s, and the candidate's CPU
      seconds per GB (its process tree)
  (c) `Connection: close` GET of an empty file, wrk, 20 connections, a new
      TLS handshake each, always to api.test (a leaf already minted):
      requests/s, and the share of upstream sessions nginx saw resumed.
      wrk offers its last session again on each new connection, so this
      is a resumed client handshake wherever the candidate resumes
  (a') (b') (a) and (b) from bench/tlsload.c (C, OpenSSL, one epoll loop
      on CPU 1, the leaf verified), which speaks CONNECT: forward mode's
      keep-alive figures, beside every other path's from the same client
  (c') (c) from tlsload, CONC connections at once, no resumption (a full
      client handshake each): connections/s; forward mode too
  (d) tlsload with a host name never seen on every connection
      (n<run>-<i>.api.test: a leaf minted each time): connections/s, and
      how many failed
  (e) KiB per idle intercepted connection at IDLE (each has relayed one
      request; the candidate freshly started), its process tree's RSS
  TTFB: N sequential connections to api.test (connect, handshake, GET,
      first byte of the answer), median ms, and its ratio to direct TLS

Then the ratios of pinshim (transparent) to HAProxy, Squid and mitmproxy.
Knobs (environment): SECS, RUNS (as bench/bench.py; defaults 5 and 2),
IDLE_ICPT (1000), N (TTFB samples, 40), CONC (tlsload's connections at
once, 32), ONLY (of pinshim-t, pinshim-f, haproxy, squid, mitmdump; direct
TLS always runs), KEEP=1 (keep the temporary directory and the logs),
BENCH_JSON (bench/bench.py's rows: then one table of both at the end).
Needs root (namespaces, nftables); without it, says so and exits 0.
Numbers, not assertions: this is not a test, but every candidate is
checked end to end before it is measured: a request through it answered,
under a leaf from the CA, and an impostor refused (10.247.2.3, api.test
with a chain from a root only the test PKI's ca.pem trusts; forward mode
asks for it as rogue.api.test).
"""

import json
import os
import pwd
import resource
import shutil
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
from bench import (CPU_LOAD, CPU_PROXY, RUNS, SECS, UPSTREAM, Ctx,  # noqa
                   git_rev, haproxy_version, spread, wolfssl_version, wrk)

IDLE = int(os.environ.get("IDLE_ICPT", "1000"))
N = int(os.environ.get("N", "40"))              # TTFB samples
CONC = int(os.environ.get("CONC", "32"))    # tlsload's connections at once
ONLY = os.environ.get("ONLY", "")   # e.g. "pinshim-t,haproxy" (+ direct)

NS = ("pib-c", "pib-g", "pib-s")
VETH, NET = "pib", "10.247"
CLIENT, GW_C, GW_S, SERVER = (NET + ".1.2", NET + ".1.1", NET + ".2.1",
                              NET + ".2.2")
ROGUE = NET + ".2.3"    # the check's impostor: api.test from a rogue root
FWD_PORT = 3128
SQUID = "/usr/sbin/squid"
CERTGEN = "/usr/lib/squid/security_file_certgen"
HERE = Path(__file__).resolve()


def sh(*argv, check=True):
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          text=True, check=check)


def in_ns(ns, cpu):
    return ["ip", "netns", "exec", ns, "taskset", "-c", cpu]


def tree(pid):
    """pid and its descendants (a proxy's helpers and workers)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = Path("/proc/%s/stat" % d).read_text()
            except OSError:
                continue
            kids.setdefault(int(st.rsplit(")", 1)[1].split()[1]),
                            []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def tree_rss(pid):
    total = 0
    for p in tree(pid):
        try:
            for line in Path("/proc/%d/status" % p).read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def tree_cpu(pid):
    total = 0.0
    for p in tree(pid):
        try:
            f = Path("/proc/%d/stat" % p).read_text().rsplit(")", 1)[1]
        except OSError:
            continue
        f = f.split()
        total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    return total


# ---------------------------------------------------------------- topology

class Net:
    """The three namespaces, the client's hosts file and the gateway's
    nftables table, all removed by close()."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.etc = Path("/etc/netns") / NS[0]

    def up(self):
        c, g, s = NS
        for ns in NS:
            sh("ip", "netns", "del", ns, check=False)
            sh("ip", "netns", "add", ns)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", VETH + "-c", "netns", c, "type", "veth",
           "peer", "name", VETH + "-gc", "netns", g)
        sh("ip", "link", "add", VETH + "-s", "netns", s, "type", "veth",
           "peer", "name", VETH + "-gs", "netns", g)
        for ns, dev, addr in ((c, VETH + "-c", CLIENT + "/24"),
                              (g, VETH + "-gc", GW_C + "/24"),
                              (g, VETH + "-gs", GW_S + "/24"),
                              (s, VETH + "-s", SERVER + "/24")):
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", addr, "dev",
               dev)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", dev, "up")
        sh("ip", "netns", "exec", s, "ip", "addr", "add", ROGUE + "/24",
           "dev", VETH + "-s")
        sh("ip", "netns", "exec", c, "ip", "route", "add", "default", "via",
           GW_C)
        sh("ip", "netns", "exec", s, "ip", "route", "add", "default", "via",
           GW_S)
        sh("ip", "netns", "exec", g, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # many short connections from one client address: (c) and (d)
        # must not run out of ports or stall in TIME_WAIT
        for ns in NS:
            sh("ip", "netns", "exec", ns, "sysctl", "-qw",
               "net.ipv4.ip_local_port_range=1024 65000",
               "net.ipv4.tcp_tw_reuse=1")
        rules = Path(self.tmp) / "pib.nft"
        rules.write_text("""table ip pib {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
  }
}
""")
        sh("ip", "netns", "exec", g, "nft", "-f", rules)
        # wrk resolves api.test in the client's namespace: ip netns exec
        # mounts this over /etc/hosts
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "hosts").write_text("127.0.0.1 localhost\n%s api.test\n"
                                        % SERVER)

    def redirect(self, port):
        """Client traffic to tcp port 443 goes to the gateway's port (None:
        routed through untouched)."""
        sh("ip", "netns", "exec", NS[1], "nft", "flush", "chain", "ip", "pib",
           "prerouting")
        if port:
            sh("ip", "netns", "exec", NS[1], "nft", "add", "rule", "ip", "pib",
               "prerouting", "iifname", VETH + "-gc", "tcp", "dport", "443",
               "redirect", "to", ":%d" % port)

    def close(self):
        for ns in NS:
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.etc, ignore_errors=True)


def ns_wait(ns, addr, port, proc, timeout=harness.WAIT):
    """Until addr:port accepts inside ns."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise SystemExit("exited (%s) before %s:%d opened" %
                             (proc.returncode, addr, port))
        if sh("ip", "netns", "exec", ns, "bash", "-c",
              "exec 3<>/dev/tcp/%s/%d" % (addr, port),
              check=False).returncode == 0:
            return
        time.sleep(0.05)
    raise SystemExit("nothing accepted on %s:%d in %s" % (addr, port, ns))


# -------------------------------------------------------------- candidates
#
# Each configuration says what was tuned and why. Common to all: one core
# (the proxy's CPU), logging of each connection off, the idle timeouts
# above the idle test, enough descriptors for it, the same CA.

# pinshim: the defaults, but per-connection log lines off (as the others)
# and the per-client connection cap lifted (one client address holds every
# connection here). Transparent: the original destination from the
# REDIRECT; forward: api.test from hosts_file, (d)'s names from the
# bench's DNS server.
PINSHIM_T = """[shim]
state_dir = %(d)s/state
log_level = warn
[upstream]
ca_file = %(root)s
[domain:**.api.test]
pins = %(pin)s
[listen:gw]
mode = transparent
bind = 0.0.0.0:%(port)d
allow = %(net)s.1.0/24
max_conns = 100000
max_conns_per_client = 100000
"""

PINSHIM_F = """[shim]
state_dir = %(d)s/state
log_level = warn
[upstream]
ca_file = %(root)s
hosts_file = %(hosts)s
nameservers = %(gw)s
[domain:**.api.test]
pins = %(pin)s
[listen:proxy]
mode = forward
bind = %(gw)s:%(port)d
allow = %(net)s.1.0/24
ports = 443
max_conns = 100000
max_conns_per_client = 100000
"""

# HAProxy: tcp mode (relays the decrypted bytes, as pinshim does; http
# mode would parse every request), one thread (one core), the CA as the
# default certificate (the key of every generated leaf) and as the signer,
# generated leaves cached (ssl-ctx-cache-size, default 1000, raised so (d)
# measures minting and not evictions of api.test); upstream: the original
# destination (server 0.0.0.0, SO_ORIGINAL_DST), the client's SNI sent and
# checked, TLS session reuse on (its default); only failed connections
# logged (log-separate-errors at level err). Run with an OPENSSL_CONF at
# security level 1: HAProxy 2.6 gives every generated context a 1024-bit
# DH group, which level 2 (Debian's default) refuses, leaving "dh key too
# small" on OpenSSL's error queue, and that stale error fails the handshake
# of the first connection to every new name (ECDHE is used, never the DH
# group; the upstream side still negotiates TLS 1.3).
HAPROXY = """global
    maxconn %(maxconn)d
    nbthread 1
    tune.ssl.ssl-ctx-cache-size 100000
    log stderr format raw local0 err
defaults
    mode tcp
    log global
    option tcplog
    option log-separate-errors
    timeout connect 5s
    timeout client 600s
    timeout server 600s
frontend f
    bind 0.0.0.0:%(port)d ssl crt %(d)s/ca-crt.pem generate-certificates ca-sign-file %(d)s/ca-crt.pem
    default_backend b
backend b
    server s 0.0.0.0 ssl verify required ca-file %(root)s sni ssl_fc_sni
"""

# Squid (squid-openssl): intercepting https_port, peek at the ClientHello
# (SNI) then bump; no caching (it would answer from cache where the others
# relay), no access log; leaves minted by security_file_certgen (8
# helpers) and kept in its memory cache; upstream verified against the
# root (sslproxy_cert_error: deny, the default); names resolved as
# pinshim's forward mode resolves them (squid checks the Host header
# against the original destination).
SQUID_CONF = """http_port 127.0.0.1:%(fport)d
https_port 0.0.0.0:%(port)d intercept ssl-bump tls-cert=%(d)s/ca.pem tls-key=%(d)s/ca.key generate-host-certificates=on dynamic_cert_mem_cache_size=64MB
sslcrtd_program %(certgen)s -s %(d)s/ssl_db -M 64MB
sslcrtd_children 8 startup=2 idle=1
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump bump all
tls_outgoing_options cafile=%(root)s
acl lan src %(net)s.1.0/24
http_access allow lan
http_access deny all
cache deny all
access_log none
cache_log %(d)s/cache.log
pid_filename %(d)s/squid.pid
coredump_dir %(d)s
hosts_file %(hosts)s
dns_nameservers %(gw)s
netdb_filename none
pinger_enable off
shutdown_lifetime 0 seconds
client_idle_pconn_timeout 10 minutes
max_filedescriptors %(nofile)d
cache_effective_user proxy
"""

# mitmdump: transparent mode, quiet (no flow printing), bodies over 64 KiB
# streamed rather than buffered (the 1 MiB workload), upstream verified
# against the root; the CA given as its confdir's mitmproxy-ca.pem.
MITMDUMP = ["mitmdump", "-q", "--mode", "transparent", "--listen-host",
            "0.0.0.0", "--listen-port", "%(port)d", "--set",
            "confdir=%(d)s/conf", "--set",
            "ssl_verify_upstream_trusted_ca=%(root)s", "--set",
            "stream_large_bodies=64k", "--set", "termlog_verbosity=error"]


class Candidate:
    """One interceptor in the gateway namespace, restartable (the idle
    test starts each afresh)."""

    def __init__(self, ctx, name, label, port, argv, conf=None,
                 transparent=True, prepare=None, env=None, ready=None):
        self.ctx, self.name, self.label, self.port = ctx, name, label, port
        self.argv, self.conf, self.env = argv, conf, env
        self.ready = ready
        self.transparent, self.prepare = transparent, prepare
        self.dir = Path(ctx.tmp) / name
        self.proc = None

    def start(self):
        d = self.dir
        if self.proc is None and not d.exists():
            d.mkdir()
            if self.prepare:
                self.prepare(self)
        v = dict(self.ctx.vars, port=self.port, d=d)
        path = d / "conf"
        if self.conf:
            path.write_text(self.conf % v)
        argv = [a % v for a in self.argv(path)]
        env = dict(os.environ, **{k: v % v_ for k, v in
                                  (self.env or {}).items()
                                  for v_ in [dict(self.ctx.vars, d=d)]})
        self.proc = harness.Proc(self.ctx, in_ns(NS[1], CPU_PROXY) + argv,
                                 "%s-%d" % (self.name, time.monotonic_ns()),
                                 env=env)
        if self.ready:
            self.ready(self)
        else:
            ns_wait(NS[1], GW_C if not self.transparent else "127.0.0.1",
                    self.port, self.proc.p)
        return self.proc.p.pid

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


def pinshim_state(c):
    (c.dir / "state").mkdir()
    shutil.copytree(c.ctx.vars["cadir"], c.dir / "state" / "ca")


def haproxy_prep(c):
    cadir = c.ctx.vars["cadir"]
    (c.dir / "openssl.cnf").write_text(
        "openssl_conf = c\n[c]\nssl_conf = s\n[s]\nsystem_default = d\n"
        "[d]\nCipherString = DEFAULT:@SECLEVEL=1\n")
    (c.dir / "ca-crt.pem").write_text((cadir / "ca.pem").read_text() +
                                      (cadir / "ca.key").read_text())


def squid_prep(c):
    cadir = c.ctx.vars["cadir"]
    shutil.copy(cadir / "ca.pem", c.dir / "ca.pem")
    shutil.copy(cadir / "ca.key", c.dir / "ca.key")
    sh(CERTGEN, "-c", "-s", c.dir / "ssl_db", "-M", "64MB")
    proxy = pwd.getpwnam("proxy")
    for p in [c.dir] + list(c.dir.rglob("*")):
        os.chown(p, proxy.pw_uid, proxy.pw_gid)


def squid_ready(c):
    """Its log says it listens: a probe connection would not do, as squid
    5.7 stops accepting on an intercepting port after a connection it
    finds no original destination for (one made to the port itself)."""
    if not hasattr(c, "cache_log"):     # one cursor across restarts
        c.cache_log = harness.LogFile(c.dir / "cache.log")
    c.cache_log.wait("Accepting NAT intercepted SSL bumped HTTPS",
                     proc=c.proc.p)


def mitm_prep(c):
    cadir = c.ctx.vars["cadir"]
    (c.dir / "conf").mkdir()
    (c.dir / "conf" / "mitmproxy-ca.pem").write_text(
        (cadir / "ca.key").read_text() + (cadir / "ca.pem").read_text())


def version(argv, pick):
    try:
        out = subprocess.run(argv, capture_output=True, text=True)
        return pick(out.stdout + out.stderr)
    except (OSError, IndexError):
        return "?"


# ------------------------------------------------------------- the clients
#
# Run in the client namespace (this file, re-invoked: `client ...`), one
# JSON object on stdout; the connection rates come from bench/tlsload.c.

def exchange(cctx, name, via, path=b"/0", keep=False, timeout=30,
             addr=SERVER):
    """One connection: TCP to addr:443 (or CONNECT name:443 through via,
    a forward proxy), TLS with SNI name, GET path; returns (socket, seconds
    to the first byte of the answer). The answer is read whole
    (Content-Length); anything but a 200 raises OSError."""
    t0 = time.perf_counter()
    if via:
        s = socket.create_connection(via, timeout=timeout)
        s.sendall(b"CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" %
                  (name.encode(), name.encode()))
        head = b""                      # nothing follows it until the
        while b"\r\n\r\n" not in head:    # ClientHello: read freely
            b = s.recv(4096)
            if not b:
                raise OSError("proxy closed")
            head += b
        if not head.startswith(b"HTTP/1.1 200"):
            raise OSError("proxy said %r" % head[:40])
    else:
        s = socket.create_connection((addr, 443), timeout=timeout)
    t = cctx.wrap_socket(s, server_hostname=name)
    t.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" %
              (path, name.encode(),
               b"" if keep else b"Connection: close\r\n"))
    data = t.recv(65536)
    ttfb = time.perf_counter() - t0
    while b"\r\n\r\n" not in data:
        more = t.recv(65536)
        if not more:
            raise OSError("closed in the head")
        data += more
    head, body = data.split(b"\r\n\r\n", 1)
    if not (head.startswith(b"HTTP/1.") and head[8:12] == b" 200"):
        raise OSError("answer %r" % head[:40])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        more = t.recv(65536)
        if not more:
            raise OSError("closed in the body")
        body += more
    return t, ttfb


def client_main(argv):
    mode, cafile, via = argv[0], argv[1], argv[2]
    via = (via.split(":")[0], int(via.split(":")[1])) if via != "-" else None
    cctx = ssl.create_default_context(cafile=cafile)
    if mode == "check":
        t, _ = exchange(cctx, "api.test", via, b"/small", keep=True)
        t.close()
        print(json.dumps({"ok": 1}))
    elif mode == "rogue":
        # the impostor: the same name, a chain from a root nobody trusts
        try:
            t, _ = exchange(cctx, "rogue.api.test" if via else "api.test",
                            via, b"/", addr=ROGUE, timeout=10)
            t.close()
            print(json.dumps({"passed": True}))
        except (OSError, ssl.SSLError) as e:
            print(json.dumps({"passed": False, "why": str(e)}))
    elif mode == "ttfb":
        xs = []
        for _ in range(int(argv[3])):
            t, dt = exchange(cctx, "api.test", via)
            t.close()
            xs.append(dt * 1000)
        print(json.dumps({"ttfb": xs}))
    elif mode == "idle":
        n, socks = int(argv[3]), []
        for _ in range(n):
            t, _ = exchange(cctx, "api.test", via, b"/small", keep=True)
            socks.append(t)
        print("ready %d" % len(socks), flush=True)
        sys.stdin.read()


def dns_main(addr):
    """The names' DNS server, in the gateway namespace: A of any name under
    api.test is the upstream's address (rogue.api.test: the impostor's);
    anything else, no answer (NOERROR, nothing; NXDOMAIN outside
    api.test)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    a = socket.inet_aton(SERVER)
    print("dns ready", flush=True)
    while True:
        q, peer = s.recvfrom(512)
        if len(q) < 17:
            continue
        i, labels = 12, []
        while i < len(q) and q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        qtype = int.from_bytes(q[i + 1:i + 3], "big")
        question = q[12:i + 5]
        name = ".".join(labels).lower()
        ours = name == "api.test" or name.endswith(".api.test")
        ip = socket.inet_aton(ROGUE) if name == "rogue.api.test" else a
        answer = qtype == 1 and ours
        head = q[:2] + bytes([0x84 | (q[2] & 1), 0 if ours else 3]) + \
            b"\x00\x01" + (b"\x00\x01" if answer else b"\x00\x00") + \
            b"\x00\x00\x00\x00"
        rr = (b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + ip
              if answer else b"")
        s.sendto(head + question + rr, peer)


def client(args, cafile, via, stdin=None):
    argv = in_ns(NS[0], CPU_LOAD) + ["/usr/bin/python3", str(HERE), "client",
                                     args[0], str(cafile),
                                     "%s:%d" % via if via else "-"] + \
        [str(a) for a in args[1:]]
    return argv


def tlsload(binary, cafile, via, names, conc=CONC, keep=None):
    """bench/tlsload.c in the client namespace on CPU_LOAD for SECS:
    {"ok", "err", "bytes", "secs"}; keep: a path to GET over keep-alive
    connections."""
    argv = in_ns(NS[0], CPU_LOAD) + [str(binary), SERVER, "443", "-C",
                                     str(cafile), "-c", str(conc), "-d",
                                     str(SECS)]
    if keep:
        argv += ["-k", "-p", keep]
    if via:
        argv += ["-x", "%s:%d" % via]
    argv += ["-N", names[4:]] if names.startswith("new:") else ["-n", names]
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("tlsload failed: %s" % r.stderr[-2000:])
    return json.loads(r.stdout)


def run_client(args, cafile, via):
    r = subprocess.run(client(args, cafile, via), capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise SystemExit("client %s failed: %s" % (args[0], r.stderr[-2000:]))
    return json.loads(r.stdout)


def idle_cost(cand, cafile, via, n):
    """A fresh candidate, n connections each answered once then left idle:
    KiB each (its process tree's RSS), and that RSS."""
    pid = cand.start()
    before = tree_rss(pid)
    p = subprocess.Popen(client(["idle", n], cafile, via),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        line = p.stdout.readline()
        if not line.startswith("ready"):
            print("  (%s: the idle client failed)" % cand.name,
                  file=sys.stderr)
            return None, None
        after = tree_rss(pid)
        return (after - before) / n, after
    finally:
        p.stdin.close()
        p.wait()
        cand.stop()


# -------------------------------------------------------------------- main

def main():
    if os.geteuid() != 0 or not shutil.which("nft"):
        print("interception bench skipped: it needs root and nftables "
              "(network namespaces)")
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="pinshim-ibench-")
    os.chmod(tmp, 0o711)                # squid drops to user proxy
    ctx = Ctx(tmp)
    net = Net(tmp)
    ctx.addCleanup(net.close)
    try:
        net.up()
        pki = harness.pki()
        os.chmod(pki, 0o755)            # squid's helpers read the root
        t = Path(tmp)
        root = t / "www"
        root.mkdir()
        (root / "4k").write_bytes(os.urandom(4096))
        (root / "1m").write_bytes(os.urandom(1 << 20))
        (root / "0").write_bytes(b"")
        (root / "small").write_text("ok")
        # api.test from a hosts file; (d)'s names n<run>-<i>.api.test from
        # DNS (a linear hosts lookup over thousands of names would be
        # what (d) measures)
        hosts = t / "hosts"
        hosts.write_text("%s api.test\n" % SERVER)
        os.chmod(hosts, 0o644)
        cap = 1000000
        dns = harness.Proc(ctx, in_ns(NS[1], CPU_LOAD) + [
            "/usr/bin/python3", str(HERE), "dns", GW_C], "dns")
        dns.log.wait("dns ready", proc=dns.p)
        load = t / "tlsload"
        sh("cc", "-O2", "-o", load, HERE.parent / "tlsload.c", "-lssl",
           "-lcrypto")
        cadir = t / "ca"
        sh(harness.PINSHIM, "ca", "init", cadir)
        updir = t / "upstream"
        updir.mkdir()
        (updir / "nginx.conf").write_text(
            UPSTREAM.replace("127.0.0.1", SERVER) % {
                "p": updir, "port": 443, "chain": pki / "leaf-chain.pem",
                "key": pki / "leaf.key", "root": root, "nofile": hard})
        upstream = harness.Proc(ctx, in_ns(NS[2], CPU_PROXY) + [
            "nginx", "-p", str(updir), "-c", str(updir / "nginx.conf"), "-e",
            str(updir / "error.log")], "upstream")
        ns_wait(NS[2], SERVER, 443, upstream.p)
        rogue = harness.Proc(ctx, in_ns(NS[2], CPU_PROXY) + [
            "openssl", "s_server", "-quiet", "-www", "-accept",
            ROGUE + ":443", "-cert", str(pki / "rogue.pem"), "-key",
            str(pki / "rogue.key")], "rogue")
        ns_wait(NS[2], ROGUE, 443, rogue.p)
        reused_log = updir / "reused.log"
        ctx.vars = {"root": pki / "root.pem", "hosts": hosts, "net": NET,
                    "pin": harness.pin_of(pki / "leaf.pem"), "nofile": hard,
                    "maxconn": (hard - 64) // 2, "cadir": cadir, "gw": GW_C,
                    "certgen": CERTGEN, "fport": 3129}

        pin = [str(harness.PINSHIM), "run", "-c"]
        cands = [
            Candidate(ctx, "pinshim-t", "pinshim %s transparent (wolfSSL %s)"
                      % (git_rev(), wolfssl_version()), 8443,
                      lambda c: pin + [str(c)], PINSHIM_T,
                      prepare=pinshim_state),
            Candidate(ctx, "pinshim-f", "pinshim forward (CONNECT)", FWD_PORT,
                      lambda c: pin + [str(c)], PINSHIM_F,
                      transparent=False, prepare=pinshim_state)]
        if shutil.which("haproxy"):
            cands.append(Candidate(
                ctx, "haproxy", "HAProxy %s tcp, generate-certificates" %
                haproxy_version(), 8444,
                lambda c: ["haproxy", "-db", "-f", str(c)], HAPROXY,
                prepare=haproxy_prep,
                env={"OPENSSL_CONF": "%(d)s/openssl.cnf"}))
        if os.path.exists(SQUID) and os.path.exists(CERTGEN):
            cands.append(Candidate(
                ctx, "squid", "Squid %s ssl_bump (peek, bump)" %
                version([SQUID, "-v"], lambda o: o.split()[3]), 8445,
                lambda c: [SQUID, "-N", "-f", str(c)], SQUID_CONF,
                prepare=squid_prep, ready=squid_ready))
        if shutil.which("mitmdump"):
            cands.append(Candidate(
                ctx, "mitmdump", "mitmdump %s transparent" %
                version(["mitmdump", "--version"],
                        lambda o: o.split()[1]), 8446,
                lambda c: MITMDUMP, prepare=mitm_prep))
        if ONLY:
            cands = [c for c in cands if c.name in ONLY.split(",")]

        print("interception benchmark, %s, on %s (%s, %d cores, Linux %s); "
              "proxy and upstream on CPU %s, the client on CPU %s; three "
              "network namespaces; %d run(s) of %gs each, median (min-max)"
              % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 os.uname().machine, cpu_model(), os.cpu_count(),
                 os.uname().release, CPU_PROXY, CPU_LOAD, RUNS, SECS))
        rows = {"direct": {"label": "direct TLS (no proxy)"}}
        for c in cands:
            rows[c.name] = {"label": c.label}
            c.start()

        def target(c):
            """(the client's CA file, the forward proxy or None)"""
            if c is None:
                return pki / "root.pem", None
            return cadir / "ca.pem", (None if c.transparent else
                                      (GW_C, c.port))

        wrap = in_ns(NS[0], CPU_LOAD)[:4]   # wrk adds its own taskset
        for c in [None] + cands:
            net.redirect(c.port if c and c.transparent else None)
            try:                        # intercepted, upstream verified
                run_client(["check"], *target(c))
            except SystemExit as e:
                raise SystemExit("%s: %s\n%s" % (
                    c.name if c else "direct", e,
                    c.proc.log.text()[-3000:] if c else ""))
            if c and run_client(["rogue"], *target(c))["passed"]:
                raise SystemExit("%s relayed an upstream it should have "
                                 "refused (a rogue root's chain)" % c.name)
        for run in range(RUNS):
            for c in [None] + cands:
                r = rows[c.name if c else "direct"]
                print("  run %d: %s" % (run + 1, r["label"]), file=sys.stderr)
                net.redirect(c.port if c and c.transparent else None)
                cafile, via = target(c)
                if c is None or c.transparent:
                    url = "https://api.test"
                    cpu0 = tree_cpu(c.proc.p.pid) if c else None
                    up0 = tree_cpu(upstream.p.pid)
                    rps = wrk(0, True, "", 50, url=url + "/4k",
                              wrap=wrap)[0]
                    r.setdefault("a", []).append(rps)
                    # (a)'s CPU per request, the candidate's and the
                    # upstream's, which share CPU_PROXY: what the ratio
                    # of requests/s is made of
                    if c and rps:
                        r.setdefault("cpua", []).append(
                            (tree_cpu(c.proc.p.pid) - cpu0) * 1e6 /
                            (rps * SECS))
                    if rps:
                        r.setdefault("upa", []).append(
                            (tree_cpu(upstream.p.pid) - up0) * 1e6 /
                            (rps * SECS))
                    cpu0 = tree_cpu(c.proc.p.pid) if c else None
                    _, mib = wrk(0, True, "", 8, url=url + "/1m", wrap=wrap)
                    r.setdefault("b", []).append(mib)
                    if c:
                        gb = mib * 2**20 * SECS / 1e9
                        r.setdefault("cpu", []).append(
                            (tree_cpu(c.proc.p.pid) - cpu0) / gb)
                    start = reused_log.stat().st_size \
                        if reused_log.exists() else 0
                    r.setdefault("c", []).append(
                        wrk(0, True, "", 20, close=True, url=url + "/0",
                            wrap=wrap)[0])
                    share = reused_share(reused_log, start)
                    if share is not None:
                        r.setdefault("res", []).append(share)
                # (a') and (b'): wrk's (a) and (b) from tlsload, which
                # speaks CONNECT too
                out = tlsload(load, cafile, via, "api.test", 50, "/4k")
                r.setdefault("a2", []).append(out["ok"] / out["secs"])
                out = tlsload(load, cafile, via, "api.test", 8, "/1m")
                r.setdefault("b2", []).append(out["bytes"] / 2**20 /
                                              out["secs"])
                out = tlsload(load, cafile, via, "api.test")
                r.setdefault("c2", []).append(out["ok"] / out["secs"])
                if out["err"]:
                    print("  (%s (c'): %d failed)" % (r["label"], out["err"]),
                          file=sys.stderr)
                out = tlsload(load, cafile, via, "new:n%d-:%d" % (run, cap))
                r.setdefault("d", []).append(out["ok"] / out["secs"])
                r.setdefault("dfail", []).append(out["err"])
        for c in [None] + cands:
            net.redirect(c.port if c and c.transparent else None)
            xs = run_client(["ttfb", N], *target(c))["ttfb"]
            rows[c.name if c else "direct"]["ttfb"] = statistics.median(xs)
        for c in cands:
            c.stop()
        for c in cands:
            net.redirect(c.port if c.transparent else None)
            # a candidate that will not start afresh (its last instance
            # still holding the port, say) gets one more try, then a "-":
            # the figures already measured are not thrown away
            for attempt in (1, 2):
                try:
                    cost, rss = idle_cost(c, *target(c), IDLE)
                    break
                except SystemExit as e:
                    c.proc = None
                    print("  (%s: idle pass, try %d: %s)" % (c.name,
                          attempt, e), file=sys.stderr)
                    cost, rss = None, None
                    time.sleep(2)
            rows[c.name]["e"], rows[c.name]["rss"] = cost, rss
        report(rows)
        tunnel = os.environ.get("BENCH_JSON")
        if tunnel and os.path.exists(tunnel):
            with open(tunnel) as f:
                summary(json.load(f), rows)
    finally:
        ctx.close()
        harness.cleanup_pki()
        if not os.environ.get("KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


def summary(tunnel, icpt):
    """One table of bench/bench.py's rows (the tunnel, on loopback) and
    these (interception, through the namespaces), each path also as a share
    of direct TLS over its own topology."""
    med = (lambda xs: statistics.median(xs) if xs else None)
    print()
    print("One table: the tunnel (bench/bench.py, loopback) and interception "
          "(this bench, three namespaces); \"÷ direct\": (a)/(b)/(c) over "
          "direct TLS in the same topology")
    head = ["(a) 4 KiB keep-alive req/s", "(b) 1 MiB MiB/s", "(b) CPU s/GB",
            "(c) close req/s", "KiB/idle @1000", "÷ direct (a)/(b)/(c)"]
    print("| path | " + " | ".join(head) + " |")
    print("| --- |" + " ---: |" * len(head))
    for kind, rows, idle in (("tunnel", tunnel, "idle1000"),
                             ("interception", icpt, "e")):
        d = rows.get("direct", {})
        for key, r in rows.items():
            if not r.get("a"):          # forward mode: no wrk rows
                continue
            shares = []
            for w in "abc":
                x, y = med(r.get(w, [])), med(d.get(w, []))
                shares.append("%.2f" % (x / y) if x and y else "-")
            e = r.get(idle) if kind == "tunnel" or IDLE == 1000 else None
            cells = [spread(r.get("a", []), "%.0f"),
                     spread(r.get("b", []), "%.0f"),
                     spread(r.get("cpu", []), "%.2f"),
                     spread(r.get("c", []), "%.0f"),
                     "%.1f" % e if e is not None else "-",
                     "/".join(shares) if key != "direct" else "1"]
            print("| %s: %s | %s |" % (kind, r["label"], " | ".join(cells)))


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def reused_share(log, start):
    if not log.exists():
        return None
    with open(log, "rb") as f:
        f.seek(start)
        marks = f.read().split()
    return (100.0 * marks.count(b"r") / len(marks)) if marks else None


def report(rows):
    print()
    head = ["(a) 4 KiB keep-alive req/s", "(a) CPU us/req",
            "(a) upstream's CPU us/req", "(b) 1 MiB MiB/s", "(b) CPU s/GB",
            "(c) close req/s", "(c) upstream resumed %", "(a') req/s",
            "(b') MiB/s", "(c') conn/s",
            "(d) new names conn/s", "(d) failed", "(e) KiB/idle @%d" % IDLE,
            "RSS @%d KiB" % IDLE, "TTFB ms", "TTFB / direct"]
    print("| path | " + " | ".join(head) + " |")
    print("| --- |" + " ---: |" * len(head))
    direct = rows["direct"].get("ttfb")
    for r in rows.values():
        e, tt = r.get("e"), r.get("ttfb")
        cells = [spread(r.get("a", []), "%.0f"),
                 spread(r.get("cpua", []), "%.1f"),
                 spread(r.get("upa", []), "%.1f"),
                 spread(r.get("b", []), "%.0f"),
                 spread(r.get("cpu", []), "%.2f"),
                 spread(r.get("c", []), "%.0f"),
                 spread(r.get("res", []), "%.0f"),
                 spread(r.get("a2", []), "%.0f"),
                 spread(r.get("b2", []), "%.0f"),
                 spread(r.get("c2", []), "%.0f"),
                 spread(r.get("d", []), "%.0f"),
                 spread(r.get("dfail", []), "%d"),
                 "%.1f" % e if e is not None else "-",
                 str(r.get("rss") or "-"),
                 "%.2f" % tt if tt else "-",
                 "%.2f" % (tt / direct) if tt and direct else "-"]
        print("| %s | %s |" % (r["label"], " | ".join(cells)))
    print()
    ps = rows.get("pinshim-t")
    for other in ("haproxy", "squid", "mitmdump", "direct"):
        o = rows.get(other)
        if not ps or not o:
            continue
        cells = []
        for w in ("a", "b", "c", "a2", "b2", "c2", "d"):
            if ps.get(w) and o.get(w) and statistics.median(o[w]) > 0:
                cells.append("%s %.2f" % (
                    "(%s)" % w.replace("2", "'"),
                    statistics.median(ps[w]) / statistics.median(o[w])))
        if ps.get("e") and o.get("e"):
            cells.append("KiB/idle %.2f" % (ps["e"] / o["e"]))
        if ps.get("cpua") and o.get("cpua"):     # lower is better: theirs
            cells.append("(a) CPU per request, %s's / pinshim's %.2f" % (
                other, statistics.median(o["cpua"]) /
                statistics.median(ps["cpua"])))
        print("pinshim transparent / %s: %s" % (other, ", ".join(cells)))
    pf, h = rows.get("pinshim-f"), rows.get("haproxy")
    if pf and h:
        print("pinshim forward / haproxy: " + ", ".join(
            "(%s) %.2f" % (w.replace("2", "'"), statistics.median(pf[w]) /
                           statistics.median(h[w]))
            for w in ("a2", "b2", "c2", "d")
            if pf.get(w) and h.get(w) and statistics.median(h[w]) > 0))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        client_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "dns":
        dns_main(sys.argv[2])
    else:
        main()
