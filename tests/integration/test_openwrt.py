"""conf/openwrt/: the procd init script, run here with procd's functions
recorded (there is no OpenWrt on this machine): checked with `sh -n`,
refuses a configuration pinshim would refuse, and asks procd for a
respawned instance that is sent SIGHUP when the INI changes. The package
Makefile is read for what makes the package start after `opkg install`:
its user, ca-bundle, and the INI it installs (state_dir on flash, which
`run -t` accepts). The package build itself is `make check-openwrt`
(CI)."""

import os
import pwd
import re
import subprocess
from pathlib import Path

from harness import PINSHIM_CMD, ROOT, ShimTest
from test_tunnel import UNRELATED

INIT = ROOT / "conf" / "openwrt" / "files" / "pinshim.init"
PKG = ROOT / "conf" / "openwrt" / "Makefile"

STUBS = """
procd_open_instance() { echo "open"; }
procd_set_param() { echo "param $*"; }
procd_close_instance() { echo "close"; }
"""


class OpenWrt(ShimTest):

    def start_service(self, ini):
        script = STUBS + ". %s\nPROG='%s'\nCONF='%s'\nstart_service\n" \
            "echo rc=$?\n" % (INIT, " ".join(PINSHIM_CMD), ini)
        return subprocess.run(["sh", "-c", script], capture_output=True,
                              text=True)

    def test_init_script_parses(self):
        r = subprocess.run(["sh", "-n", str(INIT)], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = INIT.read_text()
        self.assertTrue(text.startswith("#!/bin/sh /etc/rc.common\n"))
        self.assertIn("\nUSE_PROCD=1\n", text)

    def test_start_service_asks_procd_for_a_supervised_instance(self):
        ini = Path(self.tmp) / "pinshim.ini"
        ini.write_text(self.ini("api.test:443", self.domain("api.test",
                                                            [UNRELATED])))
        r = self.start_service(ini)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "open", r.stdout + r.stderr)
        self.assertIn("param command %s run -c %s" %
                      (" ".join(PINSHIM_CMD), ini), lines)
        self.assertIn("param file %s" % ini, lines)
        self.assertIn("param reload_signal HUP", lines)
        self.assertIn("param respawn 3600 5 5", lines)
        # SIGKILL only after [shim] shutdown_timeout's default drain
        self.assertIn("param term_timeout 35", lines)
        self.assertEqual(lines[-2:], ["close", "rc=0"])

    def test_start_service_refuses_a_bad_configuration(self):
        ini = Path(self.tmp) / "bad.ini"
        ini.write_text("[shim]\nnope = 1\n")
        r = self.start_service(ini)
        self.assertEqual(r.stdout.splitlines(), ["rc=1"])
        self.assertIn("[shim] nope: unknown key", r.stderr)


class OpenWrtPackage(ShimTest):

    def package(self):
        text = PKG.read_text()
        return text[text.index("define Package/pinshim\n"):]

    def test_package_creates_the_user_the_ini_names(self):
        m = re.search(r"(?m)^\s*USERID:=(\w+)=(\d+):(\w+)=(\d+)$",
                      self.package())
        self.assertIsNotNone(m, "no USERID:=user=uid:group=gid")
        self.assertEqual((m[1], m[3]), ("pinshim", "pinshim"))
        self.assertIn("\nuser = pinshim\n", self.installed_ini())

    def test_package_depends_on_the_trust_store(self):
        deps = re.search(r"(?m)^\s*DEPENDS:=(.*)$", self.package())[1].split()
        self.assertIn("+ca-bundle", deps)
        # ca-bundle's file is the one the INI names
        self.assertIn("\nca_file = /etc/ssl/certs/ca-certificates.crt\n",
                      self.installed_ini())

    def installed_ini(self):
        """The INI the package installs: the example through its sed."""
        m = re.search(r"sed '([^']+)' \\\n\s*\$\(PKG_BUILD_DIR\)/conf/"
                      r"pinshim.ini.example >", self.package())
        self.assertIsNotNone(m, "the install step's sed is not found")
        return subprocess.run(["sed", m[1], str(ROOT / "conf" /
                                                 "pinshim.ini.example")],
                              capture_output=True, text=True,
                              check=True).stdout

    def test_state_dir_is_on_flash_and_kept_across_sysupgrade(self):
        ini = self.installed_ini()
        self.assertEqual(re.findall(r"(?m)^state_dir = (.*)$", ini),
                         ["/etc/pinshim/state"])
        pkg = self.package()
        self.assertIn("$(1)/etc/pinshim/state", pkg)     # created
        keep = (ROOT / "conf/openwrt/files/pinshim.keep").read_text()
        self.assertEqual(keep.split(), ["/etc/pinshim/state/"])
        self.assertIn("./files/pinshim.keep $(1)/lib/upgrade/keep.d/", pkg)

    def test_installed_ini_checks_ok(self):
        # as test_shipped_example_config_checks_ok, with the package's
        # state_dir moved under this test's directory
        state = Path(self.tmp) / "etc/pinshim/state"
        state.mkdir(parents=True, mode=0o755)
        os.chmod(state.parent, 0o755)
        os.chmod(state.parent.parent, 0o755)
        runas = "nobody" if os.geteuid() == 0 else \
            pwd.getpwuid(os.geteuid()).pw_name
        ini = Path(self.tmp) / "pinshim.ini"
        ini.write_text(self.installed_ini()
                       .replace("/etc/pinshim/state", str(state))
                       .replace("/etc/ssl/certs/ca-certificates.crt",
                                str(self.pki / "ca.pem"))
                       .replace("user = pinshim", "user = %s" % runas))
        r = subprocess.run([*PINSHIM_CMD, "run", "-t", "-c", str(ini)],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)
