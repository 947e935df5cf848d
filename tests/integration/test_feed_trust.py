"""Feed trust: key roles, thresholds and in-band rotation, against a real
HTTPS feed server (nginx) and a running device. Each TUF attack that
applies to the one-file feed is tried: arbitrary feed, the signing role
alone weakening pinning, rollback of the feed and of the key set,
fast-forward then recovery, mix-and-match, threshold not met, a leaked old
root key after rotation. Each verdict a device reaches, `feed verify`
reaches too, given what the device had (its INI, the feed it had in force):
the rules exist once (pins/feed_accept.c)."""

import re

from datetime import timedelta
from pathlib import Path

from harness import Shim
from test_feed import FeedTest, keyid, rfc3339, run


class Trust(FeedTest):

    def setUp(self):
        super().setUp()
        for name in ("r1", "r2", "r3", "s1", "s2", "x"):
            r = run("feed", "keygen", self.path(name), "--role",
                    "sign" if name[0] == "s" else "root")
            self.assertEqual(r.returncode, 0, r.stderr)

    def path(self, name):
        return Path(self.tmp) / name

    def pub(self, name):
        return self.path(name + ".pub").read_text().strip()

    def cli(self, *argv, ok=True):
        r = run(*argv)
        if ok:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def feed_body(self, version, pins=None, policy="pin", extra=""):
        text = "[feed]\nversion = %d\nissued = %s\nexpires = %s\n\n" \
            "[domain:api.test]\npolicy = %s\n" % (
                version, rfc3339(timedelta(0)), rfc3339(timedelta(days=30)),
                policy)
        if pins:
            text += "pins = %s\n" % ", ".join(pins)
        return text + extra

    def signed(self, name, text, keys, chain=None):
        """text signed by keys (names), with chain's blocks in front."""
        src = self.path(name + ".txt")
        src.write_text(text)
        argv = ["feed", "sign"]
        for k in keys:
            argv += ["--key", self.path(k + ".key")]
        if chain:
            argv += ["--chain", chain]
        self.cli(*argv, src, "-o", self.path(name))
        return self.path(name)

    def rotate(self, name, version, roots, rt, signs, st, by):
        """Key set `version`, signed by the root keys `by`."""
        argv = ["feed", "rotate", "--version", version,
                "--root-threshold", rt, "--sign-threshold", st]
        for k in roots:
            argv += ["--root", self.path(k + ".pub")]
        for k in signs:
            argv += ["--sign", self.path(k + ".pub")]
        self.cli(*argv, "-o", self.path(name + ".txt"))
        text = self.path(name + ".txt").read_text()
        return self.signed(name, text, by)

    def agrees(self, feed, verdict, ini=None, previous=None, keys=()):
        """`feed verify` judges feed as the device did: the device's INI
        (ini; or keys, verify's --pubkey options) and, if it had one, the
        feed in force (previous). verdict: accepted, unchanged or
        rejected."""
        argv = ["feed", "verify"] + (["-c", ini] if ini else list(keys))
        if previous:
            argv += ["--previous", previous]
        if not isinstance(feed, Path):
            path = self.path("judged-%d" % len(list(Path(self.tmp).glob(
                "judged-*"))))
            path.write_bytes(feed)
            feed = path
        r = run(*argv, feed)
        self.assertEqual(r.returncode, 1 if verdict == "rejected" else 0,
                         r.stdout + r.stderr)
        m = re.search(r"^verdict: (\w+)", r.stdout, re.M)
        self.assertEqual(m.group(1) if m else "rejected", verdict,
                         r.stdout + r.stderr)
        return r

    def roles_ini(self, up, roots, sign=None, rt=1, refresh=300):
        extra = "root_threshold = %d\n" % rt
        if sign:
            extra += "sign_key = %s\n" % ", ".join(self.pub(k) for k in sign)
        return self.feed_ini(up, keys=[self.pub(k) for k in roots],
                             extra_feed=extra, refresh=refresh)

    def rotated(self):
        """A device that took feed 1 (k1), then key set 2 (root r1, sign
        s1) and feed 2 with it: the upstream port, the shim, the update."""
        up, _ = self.api()
        self.serve(self.signed("v1", self.feed_body(1, [self.leaf]), ["k1"])
                   .read_bytes())
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: version 1 in force")
        upd = self.rotate("keys2", 2, ["r1"], 1, ["s1"], 1, ["k1", "r1"])
        self.serve(self.signed("v2", self.feed_body(2, [self.leaf]), ["s1"],
                               chain=upd).read_bytes())
        self.hup(shim)
        shim.log.wait("feed: version 2 in force")
        return up, shim, upd

    def test_full_rotation_end_to_end_without_touching_the_device(self):
        """A fleet configured as today (one public_key) moves over the air
        to two root keys (2 of 2) and a separate signing key; the device is
        never restarted or reconfigured; afterwards the old key signs
        nothing it accepts, and a restart keeps the new set."""
        up, _ = self.api()
        self.serve(self.signed("v1", self.feed_body(1, [self.leaf]), ["k1"])
                   .read_bytes())
        shim = Shim(self, self.feed_ini(up, refresh=10))
        shim.log.wait("feed: version 1 in force")
        self.agrees(self.path("v1"), "accepted", shim.ini)
        shim.verdict()
        self.passes(shim)
        pid = shim.p.pid

        # Publisher: key set 2, signed by the old root (k1) and by both
        # new root keys, the second added by its holder alone (cosign).
        upd = self.rotate("keys2", 2, ["r1", "r2"], 2, ["s1"], 1,
                          ["k1", "r1"])
        self.cli("feed", "cosign", "--key", self.path("r2.key"), upd,
                 "-o", upd)
        feed = self.signed("v2", self.feed_body(2, [self.leaf]), ["s1"],
                           chain=upd)
        r = self.cli("feed", "verify", "--pubkey", self.k1, feed)
        self.assertIn("key set 2 (1 update(s) on from key set 1; signing "
                      "role replaced", r.stdout)
        self.assertIn("signing role: 1 of 1 needed: met", r.stdout)
        self.assertIn("root role: 0 of 2 needed: not met", r.stdout)
        self.serve(feed.read_bytes())
        # picked up by the refresh timer: nobody touches the device
        line = shim.log.wait(r"feed: key set 1 -> 2: 2 root key\(s\), "
                             r"threshold 2; 1 signing key\(s\)", timeout=30)
        self.assertIn("the signing role was replaced", line)
        line = shim.log.wait("feed: version 2 in force")
        self.assertIn("key set 2, signed by %s" % keyid(self.pub("s1")), line)
        self.assertEqual(self.state.joinpath("pins.keys").read_bytes(),
                         upd.read_bytes())
        self.agrees(feed, "accepted", shim.ini, self.path("v1"))
        shim.verdict()
        self.passes(shim)

        # The old key (leaked or retired) no longer signs a feed.
        self.serve(self.signed("v3old", self.feed_body(3, [self.backup]),
                               ["k1"], chain=upd).read_bytes())
        self.hup(shim)
        shim.log.wait(r"bad signature: made by none of the 1 signing "
                      r"key\(s\) of key set 2")
        self.agrees(self.path("v3old"), "rejected", shim.ini, feed)
        # The new one does, with or without the update in front.
        self.serve(self.signed("v3", self.feed_body(3, [self.leaf]), ["s1"])
                   .read_bytes())
        self.hup(shim)
        shim.log.wait("feed: version 3 in force")
        self.agrees(self.path("v3"), "accepted", shim.ini, feed)
        self.assertEqual(shim.p.pid, pid)
        shim.stop()

        # Restart with the feed server down: the persisted set holds.
        self.nginx.stop()
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait(r"feed: key set 2 trusted \(configured: 1\)")
        shim.log.wait("feed: cached version 3 in force: 1 host rule.*key "
                      "set 2")
        self.passes(shim)

    def test_readme_rotation_walk_through(self):
        """docs/publishing.md "Rotation, step by step": a fleet on one key
        (prod-2026) moves to two root keys (2 of 2) and a signing key, with
        the guide's body (a [device:lab-phone-7] override in it). feed verify
        as a device of today judges it exits 0, and a device of today
        takes it."""
        up, _ = self.api()
        body = self.feed_body(42, [self.leaf, self.backup],
                              extra="\n[device:lab-phone-7]\npinning = off\n")
        self.serve(self.signed("v42", body, ["k1"]).read_bytes())
        shim = Shim(self, self.feed_ini(up).replace(
            "[shim]\n", "[shim]\ndevice_id = gw-0042\n"))
        shim.log.wait("feed: version 42 in force")
        t = Path(self.tmp)
        self.cli("feed", "rotate", "--version", 2, "--root",
                 self.path("r1.pub"), "--root", self.path("r2.pub"),
                 "--root-threshold", 2, "--sign", self.path("s1.pub"),
                 "--sign-threshold", 1, "-o", t / "keys-2.txt")
        self.cli("feed", "sign", "--key", self.path("k1.key"), "--key",
                 self.path("r1.key"), t / "keys-2.txt", "-o",
                 t / "keys.chain")
        self.cli("feed", "cosign", "--key", self.path("r2.key"),
                 t / "keys.chain", "-o", t / "keys.chain")
        (t / "pins.body").write_text(body.replace("version = 42",
                                                  "version = 43"))
        self.cli("feed", "sign", "--key", self.path("s1.key"), "--chain",
                 t / "keys.chain", t / "pins.body", "-o", t / "pins.feed")
        # "as a device of today judges it"
        r = self.cli("feed", "verify", "--pubkey", self.path("k1.pub"),
                     t / "pins.feed")
        self.assertIn("judged against: the --pubkey key set 1, no INI "
                      "rules", r.stdout)
        self.assertIn("no feed in force, floor 0, no device_id", r.stdout)
        self.assertIn("verdict: accepted", r.stdout)
        self.serve((t / "pins.feed").read_bytes())
        self.hup(shim)
        shim.log.wait("feed: key set 1 -> 2")
        shim.log.wait("feed: version 43 in force")
        self.agrees(t / "pins.feed", "accepted", shim.ini, self.path("v42"))
        shim.verdict()
        self.passes(shim)

    def test_fast_forward_then_signing_key_rotation_recovers(self):
        """A leaked signing key publishes the highest version there is;
        every later honest feed is a rollback, until the root replaces the
        signing key: the floor resets, and the thief's feeds are dead."""
        up, _ = self.api()
        ini = self.roles_ini(up, ["r1"], sign=["s1"])
        self.serve(self.signed("v1", self.feed_body(1, [self.leaf]), ["s1"])
                   .read_bytes())
        shim = Shim(self, ini)
        shim.log.wait("feed: version 1 in force")
        self.agrees(self.path("v1"), "accepted", shim.ini)
        shim.verdict()
        ff = self.signed("ff", self.feed_body(4294967295, [self.leaf]),
                         ["s1"]).read_bytes()
        self.serve(ff)
        self.hup(shim)
        shim.log.wait("feed: version 4294967295 in force")
        self.agrees(self.path("ff"), "accepted", shim.ini, self.path("v1"))
        self.serve(self.signed("v2", self.feed_body(2, [self.leaf]), ["s1"])
                   .read_bytes())
        self.hup(shim)
        shim.log.wait("rollback refused: version 2 is older than "
                      "4294967295")
        self.assertIn("rollback refused: version 2 is older than 4294967295",
                      self.agrees(self.path("v2"), "rejected", shim.ini,
                                  self.path("ff")).stdout)

        # Recovery: key set 2 keeps root r1 and replaces s1 by s2.
        upd = self.rotate("keys2", 2, ["r1"], 1, ["s2"], 1, ["r1"])
        self.serve(self.signed("v3", self.feed_body(3, [self.leaf]), ["s2"],
                               chain=upd).read_bytes())
        self.hup(shim)
        self.assertIn("version floor reset",
                      shim.log.wait("feed: key set 1 -> 2"))
        shim.log.wait("feed: version 3 in force")
        self.agrees(self.path("v3"), "accepted", shim.ini, self.path("ff"))
        self.assertEqual(self.state.joinpath("pins.version").read_text(),
                         "3\n")
        shim.verdict()
        self.passes(shim)
        # The thief's feed again, alone or behind the real update: dead.
        for data in (ff, upd.read_bytes() + ff):
            self.serve(data)
            self.hup(shim)
            shim.log.wait("bad signature: made by none of the 1 signing "
                          r"key\(s\) of key set 2")
            self.agrees(data, "rejected", shim.ini, self.path("v3"))
        self.serve(self.signed("v4", self.feed_body(4, [self.leaf]), ["s2"])
                   .read_bytes())
        self.hup(shim)
        shim.log.wait("feed: version 4 in force")
        self.agrees(self.path("v4"), "accepted", shim.ini, self.path("v3"))

    def test_signing_role_alone_cannot_weaken_pinning(self):
        up, _ = self.api(leaf="backup")        # matches no pin in use
        ini = self.roles_ini(up, ["r1"], sign=["s1"],
                             ).replace("[shim]\n", "[shim]\ndevice_id = "
                                                   "gw-1\n")
        self.serve(self.signed("v1", self.feed_body(1, [self.leaf]), ["s1"])
                   .read_bytes())
        shim = Shim(self, ini)
        shim.log.wait("feed: version 1 in force")
        shim.verdict()
        self.refused(shim)

        cases = [
            ("ca", self.feed_body(2, policy="ca")),
            ("off", self.feed_body(2, [self.leaf],
                                   extra="\n[device:gw-1]\npinning = off\n")),
        ]
        for name, text in cases:
            self.serve(self.signed(name, text, ["s1"]).read_bytes())
            self.hup(shim)
            line = shim.log.wait("weakens pinning")
            self.assertIn("version 2 weakens pinning (%s) but carries 0 of "
                          "the 1 root signature(s) that needs" % "api.test: pin -> ca",
                          line)
            self.refused(shim)
            r = self.agrees(self.path(name), "rejected", shim.ini,
                            self.path("v1"))
            self.assertIn("WEAKENS pinning", r.stdout)
        # Another device's override is not this device's weakening.
        other = self.feed_body(2, [self.leaf],
                               extra="\n[device:lab-7]\npinning = off\n")
        self.serve(self.signed("other", other, ["s1"]).read_bytes())
        self.hup(shim)
        shim.log.wait("feed: version 2 in force")
        self.agrees(self.path("other"), "accepted", shim.ini, self.path("v1"))
        # With the root threshold too, the weakening is accepted.
        self.serve(self.signed("ca3", self.feed_body(3, policy="ca"),
                               ["s1", "r1"]).read_bytes())
        self.hup(shim)
        self.assertIn("(1 of 1 signing, 1 of 1 root)",
                      shim.log.wait("feed: version 3 in force"))
        self.assertIn("weakens pinning: yes (api.test: pin -> ca), root "
                      "threshold met", self.agrees(
                          self.path("ca3"), "accepted", shim.ini,
                          self.path("other")).stdout)
        shim.verdict()
        self.passes(shim)

    def test_signing_role_alone_cannot_weaken_a_dressed_wildcard(self):
        """A pinned **.api.test turned to ca, dressed with exact pin rules
        for the two names a sampling check would probe: every other name
        under it lost its pins, so the device and feed verify refuse it."""
        up, _ = self.api()
        ini = self.roles_ini(up, ["r1"], sign=["s1"])
        head = "[feed]\nversion = %d\nissued = %s\nexpires = %s\n\n"
        pinned = "policy = pin\npins = %s\n" % self.leaf
        v1 = (head % (1, rfc3339(timedelta(0)), rfc3339(timedelta(days=30)))
              + "[domain:**.api.test]\n" + pinned)
        v2 = (head % (2, rfc3339(timedelta(0)), rfc3339(timedelta(days=30)))
              + "[domain:**.api.test]\npolicy = ca\n\n"
              + "[domain:api.test]\n" + pinned
              + "\n[domain:_.api.test]\n" + pinned)
        self.serve(self.signed("v1", v1, ["s1"]).read_bytes())
        shim = Shim(self, ini)
        shim.log.wait("feed: version 1 in force")
        self.serve(self.signed("v2", v2, ["s1"]).read_bytes())
        self.hup(shim)
        line = shim.log.wait("weakens pinning")
        self.assertIn("version 2 weakens pinning (*.api.test: pin -> ca)",
                      line)
        r = self.agrees(self.path("v2"), "rejected", shim.ini,
                        self.path("v1"))
        self.assertIn("*.api.test: pin -> ca", r.stdout)

    def test_threshold_not_met_with_one_of_two_roots(self):
        up, _ = self.api()
        ini = self.roles_ini(up, ["r1", "r2"], sign=["s1"], rt=2)
        self.serve(self.signed("v1", self.feed_body(1, [self.leaf]), ["s1"])
                   .read_bytes())
        shim = Shim(self, ini)
        shim.log.wait("feed: version 1 in force")
        upd = self.rotate("keys2", 2, ["r3"], 1, ["s2"], 1, ["r1", "r3"])
        self.serve(self.signed("v2", self.feed_body(2, [self.leaf]), ["s2"],
                               chain=upd).read_bytes())
        self.hup(shim)
        shim.log.wait(r"key set 2 refused: signed by 1 of the 2 root "
                      r"key\(s\) of key set 1 and 1 of the 1 of its own")
        self.agrees(self.path("v2"), "rejected", shim.ini, self.path("v1"))
        self.assertFalse(self.state.joinpath("pins.keys").exists())
        # A weakening signed by one of the two roots: not enough either.
        self.serve(self.signed("ca", self.feed_body(2, policy="ca"),
                               ["s1", "r1"]).read_bytes())
        self.hup(shim)
        shim.log.wait(r"carries 1 of the 2 root signature\(s\)")
        self.agrees(self.path("ca"), "rejected", shim.ini, self.path("v1"))
        # The second holder cosigns: both thresholds met.
        self.cli("feed", "cosign", "--key", self.path("r2.key"), upd, "-o",
                 upd)
        self.serve(self.signed("v3", self.feed_body(3, [self.leaf]), ["s2"],
                               chain=upd).read_bytes())
        self.hup(shim)
        shim.log.wait("feed: key set 1 -> 2")
        shim.log.wait("feed: version 3 in force")
        self.agrees(self.path("v3"), "accepted", shim.ini, self.path("v1"))

    def test_leaked_old_root_and_key_set_rollback_refused(self):
        """After a rotation, neither the old root key (a branch of its
        own, or an update after the real one) nor the files from before
        the rotation get in; another publisher's update neither."""
        _, shim, _ = self.rotated()
        old = self.path("v1")

        attempts = [
            # the old root's own branch: a key set 2 of its own (history
            # to this device) and a feed signed by the thief's key
            ("branch", self.rotate("evil2", 2, ["x"], 1, ["x"], 1,
                                   ["k1", "x"]), "x", 5,
             "bad signature: made by none"),
            # the old root signing a key set 3 after the real 2
            ("after", None, "x", 5, "key set 3 refused: signed by 0 of "
             "the 1 root key"),
            # another publisher's update 3 (its own root, x) in front of
            # a feed it signed: mix and match
            ("foreign", None, "x", 6, "key set 3 refused"),
        ]
        evil3 = self.rotate("evil3", 3, ["x"], 1, ["x"], 1, ["k1", "x"])
        foreign = self.rotate("foreign3", 3, ["x"], 1, ["x"], 1, ["x"])
        for name, chain, key, version, why in attempts:
            chain = chain or (evil3 if name == "after" else foreign)
            self.serve(self.signed(name, self.feed_body(version, [self.leaf]),
                                   [key], chain=chain).read_bytes())
            self.hup(shim)
            self.assertIn(why, shim.log.wait(r"feed: https://.*(bad "
                                             r"signature|refused)"))
            self.assertIn(why, self.agrees(self.path(name), "rejected",
                                           shim.ini, self.path("v2")).stderr)
        # key-set rollback: the file from before the rotation
        self.serve(old.read_bytes())
        self.hup(shim)
        shim.log.wait("bad signature: made by none of the 1 signing "
                      r"key\(s\) of key set 2")
        self.agrees(old, "rejected", shim.ini, self.path("v2"))
        shim.verdict()
        self.passes(shim)

    def test_damaged_key_files_never_bring_back_a_retired_key(self):
        """pins.keys and pins.feed overwritten (garbage a compromised worker
        once could have had written, or a damaged disk): at restart the
        device keeps the set it had rotated to (pins.keyset, the keeper's),
        not the INI's, and the retired key signs nothing it accepts; the
        real chain still gets in."""
        up, shim, upd = self.rotated()
        self.assertIn("version = 2\n",
                      self.state.joinpath("pins.keyset").read_text())
        shim.stop()
        for name in ("pins.keys", "pins.feed"):
            self.state.joinpath(name).write_text("garbage\n")
        # the thief's feed, signed by the retired key alone
        self.serve(self.signed("evil", self.feed_body(9, [self.backup]),
                               ["k1"]).read_bytes())
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait(r"feed: key set 1 is behind key set 2, trusted before "
                      r"\(.*pins.keyset\): keeping key set 2")
        shim.log.wait(r"bad signature: made by none of the 1 signing "
                      r"key\(s\) of key set 2")
        # what the device had: key set 2 (from pins.keyset), no feed
        set2 = ("--keys-version", 2, "--pubkey", self.path("r1.pub"),
                "--sign-key", self.path("s1.pub"))
        self.agrees(self.path("evil"), "rejected", keys=set2)
        self.serve(self.signed("v3", self.feed_body(3, [self.leaf]), ["s1"],
                               chain=upd).read_bytes())
        self.hup(shim)
        shim.log.wait("feed: version 3 in force.*key set 2")
        self.agrees(self.path("v3"), "accepted", keys=set2)
        self.assertEqual(self.state.joinpath("pins.keys").read_bytes(),
                         upd.read_bytes())
        self.passes(shim)

    def test_crash_between_feed_and_key_set_is_repaired_at_start(self):
        up, shim, upd = self.rotated()
        shim.stop()
        # as if the process died after writing pins.feed, before pins.keys
        self.state.joinpath("pins.keys").unlink()
        self.nginx.stop()
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: key set 1 -> 2")
        shim.log.wait("feed: cached version 2 in force.*key set 2")
        # written once the loop runs: the keeper is not waited for
        shim.log.wait("feed: key set 2 recorded in")
        self.agrees(self.path("v2"), "accepted", shim.ini)
        self.assertEqual(self.state.joinpath("pins.keys").read_bytes(),
                         upd.read_bytes())
        self.passes(shim)

    def test_legacy_signature_for_devices_before_key_roles(self):
        body = self.path("b.txt")
        body.write_text(self.feed_body(1, [self.leaf]))
        r = self.cli("feed", "sign", "--legacy", "--key",
                     self.path("k1.key"), body)
        self.assertRegex(r.stdout.splitlines()[-1],
                         r"^signature = ed25519:[A-Za-z0-9+/]{86}==$")
        self.path("legacy.feed").write_text(r.stdout)
        self.agrees(self.path("legacy.feed"), "accepted",
                    keys=("--pubkey", self.path("k1.pub")))
        r = self.cli("feed", "sign", "--legacy", "--key",
                     self.path("k1.key"), "--key", self.path("r1.key"), body,
                     ok=False)
        self.assertEqual(r.returncode, 2)
        # a legacy block takes no second signature
        self.path("l.feed").write_text(
            self.cli("feed", "sign", "--legacy", "--key",
                     self.path("k1.key"), body).stdout)
        r = self.cli("feed", "cosign", "--key", self.path("r1.key"),
                     self.path("l.feed"), ok=False)
        self.assertIn("legacy form", r.stderr)

    def test_publisher_refuses_what_devices_would(self):
        upd = self.rotate("keys2", 2, ["r1"], 1, ["s1"], 1, ["k1", "r1"])
        r = self.cli("feed", "cosign", "--key", self.path("r1.key"), upd,
                     ok=False)
        self.assertIn("already signed by key %s" % keyid(self.pub("r1")),
                      r.stderr)
        r = self.cli("feed", "rotate", "--version", 3, "--root",
                     self.path("r1.pub"), "--root-threshold", 2, "--sign",
                     self.path("s1.pub"), "--sign-threshold", 1, ok=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("root_threshold: 2, but the root role has 1 key(s)",
                      r.stderr)
        r = self.cli("feed", "rotate", "--after", upd, "--root",
                     self.path("r2.pub"), "--root-threshold", 1, "--sign",
                     self.path("s2.pub"), "--sign-threshold", 1)
        self.assertIn("version = 3\n", r.stdout)
        # a feed block in the chain is not a key-set update
        feed = self.signed("v1", self.feed_body(1, [self.leaf]), ["k1"])
        self.path("bad.txt").write_text(self.feed_body(2, [self.leaf]))
        r = self.cli("feed", "sign", "--key", self.path("s1.key"),
                     "--chain", feed, self.path("bad.txt"), ok=False)
        self.assertIn("unknown section in a key-set update", r.stderr)
        # update 2 verified with the wrong starting key: refused, exit 1
        full = self.signed("v2", self.feed_body(2, [self.leaf]), ["s1"],
                           chain=upd)
        r = self.cli("feed", "verify", "--pubkey", self.pub("x"), full,
                     ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("key set 2 refused", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_observe_only_switched_live_by_the_feed(self):
        """enforce = no from the feed: the pin failure is relayed and
        reported as would-refuse; the next feed enforces and it is
        refused. Turning enforcement off is a weakening: with separate
        roles the signing key alone cannot."""
        up, _ = self.api(leaf="backup")        # pins below name the leaf
        ini = self.roles_ini(up, ["r1"], sign=["s1"])
        self.serve(self.signed("v1", self.feed_body(1, [self.leaf]), ["s1"])
                   .read_bytes())
        shim = Shim(self, ini)
        shim.log.wait("feed: version 1 in force")
        shim.verdict()
        self.refused(shim)
        observe = self.feed_body(2, [self.leaf], extra="enforce = no\n")
        self.serve(self.signed("o2", observe, ["s1"]).read_bytes())
        self.hup(shim)
        shim.log.wait(r"weakens pinning \(api.test: pin -> pin \(enforce = "
                      r"no\)\)")
        self.agrees(self.path("o2"), "rejected", shim.ini, self.path("v1"))
        self.serve(self.signed("o2r", observe, ["s1", "r1"]).read_bytes())
        self.hup(shim)
        shim.log.wait("feed: version 2 in force")
        self.agrees(self.path("o2r"), "accepted", shim.ini, self.path("v1"))
        shim.log.wait(r"api.test is NOT ENFORCED \(enforce = no, https://")
        shim.verdict()
        self.passes_observed(shim)
        self.serve(self.signed("v3", self.feed_body(3, [self.leaf]), ["s1"])
                   .read_bytes())
        self.hup(shim)
        shim.log.wait("feed: version 3 in force")
        self.agrees(self.path("v3"), "accepted", shim.ini, self.path("o2r"))
        shim.verdict()
        self.refused(shim)

    def passes_observed(self, shim):
        import socket
        from harness import WAIT
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=WAIT) as s:
            s.sendall(b"ping\n")
            got = s.recv(100)
        self.assertEqual(got, b"gnip\n")
        v = shim.verdict(listener="api")
        self.assertEqual((v["verdict"], v["reason"]),
                         ("would-refuse", "pin-mismatch"), v)
        self.assertIn(self.backup, v["presented"])

    def test_signing_key_cannot_date_devices_into_the_future(self):
        """A stolen signing key signs issued = ten years ahead: the
        latest known time moves at most a day past the system clock, so
        honest feeds and certificates are not all expired afterwards."""
        from datetime import datetime, timezone
        up, _ = self.api()
        ini = self.roles_ini(up, ["r1"], sign=["s1"])
        future = self.feed_body(1, [self.leaf]).replace(
            "issued = %s" % rfc3339(timedelta(0)),
            "issued = %s" % rfc3339(timedelta(days=3650)), 1).replace(
            "expires = %s" % rfc3339(timedelta(days=30)),
            "expires = %s" % rfc3339(timedelta(days=3680)), 1)
        self.assertIn("issued = %s" % rfc3339(timedelta(days=3650))[:10],
                      future)
        self.serve(self.signed("ff", future, ["s1"]).read_bytes())
        shim = Shim(self, ini)
        shim.log.wait("over a day ahead of the system clock")
        shim.log.wait("feed: version 1 in force")
        self.agrees(self.path("ff"), "accepted", shim.ini)
        saved = datetime.strptime(
            self.state.joinpath("clock").read_text().strip(),
            "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        self.assertLess(saved, datetime.now(timezone.utc) +
                        timedelta(days=1, minutes=5))
        self.serve(self.signed("v2", self.feed_body(2, [self.leaf]), ["s1"])
                   .read_bytes())
        self.hup(shim)
        shim.log.wait("feed: version 2 in force")   # not "expired"
        self.agrees(self.path("v2"), "accepted", shim.ini, self.path("ff"))
        shim.verdict()
        self.passes(shim)
