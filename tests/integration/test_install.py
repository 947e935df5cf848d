"""`make install` as a packager meets it: the tree `make install
DESTDIR=...` lays out (a stripped binary, both man pages, the README
with docs/ beside it, the unit with every path substituted, the sysusers.d and tmpfiles.d entries, which
systemd-sysusers and systemd-tmpfiles apply to a scratch root here),
install-unstripped and STRIP= keeping the symbols, and the unit itself:
`systemd-analyze verify` of the installed unit (its man: references
resolved against the installed pages), an offline exposure score of at
most 3.0, and a reload that checks the configuration before it signals.

Nothing here runs under a real systemd (none runs on this machine): the
hardening directives are scored, not exercised."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import BUILD, EMU, ROOT

TREE = {
    "usr/bin/pinshim",
    "usr/share/man/man8/pinshim.8",
    "usr/share/man/man5/pinshim.ini.5",
    "usr/share/doc/pinshim/README.md",
    "usr/share/doc/pinshim/pinshim.ini.example",
    "usr/lib/systemd/system/pinshim.service",
    "usr/lib/sysusers.d/pinshim.conf",
    "usr/lib/tmpfiles.d/pinshim.conf",
} | {"usr/share/doc/pinshim/docs/" + p.name
     for p in (ROOT / "docs").glob("*.md")}
MAX_EXPOSURE = 3.0


def has_symbols(path):
    r = subprocess.run(["readelf", "-S", "-W", str(path)],
                       capture_output=True, text=True, check=True)
    return ".symtab" in r.stdout


@unittest.skipIf(EMU, "a cross build: make install is tested natively")
class Install(unittest.TestCase):

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="pinshim-install-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def install(self, dest, *args, target="install"):
        r = subprocess.run(["make", "-s", "-C", str(ROOT), target,
                            "BUILD=" + BUILD, *args], capture_output=True,
                           text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return dest

    def tree(self, dest):
        return {str(p.relative_to(dest)) for p in dest.rglob("*")
                if p.is_file()}

    def test_destdir_tree_is_a_package(self):
        dest = self.tmp / "dest"
        self.install(dest, "DESTDIR=%s" % dest, "PREFIX=/usr")
        self.assertEqual(self.tree(dest), TREE)
        binary = dest / "usr/bin/pinshim"
        self.assertFalse(has_symbols(binary), "installed binary not stripped")
        self.assertTrue(has_symbols(ROOT / BUILD / "pinshim"))
        self.assertLess(binary.stat().st_size,
                        (ROOT / BUILD / "pinshim").stat().st_size)
        print("\n    installed, stripped: %d bytes (build: %d)" % (
            binary.stat().st_size, (ROOT / BUILD / "pinshim").stat().st_size),
            end=" ")
        for rel in TREE - {"usr/bin/pinshim"}:
            self.assertEqual((dest / rel).stat().st_mode & 0o777, 0o644, rel)
        self.assertEqual(binary.stat().st_mode & 0o777, 0o755)
        unit = (dest / "usr/lib/systemd/system/pinshim.service").read_text()
        self.assertNotRegex(unit, r"@[A-Z]+@")
        self.assertNotIn("/usr/local", unit)
        self.assertIn("\nExecStart=/usr/bin/pinshim run -c "
                      "/etc/pinshim/pinshim.ini\n", unit)
        self.assertIn("\nDocumentation=file:///usr/share/doc/pinshim/"
                      "README.md\n", unit)
        self.assertIn("\nDocumentation=man:pinshim(8) man:pinshim.ini(5)\n",
                      unit)
        self.assertIn("\nDocumentation=file:///usr/share/doc/pinshim/docs/"
                      "operations.md\n", unit)
        # the README's links into docs/ hold in the installed tree too
        doc = dest / "usr/share/doc/pinshim"
        for target in re.findall(r"\]\((docs/[^)#]+)", (doc / "README.md")
                                 .read_text()):
            self.assertTrue((doc / target).is_file(), target)
        # the installed page is the page
        self.assertEqual((dest / "usr/share/man/man8/pinshim.8").read_text(),
                         (ROOT / "man/pinshim.8").read_text())

    def test_prefix_and_sysconfdir_reach_every_path_of_the_unit(self):
        dest = self.tmp / "dest"
        self.install(dest, "DESTDIR=%s" % dest, "PREFIX=/opt/ps",
                     "SYSCONFDIR=/opt/etc")
        unit = (dest / "opt/ps/lib/systemd/system/pinshim.service") \
            .read_text()
        execs = re.findall(r"(?m)^Exec\w+=(.*)$", unit)
        self.assertEqual(len(execs), 4, unit)
        for e in execs:
            if "kill" in e:
                continue
            self.assertTrue(e.startswith("/opt/ps/bin/pinshim run "), e)
            self.assertTrue(e.endswith(" -c /opt/etc/pinshim/pinshim.ini"), e)
        self.assertIn("file:///opt/ps/share/doc/pinshim/README.md", unit)
        self.assertNotIn("/usr/", unit.replace("/usr/sbin/nologin", ""))
        self.assertNotIn("/etc/pinshim", unit.replace("/opt/etc/pinshim", ""))

    def test_unstripped_install_keeps_the_symbols(self):
        a = self.tmp / "a"
        self.install(a, "DESTDIR=%s" % a, "PREFIX=/usr",
                     target="install-unstripped")
        self.assertTrue(has_symbols(a / "usr/bin/pinshim"))
        self.assertEqual(self.tree(a), TREE)
        b = self.tmp / "b"
        self.install(b, "DESTDIR=%s" % b, "PREFIX=/usr", "STRIP=")
        self.assertTrue(has_symbols(b / "usr/bin/pinshim"))

    def test_sysusers_and_tmpfiles_entries_apply(self):
        for tool in ("systemd-sysusers", "systemd-tmpfiles"):
            if shutil.which(tool) is None:
                self.skipTest("%s is not installed: the entries are not "
                              "applied here" % tool)
        dest = self.tmp / "dest"
        self.install(dest, "DESTDIR=%s" % dest, "PREFIX=/usr")
        root = self.tmp / "root"
        (root / "etc").mkdir(parents=True)
        r = subprocess.run(["systemd-sysusers", "--root=%s" % root,
                            str(dest / "usr/lib/sysusers.d/pinshim.conf")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        passwd = (root / "etc/passwd").read_text().splitlines()
        user = [ln.split(":") for ln in passwd if ln.startswith("pinshim:")]
        self.assertEqual(len(user), 1, passwd)
        self.assertLess(int(user[0][2]), 1000)        # a system user
        self.assertEqual(user[0][5:], ["/var/lib/pinshim",
                                       "/usr/sbin/nologin"])
        r = subprocess.run(["systemd-tmpfiles", "--root=%s" % root,
                            "--create",
                            str(dest / "usr/lib/tmpfiles.d/pinshim.conf")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        st = (root / "var/lib/pinshim").stat()
        self.assertEqual((st.st_mode & 0o7777, st.st_uid), (0o755, 0))

    def analyze(self):
        if shutil.which("systemd-analyze") is None:
            self.skipTest("systemd-analyze is not installed (Debian: "
                          "systemd): the unit is not checked")
        return "systemd-analyze"

    def test_installed_unit_verifies_with_its_man_pages(self):
        tool = self.analyze()
        prefix = self.tmp / "p"
        self.install(prefix, "PREFIX=%s" % prefix,
                     "SYSCONFDIR=%s/etc" % prefix)
        unit = prefix / "lib/systemd/system/pinshim.service"
        r = subprocess.run([tool, "verify", str(unit)], capture_output=True,
                           text=True, timeout=120,
                           env=dict(os.environ,
                                    MANPATH=str(prefix / "share/man")))
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_unit_exposure_score(self):
        tool = self.analyze()
        unit = self.tmp / "pinshim.service"
        unit.write_text((ROOT / "conf/pinshim.service").read_text()
                        .replace("@BINDIR@", "/usr/bin")
                        .replace("@SYSCONFDIR@", "/etc")
                        .replace("@DOCDIR@", "/usr/share/doc/pinshim"))
        r = subprocess.run([tool, "security", "--offline=yes", str(unit)],
                           capture_output=True, text=True, timeout=120)
        if "--offline" in r.stderr and r.returncode != 0:
            self.skipTest("this systemd-analyze has no --offline (systemd "
                          "250 added it): %s" % r.stderr.strip())
        m = re.search(r"Overall exposure level for pinshim\.service: "
                      r"([0-9.]+)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        print("\n    exposure %s (at most %.1f)" % (m[1], MAX_EXPOSURE),
              end=" ")
        self.assertLessEqual(float(m[1]), MAX_EXPOSURE, r.stdout)

    def test_reload_checks_the_configuration_before_signalling(self):
        text = (ROOT / "conf/pinshim.service").read_text()
        reloads = re.findall(r"(?m)^ExecReload=(.*)$", text)
        self.assertEqual(reloads, [
            "@BINDIR@/pinshim run -t -c @SYSCONFDIR@/pinshim/pinshim.ini",
            "/bin/kill -HUP $MAINPID"])
        self.assertIn("\nExecStartPre=" + reloads[0] + "\n", text)


if __name__ == "__main__":
    unittest.main()
