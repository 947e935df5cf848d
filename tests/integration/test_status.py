"""[shim] status: /metrics scraped with the Prometheus reference text
parser (Debian's python3-prometheus-client), linted by promtool, and
/status as JSON after a
scripted mix of passes, refusals of each kind and feed fetches; the
status port's refusals; a flood of scrapes beside relayed traffic; and
`pinshim status` for a healthy and an unhealthy daemon."""

import http.client
import json
import os
import re
import select
import socket
import subprocess
import threading
import time
import unittest
from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from harness import (PINSHIM_CMD, WAIT, Shim, ShimTest, free_port, pin_of,
                     refused_silently, s_server)
from test_feed import UNRELATED, FeedTest, rfc3339


def get(port, path, method="GET", headers=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), data


def scrape(port):
    status, ctype, data = get(port, "/metrics")
    assert status == 200, status
    assert ctype == "text/plain; version=0.0.4; charset=utf-8", ctype
    out = {}
    for fam in text_string_to_metric_families(data.decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m, name, **labels):
    return m.get((name, tuple(sorted(labels.items()))))


def status_cli(ini, *extra):
    return subprocess.run(PINSHIM_CMD + ["status", "-c", str(ini)] +
                          list(extra), capture_output=True, text=True)


def echo(port):
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(b"ping\n")
        got = b""
        while not got.endswith(b"\n"):
            chunk = s.recv(100)
            if not chunk:
                break
            got += chunk
        return got


