"""Full upstream handshakes per second through the tunnel, per chain type:
what the smaller build's generic math (P-384, RSA; only P-256 keeps its
assembly) costs when an upstream presents such a chain.

    BUILD=build /usr/bin/python3 bench/handshake.py
    BASELINE=/path/to/older/pinshim ...   (before and after, in one run)

For each chain (root -> intermediate -> leaf, every key of one type:
P-256, P-384, RSA-4096; generated here) the upstream is openssl s_server
-www presenting leaf + intermediate, with no session tickets and no cache,
so every connection is a full handshake whose chain pinshim verifies (two
certificate signatures and the CertificateVerify) and pins (the leaf).
THREADS clients connect to the tunnel, send a GET, read to the close, for
SECS seconds. Printed: completed exchanges per second (capped by the
single-threaded s_server's own signing, for RSA-4096 and P-384 well below
what pinshim could do) and pinshim's CPU time per handshake (its worker
and keeper, from /proc), the figure the build changes. Candidates
alternate, RUNS times each; medians. CHAINS=p256,p384,p521,rsa2048,rsa4096
picks chains; GROUPS=P-384 (s_server -groups) forces that key exchange.
Numbers, no asserts: not a test.
"""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" /
                       "integration"))
import harness  # noqa: E402
from bench import Ctx  # noqa: E402

SECS = float(os.environ.get("SECS", "5"))
RUNS = int(os.environ.get("RUNS", "3"))
THREADS = int(os.environ.get("THREADS", "4"))
BASELINE = os.environ.get("BASELINE", "")
CHAINS = os.environ.get("CHAINS", "p256,p384,rsa4096").split(",")
GROUPS = os.environ.get("GROUPS", "")

KEYGEN = {
    "p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "p521": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
    "rsa2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rsa4096": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
}
EXT = {
    "root": "basicConstraints=critical,CA:TRUE,pathlen:1\n"
            "keyUsage=critical,keyCertSign,cRLSign\n"
            "subjectKeyIdentifier=hash\n",
    "inter": "basicConstraints=critical,CA:TRUE,pathlen:0\n"
             "keyUsage=critical,keyCertSign,cRLSign\n"
             "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    "leaf": "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:api.test\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
}


def ossl(*argv):
    subprocess.run(["openssl"] + [str(a) for a in argv], check=True,
                   capture_output=True)


def make_chain(d, kind):
    """root, intermediate and leaf of one key type under d: the files."""
    d.mkdir()
    issuer = None
    for name in ("root", "inter", "leaf"):
        key, csr, ext, pem = (d / (name + s) for s in
                              (".key", ".csr", ".ext", ".pem"))
        ossl("genpkey", *KEYGEN[kind], "-out", key)
        ext.write_text(EXT[name])
        ossl("req", "-new", "-key", key, "-subj", "/CN=%s %s" % (kind, name),
             "-out", csr)
        sign = ["-signkey", key] if issuer is None else \
            ["-CA", d / (issuer + ".pem"), "-CAkey", d / (issuer + ".key"),
             "-CAcreateserial"]
        ossl("x509", "-req", "-in", csr, *sign, "-days", "30", "-sha256",
             "-extfile", ext, "-out", pem)
        issuer = name
    return d


def group_cpu(pgid):
    """CPU seconds of every live process in process group pgid."""
    total = 0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            f = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(f[2]) == pgid:
            total += int(f[11]) + int(f[12])
    return total / os.sysconf("SC_CLK_TCK")


def shim(ctx, tmp, binary, name, up, chain):
    port = harness.free_port()
    hosts = tmp / "hosts"
    hosts.write_text("127.0.0.1 api.test\n")
    ini = tmp / ("%s.ini" % name)
    ini.write_text("""[upstream]
ca_file = %s
hosts_file = %s
default_policy = block
connect_timeout = 5
handshake_timeout = 5

[domain:api.test]
policy = pin
pins = %s

[listen:api]
mode = tunnel
bind = 127.0.0.1:%d
connect = api.test:%d
""" % (chain / "root.pem", hosts, harness.pin_of(chain / "leaf.pem"),
            port, up))
    p = harness.Proc(ctx, [binary, "run", "-c", str(ini)], name)
    p.log.wait(r"pinshim started", proc=p.p)
    harness.wait_port(port, p.p)
    return port, p


def load(port, secs):
    """THREADS clients, each a GET per connection for secs: completed
    exchanges (an answer read to the close) and failures."""
    done, failed = [0], [0]
    lock = threading.Lock()
    end = time.monotonic() + secs

    def client():
        n = bad = 0
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", port),
                                              timeout=10) as s:
                    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    got = b""
                    while True:
                        b = s.recv(65536)
                        if not b:
                            break
                        got += b
                if got.startswith(b"HTTP/1.0 200"):
                    n += 1
                else:
                    bad += 1
            except OSError:
                bad += 1
        with lock:
            done[0] += n
            failed[0] += bad

    ts = [threading.Thread(target=client) for _ in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return done[0], failed[0]


def main():
    tmp = Path(tempfile.mkdtemp(prefix="pinshim-hsbench-"))
    ctx = Ctx(tmp)
    cands = [("pinshim", str(harness.PINSHIM))]
    if BASELINE:
        cands.append(("baseline", BASELINE))
    try:
        print("handshakes through the tunnel, full upstream handshakes "
              "(s_server, no tickets), %d clients, %d x %gs" %
              (THREADS, RUNS, SECS))
        print("%-9s %-9s %14s %22s %8s" % ("chain", "candidate", "handshakes/s",
                                          "pinshim CPU us/hs", "failed"))
        for kind in CHAINS:
            chain = make_chain(tmp / kind, kind)
            up = harness.free_port()
            srv = harness.Proc(ctx, [
                "openssl", "s_server", "-accept", "127.0.0.1:%d" % up,
                "-quiet", "-cert", str(chain / "leaf.pem"), "-key",
                str(chain / "leaf.key"), "-cert_chain",
                str(chain / "inter.pem"), "-no_ticket", "-num_tickets", "0",
                "-no_cache", "-www"] +
                (["-groups", GROUPS] if GROUPS else []), "s_" + kind)
            harness.wait_port(up, srv.p)
            res = {name: ([], []) for name, _ in cands}
            shims = {name: shim(ctx, tmp, binary, "%s-%s" % (name, kind), up,
                                chain) for name, binary in cands}
            for name in shims:   # warm: caches, the first handshake
                load(shims[name][0], 0.3)
            bad = {name: 0 for name in shims}
            for _ in range(RUNS):
                for name, (port, p) in shims.items():
                    c0 = group_cpu(p.p.pid)
                    t0 = time.monotonic()
                    n, f = load(port, SECS)
                    dt = time.monotonic() - t0
                    cpu = group_cpu(p.p.pid) - c0
                    bad[name] += f
                    res[name][0].append(n / dt)
                    res[name][1].append(cpu / n * 1e6 if n else 0)
            for name, (rate, cpu) in res.items():
                print("%-9s %-9s %8.0f (%s) %10.0f (%s) %8d" % (
                    kind, name, statistics.median(rate),
                    "-".join("%.0f" % r for r in (min(rate), max(rate))),
                    statistics.median(cpu),
                    "-".join("%.0f" % c for c in (min(cpu), max(cpu))),
                    bad[name]))
            for _, p in shims.values():
                p.stop()
            srv.stop()
    finally:
        ctx.close()
        harness.cleanup_pki()
        subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    main()
