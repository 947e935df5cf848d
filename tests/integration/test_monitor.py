"""pinshim monitor against real servers: one matching (with a backup pin),
one rotated to a key without a pin, one unreachable, one whose leaf
expires in 10 days; exit codes, lines, --json, --alert once per change
over several rounds, and --write-observed for a tofu host. And pinshim
feed add writing a body that feed sign accepts and that pins the live
server."""

import json
import re
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from harness import (PINSHIM_CMD, WAIT, Proc, TLSServer, pin_of, s_server,
                     wait_for)
from test_feed import UNRELATED, FeedTest, rfc3339, run
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


def loopback_listener(test, ip, port, behaviour):
    """A TCP listener on ip:port whose thread accepts and then holds each
    connection silently ("hang") or resets it at once ("reset"); closed
    at cleanup."""
    import socket
    import struct
    import threading
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, port))
    ls.listen(512)
    held = []

    def serve():
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            if behaviour == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
                conn.close()
            else:
                held.append(conn)

    t = threading.Thread(target=serve, daemon=True)
    t.start()

    def close():
        import socket as s
        try:
            ls.shutdown(s.SHUT_RDWR)
        except OSError:
            pass
        ls.close()
        t.join(5)
        for c in held:
            c.close()
    test.addCleanup(close)


def accepting(ip, port):
    import socket
    try:
        socket.create_connection((ip, port), timeout=1).close()
        return True
    except OSError:
        return False


