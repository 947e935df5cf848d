"""conf/openwrt/: the procd init script, run here with procd's functions
recorded (there is no OpenWrt on this machine): checked with `sh -n`,
refuses a configuration pinshim would refuse, and asks procd for a
respawned instance that is sent SIGHUP when the INI changes. The package
build itself is `make check-openwrt` (CI)."""

import subprocess
from pathlib import Path

from harness import PINSHIM_CMD, ROOT, ShimTest
from test_tunnel import UNRELATED

INIT = ROOT / "conf" / "openwrt" / "files" / "pinshim.init"

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
