"""New names a second through the forward proxy at the default mint_rate:
a burst of N names never seen (a leaf minted for each, one ECDSA P-256
signature in the keeper), C connections at a time, each a CONNECT, a TLS
handshake with the minted leaf, GET /small and its answer.

    BUILD=build /usr/bin/python3 bench/mint.py
    (N=3000 names, C=256 at a time, P=2 client processes)

Prints names/s end to end, how many waited in the mint queue or were
refused (none should be), and the CPU each process spent per name: the
keeper's is the cost of a signature, so 1e6 / that is what the keeper
alone could sign a second. The load generator, the upstream (nginx) and
pinshim share the machine's CPUs: numbers, no asserts.
"""

import asyncio
import multiprocessing
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" /
                       "integration"))
import harness  # noqa: E402
from bench import Ctx, cpu_secs, small_upstream  # noqa: E402

N = int(os.environ.get("N", "3000"))
C = int(os.environ.get("C", "256"))
P = int(os.environ.get("P", "2"))


async def one(sem, proxy, name, port, ctx):
    async with sem:
        w = None
        try:
            r, w = await asyncio.open_connection("127.0.0.1", proxy)
            w.write(b"CONNECT %s:%d HTTP/1.1\r\n\r\n" % (name.encode(), port))
            head = await r.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                return False
            await w.start_tls(ctx, server_hostname=name)
            w.write(b"GET /small HTTP/1.0\r\nHost: %s\r\n\r\n"
                    % name.encode())
            return (await r.read()).startswith(b"HTTP/1.1 200")
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            return False
        finally:
            if w is not None:
                w.close()


def client(args):
    proxy, port, cafile, names = args

    async def run():
        ctx = ssl.create_default_context(cafile=cafile)
        sem = asyncio.Semaphore(max(1, C // P))
        return await asyncio.gather(*(one(sem, proxy, n, port, ctx)
                                      for n in names))
    return sum(asyncio.run(run()))


def metric(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else 0


def main():
    tmp = tempfile.mkdtemp(prefix="pinshim-mintbench-")
    ctx = Ctx(tmp)
    try:
        pki = harness.pki()
        t = Path(tmp)
        up = small_upstream(ctx, t)
        names = ["m%d.api.test" % i for i in range(N)]
        (t / "hosts").write_text("".join("127.0.0.1 %s\n" % n
                                         for n in names))
        subprocess.run([str(harness.PINSHIM), "ca", "init", t / "state" /
                        "ca"], check=True, capture_output=True)
        pport, sport = harness.free_port(), harness.free_port()
        (t / "p.ini").write_text("""[shim]
state_dir = %s
log_level = warn
log_connections = refusals
status = 127.0.0.1:%d
[upstream]
ca_file = %s
hosts_file = %s
[domain:*.api.test]
pins = %s
[listen:proxy]
mode = forward
bind = 127.0.0.1:%d
ports = %d
max_conns = 8192
max_conns_per_client = 8192
""" % (t / "state", sport, pki / "ca.pem", t / "hosts",
            harness.pin_of(pki / "leaf.pem"), pport, up))
        shim = harness.Proc(ctx, [str(harness.PINSHIM), "run", "-c",
                                  str(t / "p.ini")], "pinshim")
        harness.wait_port(pport, shim.p)
        keeper = int(Path("/proc/%d/task/%d/children" % (
            shim.p.pid, shim.p.pid)).read_text().split()[0])
        cpu0 = (cpu_secs(shim.p.pid), cpu_secs(keeper))
        cafile = str(t / "state" / "ca" / "ca.pem")
        parts = [names[i::P] for i in range(P)]
        t0 = time.monotonic()
        with multiprocessing.Pool(P) as pool:
            done = sum(pool.map(client, [(pport, up, cafile, p)
                                         for p in parts]))
        secs = time.monotonic() - t0
        worker = cpu_secs(shim.p.pid) - cpu0[0]
        kcpu = cpu_secs(keeper) - cpu0[1]
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                    % sport) as r:
            m = r.read().decode()
        print("new names through the forward proxy, mint_rate 1000 "
              "(default), %d names, %d at a time, %d client processes"
              % (N, C, P))
        print("  completed            %d of %d" % (done, N))
        print("  names/s, end to end  %.0f  (%.2f s)" % (done / secs, secs))
        print("  waited in the queue  %d" % metric(
            m, "pinshim_mint_waits_total"))
        print("  refused (no leaf)    %d" % metric(
            m, "pinshim_mint_refusals_total"))
        print("  worker CPU per name  %.0f us (mint key pair, two "
              "handshakes, relay)" % (worker / max(done, 1) * 1e6))
        print("  keeper CPU per name  %.0f us: alone it signs %.0f names/s"
              % (kcpu / max(done, 1) * 1e6,
                 max(done, 1) / kcpu if kcpu > 0 else 0))
    finally:
        ctx.close()
        harness.cleanup_pki()


if __name__ == "__main__":
    main()
