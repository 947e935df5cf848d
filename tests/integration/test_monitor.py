"""pinshim monitor against real servers: one matching (with a backup pin),
one rotated to a key without a pin, one unreachable, one whose leaf
expires in 10 days; exit codes, lines, --json, --alert once per change
over several rounds, and --write-observed for a tofu host. And pinshim
feed add writing a body that feed sign accepts and that pins the live
server."""

import json
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from harness import PINSHIM_CMD, pin_of, s_server
from test_feed import FeedTest, rfc3339, run
from datetime import timedelta


def tofu_body():
    """A feed body with one tofu host, www.api.test."""
    return """[feed]
version = 5
issued = %s
expires = %s

[domain:www.api.test]
policy = tofu
""" % (rfc3339(timedelta(0)), rfc3339(timedelta(days=9)))


TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) ")


def untimed(test, r):
    """r with every stdout line's leading time checked (RFC 3339 UTC,
    within a minute of now) and removed; JSON lines keep theirs."""
    out = []
    now = datetime.now(timezone.utc)
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            out.append(line)
            continue
        m = TIME.match(line)
        test.assertIsNotNone(m, "no RFC 3339 time: %r" % line)
        t = datetime.strptime(m[1], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=timezone.utc)
        test.assertLess(abs((t - now).total_seconds()), 600, line)
        out.append(line[m.end():])
    r.stdout = "".join(l + "\n" for l in out)
    return r


