"""Limits against a flooding client: per-client and per-listener caps
(defaults from RLIMIT_NOFILE), an IPv6 client counted by its /64,
eviction at max_conns, the listen backlog, idle timeout, keepalive.
Clients come from distinct loopback addresses (127.0.0.2, .3, ...; IPv6
ones in a network namespace)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import unittest
from pathlib import Path

from harness import (WAIT, Shim, ShimTest, TLSServer, fields, free_port,
                     http_get, nginx, pin_of)
from test_intercept import Intercept


def echo_lines(conn):
    """Answer each line reversed, until the client closes."""
    f = conn.makefile("rwb")
    for line in f:
        f.write(line.rstrip(b"\n")[::-1] + b"\n")
        f.flush()


class Limits(ShimTest):

    def setUp(self):
        super().setUp()
        self.up = TLSServer(self, self.pki / "leaf-chain.pem",
                            self.pki / "leaf.key", echo_lines)

    def shim(self, limits="", shim="", **kw):
        ini = shim + self.ini("api.test:%d" % self.up.port,
                              self.domain("api.test",
                                          [pin_of(self.pki / "leaf.pem")]))
        ini = ini.replace("connect = api.test:%d\n" % self.up.port,
                          "connect = api.test:%d\n%s" % (self.up.port, limits))
        return Shim(self, ini, **kw)

    def connect(self, src):
        s = socket.socket()
        self.addCleanup(s.close)
        s.settimeout(WAIT)
        s.bind((src, 0))
        s.connect(("127.0.0.1", self.port))
        return s

    def talk(self, s, text=b"abc"):
        s.sendall(text + b"\n")
        return s.makefile("rb").readline()

    def assert_refused(self, s):
        try:
            self.assertEqual(s.recv(100), b"")
        except ConnectionResetError:
            pass

    def test_one_client_at_its_max_cannot_deny_another(self):
        shim = self.shim("max_conns = 20\nmax_conns_per_client = 5\n")
        held = [self.connect("127.0.0.2") for _ in range(5)]
        for s in held:
            self.assertEqual(self.talk(s), b"cba\n")
        extra = self.connect("127.0.0.2")
        self.assert_refused(extra)
        v = shim.log.wait("reason=limit")
        self.assertIn("client=127.0.0.2:", v)
        self.assertIn("holds 5 connection(s), max_conns_per_client", v)
        other = self.connect("127.0.0.3")       # another client passes
        self.assertEqual(self.talk(other, b"xyz"), b"zyx\n")
        held.pop().close()                      # and the count comes back
        shim.log.wait(r" close listener=api client=127\.0\.0\.2")
        again = self.connect("127.0.0.2")
        self.assertEqual(self.talk(again), b"cba\n")

    def test_listener_at_max_conns_evicts_for_a_newcomer(self):
        # Full with idle clients, the listener still serves: a newcomer
        # takes the place of the longest-idle connection of the client
        # holding the most (.2: 3 of 4), which gets a reset.
        sport = free_port()
        shim = self.shim("max_conns = 4\nmax_conns_per_client = 3\n",
                         "[shim]\nstatus = 127.0.0.1:%d\n" % sport)
        a = [self.connect("127.0.0.2") for _ in range(3)]
        b = self.connect("127.0.0.3")
        for s in a + [b, a[0]]:         # a[1] is now the longest idle
            self.assertEqual(self.talk(s), b"cba\n")
        c = self.connect("127.0.0.4")
        self.assertEqual(self.talk(c, b"new"), b"wen\n")
        line = shim.log.wait(r"at max_conns 4: evicted")
        self.assertIn("evicted client=127.0.0.2:%d " %
                      a[1].getsockname()[1], line)
        self.assertIn("its client holds 3", line)
        self.assertIn("for client=127.0.0.4:", line)
        with self.assertRaises(ConnectionResetError):
            a[1].recv(10)
        closed = fields(shim.log.wait(r" close listener=api"))
        self.assertEqual((closed["client"], closed["how"]),
                         ("127.0.0.2:%d" % a[1].getsockname()[1],
                          "evicted"))
        for s in (a[0], a[2], b):       # the others were not touched
            self.assertEqual(self.talk(s), b"cba\n")
        import urllib.request
        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                         % sport, timeout=WAIT).read()
        self.assertIn(b'\npinshim_connections_evicted_total{listener="api"}'
                      b' 1\n', metrics)

    def test_a_client_at_its_own_max_evicts_nobody(self):
        shim = self.shim("max_conns = 2\nmax_conns_per_client = 2\n")
        held = [self.connect("127.0.0.2") for _ in range(2)]
        for s in held:
            self.assertEqual(self.talk(s), b"cba\n")
        self.assert_refused(self.connect("127.0.0.2"))
        shim.log.wait("reason=limit")
        for s in held:
            self.assertEqual(self.talk(s), b"cba\n")
        self.assertNotIn("evicted", shim.log.text())

    def test_backlog_follows_somaxconn_and_is_configurable(self):
        somaxconn = int(open("/proc/sys/net/core/somaxconn").read())
        shim = self.shim()
        self.assertIn(" backlog=%d" % somaxconn,
                      shim.log.wait("listening listener=api"))
        self.assertEqual(self.listen_backlog(self.port), somaxconn)
        shim.stop()
        shim = self.shim("backlog = 7\n", name="seven")
        self.assertEqual(self.listen_backlog(self.port), 7)

    def listen_backlog(self, port):
        """The backlog of what listens on 127.0.0.1:port, as ss shows it
        (Send-Q of a listening socket)."""
        out = subprocess.run(["ss", "-ltnH", "sport", "= :%d" % port],
                             capture_output=True, text=True).stdout
        rows = [l.split() for l in out.splitlines()]
        self.assertEqual(len(rows), 1, out)
        return int(rows[0][2])

    def test_defaults_follow_the_descriptor_limit(self):
        # 128 descriptors: (128 - 32) / 2 = 48 connections, 48 / 8 = 6
        # per client.
        shim = self.shim(nofile=128)
        self.assertIn("max_conns=48 per_client=6",
                      shim.log.wait("listening listener=api"))
        held = [self.connect("127.0.0.2") for _ in range(10)]
        answers = 0
        for s in held:
            try:
                s.sendall(b"q\n")
                answers += s.makefile("rb").readline() == b"q\n"
            except (ConnectionResetError, BrokenPipeError):
                pass
        self.assertEqual(answers, 6)
        other = self.connect("127.0.0.3")
        self.assertEqual(self.talk(other, b"ok"), b"ko\n")

    def test_idle_timeout_closes_a_silent_tunnel(self):
        shim = self.shim("idle_timeout = 1\n")
        s = self.connect("127.0.0.2")
        self.assertEqual(self.talk(s), b"cba\n")
        line = shim.log.wait(r" close listener=api")
        self.assertIn('how="idle timeout"', line)
        self.assertEqual(s.recv(10), b"")

    def test_both_sides_have_tcp_keepalive(self):
        self.shim()
        s = self.connect("127.0.0.2")
        self.assertEqual(self.talk(s), b"cba\n")
        out = subprocess.run(["ss", "-tno", "state", "established"],
                             capture_output=True, text=True).stdout
        # columns: Recv-Q Send-Q Local Peer [timer:(...)]
        rows = [l.split() for l in out.splitlines()[1:]]
        mine = [" ".join(r) for r in rows if len(r) > 3 and
                r[2] == "127.0.0.1:%d" % self.port and
                r[3].startswith("127.0.0.2:")]
        ups = [" ".join(r) for r in rows if len(r) > 3 and
               r[3] == "127.0.0.1:%d" % self.up.port]
        self.assertTrue(mine, out)
        self.assertTrue(any("keepalive" in l for l in mine), mine)
        self.assertTrue(any("keepalive" in l for l in ups), out)


# Run in pinshim's network namespace: hold a connection from one address,
# then print the first line each of two others gets back, sending nothing.
IPV6_CLIENTS = r"""
import json, socket, sys
port, held, same, other = int(sys.argv[1]), sys.argv[2], sys.argv[3], \
    sys.argv[4]
