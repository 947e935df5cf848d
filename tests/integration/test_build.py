"""mk/wolfssl.sh's fetch: where it looks for wolfSSL's source package.

The archive is the one this machine's apt configuration uses for Debian
(here a loopback mirror that answers 404 to everything and records what it
was asked), the release is Debian 13's, and a tree fetched for another
release is fetched afresh, never built again. No test builds wolfSSL: CC is
false, so a script that got past the fetch stops there.
"""

import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
from pathlib import Path

from harness import ROOT

SCRIPT = ROOT / "mk" / "wolfssl.sh"


class Mirror(http.server.ThreadingHTTPServer):
    """127.0.0.1: every request recorded, every answer 404."""

    def __init__(self):
        self.paths = []
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                mirror.paths.append(self.path)
                self.send_error(404)

            def log_message(self, *a):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self):
        self.shutdown()
        self.server_close()


class WolfsslFetch(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="pinshim-test-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.mirror = Mirror()
        self.addCleanup(self.mirror.close)
        self.decoy = Mirror()
        self.addCleanup(self.decoy.close)
        self.prefix = self.tmp / "wolfssl-x86_64-linux-gnu"

    def apt_config(self, debian=True):
        """An apt configuration as a machine has it: a one-line
        sources.list and a deb822 file in sources.list.d/, with a
        non-Debian repository (component main too) listed first."""
        key = "/usr/share/keyrings/debian-archive-keyring.gpg"
        parts = self.tmp / "sources.list.d"
        parts.mkdir()
        lines = "deb %s/apt cloud-sdk-bookworm main\n" % self.decoy.url
        if debian:
            lines += "deb [signed-by=%s] %s/debian bookworm main\n" % (
                key, self.mirror.url)
            (parts / "debian.sources").write_text(
                "Types: deb\nURIs: %s/debian-security\n"
                "Suites: bookworm-security\nComponents: main\n"
                "Signed-By: %s\n" % (self.mirror.url, key))
        (self.tmp / "sources.list").write_text(lines)
        conf = self.tmp / "apt.conf"
        conf.write_text('Dir::Etc::SourceList "%s";\n'
                        'Dir::Etc::SourceParts "%s";\n'
                        % (self.tmp / "sources.list", parts))
        return conf

    def fetch(self, conf):
        env = dict(os.environ, APT_CONFIG=str(conf))
        env.pop("WOLFSSL_SRC", None)
        return subprocess.run(["sh", str(SCRIPT), str(self.prefix), "false"],
                              env=env, capture_output=True, text=True,
                              timeout=300)

    def assert_asked_for_trixie(self, r):
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("/debian/dists/trixie/InRelease", self.mirror.paths,
                      r.stdout + r.stderr)
        self.assertIn("/debian-security/dists/trixie-security/InRelease",
                      self.mirror.paths, r.stdout + r.stderr)
        self.assertEqual(self.decoy.paths, [])
        self.assertIn("mk/wolfssl.sh: cannot fetch wolfssl from Debian "
                      "trixie", r.stderr)

    def test_archive_and_security_archive_come_from_apt_configuration(self):
        r = self.fetch(self.apt_config())
        self.assert_asked_for_trixie(r)
        self.assertIn("fetching wolfssl from Debian trixie (%s/debian, "
                      "%s/debian-security)" % (self.mirror.url,
                                               self.mirror.url), r.stdout)

    def test_a_tree_fetched_for_another_release_is_fetched_afresh(self):
        # what the script before Debian 13 left: bookworm's 5.5.4, unpacked
        old = Path(str(self.prefix) + ".src")
        (old / "wolfssl" / "wolfcrypt" / "src").mkdir(parents=True)
        (old / "wolfssl" / "configure.ac").write_text(
            "AC_INIT([wolfssl],[5.5.4])\n")
        (old / "wolfssl" / "wolfcrypt" / "src" / "misc.c").write_text("")
        (old / "wolfssl_5.5.4-2+deb12u3.dsc").write_text("")
        r = self.fetch(self.apt_config())
        self.assert_asked_for_trixie(r)
        self.assertFalse((old / "wolfssl_5.5.4-2+deb12u3.dsc").exists())

    def test_no_debian_archive_configured_is_named(self):
        r = self.fetch(self.apt_config(debian=False))
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("mk/wolfssl.sh: the apt configuration names no Debian "
                      "archive with its security archive", r.stderr)
        self.assertEqual(self.decoy.paths, [])
        self.assertEqual(self.mirror.paths, [])


if __name__ == "__main__":
    unittest.main()