class Monitor(FeedTest):

    def soon_cert(self):
        """A leaf for soon.api.test, signed by the test intermediate,
        valid 10 more days."""
        t = Path(self.tmp)
        ext = t / "soon.ext"
        ext.write_text("basicConstraints=critical,CA:FALSE\n"
                       "keyUsage=critical,digitalSignature\n"
                       "extendedKeyUsage=serverAuth\n"
                       "subjectAltName=DNS:soon.api.test\n")
        for argv in (["genpkey", "-algorithm", "EC", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-out", t / "soon.key"],
                     ["req", "-new", "-key", t / "soon.key", "-subj",
                      "/CN=soon.api.test", "-out", t / "soon.csr"],
                     ["x509", "-req", "-in", t / "soon.csr", "-CA",
                      self.pki / "inter.pem", "-CAkey", self.pki / "inter.key",
                      "-set_serial", "4242", "-days", "10", "-extfile", ext,
                      "-out", t / "soon.pem"]):
            subprocess.run(["openssl", *map(str, argv)], check=True,
                           capture_output=True)
        return t / "soon.pem", t / "soon.key"

    def setUp(self):
        super().setUp()
        chain = self.pki / "inter.pem"
        self.good, _ = s_server(self, self.pki / "leaf.pem",
                                self.pki / "leaf.key", chain)
        self.rotated, _ = s_server(self, self.pki / "backup.pem",
                                   self.pki / "backup.key", chain)
        soon_pem, soon_key = self.soon_cert()
        self.soon, _ = s_server(self, soon_pem, soon_key, chain)
        self.soon_pin = pin_of(soon_pem)
        body = """[feed]
version = 1
issued = %s
expires = %s

[domain:www.api.test]
pins = %s, %s

[domain:api.test]
pins = %s

[domain:blocked.test]
pins = %s, %s

[domain:soon.api.test]
pins = %s

[domain:**.cdn.test]
pins = %s
""" % (rfc3339(timedelta(0)), rfc3339(timedelta(days=9)), self.leaf,
            self.backup, self.leaf, self.leaf, self.backup, self.soon_pin,
            self.leaf)
        self.feed = Path(self.tmp) / "m.feed"
        self.feed.write_bytes(self.sign(body))
        self.routes = ["--connect-to", "www.api.test=127.0.0.1:%d" %
                       self.good, "--connect-to", "api.test=127.0.0.1:%d" %
                       self.rotated, "--connect-to",
                       "blocked.test=127.0.0.1:1", "--connect-to",
                       "soon.api.test=127.0.0.1:%d" % self.soon]

    def monitor(self, *extra, feed=None):
        """One run; each text line's RFC 3339 time checked and taken off
        (the lines below are compared without it)."""
        r = run("monitor", feed or self.feed, "--pubkey", self.k1,
                "--ca-file", self.pki / "ca.pem", *self.routes, *extra,
                timeout=120)
        return untimed(self, r)

    def test_one_round_finds_each_kind_of_problem(self):
        r = self.monitor()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        good = "127.0.0.1:%d" % self.good
        self.assertIn("match www.api.test %s pin matched the leaf" % good,
                      lines)
        self.assertFalse(any(l.startswith("no-backup www.api.test")
                             for l in lines))
        mism = [l for l in lines if l.startswith("mismatch api.test ")]
        self.assertEqual(len(mism), 1, lines)
        self.assertIn("no certificate of the verified chain matches", mism[0])
        self.assertTrue(any(l.startswith("no-backup soon.api.test - every "
                                         "pin is on the chain")
                            for l in lines), lines)
        self.assertTrue(any(l.startswith("unreachable blocked.test "
                                         "127.0.0.1:1 connect: Connection "
                                         "refused") for l in lines), lines)
        soon = [l for l in lines if l.startswith("expires-soon "
                                                 "soon.api.test ")]
        self.assertEqual(len(soon), 1, lines)
        self.assertRegex(soon[0], r"the leaf expires \S+ \(in (9|10) days\)")
        self.assertIn("skip **.cdn.test - a wildcard names no host to probe",
                      lines)

    def test_json_lines_parse(self):
        r = self.monitor("--json")
        rows = [json.loads(l) for l in r.stdout.splitlines()]
        states = {(x["state"], x["host"]) for x in rows}
        self.assertIn(("mismatch", "api.test"), states)
        self.assertIn(("unreachable", "blocked.test"), states)
        self.assertIn(("expires-soon", "soon.api.test"), states)
        mism = [x for x in rows if x["state"] == "mismatch"][0]
        self.assertEqual(mism["presented"][0], self.backup)

    def test_alert_runs_once_per_change_over_rounds(self):
        log = Path(self.tmp) / "alerts"
        r = self.monitor("--every", "1", "--rounds", "3", "--alert",
                         "echo \"$PINSHIM_MONITOR_STATE $PINSHIM_MONITOR_HOST"
                         "\" >> %s; cat >> %s.stdin" % (log, log))
        self.assertEqual(r.returncode, 1, r.stderr)
        alerts = log.read_text().splitlines()
        self.assertEqual(sorted(alerts), sorted([
            "mismatch api.test",
            "unreachable blocked.test", "expires-soon soon.api.test",
            "no-backup soon.api.test"]))
        self.assertEqual(r.stdout.count("mismatch api.test "), 3)  # 3 rounds
        self.assertIn("mismatch api.test 127.0.0.1:%d" % self.rotated,
                      Path(str(log) + ".stdin").read_text())

    def test_unverified_feed_is_not_probed(self):
        bad = Path(self.tmp) / "bad.feed"
        bad.write_bytes(self.feed.read_bytes().replace(b"version = 1",
                                                       b"version = 2"))
        r = self.monitor(feed=bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad signature", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_write_observed_for_a_tofu_host(self):
        body = Path(self.tmp) / "tofu.body"
        text = tofu_body()
        body.write_text(text)
        feed = Path(self.tmp) / "tofu.feed"
        feed.write_bytes(self.sign(text))
        r = self.monitor("--write-observed", body, feed=feed)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("observed = %s\n" % self.leaf, body.read_text())
        r = run("feed", "sign", "--key", Path(self.tmp) / "k1.key", body)
        self.assertEqual(r.returncode, 0, r.stderr)


    def test_write_observed_keeps_a_link_and_a_mode(self):
        """A body that is a symbolic link is refused with the reason, not
        replaced by a plain 0644 file; a plain body keeps its mode."""
        text = tofu_body()
        feed = Path(self.tmp) / "tofu.feed"
        feed.write_bytes(self.sign(text))
        real = Path(self.tmp) / "real.body"
        real.write_text(text)
        real.chmod(0o640)
        link = Path(self.tmp) / "link.body"
        link.symlink_to(real)
        r = self.monitor("--write-observed", link, feed=feed)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("%s: a symbolic link (to %s): not written" %
                      (link, real), r.stderr)
        self.assertTrue(link.is_symlink())
        self.assertEqual(real.read_text(), text)
        self.assertEqual(real.stat().st_mode & 0o777, 0o640)
        r = self.monitor("--write-observed", real, feed=feed)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("observed = %s\n" % self.leaf, real.read_text())
        self.assertEqual(real.stat().st_mode & 0o777, 0o640)


class FeedAdd(FeedTest):

    def test_feed_add_pins_the_live_server_with_a_backup(self):
        up, _ = s_server(self, self.pki / "leaf.pem", self.pki / "leaf.key",
                         self.pki / "inter.pem")
        body = Path(self.tmp) / "b.body"
        body.write_text("[feed]\nversion = 1\nissued = %s\nexpires = %s\n" %
                        (rfc3339(timedelta(0)), rfc3339(timedelta(days=9))))
        argv = ["feed", "add", body, "api.test:%d" % up, "--connect-to",
                "127.0.0.1:%d" % up, "--ca-file", self.pki / "ca.pem"]
        r = run(*argv)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no backup pin", r.stderr)
        self.assertNotIn("[domain:api.test]", body.read_text())
        r = run(*argv, "--backup", self.backup)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = body.read_text()
        self.assertIn("[domain:api.test]\npins = %s, %s\n" %
                      (self.leaf, self.backup), text)
        # both: the leaf and the intermediate, updated in place
        r = run(*argv, "--pin", "both", "--backup", self.backup)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = body.read_text()
        self.assertEqual(text.count("[domain:api.test]"), 1)
        self.assertIn("pins = %s, %s, %s\n" % (
            self.leaf, pin_of(self.pki / "inter.pem"), self.backup), text)
        signed = Path(self.tmp) / "b.feed"
        r = run("feed", "sign", "--key", Path(self.tmp) / "k1.key", body,
                "-o", signed)
        self.assertEqual(r.returncode, 0, r.stderr)
        # and a device with that feed passes the live server
        from harness import Shim, http_get
        self.serve(signed.read_bytes())
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: version 1 in force")
        shim.verdict()                       # the feed fetch's own
        status, _ = http_get(self.port)
        self.assertEqual(status, 200)
        self.assertEqual(shim.verdict(listener="api")["verdict"], "pass")
        r = run("feed", "add", body, "api.test:%d" % up, "--connect-to",
                "127.0.0.1:1", "--ca-file", self.pki / "ca.pem", "--backup",
                self.backup)
        self.assertEqual(r.returncode, 1)
        self.assertIn("connect: Connection refused", r.stderr)

    def test_feed_add_replaces_every_continuation_line(self):
        """inih continues a value on indented lines across blank and
        comment lines: a retired pin below one must not survive."""
        up, _ = s_server(self, self.pki / "leaf.pem", self.pki / "leaf.key",
                         self.pki / "inter.pem")
        body = Path(self.tmp) / "c.body"
        old = "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        body.write_text("[feed]\nversion = 1\nissued = %s\nexpires = %s\n\n"
                        "[domain:api.test]\npins = %s,\n; retired key\n\n"
                        "  %s\npolicy = pin\n" % (
                            rfc3339(timedelta(0)), rfc3339(timedelta(days=9)),
                            self.backup, old))
        r = run("feed", "add", body, "api.test:%d" % up, "--connect-to",
                "127.0.0.1:%d" % up, "--ca-file", self.pki / "ca.pem",
                "--backup", self.backup)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = body.read_text()
        self.assertNotIn(old, text)
        self.assertIn("; retired key\n", text)        # comments stay
        self.assertIn("pins = %s, %s\n" % (self.leaf, self.backup), text)
        self.assertIn("policy = pin\n", text)

    def test_feed_add_refuses_a_backup_on_the_live_chain(self):
        up, _ = s_server(self, self.pki / "leaf.pem", self.pki / "leaf.key",
                         self.pki / "inter.pem")
        body = Path(self.tmp) / "d.body"
        body.write_text("[feed]\nversion = 1\nissued = %s\nexpires = %s\n" %
                        (rfc3339(timedelta(0)), rfc3339(timedelta(days=9))))
        r = run("feed", "add", body, "api.test:%d" % up, "--connect-to",
                "127.0.0.1:%d" % up, "--ca-file", self.pki / "ca.pem",
                "--backup", pin_of(self.pki / "inter.pem"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("no backup pin", r.stderr)

    def test_feed_add_keeps_a_link_and_a_mode(self):
        """A body that is a symbolic link is refused with the reason, not
        replaced by a plain 0644 file; a plain body keeps its mode."""
        up, _ = s_server(self, self.pki / "leaf.pem", self.pki / "leaf.key",
                         self.pki / "inter.pem")
        text = "[feed]\nversion = 1\nissued = %s\nexpires = %s\n" % (
            rfc3339(timedelta(0)), rfc3339(timedelta(days=9)))
        real = Path(self.tmp) / "real.body"
        real.write_text(text)
        real.chmod(0o600)
        link = Path(self.tmp) / "link.body"
        link.symlink_to(real)
        argv = ["api.test:%d" % up, "--connect-to", "127.0.0.1:%d" % up,
                "--ca-file", self.pki / "ca.pem", "--backup", self.backup]
        r = run("feed", "add", link, *argv)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("%s: a symbolic link (to %s): not written" %
                      (link, real), r.stderr)
        self.assertTrue(link.is_symlink())
        self.assertEqual(real.read_text(), text)
        self.assertEqual(real.stat().st_mode & 0o777, 0o600)
        r = run("feed", "add", real, *argv)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("[domain:api.test]\npins = %s, %s\n" %
                      (self.leaf, self.backup), real.read_text())
        self.assertEqual(real.stat().st_mode & 0o777, 0o600)
