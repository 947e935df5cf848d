"""Minting under bursts of new names (forward mode, a real upstream with a
*.api.test certificate): names over the keeper's rate wait in the mint
queue instead of failing, the upstream is dialed only once a name has its
leaf, and a queue past its bound refuses at once, with its reason, counted.
"""

import asyncio
import os
import re
import signal
import ssl
import threading
import time
import urllib.request
from pathlib import Path

from harness import WAIT, Shim, fields, free_port, nginx, pin_of, wait_for
from test_intercept import Intercept
from test_privsep import children, gone


def metric(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


async def fetch(proxy_port, name, port, ctx):
    """CONNECT name:port through the proxy, TLS with the minted leaf, one
    GET: "ok", or what went wrong."""
    w = None
    try:
        r, w = await asyncio.open_connection("127.0.0.1", proxy_port)
        w.write(b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                % (name.encode(), port, name.encode(), port))
        head = await r.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200 "):
            return "connect: %r" % head[:40]
        await w.start_tls(ctx, server_hostname=name)
        w.write(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                % name.encode())
        body = await r.read()
        return "ok" if body.startswith(b"HTTP/1.1 200 ") else \
            "http: %r" % body[:40]
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as e:
        return "%s: %s" % (type(e).__name__, e)
    finally:
        if w is not None:
            w.close()


async def burst(proxy_port, names, port, cafile):
    """Every name at once: (outcomes in names' order, seconds)."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    t0 = time.monotonic()
    got = await asyncio.wait_for(asyncio.gather(
        *(fetch(proxy_port, n, port, ctx) for n in names)), 3 * WAIT)
    return got, time.monotonic() - t0


class Mint(Intercept):

    def start_burst(self, n, mint_rate, handshake_timeout):
        """nginx with the *.api.test leaf, n names under it in the hosts
        file, pinshim forward with mint_rate and a status port."""
        self.names = ["n%d.api.test" % i for i in range(n)]
        with self.hosts.open("a") as f:
            for name in self.names:
                f.write("127.0.0.1 %s\n" % name)
        docroot = Path(self.tmp) / "www"
        docroot.mkdir()
        (docroot / "index.html").write_text("hello\n")
        self.up, _ = nginx(self, self.pki / "leaf-chain.pem",
                           self.pki / "leaf.key", docroot)
        self.proxy_port = free_port()
        self.status_port = free_port()
        # one client (the test) holds them all at once
        listen = "[listen:proxy]\nmode = forward\nbind = 127.0.0.1:%d\n" \
            "ports = %d\nmax_conns = 4096\nmax_conns_per_client = 4096\n" \
            % (self.proxy_port, self.up)
        ini = "[shim]\nstate_dir = %s\nmint_rate = %d\n" \
            "status = 127.0.0.1:%d\n" % (self.state, mint_rate,
                                          self.status_port) + self.ini(
            None, self.domain("*.api.test", [pin_of(self.pki / "leaf.pem")]),
            listeners=listen).replace(
            "handshake_timeout = 5",
            "handshake_timeout = %d" % handshake_timeout)
        return Shim(self, ini)

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                    % self.status_port, timeout=WAIT) as r:
            return r.read().decode()

    def verdicts(self, shim):
        return [fields(line) for line in shim.log.text().splitlines()
                if " verdict listener=" in line]

    def test_a_burst_of_new_names_waits_and_none_is_refused(self):
        """600 new names at once, over the keeper's rate (200 a second,
        a burst of 50 at the worker): every connection completes, none is
        refused or reset, and the names over the rate waited."""
        shim = self.start_burst(600, mint_rate=200, handshake_timeout=10)
        got, secs = asyncio.run(burst(self.proxy_port, self.names, self.up,
                                      self.ca))
        bad = [(n, g) for n, g in zip(self.names, got) if g != "ok"]
        self.assertEqual(bad, [], "%d of %d failed" % (len(bad), len(got)))
        print("\n  600 new names in %.2f s: %.0f names/s at mint_rate 200"
              % (secs, len(got) / secs))
        m = self.metrics()
        self.assertEqual(metric(m, "pinshim_mint_refusals_total"), 0)
        self.assertGreater(metric(m, "pinshim_mint_waits_total"), 0)
        self.assertEqual(metric(m, "pinshim_mint_queued"), 0)
        self.assertEqual(metric(m, "pinshim_minted_leaves_total"), 600)
        v = self.verdicts(shim)
        self.assertEqual(len(v), 600)
        self.assertEqual({x["verdict"] for x in v}, {"pass"})

    def test_a_full_mint_queue_refuses_at_once_with_its_reason(self):
        """At 2 names a second and a 2 s handshake timeout the queue holds
        4 names: a burst of 40 gets some leaves; the rest are refused before
        any upstream is dialed, the overflow at once (reason
        mint-queue-full, a TLS alert to the app), all counted."""
        shim = self.start_burst(40, mint_rate=2, handshake_timeout=2)
        got, _ = asyncio.run(burst(self.proxy_port, self.names, self.up,
                                   self.ca))
        ok = got.count("ok")
        self.assertGreater(ok, 0)
        self.assertLess(ok, 40)
        for g in got:
            if g != "ok":
                self.assertRegex(g, r"SSLError.*HANDSHAKE_FAILURE|"
                                 r"handshake failure", g)
        wait_for(lambda: len(self.verdicts(shim)) == 40,
                 lambda: "%d verdicts" % len(self.verdicts(shim)))
        v = self.verdicts(shim)
        reasons = [x["reason"] for x in v if x["verdict"] == "refuse"]
        full = [x for x in v if x["reason"] == "mint-queue-full"]
        self.assertGreater(len(full), 0)
        self.assertIn("mint queue full", full[0]["detail"])
        self.assertEqual(len(reasons), 40 - ok)
        self.assertTrue(set(reasons) <= {"mint-queue-full", "mint-timeout"},
                        reasons)
        m = self.metrics()
        self.assertEqual(metric(m, "pinshim_mint_refusals_total"),
                         40 - ok)
        self.assertEqual(metric(m, "pinshim_mint_queued"), 0)
        # only names with a leaf reached the upstream
        self.assertEqual(metric(
            m, 'pinshim_upstream_connect_attempts_total{result="connected"}'),
            ok)

    def test_a_keeper_that_fell_behind_makes_names_wait_not_fail(self):
        """The keeper stopped while 40 new names come at 20 a second: the
        worker keeps asking at its pace; resumed, the keeper finds more
        requests than its bucket holds and says "over the rate" to some.
        Those go back to the head of the queue and get their leaves in
        turn: none fails."""
        shim = self.start_burst(40, mint_rate=20, handshake_timeout=10)
        keeper = children(shim.p.pid)[0]
        os.kill(keeper, signal.SIGSTOP)
        self.addCleanup(lambda: gone(keeper) or
                        os.kill(keeper, signal.SIGCONT))
        out = {}
        t = threading.Thread(target=lambda: out.update(got=asyncio.run(
            burst(self.proxy_port, self.names, self.up, self.ca))[0]))
        t.start()
        try:
            # more asked for than the keeper's burst of 10 holds
            wait_for(lambda: metric(self.metrics(),
                                    "pinshim_keeper_pending_requests") >= 20,
                     lambda: self.metrics())
        finally:
            os.kill(keeper, signal.SIGCONT)
            t.join(3 * WAIT)
        self.assertEqual(out["got"], ["ok"] * 40)
        shim.log.wait(r"keeper: refused: mint n\d+\.api\.test: over 20 new "
                      r"names a second")
        m = self.metrics()
        self.assertEqual(metric(m, "pinshim_mint_refusals_total"), 0)
        self.assertEqual(metric(m, "pinshim_minted_leaves_total"), 40)
        self.assertGreater(metric(m, "pinshim_mint_waits_total"), 0)
