"""Legacy apps through interception: [listen:NAME] client_tls = compatible
lets a TLS 1.2 CBC-only app and an RSA-only app finish the app-facing
handshake (an RSA leaf for the one that takes no ECDSA), while modern
listeners refuse them with the reason named, and the upstream side stays
exactly as strict."""

import os
import re
import signal
import subprocess

from harness import PINSHIM_CMD, WAIT, Shim, free_port, pin_of, s_server
from test_intercept import Intercept

CBC_ONLY = ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA"]
RSA_ONLY = ["-tls1_2", "-sigalgs", "RSA+SHA256:RSA+SHA384:RSA-PSS+SHA256",
            "-cipher", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:"
            "ECDHE-ECDSA-AES128-GCM-SHA256"]


class Legacy(Intercept):

    def start_tls(self, up, client_tls=None, name="pinshim"):
        self.proxy_port = free_port()
        extra = "client_tls = %s\n" % client_tls if client_tls else ""
        return Shim(self, self.proxy_ini(
            up, self.domain("api.test", [pin_of(self.pki / "leaf.pem")]),
            extra_listen=extra), name=name)

    def app(self, up, *opts):
        """openssl s_client through the proxy as the app, trusting the
        pinshim CA: (exit code, its output)."""
        r = subprocess.run(["openssl", "s_client", "-proxy",
                            "127.0.0.1:%d" % self.proxy_port, "-connect",
                            "api.test:%d" % up, "-servername", "api.test",
                            "-CAfile", str(self.ca), "-verify_return_error",
                            *opts], input="", capture_output=True, text=True,
                           timeout=WAIT)
        return r.returncode, r.stdout + r.stderr

    def failure(self, shim):
        return shim.log.wait(r"client TLS handshake failed", proc=shim.p)

    def assert_through(self, shim, out, cipher, key):
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertRegex(out, r"Cipher is %s\b" % re.escape(cipher))
        self.assertIn("Server public key is %s" % key, out)
        self.assertEqual(shim.verdict()["verdict"], "pass")

    def test_cbc_only_app_passes_compatible(self):
        up = self.api()
        shim = self.start_tls(up, "compatible")
        rc, out = self.app(up, *CBC_ONLY)
        self.assertEqual(rc, 0, out)
        self.assertIn("Protocol  : TLSv1.2", out)
        self.assert_through(shim, out, "ECDHE-ECDSA-AES128-SHA", "256 bit")

    def test_cbc_only_app_refused_by_modern_with_reason(self):
        up = self.api()
        shim = self.start_tls(up)                  # the default: modern
        rc, out = self.app(up, *CBC_ONLY)
        self.assertNotEqual(rc, 0, out)
        line = self.failure(shim)
        self.assertIn("no shared cipher suite", line)
        self.assertIn("client_tls = compatible", line)
        self.assertNotIn("trust the pinshim CA", line)

    def test_rsa_only_app_gets_an_rsa_leaf_through_compatible(self):
        up = self.api()
        shim = self.start_tls(up, "compatible")
        rc, out = self.app(up, *RSA_ONLY, "-showcerts")
        self.assertEqual(rc, 0, out)
        self.assert_through(shim, out, "ECDHE-RSA-AES128-GCM-SHA256",
                            "2048 bit")
        self.assertIn("Peer signature type: RSA", out)
        shim.log.wait(r"keeper: signed an RSA leaf for api.test", proc=shim.p)
        # the same name for a modern app: an ECDSA leaf, minted apart
        rc, out = self.app(up)
        self.assertEqual(rc, 0, out)
        self.assertIn("Server public key is 256 bit", out)
        rc, out = self.app(up, *RSA_ONLY)         # the RSA leaf, cached
        self.assertEqual(rc, 0, out)
        self.assertIn("Server public key is 2048 bit", out)

    def test_app_with_only_rsa_suites_gets_an_rsa_leaf(self):
        # ECDSA signatures offered, but only an ECDHE-RSA CBC suite
        up = self.api()
        shim = self.start_tls(up, "compatible")
        rc, out = self.app(up, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")
        self.assertEqual(rc, 0, out)
        self.assert_through(shim, out, "ECDHE-RSA-AES128-SHA", "2048 bit")

    def test_reload_to_compatible_makes_the_rsa_key(self):
        up = self.api()
        shim = self.start_tls(up)
        self.assertNotIn("RSA-2048 leaf key", shim.log.text())
        shim.ini.write_text(shim.ini.read_text().replace(
            "ports = %d\n" % up, "ports = %d\nclient_tls = compatible\n" % up))
        os.kill(shim.p.pid, signal.SIGHUP)
        shim.log.wait(r"RSA-2048 leaf key for client_tls = compatible made "
                      r"in \d+ ms", proc=shim.p)
        shim.log.wait(r"reload: \d+ domain rule", proc=shim.p)
        rc, out = self.app(up, *RSA_ONLY)
        self.assertEqual(rc, 0, out)
        self.assert_through(shim, out, "ECDHE-RSA-AES128-GCM-SHA256",
                            "2048 bit")

    def test_rsa_only_app_refused_by_modern_with_reason(self):
        up = self.api()
        shim = self.start_tls(up, "modern")
        rc, out = self.app(up, *RSA_ONLY)
        self.assertNotEqual(rc, 0, out)
        line = self.failure(shim)
        self.assertIn("no shared signature algorithm", line)
        self.assertIn("takes no ECDSA certificate", line)

    def test_modern_app_through_compatible_keeps_tls13_gcm_ecdsa(self):
        up = self.api()
        shim = self.start_tls(up, "compatible")
        rc, out = self.app(up)
        self.assertEqual(rc, 0, out)
        self.assertIn("TLSv1.3", out)
        self.assert_through(shim, out, "TLS_AES_128_GCM_SHA256", "256 bit")
        rc, out = self.app(up, "-tls1_2")         # and TLS 1.2: still GCM
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"Cipher is ECDHE-ECDSA-AES(128|256)-GCM-SHA")

    def test_upstream_stays_strict_behind_compatible(self):
        p = self.pki
        up, _ = s_server(self, p / "leaf.pem", p / "leaf.key", p / "inter.pem",
                         extra=("-www", "-tls1_2", "-cipher",
                                "ECDHE-ECDSA-AES128-SHA"))
        shim = self.start_tls(up, "compatible")
        rc, out = self.app(up, *CBC_ONLY)
        self.assertNotEqual(rc, 0, out)
        v = shim.verdict()
        self.assertEqual((v["verdict"], v["reason"]), ("refuse", "tls-handshake-failed"))

    def test_tls11_app_refused_with_version_reason(self):
        up = self.api()
        shim = self.start_tls(up, "compatible")
        rc, out = self.app(up, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("protocol version: the app offers nothing from "
                      "TLS 1.2 on", self.failure(shim))

    def test_app_that_distrusts_the_ca_is_told_so(self):
        up = self.api()
        shim = self.start_tls(up, "compatible")
        self.ca = self.pki / "root.pem"     # the app trusts another CA
        for version in ("-tls1_2", "-tls1_3"):
            rc, out = self.app(up, version)
            self.assertNotEqual(rc, 0, out)
            line = self.failure(shim)
            self.assertIn("the app rejected the certificate (its alert: "
                          "unknown_ca)", line)
            self.assertIn("trust the pinshim CA", line)

    def test_client_tls_is_checked(self):
        for listen, err in (
                ("mode = tunnel\nconnect = api.test:443\nclient_tls = "
                 "compatible\n", "client_tls: only for mode forward or "
                 "transparent"),
                ("mode = forward\nclient_tls = legacy\n",
                 "client_tls: not modern or compatible")):
            ini = self.ini(None, listeners="[listen:x]\nbind = 127.0.0.1:%d\n"
                           "%s" % (free_port(), listen))
            path = self.tmp + "/bad.ini"
            with open(path, "w") as f:
                f.write("[shim]\nstate_dir = %s\n" % self.state + ini)
            r = subprocess.run([*PINSHIM_CMD, "run", "-t", "-c", path],
                               capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertRegex(r.stderr, r"bad\.ini:\d+: \[listen:x\] " +
                             re.escape(err))