def connect(src):
    return socket.create_connection(("2001:db8:0:1::1", port), %s, (src, 0))
def answer(src):
    with connect(src) as s:
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        return data.split(b"\r\n", 1)[0].decode()
first = connect(held)
print(json.dumps({"same": answer(same), "other": answer(other)}))
""" % WAIT


@unittest.skipUnless(os.geteuid() == 0, "needs root: a network namespace "
                     "with IPv6 addresses of its own")
class Ipv6Clients(Intercept):

    def test_one_ipv6_64_is_one_client(self):
        addrs = ["2001:db8:0:1::1/64", "2001:db8:0:1::2/64",
                 "2001:db8:0:2::1/64"]
        setup = "ip link set lo up && " + " && ".join(
            "ip addr add %s dev lo nodad" % a for a in addrs)
        self.proxy_port = free_port()
        ini = self.proxy_ini(1, "", allow="2001:db8::/32").replace(
            "bind = 127.0.0.1:", "bind = [2001:db8:0:1::1]:").replace(
            "mode = forward\n", "mode = forward\nmax_conns_per_client = 1\n")
        shim = Shim(self, ini, wrap=["unshare", "--net", "--", "sh", "-c",
                                     setup + ' && exec "$@"', "sh"])
        r = subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % shim.p.pid,
                            sys.executable, "-c", IPV6_CLIENTS,
                            str(self.proxy_port), "2001:db8:0:1::1",
                            "2001:db8:0:1::2", "2001:db8:0:2::1"],
                           capture_output=True, text=True, timeout=2 * WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        # the same /64 is the same client: at its one connection at once
        self.assertEqual(got["same"], "HTTP/1.1 503 Service Unavailable")
        v = shim.log.wait("reason=limit")
        self.assertIn("client=[2001:db8:0:1::2]", v)
        self.assertIn("this client's IPv6 prefix holds 1 connection(s)", v)
        # another /64 is another client: served, until its head times out
        self.assertEqual(got["other"], "HTTP/1.1 408 Request Timeout")


class Fairness(ShimTest):
    """Bulk transfers never starve a short request or a signal."""

    def setUp(self):
        super().setUp()
        www = Path(self.tmp) / "www"
        www.mkdir()
        block = os.urandom(1 << 20)
        with open(www / "big", "wb") as f:
            f.write(block * 32)                       # 32 MiB
        # the SIGTERM test's: long enough that none of 20 can end while
        # the last ones are still connecting (a 32 MiB one could)
        with open(www / "huge", "wb") as f:
            for _ in range(8):
                f.write(block * 32)                   # 256 MiB
        (www / "small").write_text("small\n")
        self.up, _ = nginx(self, self.pki / "leaf-chain.pem",
                           self.pki / "leaf.key", www)
        # no drain: SIGTERM resets what runs (test_stop.py drains)
        self.shim = Shim(self, "[shim]\nshutdown_timeout = 0\n" + self.ini(
            "api.test:%d" % self.up, self.domain("api.test", [
                pin_of(self.pki / "leaf.pem")])))

    def downloads(self, n, events, path="/big"):
        def one(i):
            r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-H",
                                "Host: api.test", "-m", "120",
                                "http://127.0.0.1:%d%s" % (self.port, path)],
                               capture_output=True)
            events.append(("big", i, r.returncode))
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        return threads

    def wait_flowing(self, n):
        """Every download has its verdict and the first bytes moved."""
        for _ in range(n):
            self.shim.verdict()

    def test_a_short_request_finishes_before_bulk_downloads(self):
        events = []
        threads = self.downloads(20, events)
        self.wait_flowing(20)
        status, body = http_get(self.port, "/small")
        events.append(("small", 0, status))
        for t in threads:
            t.join(180)
        self.assertEqual((status, body), (200, b"small\n"))
        order = [e[0] for e in events]
        self.assertLess(order.index("small"), len(order) - 1, order)
        # the small one came before most of the big ones
        self.assertLess(order.index("small"), 10, order)
        self.assertTrue(all(rc == 0 for k, _, rc in events if k == "big"),
                        events)

    def test_sigterm_is_honoured_while_downloads_run(self):
        events = []
        threads = self.downloads(20, events, "/huge")
        self.wait_flowing(20)
        events.append(("term", 0, 0))
        self.shim.p.send_signal(signal.SIGTERM)
        self.shim.p.wait(60)
        events.append(("exit", 0, self.shim.p.returncode))
        for t in threads:
            t.join(180)
        # pinshim stopped (cleanly) while the bulk of the downloads still
        # ran, and every download still running was cut short
        self.assertEqual(self.shim.p.returncode, 0)
        after = events[[e[0] for e in events].index("term"):]
        running = [rc for k, _, rc in after if k == "big"]
        self.assertGreaterEqual(len(running), 10, events)
        self.assertNotIn(0, running, events)
        self.shim.stopped = True