class Status(ShimTest):

    def three_listeners(self, extra_shim="", domains=""):
        """api: pinned to the leaf (passes); wrong: pinned elsewhere
        (pin-mismatch); blocked: default_policy block."""
        up, _ = s_server(self, self.pki / "leaf.pem", self.pki / "leaf.key",
                         self.pki / "inter.pem", extra=("-rev",))
        self.sport = free_port()
        self.ports = {n: free_port() for n in ("api", "wrong", "blocked")}
        listeners = "".join(
            "[listen:%s]\nmode = tunnel\nbind = 127.0.0.1:%d\n"
            "connect = %s:%d\n\n" % (n, self.ports[n], host, up)
            for n, host in (("api", "api.test"), ("wrong", "www.api.test"),
                            ("blocked", "blocked.test")))
        doms = self.domain("api.test", [pin_of(self.pki / "leaf.pem")]) + \
            self.domain("www.api.test", [UNRELATED]) + domains
        ini = "[shim]\nstatus = 127.0.0.1:%d\n%s\n" % (self.sport,
                                                         extra_shim) + \
            self.ini("-", doms, listeners=listeners)
        return ini

    def test_metrics_and_status_count_what_was_done(self):
        shim = Shim(self, self.three_listeners())
        shim.log.wait(r"status: serving /metrics and /status on "
                      r"127.0.0.1:%d" % self.sport)
        for _ in range(3):
            self.assertEqual(echo(self.ports["api"]), b"gnip\n")
            self.assertEqual(shim.verdict()["verdict"], "pass")
            shim.closed()
        for _ in range(2):
            self.assertEqual(refused_silently(self.ports["wrong"]), b"")
            self.assertEqual(shim.verdict()["reason"], "pin-mismatch")
        self.assertEqual(refused_silently(self.ports["blocked"]), b"")
        self.assertEqual(shim.verdict()["reason"], "blocked")

        m = scrape(self.sport)
        # Prometheus's own linter: names, units, HELP and TYPE
        text = get(self.sport, "/metrics")[2]
        r = subprocess.run(["promtool", "check", "metrics"], input=text,
                           capture_output=True)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"", b""))
        v = lambda **kw: value(m, "pinshim_verdicts_total", **kw)
        self.assertEqual(v(listener="api", policy="pin", verdict="pass",
                           reason="ok"), 3)
        self.assertEqual(v(listener="wrong", policy="pin", verdict="refuse",
                           reason="pin-mismatch"), 2)
        self.assertEqual(v(listener="blocked", policy="block",
                           verdict="refuse", reason="blocked"), 1)
        for name, n in (("api", 3), ("wrong", 2), ("blocked", 1)):
            self.assertEqual(value(m, "pinshim_connections_accepted_total",
                                   listener=name), n)
            self.assertEqual(value(m, "pinshim_connections_active",
                                   listener=name), 0)
        self.assertEqual(value(m, "pinshim_relayed_bytes_total",
                               listener="api", direction="up"), 15)
        self.assertEqual(value(m, "pinshim_relayed_bytes_total",
                               listener="api", direction="down"), 15)
        self.assertEqual(value(
            m, "pinshim_upstream_handshake_duration_seconds_count"), 5)
        self.assertEqual(value(
            m, "pinshim_upstream_handshake_duration_seconds_bucket",
            le="+Inf"), 5)
        self.assertGreater(value(m, "process_open_fds"), 5)
        self.assertGreater(value(m, "process_max_fds"), 100)
        self.assertAlmostEqual(value(m, "process_start_time_seconds"),
                               time.time(), delta=60)
        self.assertIsNone(value(m, "pinshim_feed_version"))   # no [feed]

        status, ctype, data = get(self.sport, "/status")
        self.assertEqual((status, ctype), (200, "application/json"))
        st = json.loads(data)
        self.assertEqual(st["connections"]["passed"], 3)
        self.assertEqual(st["connections"]["refused"], 3)
        self.assertEqual(st["health"], "ok")
        self.assertIsNone(st["feed"])
        self.assertEqual([l["name"] for l in st["listeners"]],
                         ["api", "wrong", "blocked"])
        recent = st["recent_refusals"]
        self.assertEqual([(r["listener"], r["reason"]) for r in recent],
                         [("blocked", "blocked"), ("wrong", "pin-mismatch"),
                          ("wrong", "pin-mismatch")])
        self.assertEqual(recent[1]["presented"][0],
                         pin_of(self.pki / "leaf.pem"))  # the evidence
        self.assertEqual(recent[1]["host"], "www.api.test")

        r = status_cli(shim.ini)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("connections: 3 passed, 3 refused", r.stdout)
        self.assertIn("refuse www.api.test:", r.stdout)
        self.assertTrue(r.stdout.endswith("health: ok\n"), r.stdout)

    def test_status_port_refuses_what_it_must(self):
        shim = Shim(self, self.three_listeners())
        shim.log.wait("status: serving")
        for method in ("POST", "PUT", "DELETE"):
            status, _, _ = get(self.sport, "/metrics", method=method,
                               body=b"x")
            self.assertEqual(status, 405, method)
        self.assertEqual(get(self.sport, "/")[0], 404)
        self.assertEqual(get(self.sport, "/metrics/../status")[0], 404)
        self.assertEqual(get(self.sport, "/metrics?x=1")[0], 200)
        # an oversized head is refused by evhttp, not answered
        big = {"X-Big": "a" * 9000}
        try:
            status = get(self.sport, "/metrics", headers=big)[0]
        except (ConnectionError, http.client.HTTPException):
            status = None
        self.assertNotEqual(status, 200)
        # and the port still serves afterwards
        self.assertEqual(get(self.sport, "/status")[0], 200)

    def test_clients_outside_status_allow_are_closed_at_accept(self):
        """status_allow lists 127.0.0.2 only: 20 clients from 127.0.0.1
        are closed before they send a byte and take none of the 16
        slots, so a client from 127.0.0.2 is served while they are
        open."""
        shim = Shim(self, self.three_listeners(
            extra_shim="status_allow = 127.0.0.2/32"))
        shim.log.wait("status: serving")
        outside = []
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", self.sport),
                                         timeout=WAIT)
            self.addCleanup(s.close)
            outside.append(s)
        c = http.client.HTTPConnection("127.0.0.1", self.sport, timeout=WAIT,
                                       source_address=("127.0.0.2", 0))
        c.request("GET", "/status")
        r = c.getresponse()
        r.read()
        c.close()
        self.assertEqual(r.status, 200)
        for s in outside:                  # closed, nothing answered
            self.assertEqual(s.recv(100), b"")
        shim.log.wait(r"status: client 127.0.0.1:\d+ is not in "
                      r"status_allow: closed")

    def test_non_loopback_status_needs_status_allow(self):
        ini = Path(self.tmp) / "s.ini"
        ini.write_text("[shim]\nstatus = 0.0.0.0:9090\n" +
                       self.ini("api.test:443", self.domain("api.test",
                                                            [UNRELATED])))
        r = subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(ini)],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("[shim] status: 0.0.0.0 is not a loopback address: "
                      "status_allow must list who may read it", r.stderr)

    def test_a_flood_of_scrapes_does_not_disturb_relaying(self):
        shim = Shim(self, self.three_listeners())
        shim.log.wait("status: serving")
        stop = threading.Event()
        counts, errors = [], []

        def scraper():
            n = 0
            c = http.client.HTTPConnection("127.0.0.1", self.sport,
                                           timeout=WAIT)
            try:
                while not stop.is_set():
                    c.request("GET", "/metrics")
                    r = c.getresponse()
                    r.read()
                    if r.status != 200:
                        errors.append(r.status)
                    n += 1
            except Exception as e:     # noqa: BLE001 - reported below
                errors.append(repr(e))
            counts.append(n)

        threads = [threading.Thread(target=scraper) for _ in range(8)]
        for t in threads:
            t.start()
        try:
            t0 = time.monotonic()
            for _ in range(20):
                self.assertEqual(echo(self.ports["api"]), b"gnip\n")
                self.assertEqual(shim.verdict()["verdict"], "pass")
            relay_time = time.monotonic() - t0
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        self.assertGreater(sum(counts), 100)
        print("\n  (%d scrapes by 8 clients while 20 tunnels ran in %.2fs)"
              % (sum(counts), relay_time))
        self.assertEqual(value(scrape(self.sport), "pinshim_verdicts_total",
                               listener="api", policy="pin",
                               verdict="pass", reason="ok"), 20)

    def test_trickling_clients_hold_at_most_16_descriptors(self):
        """A slow client sends one byte now and then to keep a request
        open: 40 of them, from loopback (allowed) and therefore as bad as
        it gets, hold at most 16 connections, each for at most 5 s,
        while tunnels pass."""
        shim = Shim(self, self.three_listeners())
        shim.log.wait("status: serving")

        def fds():
            return len(os.listdir("/proc/%d/fd" % shim.p.pid))

        base = fds()
        socks = []
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", self.sport),
                                         timeout=WAIT)
            self.addCleanup(s.close)
            s.sendall(b"G")
            socks.append(s)
        held = fds() - base
        self.assertLessEqual(held, 16)
        self.assertEqual(echo(self.ports["api"]), b"gnip\n")
        self.assertEqual(shim.verdict(listener="api")["verdict"], "pass")
        # each one, trickling or not, is closed within the deadline
        t0 = time.monotonic()
        for s in socks:
            try:
                s.sendall(b"E")
                self.assertEqual(s.recv(100), b"")
            except (ConnectionResetError, BrokenPipeError):
                pass
        self.assertLess(time.monotonic() - t0, 5 + WAIT)
        self.assertLessEqual(fds(), base)
        self.assertEqual(get(self.sport, "/status")[0], 200)

    def test_pipelined_scrapes_never_read_hold_one_answer(self):
        """A client pipelines 40,000 GET /metrics and reads nothing: the
        worker answers one at a time (the kernel's buffers push back), so
        its peak memory stays put, and the connection is closed at its
        one deadline, however many requests are still waiting."""
        shim = Shim(self, self.three_listeners())
        shim.log.wait("status: serving")

        def peak_kb():
            text = Path("/proc/%d/status" % shim.p.pid).read_text()
            return int(re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)[1])

        before = peak_kb()
        s = socket.create_connection(("127.0.0.1", self.sport),
                                     timeout=WAIT)
        self.addCleanup(s.close)
        closed = False
        try:
            for _ in range(40):
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" *
                          1000)
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        if not closed:
            # everything went into the kernel's buffers: wait for the
            # reset the unread requests bring, without reading
            p = select.poll()
            p.register(s, select.POLLRDHUP)
            closed = bool(p.poll((5 + WAIT) * 1000))
        grown = peak_kb() - before
        self.assertLess(grown, 64 * 1024, "the worker grew %d kB" % grown)
        self.assertTrue(closed, "not closed at the deadline")
        self.assertEqual(get(self.sport, "/status")[0], 200)

    @unittest.skipUnless(os.geteuid() == 0, "needs root: the socket is "
                         "handed to [shim] user")
    def test_unix_socket_is_handed_to_the_user(self):
        """Started as root with [shim] user: the socket is born 0660 and
        given to that user (fchownat, no link followed), and serves."""
        import pwd
        nobody = pwd.getpwnam("nobody")
        os.chmod(self.tmp, 0o755)          # the worker reads the INI
        os.chmod(self.pki, 0o755)
        sock = Path(self.tmp) / "status.sock"
        ini = "[shim]\nuser = nobody\nstatus = unix:%s\n\n" % sock + \
            self.ini("api.test:1", self.domain("api.test", [UNRELATED]))
        shim = Shim(self, ini)
        shim.log.wait("status: serving /metrics and /status on unix:")
        st = sock.lstat()
        self.assertEqual((st.st_mode & 0o7777, st.st_uid, st.st_gid),
                         (0o660, nobody.pw_uid, nobody.pw_gid))
        r = status_cli(shim.ini)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_unix_socket_in_a_directory_others_can_write_is_refused(self):
        """Whoever can write the socket's directory could swap the socket
        for a link between its creation and its chown: refused, by
        `run -t` and by `run`, before anything is bound."""
        d = Path(self.tmp) / "run"
        d.mkdir()
        d.chmod(0o777)
        sock = d / "status.sock"
        ini = Path(self.tmp) / "s.ini"
        ini.write_text("[shim]\nstatus = unix:%s\n\n" % sock + self.ini(
            "api.test:1", self.domain("api.test", [UNRELATED])))
        why = ("[shim] status: unix:%s: directory %s is writable by others "
               "(mode 0777, no sticky bit): whoever can write it could swap "
               "the socket for a link; chmod go-w it" % (sock, d))
        r = subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(ini)],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn(why, r.stderr)
        r = subprocess.run(PINSHIM_CMD + ["run", "-c", str(ini)],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 1)
        self.assertIn(why, r.stderr)
        self.assertFalse(sock.exists())

    def test_pinshim_status_exits_1_when_a_pin_set_expired(self):
        past = rfc3339(-timedelta(days=1))
        dom = "[domain:other.test]\npins = %s\nexpires = %s\n" \
            "on_expiry = block\n\n" % (UNRELATED, past)
        shim = Shim(self, self.three_listeners(domains=dom))
        shim.log.wait("status: serving")
        r = status_cli(shim.ini)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("pins of other.test EXPIRED", r.stdout)
        self.assertTrue(r.stdout.endswith("health: pin-set-expired\n"))
        st = json.loads(get(self.sport, "/status")[2])
        self.assertEqual(st["expiring_pin_sets"][0]["pattern"], "other.test")
        self.assertTrue(st["expiring_pin_sets"][0]["expired"])
        self.assertEqual(st["health"], "pin-set-expired")
        shim.stop()
        r = status_cli(shim.ini)      # nobody listening
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach the daemon at 127.0.0.1:%d" % self.sport,
                      r.stderr)

    def test_unix_socket_status(self):
        sock = Path(self.tmp) / "status.sock"
        ini = "[shim]\nstatus = unix:%s\n\n" % sock + self.ini(
            "api.test:1", self.domain("api.test", [UNRELATED]))
        shim = Shim(self, ini)
        shim.log.wait("status: serving /metrics and /status on unix:")
        self.assertEqual(sock.stat().st_mode & 0o777, 0o660)
        r = status_cli(shim.ini)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("listener api (tunnel)", r.stdout)


