"""Interception: the forward proxy with curl and openssl as the apps, and
the transparent gateway in network namespaces with an nftables REDIRECT."""

import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import unittest
from datetime import datetime
from pathlib import Path

from harness import (PINSHIM, PINSHIM_CMD, WAIT, Proc, Shim, ShimTest, TLSServer, free_port,
                     pin_of, recv_all, s_server, wait_port)

UNRELATED = "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


class Intercept(ShimTest):

    def setUp(self):
        super().setUp()
        self.state = Path(self.tmp) / "state"
        self.state.mkdir()
        r = subprocess.run([*PINSHIM_CMD, "ca", "init", self.state / "ca"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.ca = self.state / "ca" / "ca.pem"

    def proxy_ini(self, up_port, domains, allow=None, extra_listen=""):
        listen = "[listen:proxy]\nmode = forward\nbind = 127.0.0.1:%d\n" \
            "ports = %d\n%s%s" % (self.proxy_port, up_port,
                                  "allow = %s\n" % allow if allow else "",
                                  extra_listen)
        return "[shim]\nstate_dir = %s\n" % self.state + self.ini(
            None, domains, listeners=listen).replace(
            "handshake_timeout = 5", "handshake_timeout = 2")

    def start(self, up_port, pins, policy="pin", allow=None, host="api.test"):
        self.proxy_port = free_port()
        return Shim(self, self.proxy_ini(up_port, self.domain(host, pins,
                                                              policy),
                                         allow=allow))

    def curl(self, url, *extra):
        return subprocess.run(["curl", "-sS", "-m", str(WAIT), "--cacert",
                               str(self.ca), "-x",
                               "http://127.0.0.1:%d" % self.proxy_port,
                               "-o", "-", "-w", "\n%{http_code}", url] +
                              list(extra), capture_output=True, text=True)

    def raw(self, data, read=True):
        with socket.create_connection(("127.0.0.1", self.proxy_port),
                                      timeout=WAIT) as s:
            s.sendall(data)
            return recv_all(s) if read else b""

    def api(self, leaf="leaf", chain="inter.pem"):
        p = self.pki
        port, _ = s_server(self, p / ("%s.pem" % leaf), p / ("%s.key" % leaf),
                           p / chain if chain else None)
        return port


class Forward(Intercept):

    def test_connect_pinned_passes_with_minted_leaf(self):
        up = self.api()
        shim = self.start(up, [pin_of(self.pki / "leaf.pem")])
        r = self.curl("https://api.test:%d/" % up)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith("\n200"))
        self.assertIn("s_server", r.stdout)
        v = shim.verdict()
        self.assertEqual((v["listener"], v["verdict"]), ("proxy", "pass"))
        self.assertEqual(shim.closed()["how"], "closed")

    def test_wrong_pin_gets_a_tls_alert_and_the_refusal_logged(self):
        """The upstream is dialed after the 200 and the app's ClientHello
        (to offer its ALPN list): a pin failure is then a fatal
        handshake_failure alert, with no certificate and no byte of the
        upstream's, and the refusal is logged with the presented pins."""
        up = self.api()
        shim = self.start(up, [UNRELATED])
        r = subprocess.run(["openssl", "s_client", "-proxy",
                            "127.0.0.1:%d" % self.proxy_port, "-connect",
                            "api.test:%d" % up, "-servername", "api.test",
                            "-CAfile", str(self.ca)],
                           input="", capture_output=True, text=True,
                           timeout=WAIT)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("alert handshake failure", r.stdout + r.stderr)
        self.assertNotIn("BEGIN CERTIFICATE", r.stdout)
        v = shim.verdict()
        self.assertEqual((v["verdict"], v["reason"]),
                         ("refuse", "pin-mismatch"))
        self.assertEqual(v["presented"].split(",")[0],
                         pin_of(self.pki / "leaf.pem"))

    def test_rogue_ca_upstream_gets_a_tls_alert(self):
        up = self.api(leaf="rogue", chain=None)
        shim = self.start(up, [pin_of(self.pki / "leaf.pem")])
        r = self.curl("https://api.test:%d/" % up)
        self.assertEqual(r.returncode, 35, r.stderr)   # a TLS error
        self.assertIn("alert handshake failure", r.stderr)
        self.assertEqual(shim.verdict()["reason"], "pin-mismatch")

    def test_unknown_host_follows_default_policy_block(self):
        up = self.api()
        shim = self.start(up, [pin_of(self.pki / "leaf.pem")])
        got = self.raw(b"CONNECT other.test:%d HTTP/1.1\r\n\r\n" % up)
        self.assertTrue(got.startswith(b"HTTP/1.1 502 "), got)
        self.assertIn(b"refused: blocked", got)
        self.assertEqual(shim.verdict()["reason"], "blocked")

    def test_client_outside_allow_gets_403(self):
        up = self.api()
        shim = self.start(up, [pin_of(self.pki / "leaf.pem")],
                          allow="10.0.0.0/8")
        got = self.raw(b"CONNECT api.test:%d HTTP/1.1\r\n\r\n" % up)
        self.assertTrue(got.startswith(b"HTTP/1.1 403 "), got)
        self.assertEqual(shim.verdict()["reason"], "client-not-allowed")

    def test_minted_leaf_checked_with_openssl(self):
        up = self.api()
        self.start(up, [pin_of(self.pki / "leaf.pem")])
        pem = self.served_cert("api.test", up)
        leaf = Path(self.tmp) / "minted.pem"
        leaf.write_text(pem)
        text = subprocess.run(["openssl", "x509", "-in", leaf, "-noout",
                               "-text"], capture_output=True,
                              text=True).stdout
        self.assertIn("DNS:api.test", text)
        self.assertIn("CA:FALSE", text) if "CA:FALSE" in text else None
        issuer = subprocess.run(["openssl", "x509", "-in", self.ca, "-noout",
                                 "-subject"], capture_output=True,
                                text=True).stdout.split("=", 1)[1].strip()
        self.assertIn("Issuer: " + issuer, text)
        self.assertIn("TLS Web Server Authentication", text)
        r = subprocess.run(["openssl", "verify", "-CAfile", self.ca, leaf],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        dates = subprocess.run(["openssl", "x509", "-in", leaf, "-noout",
                                "-startdate", "-enddate"],
                               capture_output=True, text=True).stdout
        nb, na = [datetime.strptime(l.split("=", 1)[1].strip(),
                                    "%b %d %H:%M:%S %Y %Z")
                  for l in dates.splitlines()]
        self.assertLessEqual((na - nb).days, 8)      # short-lived
        key = subprocess.run(["openssl", "x509", "-in", leaf, "-noout",
                              "-text"], capture_output=True,
                             text=True).stdout
        self.assertIn("prime256v1", key)             # ECDSA P-256

    def served_cert(self, name, up, servername=None):
        r = subprocess.run(["openssl", "s_client", "-proxy",
                            "127.0.0.1:%d" % self.proxy_port, "-connect",
                            "%s:%d" % (name, up), "-servername",
                            servername or name, "-showcerts"],
                           input="", capture_output=True, text=True,
                           timeout=WAIT)
        out = r.stdout
        start = out.find("-----BEGIN CERTIFICATE-----")
        end = out.find("-----END CERTIFICATE-----")
        self.assertNotEqual(start, -1, out + r.stderr)
        return out[start:end + 25] + "\n"

    def test_repeated_name_reuses_the_minted_leaf(self):
        up = self.api()
        self.start(up, [pin_of(self.pki / "leaf.pem")])
        self.assertEqual(self.served_cert("api.test", up),
                         self.served_cert("api.test", up))

    def test_wildcard_upstream_still_gets_an_exact_name_leaf(self):
        up = self.api()          # the real certificate says *.api.test
        self.start(up, [pin_of(self.pki / "leaf.pem")], host="*.api.test")
        pem = self.served_cert("www.api.test", up)
        leaf = Path(self.tmp) / "w.pem"
        leaf.write_text(pem)
        text = subprocess.run(["openssl", "x509", "-in", leaf, "-noout",
                               "-ext", "subjectAltName"], capture_output=True,
                              text=True).stdout
        self.assertIn("DNS:www.api.test", text)
        self.assertNotIn("*", text)

    def test_sni_other_than_the_connect_host_is_refused(self):
        up = self.api()
        shim = self.start(up, [pin_of(self.pki / "leaf.pem")])
        r = subprocess.run(["openssl", "s_client", "-proxy",
                            "127.0.0.1:%d" % self.proxy_port, "-connect",
                            "api.test:%d" % up, "-servername", "other.test"],
                           input="", capture_output=True, text=True,
                           timeout=WAIT)
        self.assertNotIn("BEGIN CERTIFICATE", r.stdout)
        v = shim.verdict()      # refused before any upstream is dialed
        self.assertEqual(v["reason"], "sni-mismatch")

    def test_bare_lf_or_control_bytes_in_a_head_get_400(self):
        """A head whose bytes could mean something else to the next
        parser (a bare LF in the method, in a header) is refused whole,
        never rewritten and forwarded."""
        up = self.api()
        shim = self.start(up, [pin_of(self.pki / "leaf.pem")])
        for head in (b"GE\nT http://api.test/ HTTP/1.1\r\n\r\n",
                     b"GET http://api.test/ HTTP/1.1\r\nX: a\nInjected: b"
                     b"\r\n\r\n",
                     b"CONNECT api.test:%d HTTP/1.1\r\nX: \x00\r\n\r\n" % up):
            with self.subTest(head=head):
                got = self.raw(head)
                self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got)
                self.assertEqual(shim.verdict()["reason"], "bad-request")

    def test_clienthello_split_over_records_is_intercepted(self):
        """Records of 512 bytes and a long ALPN list: the ClientHello
        spans records, which TLS allows; pinshim reassembles it."""
        up = self.api()
        shim = self.start(up, [pin_of(self.pki / "leaf.pem")])
        alpn = ",".join("proto-%02d-%s" % (i, "x" * 20) for i in range(40))
        r = subprocess.run(["openssl", "s_client", "-proxy",
                            "127.0.0.1:%d" % self.proxy_port, "-connect",
                            "api.test:%d" % up, "-servername", "api.test",
                            "-max_send_frag", "512", "-alpn", alpn,
                            "-CAfile", str(self.ca), "-verify_return_error"],
                           input="", capture_output=True, text=True,
                           timeout=WAIT)
        self.assertIn("Verify return code: 0 (ok)", r.stdout, r.stderr)
        self.assertEqual(shim.verdict()["verdict"], "pass")

    def test_sighup_applies_a_narrower_allow(self):
        up = self.api()
        shim = self.start(up, [pin_of(self.pki / "leaf.pem")])
        self.assertTrue(self.curl("https://api.test:%d/" % up)
                        .stdout.endswith("\n200"))
        shim.ini.write_text(shim.ini.read_text().replace(
            "ports = %d" % up, "ports = %d\nallow = 10.0.0.0/8" % up))
        os.kill(shim.p.pid, signal.SIGHUP)
        shim.log.wait("reload: 1 domain rule")
        got = self.raw(b"CONNECT api.test:%d HTTP/1.1\r\n\r\n" % up)
        self.assertTrue(got.startswith(b"HTTP/1.1 403 "), got)

    def test_a_connection_keeps_the_configuration_it_started_under(self):
        """A reload is a pointer swap: a connection accepted before it
        asks for the CONNECT port its listener allowed then; new ones get
        the new configuration's answer."""
        up = self.api()
        self.proxy_port = free_port()
        # generous: the head on the first connection waits for a reload
        shim = Shim(self, self.proxy_ini(up, self.domain(
            "api.test", [pin_of(self.pki / "leaf.pem")])).replace(
            "handshake_timeout = 2", "handshake_timeout = 60"))
        with socket.create_connection(("127.0.0.1", self.proxy_port),
                                      timeout=WAIT) as early:
            # accepted in order: once a later client is served, so is it
            self.assertTrue(self.curl("https://api.test:%d/" % up)
                            .stdout.endswith("\n200"))
            shim.ini.write_text(shim.ini.read_text().replace(
                "ports = %d" % up, "ports = %d" % free_port()))
            os.kill(shim.p.pid, signal.SIGHUP)
            shim.log.wait("reload: 1 domain rule")
            got = self.raw(b"CONNECT api.test:%d HTTP/1.1\r\n\r\n" % up)
            self.assertTrue(got.startswith(b"HTTP/1.1 403 "), got)
            early.sendall(b"CONNECT api.test:%d HTTP/1.1\r\n\r\n" % up)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = early.recv(4096)
                self.assertTrue(chunk, head)
                head += chunk
            self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)

    def test_connect_to_a_port_not_allowed_gets_403(self):
        up = self.api()
        shim = self.start(up, [pin_of(self.pki / "leaf.pem")])
        got = self.raw(b"CONNECT api.test:25 HTTP/1.1\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 403 "), got)
        self.assertEqual(shim.verdict()["reason"], "port-not-allowed")

    def test_malformed_and_oversized_requests(self):
        up = self.api()
        shim = self.start(up, [pin_of(self.pki / "leaf.pem")])
        got = self.raw(b"HELLO\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got)
        got = self.raw(b"GET /relative HTTP/1.1\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got)
        got = self.raw(b"CONNECT api.test:%d HTTP/1.1\r\nX: %s\r\n\r\n" %
                       (up, b"a" * 9000))
        self.assertTrue(got.startswith(b"HTTP/1.1 431 "), got)
        # the proxy still serves everyone else
        r = self.curl("https://api.test:%d/" % up)
        self.assertTrue(r.stdout.endswith("\n200"), r.stderr)
        self.assertIn("bad-request", shim.log.text())

    def test_slow_client_that_never_finishes_its_head_gets_408(self):
        up = self.api()
        shim = self.start(up, [pin_of(self.pki / "leaf.pem")])
        with socket.create_connection(("127.0.0.1", self.proxy_port),
                                      timeout=WAIT) as s:
            s.sendall(b"CONNECT api.test:%d HTTP/1.1\r\n" % up)
            got = recv_all(s)
        self.assertTrue(got.startswith(b"HTTP/1.1 408 "), got)
        self.assertEqual(shim.verdict()["reason"], "client-timeout")

    def test_non_tls_after_connect_is_closed_and_logged(self):
        up = self.api()
        shim = self.start(up, [pin_of(self.pki / "leaf.pem")])
        with socket.create_connection(("127.0.0.1", self.proxy_port),
                                      timeout=WAIT) as s:
            s.sendall(b"CONNECT api.test:%d HTTP/1.1\r\n\r\n" % up)
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 200"))
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            try:
                self.assertEqual(s.recv(100), b"")   # closed ...
            except ConnectionResetError:
                pass                                 # ... or reset
        # refused before any upstream is dialed
        self.assertEqual(shim.verdict()["reason"], "not-tls")

    def test_http_upgrade_goes_out_over_pinned_tls(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to bind port 443 on 127.0.0.33")
        self.hosts.write_text("127.0.0.33 api.test\n127.0.0.1 other.test\n")
        p = self.pki
        proc = Proc(self, ["openssl", "s_server", "-quiet", "-www",
                           "-accept", "127.0.0.33:443", "-cert",
                           p / "leaf.pem", "-key", p / "leaf.key",
                           "-cert_chain", p / "inter.pem"], "s_server443")
        import harness
        end = __import__("time").monotonic() + WAIT
        while True:
            try:
                socket.create_connection(("127.0.0.33", 443), 1).close()
                break
            except OSError:
                self.assertLess(__import__("time").monotonic(), end)
                self.assertIsNone(proc.p.poll())
        del harness
        self.proxy_port = free_port()
        domains = self.domain("api.test", [pin_of(p / "leaf.pem")]) + \
            "upgrade = yes\n\n" + self.domain("other.test",
                                                [pin_of(p / "leaf.pem")])
        shim = Shim(self, self.proxy_ini(1, domains))
        r = subprocess.run(["curl", "-sS", "-m", str(WAIT), "-x",
                            "http://127.0.0.1:%d" % self.proxy_port,
                            "http://api.test/", "-w", "\n%{http_code}"],
                           capture_output=True, text=True)
        self.assertTrue(r.stdout.endswith("\n200"), r.stdout + r.stderr)
        self.assertIn("s_server -quiet -www", r.stdout)   # its status page
        v = shim.verdict()
        self.assertEqual((v["host"], v["verdict"]), ("api.test:443", "pass"))
        r = subprocess.run(["curl", "-sS", "-m", str(WAIT), "-x",
                            "http://127.0.0.1:%d" % self.proxy_port,
                            "http://other.test/", "-w", "\n%{http_code}"],
                           capture_output=True, text=True)
        self.assertTrue(r.stdout.endswith("\n403"), r.stdout)
        self.assertIn("not upgraded to https", r.stdout)


    def upgrade_to_recorder(self):
        """api.test with upgrade = yes, served on port 443 (where an
        upgraded request always goes) of a loopback address of this test's
        own by a server that answers every request it reads, as a shared
        front end would, even after Connection: close. Returns a queue that
        gets every byte it read once pinshim closes its side."""
        if os.geteuid() != 0:
            self.skipTest("needs root to bind port 443")
        got = queue.Queue()

        def answer_every_request(conn):
            data, pos = b"", 0
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                    while (end := data.find(b"\r\n\r\n", pos)) >= 0:
                        n = re.search(rb"(?im)^content-length: *(\d+)",
                                      data[pos:end])
                        body = int(n.group(1)) if n else 0
                        if len(data) < end + 4 + body:
                            break
                        pos = end + 4 + body
                        conn.sendall(b"HTTP/1.1 200 OK\r\n"
                                     b"Content-Length: 2\r\n\r\nok")
            finally:
                got.put(data)

        for _ in range(50):
            ip = "127.%d.%d.%d" % (random.randrange(1, 255),
                                   random.randrange(256),
                                   random.randrange(1, 255))
            try:
                TLSServer(self, self.pki / "leaf-chain.pem",
                          self.pki / "leaf.key", answer_every_request,
                          addr=(ip, 443))
                break
            except OSError:
                continue
        self.hosts.write_text("%s api.test\n" % ip)
        self.proxy_port = free_port()
        self.shim = Shim(self, self.proxy_ini(1, self.domain(
            "api.test", [pin_of(self.pki / "leaf.pem")]) + "upgrade = yes\n"))
        return got

    def send_upgraded(self, data):
        """Send data as one write, read the first answer, close."""
        with socket.create_connection(("127.0.0.1", self.proxy_port),
                                      timeout=WAIT) as s:
            s.sendall(data)
            answer = b""
            while not answer.endswith(b"\r\n\r\nok"):
                chunk = s.recv(65536)
                self.assertTrue(chunk, "closed before the answer: %r"
                                % answer)
                answer += chunk
        return answer

    def test_upgrade_sends_no_pipelined_request_upstream(self):
        got = self.upgrade_to_recorder()
        answer = self.send_upgraded(
            b"GET http://api.test/first HTTP/1.1\r\nHost: api.test\r\n\r\n"
            b"GET /admin HTTP/1.1\r\nHost: internal.test\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer)
        upstream = got.get(timeout=WAIT)
        self.assertTrue(upstream.startswith(
            b"GET /first HTTP/1.1\r\nHost: api.test\r\n"), upstream)
        self.assertTrue(upstream.endswith(b"Connection: close\r\n\r\n"),
                        upstream)
        self.assertNotIn(b"internal.test", upstream)
        self.assertEqual(upstream.count(b"\r\n\r\n"), 1, upstream)
        self.assertEqual(self.shim.verdict()["verdict"], "pass")
        self.assertTrue(self.shim.closed()["how"].startswith("closed"))

    def test_upgrade_sends_the_body_and_nothing_after_it(self):
        got = self.upgrade_to_recorder()
        self.send_upgraded(
            b"POST http://api.test/submit HTTP/1.1\r\nHost: api.test\r\n"
            b"Content-Length: 4\r\n\r\nBODY"
            b"GET /admin HTTP/1.1\r\nHost: internal.test\r\n\r\n")
        upstream = got.get(timeout=WAIT)
        self.assertTrue(upstream.startswith(b"POST /submit HTTP/1.1\r\n"),
                        upstream)
        self.assertTrue(upstream.endswith(b"\r\n\r\nBODY"), upstream)
        self.assertNotIn(b"internal.test", upstream)
        self.assertEqual(self.shim.closed()["up"], "4")

    def test_upgrade_refuses_a_body_without_content_length(self):
        got = self.upgrade_to_recorder()
        r = self.raw(b"POST http://api.test/ HTTP/1.1\r\nHost: api.test\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n"
                     b"4\r\nBODY\r\n0\r\n\r\n")
        self.assertTrue(r.startswith(b"HTTP/1.1 411 "), r)
        self.assertIn(b"Transfer-Encoding", r)
        v = self.shim.verdict()
        self.assertEqual((v["verdict"], v["reason"]), ("refuse", "bad-request"))
        self.assertTrue(got.empty())    # refused before any connection


class TransparentNet(Intercept):
    """client ns -> gateway ns (nftables REDIRECT to pinshim) -> server ns.
    The namespaces and their helpers, no tests: a subclass names its own
    NS (prefixed by its work) and adds them."""

    NS = ("pinshim-c", "pinshim-g", "pinshim-s")
    # what a subclass changes to run beside these: veth names, subnets,
    # the port redirected to the listener's 8443
    VETH, NET, DPORT = "psh", "10.203", 443

    def sh(self, *argv, check=True):
        return subprocess.run([str(a) for a in argv], capture_output=True,
                              text=True, check=check)

    def setUp(self):
        super().setUp()
        why = None
        if os.geteuid() != 0:
            why = "needs root to create network namespaces"
        elif not shutil.which("ip") or not shutil.which("nft"):
            why = "needs iproute2 and nftables (tests/deps.sh test)"
        elif subprocess.run(["ip", "netns", "add", self.NS[0] + "-probe"],
                            capture_output=True).returncode != 0:
            why = "this machine cannot create network namespaces"
        else:
            subprocess.run(["ip", "netns", "del", self.NS[0] + "-probe"])
        if why:
            print("\n  SKIPPED transparent tests: %s" % why)
            self.skipTest(why)
        c, g, s = self.NS
        for ns in self.NS:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            self.sh("ip", "netns", "add", ns)
            self.addCleanup(subprocess.run, ["ip", "netns", "del", ns])
            self.sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo",
                    "up")
        v, n = self.VETH, self.NET
        self.sh("ip", "link", "add", v + "-c", "netns", c, "type", "veth",
                "peer", "name", v + "-gc", "netns", g)
        self.sh("ip", "link", "add", v + "-s", "netns", s, "type", "veth",
                "peer", "name", v + "-gs", "netns", g)
        for ns, dev, addr in ((c, v + "-c", n + ".1.2/24"),
                              (g, v + "-gc", n + ".1.1/24"),
                              (g, v + "-gs", n + ".2.1/24"),
                              (s, v + "-s", n + ".2.2/24")):
            self.sh("ip", "netns", "exec", ns, "ip", "addr", "add", addr,
                    "dev", dev)
            self.sh("ip", "netns", "exec", ns, "ip", "link", "set", dev, "up")
        self.sh("ip", "netns", "exec", c, "ip", "route", "add", "default",
                "via", n + ".1.1")
        self.sh("ip", "netns", "exec", s, "ip", "route", "add", "default",
                "via", n + ".2.1")
        self.sh("ip", "netns", "exec", g, "sysctl", "-qw",
                "net.ipv4.ip_forward=1")
        # docs/interception.md's rule, as an operator would install it.
        rules = Path(self.tmp) / "pinshim.nft"
        rules.write_text("""table ip pinshim {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "%s-gc" tcp dport %d redirect to :8443
  }
}
""" % (v, self.DPORT))
        self.sh("ip", "netns", "exec", g, "nft", "-f", rules)

    def gateway(self, pins):
        ini = Path(self.tmp) / "gw.ini"
        ini.write_text("""[shim]
state_dir = %s
[upstream]
ca_file = %s
handshake_timeout = 5
%s
[listen:gw]
mode = transparent
bind = 0.0.0.0:8443
allow = 10.203.1.0/24
""" % (self.state, self.pki / "ca.pem", self.domain("api.test", pins)))
        shim = Proc(self, ["ip", "netns", "exec", self.NS[1], str(PINSHIM),
                           "run", "-c", str(ini)], "gw")
        shim.log.wait("pinshim started", proc=shim.p)
        return shim

    def server(self):
        p = self.pki
        srv = Proc(self, ["ip", "netns", "exec", self.NS[2], "openssl",
                          "s_server", "-quiet", "-www", "-accept",
                          "10.203.2.2:443", "-cert", p / "leaf.pem", "-key",
                          p / "leaf.key", "-cert_chain", p / "inter.pem"],
                   "server")
        self.sh("ip", "netns", "exec", self.NS[1], "bash", "-c",
                "for i in $(seq 200); do (exec 3<>/dev/tcp/10.203.2.2/443) "
                "2>/dev/null && exit 0; sleep 0.05; done; exit 1")
        return srv

    def client_get(self):
        return subprocess.run(["ip", "netns", "exec", self.NS[0], "curl",
                               "-sS", "-m", str(WAIT), "--cacert",
                               str(self.ca), "--resolve",
                               "api.test:443:10.203.2.2",
                               "https://api.test/", "-o", "/dev/null",
                               "-w", "%{http_code}"],
                              capture_output=True, text=True)


class Transparent(TransparentNet):

    def test_ordinary_https_is_transparently_pinned(self):
        self.server()
        gw = self.gateway([pin_of(self.pki / "leaf.pem")])
        r = self.client_get()
        self.assertEqual(r.stdout, "200", r.stderr)
        line = gw.log.wait(" verdict ")
        self.assertIn("listener=gw client=10.203.1.2:", line)
        self.assertIn("host=api.test:443 addr=10.203.2.2:443", line)
        self.assertIn("verdict=pass", line)

    def test_wrong_pins_are_refused_transparently(self):
        self.server()
        gw = self.gateway([UNRELATED])
        r = self.client_get()
        self.assertNotEqual(r.stdout, "200")
        line = gw.log.wait(" verdict ")
        self.assertIn("reason=pin-mismatch", line)

    def test_direct_connection_to_the_listener_is_refused_not_looped(self):
        self.server()
        gw = self.gateway([pin_of(self.pki / "leaf.pem")])
        # The client connects to the gateway's pinshim port itself.
        r = subprocess.run(["ip", "netns", "exec", self.NS[0], "curl",
                            "-sS", "-m", str(WAIT), "--cacert",
                            str(self.ca), "--resolve",
                            "api.test:8443:10.203.1.1",
                            "https://api.test:8443/", "-o", "/dev/null"],
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        line = gw.log.wait(" verdict ")
        self.assertIn("reason=not-redirected", line)
        self.assertNotIn("Too many open files", gw.log.text())