class Fleet(FeedTest):
    """pinshim monitor over many hosts: a hosts file (--hosts) maps them
    to loopback addresses on one port, where nginx serves the pinned leaf
    (127.0.0.1), a listener holds connections silently (127.0.0.2) or
    resets them (127.0.0.3), and s_server serves the unpinned backup key
    (127.0.0.4); names outside the file do not resolve."""

    TIMEOUT = 3

    def setUp(self):
        super().setUp()
        self.api_port = self.feed_port          # nginx: the pinned leaf
        loopback_listener(self, "127.0.0.2", self.api_port, "hang")
        loopback_listener(self, "127.0.0.3", self.api_port, "reset")
        self.mism = Proc(self, [
            "openssl", "s_server", "-accept", "127.0.0.4:%d" % self.api_port,
            "-cert", str(self.pki / "backup.pem"), "-key",
            str(self.pki / "backup.key"), "-cert_chain",
            str(self.pki / "inter.pem"), "-quiet", "-www"], "s_server-mism")
        wait_for(lambda: accepting("127.0.0.4", self.api_port),
                 "s_server on 127.0.0.4:%d" % self.api_port)

    def fleet(self, kinds, version=1, expires=timedelta(days=30)):
        """A signed feed over hosts of kinds ({"good": n, ...}), the hosts
        file placing them, and the expected names per kind."""
        ip = {"good": "127.0.0.1", "hang": "127.0.0.2", "reset": "127.0.0.3",
              "mismatch": "127.0.0.4"}
        names, hosts = {}, []
        for kind, n in kinds.items():
            names[kind] = ["%s%d.api.test" % (kind, i) if kind != "gone"
                           else "gone%d.api.invalid" % i for i in range(n)]
            if kind in ip:
                hosts += ["%s %s" % (ip[kind], h) for h in names[kind]]
        # interleaved, as a real feed's dead hosts are
        order = [h for group in zip(*[names[k] + [None] * (
            max(kinds.values()) - len(names[k])) for k in names])
            for h in group if h]
        body = "[feed]\nversion = %d\nissued = %s\nexpires = %s\n" % (
            version, rfc3339(timedelta(0)), rfc3339(expires))
        for h in order:
            body += "\n[domain:%s]\npins = %s, %s\n" % (h, self.leaf,
                                                          UNRELATED)
        feed = Path(self.tmp) / "fleet.feed"
        self.replace(feed, self.sign(body))
        hf = Path(self.tmp) / "fleet.hosts"
        hf.write_text("\n".join(hosts) + "\n")
        return feed, hf, names

    def replace(self, path, data):
        """Whole or not at all, as a publisher's rename does."""
        tmp = path.with_suffix(".new")
        tmp.write_bytes(data)
        tmp.rename(path)

    def monitor(self, feed, hf, *extra):
        t0 = time.monotonic()
        r = run("monitor", feed, "--pubkey", self.k1, "--ca-file",
                self.pki / "ca.pem", "--hosts", hf, "--port", self.api_port,
                "--timeout", self.TIMEOUT, *extra, timeout=120)
        return untimed(self, r), time.monotonic() - t0

    def states(self, r):
        """{state: set of hosts} of the endpoint lines."""
        out = {}
        for line in r.stdout.splitlines():
            state, host = line.split(" ")[:2]
            out.setdefault(state, set()).add(host)
        return out

    def test_200_hosts_one_round_within_the_timeout_budget(self):
        feed, hf, names = self.fleet({"good": 150, "hang": 20, "reset": 10,
                                      "mismatch": 10, "gone": 10})
        r, took = self.monitor(feed, hf)
        # a correctness bound, not a benchmark: one round of concurrent
        # probes, each bounded, not 20 hung endpoints one after another
        self.assertLess(took, 3 * self.TIMEOUT, r.stderr)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        st = self.states(r)
        self.assertEqual(st["match"] - {str(feed)}, set(names["good"]))
        self.assertEqual(st["mismatch"], set(names["mismatch"]))
        self.assertEqual(st["unreachable"], set(names["hang"] +
                                                names["reset"] +
                                                names["gone"]))
        lines = r.stdout.splitlines()
        hung = [l for l in lines if l.startswith("unreachable hang")]
        self.assertTrue(all("handshake: timed out after 3s" in l
                            for l in hung), hung)
        gone = [l for l in lines if l.startswith("unreachable gone")]
        self.assertTrue(all(" - resolve: " in l for l in gone), gone)
        self.assertRegex(r.stderr, r"round 1: 150 match, 10 mismatch, 40 "
                         r"unreachable in \d+\.\d s")

    def test_exit_status_and_fail_on(self):
        feed, hf, _ = self.fleet({"good": 3})
        r, _ = self.monitor(feed, hf)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        feed, hf, _ = self.fleet({"good": 3, "hang": 1, "gone": 1})
        r, _ = self.monitor(feed, hf)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        r, _ = self.monitor(feed, hf, "--fail-on", "mismatch")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        feed, hf, _ = self.fleet({"good": 3, "hang": 1, "mismatch": 1})
        for fail_on, code in (("unreachable", 1), ("mismatch", 1),
                              ("none", 0)):
            r, _ = self.monitor(feed, hf, "--fail-on", fail_on)
            self.assertEqual(r.returncode, code, (fail_on, r.stderr))
        for bad in (("--fail-on", "sometimes"), ("--parallel", "0"),
                    ("--parallel", "100000"), ("--timeout", "0")):
            r, _ = self.monitor(feed, hf, *bad)
            self.assertEqual(r.returncode, 2, bad)

    def test_parallel_one_is_sequential(self):
        """--parallel 1: the two hung hosts cost a timeout each."""
        feed, hf, _ = self.fleet({"good": 2, "hang": 2})
        r, took = self.monitor(feed, hf, "--parallel", "1")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertGreaterEqual(took, 2 * self.TIMEOUT)

    def test_json_objects_carry_their_time(self):
        feed, hf, _ = self.fleet({"good": 2, "mismatch": 1})
        r, _ = self.monitor(feed, hf, "--json")
        rows = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual(len(rows), 4)          # the feed, 3 endpoints
        for row in rows:
            t = datetime.strptime(row["time"], "%Y-%m-%dT%H:%M:%SZ")
            self.assertLess(abs((t.replace(tzinfo=timezone.utc) -
                                 datetime.now(timezone.utc))
                                .total_seconds()), 600)
        self.assertEqual({r["state"] for r in rows},
                         {"feed-ok", "match", "mismatch"})

    def test_a_feed_re_published_mid_run_is_seen_the_next_round(self):
        """--every re-reads the file: a new version, a bad signature and an
        older version each show in the next round, with an alert; the
        hosts probed stay the last good copy's."""
        feed, hf, _ = self.fleet({"good": 2})
        v1 = feed.read_bytes()
        alerts = Path(self.tmp) / "alerts"
        p = Proc(self, PINSHIM_CMD + [
            "monitor", str(feed), "--pubkey", self.k1, "--ca-file",
            str(self.pki / "ca.pem"), "--hosts", str(hf), "--port",
            str(self.api_port), "--every", "1", "--alert",
            "echo \"$PINSHIM_MONITOR_STATE $PINSHIM_MONITOR_HOST\" >> %s" %
            alerts], "monitor")
        name = re.escape(str(feed))
        p.log.wait(r"Z feed-ok %s - version 1, " % name, proc=p.p)
        self.fleet({"good": 2}, version=2)
        p.log.wait(r"Z feed-ok %s - version 2, " % name, proc=p.p)
        self.replace(feed, feed.read_bytes().replace(b"version = 2",
                                                     b"version = 3"))
        first = p.log.wait(r"Z feed-bad-signature %s - " % name, proc=p.p)
        second = p.log.wait(r"Z feed-bad-signature %s - " % name, proc=p.p)
        text = p.log.text()
        between = text[text.index(first) + len(first):text.index(second)]
        self.assertIn(" match good0.api.test ", between)
        self.replace(feed, v1)
        line = p.log.wait(r"Z feed-rollback %s - " % name, proc=p.p)
        self.assertIn("version 1 is older than 2", line)
        wait_for(lambda: alerts.exists() and "feed-rollback" in
                 alerts.read_text(), "the rollback alert")
        self.assertEqual(p.stop(), 1)        # devices refused a copy
        self.assertEqual(alerts.read_text().splitlines(), [
            "feed-bad-signature %s" % feed, "feed-rollback %s" % feed])

    def test_url_the_published_copy_is_judged_as_a_device_would(self):
        feed, hf, _ = self.fleet({"good": 1})
        url = "https://feeds.api.test:%d/pins.feed" % self.feed_port
        via = ("--connect-to", "feeds.api.test=127.0.0.1:%d" % self.feed_port)
        where = "%s 127.0.0.1:%d" % (url, self.feed_port)

        def check(code, state, detail=""):
            r, _ = self.monitor(feed, hf, "--url", url, *via)
            self.assertEqual(r.returncode, code, r.stdout + r.stderr)
            line = [l for l in r.stdout.splitlines() if url in l]
            self.assertEqual(len(line), 1, r.stdout)
            self.assertTrue(line[0].startswith("%s %s " % (state, where)),
                            line)
            self.assertIn(detail, line[0])

        self.serve(feed.read_bytes())
        check(0, "feed-ok", "version 1, expires ")
        self.serve(feed.read_bytes().replace(b"version = 1",
                                             b"version = 9"))
        check(1, "feed-bad-signature", "signature")
        self.serve(self.sign_unchecked(self.body(
            4, [self.leaf], expires=timedelta(hours=-1),
            issued=timedelta(days=-2))))
        check(1, "feed-expired", "version 4 expired at ")
        self.serve(self.sign(self.body(5, [self.leaf],
                                       expires=timedelta(days=3))))
        check(0, "feed-expiring", "version 5, expires ")
        (self.www / "pins.feed").unlink()
        check(3, "feed-unreachable", "HTTP status 404")
        # plain HTTP: the signature protects it
        self.serve(feed.read_bytes())
        url = "http://127.0.0.1:%d/pins.feed" % self.http_port
        where = "%s 127.0.0.1:%d" % (url, self.http_port)
        check(0, "feed-ok", "version 1, ")

    def test_url_fetch_over_misbehaving_servers(self):
        """--url speaks HTTP through httpc.c: the request a feed server
        sees, a body ended by a close without close_notify (HTTP/1.0
        style), and each way a server can fail, bounded by --timeout."""
        feed, hf, _ = self.fleet({"good": 1})
        data = feed.read_bytes()
        release = threading.Event()
        self.addCleanup(release.set)
        seen = []

        def request(conn):
            head = []
            with conn.makefile("rb") as f:
                for line in f:
                    if line == b"\r\n":
                        break
                    head.append(line)
            seen.append(b"".join(head))

        def close(conn):
            request(conn)
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + data)

        def hang(conn):
            request(conn)
            release.wait(WAIT)

        def short(conn):
            request(conn)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n"
                         % (len(data) + 1) + data)

        def huge(conn):
            request(conn)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n"
                         % ((64 << 20) + 1))
            release.wait(WAIT)

        def garbage(conn):
            request(conn)
            conn.sendall(b"\x16\x03garbage that is not HTTP\r\n\r\n")

        for name, handler, code, detail in (
                ("close", close, 0, "version 1, "),
                ("hang", hang, 3, "response: timed out after 3s"),
                ("short", short, 3, "response: connection closed before "
                 "Content-Length bytes"),
                ("huge", huge, 3, "response: body larger than the size "
                 "limit"),
                ("garbage", garbage, 3, "response: not an HTTP response")):
            with self.subTest(name):
                srv = TLSServer(self, self.pki / "leaf-chain.pem",
                                self.pki / "leaf.key", handler)
                url = "https://feeds.api.test:%d/pins.feed" % srv.port
                r, took = self.monitor(feed, hf, "--url", url,
                                       "--connect-to",
                                       "feeds.api.test=127.0.0.1:%d" %
                                       srv.port)
                self.assertEqual(r.returncode, code, r.stdout + r.stderr)
                line = [l for l in r.stdout.splitlines() if url in l]
                self.assertEqual(len(line), 1, r.stdout)
                self.assertIn(detail, line[0])
                self.assertLess(took, 3 * self.TIMEOUT, line[0])
        self.assertEqual(len(seen), 5, seen)
        lines = seen[0].split(b"\r\n")
        self.assertEqual(lines[0], b"GET /pins.feed HTTP/1.0")
        self.assertIn(b"Host: feeds.api.test", lines)
        self.assertIn(b"User-Agent: pinshim-monitor", lines)
        self.assertIn(b"Connection: close", lines)

    def test_an_expired_feed_file_is_reported_and_its_hosts_probed(self):
        feed, hf, _ = self.fleet({"good": 2})
        text = (Path(self.tmp) / "pins.feed.body").read_text()
        expired = re.sub(r"expires = \S+", "expires = %s" %
                         rfc3339(timedelta(hours=-1)), re.sub(
                             r"issued = \S+", "issued = %s" %
                             rfc3339(timedelta(days=-2)), text))
        self.replace(feed, self.sign_unchecked(expired))
        r, _ = self.monitor(feed, hf)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("feed-expired %s - version 1 "
                                            "expired at " % feed), lines)
        self.assertEqual(self.states(r)["match"],
                         {"good0.api.test", "good1.api.test"})

    def test_url_is_fetched_pinned_to_the_ini_feed_pins(self):
        """-c: the feed server is checked against [feed] pins, as the
        device fetches it; a server they do not match is unreachable."""
        feed, hf, _ = self.fleet({"good": 1})
        self.serve(feed.read_bytes())
        url = "https://feeds.api.test:%d/pins.feed" % self.feed_port
        ini = Path(self.tmp) / "device.ini"
        for pins, code, state, detail in (
                ([pin_of(self.pki / "inter.pem")], 0, "feed-ok",
                 "version 1, "),
                ([UNRELATED], 3, "feed-unreachable",
                 "the feed server's certificate: ")):
            ini.write_text(self.feed_ini(self.api_port, url=url,
                                         feed_pins=pins))
            r = untimed(self, run(
                "monitor", feed, "-c", ini, "--ca-file",
                self.pki / "ca.pem", "--hosts", hf, "--port", self.api_port,
                "--url", url, "--connect-to", "feeds.api.test=127.0.0.1:%d" %
                self.feed_port, timeout=120))
            self.assertEqual(r.returncode, code, r.stdout + r.stderr)
            line = [l for l in r.stdout.splitlines() if url in l]
            self.assertEqual(len(line), 1, r.stdout)
            self.assertTrue(line[0].startswith(state + " "), line)
            self.assertIn(detail, line[0])
