"""policy tofu: the first chain that verifies pins its leaf key in
state_dir; a change is refused with both keys and reported; pinshim tofu
forget, tofu_accept_issuer, feed pins and the feed's observed = pins (the
trusted vantage point's attestation of first contact), against real
servers and a rogue CA the shim trusts."""

import subprocess
from pathlib import Path

from harness import PINSHIM_CMD, Shim, free_port, pin_of, refused_silently
from test_feed import FeedTest, UNRELATED
from test_status import get


def tofu_cli(ini, *argv):
    return subprocess.run(PINSHIM_CMD + ["tofu", *argv, "-c", str(ini)],
                          capture_output=True, text=True)


class Tofu(FeedTest):

    def tofu_ini(self, up, extra="", extra_shim="", feed=False):
        dom = "[domain:api.test]\npolicy = tofu\n%s\n" % extra
        shim = "[shim]\nstate_dir = %s\n%s\n" % (self.state, extra_shim)
        if feed:
            return self.feed_ini(up, bootstrap=[UNRELATED]).replace(
                "[domain:api.test]\npolicy = pin\npins = %s\n" % UNRELATED,
                dom).replace("[shim]\nstate_dir = %s\n" % self.state, shim)
        return shim + self.ini("api.test:%d" % up, dom)

    def store(self):
        p = self.state / "tofu.pins"
        return p.read_text() if p.exists() else ""

    def restart_with_another_key(self):
        """A shim started against the server presenting another key (same
        issuer): refused as tofu-changed. The shim and the verdict."""
        up, _ = self.api(leaf="backup")
        shim = Shim(self, self.tofu_ini(up))
        self.assertEqual(refused_silently(self.port), b"")
        v = shim.verdict(listener="api")
        self.assertEqual((v["verdict"], v["reason"], v["policy"]),
                         ("refuse", "tofu-changed", "tofu"))
        return shim, v

    def test_first_use_pins_restart_keeps_it_change_is_refused(self):
        up, api = self.api()
        shim = Shim(self, self.tofu_ini(up))
        self.passes(shim, "tofu: first use, leaf key %s pinned"
                            % self.leaf)
        # the keeper records it without holding up the connection
        shim.log.wait("keeper: recorded the TOFU pins of api.test")
        line = self.store().splitlines()[0].split()
        self.assertEqual(line[:3], ["api.test", self.leaf,
                                    pin_of(self.pki / "inter.pem")])
        self.passes(shim, "tofu: leaf key matches the one pinned")
        shim.stop()
        api.stop()
        # the server now presents another key (same issuer): refused,
        # with both keys, after a restart too
        shim, v = self.restart_with_another_key()
        self.assertIn("leaf key changed: pinned %s" % self.leaf, v["detail"])
        self.assertIn("now %s" % self.backup, v["detail"])
        self.assertIn(self.backup, v["presented"])
        # forgotten while the daemon runs: the next connection pins anew
        r = tofu_cli(shim.ini, "list")
        self.assertIn("api.test leaf %s" % self.leaf, r.stdout)
        r = tofu_cli(shim.ini, "forget", "API.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.passes(shim, "tofu: first use, leaf key %s pinned"
                            % self.backup)
        shim.log.wait("keeper: recorded the TOFU pins of api.test")
        self.assertIn("api.test %s" % self.backup, self.store())
        self.assertEqual(tofu_cli(shim.ini, "forget", "other.test")
                         .returncode, 1)

    def test_accept_issuer_takes_a_new_leaf_from_the_pinned_issuer(self):
        up, api = self.api()
        shim = Shim(self, self.tofu_ini(up, "tofu_accept_issuer = yes"))
        self.passes(shim, "tofu: first use")
        shim.stop()
        api.stop()
        up2, _ = self.api(leaf="backup")
        shim = Shim(self, self.tofu_ini(up2, "tofu_accept_issuer = yes"))
        self.passes(shim, "tofu: new leaf key %s accepted (same "
                            "pinned issuer), was %s" % (self.backup,
                                                        self.leaf))
        shim.log.wait("tofu: api.test: leaf key rotated")
        shim.log.wait("keeper: recorded the TOFU pins of api.test")
        self.assertIn("api.test %s" % self.backup, self.store())

    def test_observed_pins_refuse_an_intercepted_first_contact(self):
        """The attacker holds a CA the device trusts and is in the path at
        first contact; the feed says what the vantage point saw."""
        up, rogue = self.api(leaf="rogue")
        observed = self.body(2, [UNRELATED]).replace(
            "pins = %s\npolicy = pin\n" % UNRELATED,
            "policy = tofu\nobserved = %s\n" % self.leaf)
        self.serve(self.sign(observed))
        shim = Shim(self, self.tofu_ini(up, feed=True))
        shim.log.wait("feed: version 2 in force")
        shim.verdict()
        self.assertEqual(refused_silently(self.port), b"")
        v = shim.verdict(listener="api")
        self.assertEqual(v["reason"], "tofu-contradicts-observed")
        self.assertIn("MitM evidence", v["detail"])
        self.assertIn(pin_of(self.pki / "rogue.pem"), v["presented"])
        self.assertEqual(self.store(), "")           # never pinned
        rogue.stop()
        shim.stop()
        up2, _ = self.api()
        shim = Shim(self, self.tofu_ini(up2, feed=True))
        shim.log.wait("feed: cached version 2 in force")
        self.passes(shim, "tofu: first use, leaf key %s pinned (as "
                            "observed)" % self.leaf)

    def test_a_pin_that_could_not_be_written_lands_once_the_fault_clears(self):
        """state_dir refuses the first-use pin (tofu.pins is a directory, so
        the keeper's rename fails, as on a full or read-only disk): the pin
        is enforced from memory, counted, and written in the background
        once the fault clears, the host never used again; a restart keeps
        it."""
        up, api = self.api()
        sport = free_port()
        shim = Shim(self, self.tofu_ini(up, extra_shim="status = 127.0.0.1:%d"
                                         % sport))
        shim.log.wait("status: serving /metrics")
        store = self.state / "tofu.pins"
        store.mkdir()
        self.passes(shim, "tofu: first use, leaf key %s pinned" % self.leaf)
        shim.log.wait(r"tofu: 1 pin\(s\) held in memory only")
        shim.log.wait(r"tofu: 1 pin\(s\) still not written to state_dir")
        metrics = get(sport, "/metrics")[2].decode()
        self.assertIn("pinshim_tofu_pending_writes 1\n", metrics)
        self.assertRegex(metrics, r"pinshim_tofu_write_retries_total [1-9]")
        store.rmdir()
        shim.log.wait(r"tofu: 1 pin\(s\) held in memory now written")
        self.assertIn("api.test %s" % self.leaf, self.store())
        metrics = get(sport, "/metrics")[2].decode()
        self.assertIn("pinshim_tofu_pending_writes 0\n", metrics)
        shim.stop()
        api.stop()
        # a restart remembers it: another key is refused
        self.restart_with_another_key()

    def test_feed_pins_override_tofu(self):
        up, _ = self.api(leaf="backup")
        (self.state / "tofu.pins").write_text(
            "api.test %s - 2026-01-01T00:00:00Z\n" % self.leaf)
        self.publish(1, [self.backup])
        shim = Shim(self, self.tofu_ini(up, feed=True))
        shim.log.wait("feed: version 1 in force")
        shim.verdict()
        v = self.passes(shim, "pin matched the leaf")
        self.assertEqual(v["policy"], "pin")

    def test_a_full_store_refuses_cleanly(self):
        up, _ = self.api()
        (self.state / "tofu.pins").write_text(
            "other.test %s - 2026-01-01T00:00:00Z\n" % self.leaf)
        shim = Shim(self, self.tofu_ini(up, extra_shim="tofu_max = 1"))
        self.assertEqual(refused_silently(self.port), b"")
        v = shim.verdict(listener="api")
        self.assertEqual(v["reason"], "tofu-store-full")
        self.assertIn("the TOFU store is full (1 hosts, [shim] tofu_max)",
                      v["detail"])

    def test_damaged_store_and_missing_state_dir_are_config_errors(self):
        (self.state / "tofu.pins").write_text("api.test not-a-pin - x\n")
        ini = Path(self.tmp) / "t.ini"
        ini.write_text(self.tofu_ini(1))
        r = subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(ini)],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("tofu.pins: unreadable or damaged", r.stderr)
        ini.write_text(self.ini("api.test:1", "[domain:api.test]\n"
                                "policy = tofu\n"))
        r = subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(ini)],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("policy tofu: needs [shim] state_dir", r.stderr)