class FeedStatus(FeedTest):

    def test_feed_metrics_follow_fetches(self):
        up, _ = self.api()
        data = self.publish(1, [self.leaf])
        sport = free_port()
        shim = Shim(self, self.feed_ini(up, extra_shim="status = "
                                        "127.0.0.1:%d" % sport))
        shim.log.wait("feed: version 1 in force")
        m = scrape(sport)
        self.assertEqual(value(m, "pinshim_feed_version"), 1)
        self.assertEqual(value(m, "pinshim_feed_key_set_version"), 1)
        self.assertEqual(value(m, "pinshim_feed_fetches_total",
                               outcome="accepted"), 1)
        self.assertEqual(value(m, "pinshim_feed_stale"), 0)
        self.assertAlmostEqual(
            value(m, "pinshim_feed_expiry_timestamp_seconds"),
            time.time() + 30 * 86400, delta=120)
        self.assertLess(value(m, "pinshim_feed_seconds_since_last_success"),
                        60)
        # a bad signature: rejected; the server down: failed
        tampered = bytearray(data)
        tampered[10] ^= 1
        self.serve(bytes(tampered))
        self.hup(shim)
        shim.log.wait("bad signature")
        self.nginx.stop()
        self.hup(shim)
        shim.log.wait(r"feed: https://.*(refused|reset|failed)")
        m = scrape(sport)
        for outcome, n in (("accepted", 1), ("rejected", 1), ("failed", 1),
                           ("unchanged", 0)):
            self.assertEqual(value(m, "pinshim_feed_fetches_total",
                                   outcome=outcome), n, outcome)
        st = json.loads(get(sport, "/status")[2])
        self.assertEqual(st["feed"]["version"], 1)
        self.assertEqual(st["feed"]["fetches"],
                         {"accepted": 1, "unchanged": 0, "rejected": 1,
                          "failed": 1})
        self.assertIn("https://feeds.api.test", st["feed"]["source"])
        self.assertIsNotNone(st["feed"]["last_error"])
        r = status_cli(shim.ini)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("feed: version 1 from https://feeds.api.test",
                      r.stdout)
        self.assertIn("feed: last error: https://", r.stdout)
