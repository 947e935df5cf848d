"""Privilege separation: the interception CA key lives only in the keeper.
Read from /proc: the worker's memory holds no copy of the CA's private
scalar (in either byte order) while the keeper's does; the worker runs as
[shim] user with no-new-privileges and a seccomp filter; the keeper writes
state_dir; when either process dies, the other ends; and a keeper that
stops answering holds up only what needs it."""

import base64
import json
import os
import pwd
import signal
import socket
import subprocess
import time
import unittest
import urllib.request
from pathlib import Path

from harness import PINSHIM_CMD, WAIT, Shim, free_port, pin_of
from test_feed import FeedTest
from test_intercept import Intercept


def ca_scalar(key_pem):
    """The 32-byte private scalar of pinshim's SEC1 P-256 CA key."""
    b64 = "".join(line for line in key_pem.read_text().splitlines()
                  if not line.startswith("-----"))
    der = base64.b64decode(b64)
    # SEQUENCE { INTEGER 1, OCTET STRING (32) d, ... }
    assert der[0] == 0x30 and der[2:5] == b"\x02\x01\x01" \
        and der[5:7] == b"\x04\x20", der[:8].hex()
    return der[7:39]


def memory_holds(pid, needles):
    """Whether any readable mapping of pid contains one of needles. Read
    in chunks that overlap by a needle's length; mappings of 4 GiB or more
    are skipped: those are a sanitizer's shadow, never pinshim's data."""
    chunk, overlap = 1 << 22, max(len(n) for n in needles)
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if not perms.startswith("r") or "[vvar" in line or \
                    "[vsyscall]" in line:
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            if hi - lo >= 1 << 32:
                continue
            at = lo
            while at < hi:
                try:
                    mem.seek(at)
                    data = mem.read(min(chunk + overlap, hi - at))
                except (OSError, ValueError, OverflowError):
                    break
                if any(n in data for n in needles):
                    return True
                at += chunk
    return False


def status_of(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(x) for x in f.read().split()]


def gone(pid):
    try:
        return status_of(pid)["State"].startswith("Z")
    except FileNotFoundError:
        return True


@unittest.skipUnless(os.geteuid() == 0, "needs root: the keeper runs as "
                     "root and the worker drops to nobody")
class Privsep(Intercept):      # its helpers: Intercept has no tests itself

    def setUp(self):
        super().setUp()
        # the worker (nobody) reads state_dir, the configuration and, on
        # a reload, the trust store
        os.chmod(self.tmp, 0o755)
        os.chmod(self.pki, 0o755)
        self.nobody = pwd.getpwnam("nobody")

    def start_dropped(self, up, pins=None, policy="pin", status=None):
        self.proxy_port = free_port()
        ini = "[shim]\nuser = nobody\n%s" % (
            "status = 127.0.0.1:%d\n" % status if status else "") + \
            self.proxy_ini(
            up, self.domain("api.test", pins or [], policy)).replace(
            "[shim]\n", "", 1)
        shim = Shim(self, ini)
        keepers = children(shim.p.pid)
        self.assertEqual(len(keepers), 1, keepers)
        return shim, keepers[0]

    def test_the_worker_never_holds_the_ca_key_the_keeper_does(self):
        up, sport = self.api(), free_port()
        shim, keeper = self.start_dropped(up, [pin_of(self.pki /
                                                      "leaf.pem")],
                                          status=sport)
        r = self.curl("https://api.test:%d/" % up)
        self.assertEqual(r.stdout.splitlines()[-1], "200", r.stderr)
        self.assertIn("keeper: signed a leaf for api.test", shim.log.text())
        import urllib.request
        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                         % sport, timeout=WAIT).read()
        self.assertIn(b"\npinshim_minted_leaves_total 1\n", metrics)
        self.assertIn(b"\npinshim_mint_refusals_total 0\n", metrics)
        d = ca_scalar(self.state / "ca" / "ca.key")
        needles = (d, d[::-1])
        self.assertTrue(memory_holds(keeper, needles),
                        "the search cannot find the key where it is")
        self.assertFalse(memory_holds(shim.p.pid, needles),
                         "the CA private key is in the worker's memory")
        w, k = status_of(shim.p.pid), status_of(keeper)
        self.assertEqual(w["Uid"].split()[0], str(self.nobody.pw_uid))
        self.assertEqual(w["Groups"], str(self.nobody.pw_gid))
        self.assertEqual(k["Uid"].split()[0], "0")
        for s in (w, k):
            self.assertEqual(s["NoNewPrivs"], "1")
            self.assertEqual(s["Seccomp"], "2")     # a filter
        # and the worker cannot reach the key on disk either
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                            "--clear-groups", "cat",
                            str(self.state / "ca" / "ca.key")],
                           capture_output=True)
        self.assertNotEqual(r.returncode, 0)

    def test_killing_the_keeper_stops_the_worker(self):
        up = self.api()
        shim, keeper = self.start_dropped(up, [pin_of(self.pki /
                                                      "leaf.pem")])
        os.kill(keeper, signal.SIGKILL)
        shim.log.wait(r"keeper \(pid %d\) exited: stopping" % keeper)
        self.assertEqual(shim.p.wait(WAIT), 1)
        shim.stopped = True             # it stopped itself, as it should
        shim.out.close()

    def test_killing_the_worker_stops_the_keeper(self):
        up = self.api()
        shim, keeper = self.start_dropped(up, [pin_of(self.pki /
                                                      "leaf.pem")])
        os.kill(shim.p.pid, signal.SIGKILL)
        shim.p.wait(WAIT)
        deadline = time.monotonic() + WAIT
        while not gone(keeper) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(gone(keeper), "the keeper outlived the worker")
        shim.stopped = True
        shim.out.close()

    def test_sigterm_stops_both_cleanly(self):
        up = self.api()
        shim, keeper = self.start_dropped(up, [pin_of(self.pki /
                                                      "leaf.pem")])
        self.assertEqual(shim.stop(signal.SIGTERM), 0)
        deadline = time.monotonic() + WAIT
        while not gone(keeper) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(gone(keeper))
        self.assertNotIn("keeper (pid", shim.log.text())   # no error

    def test_the_keeper_writes_tofu_pins_the_worker_cannot(self):
        up = self.api()
        os.chmod(self.state, 0o755)     # root's, readable by nobody
        shim, keeper = self.start_dropped(up, policy="tofu")
        r = self.curl("https://api.test:%d/" % up)
        self.assertEqual(r.stdout.splitlines()[-1], "200", r.stderr)
        shim.log.wait("keeper: recorded the TOFU pins of api.test")
        st = (self.state / "tofu.pins").stat()
        self.assertEqual(st.st_uid, 0)
        self.assertIn("api.test %s" % pin_of(self.pki / "leaf.pem"),
                      (self.state / "tofu.pins").read_text())
        # the worker itself could not have written there
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                            "--clear-groups", "touch",
                            str(self.state / "x")], capture_output=True)
        self.assertNotEqual(r.returncode, 0)

    def test_the_keeper_keeps_root_but_no_capability(self):
        up = self.api()
        os.chmod(self.state, 0o755)
        shim, keeper = self.start_dropped(up, policy="tofu")
        # it still signs and writes state_dir: neither takes a capability
        r = self.curl("https://api.test:%d/" % up)
        self.assertEqual(r.stdout.splitlines()[-1], "200", r.stderr)
        shim.log.wait("keeper: recorded the TOFU pins of api.test")
        k = status_of(keeper)
        self.assertEqual(k["Uid"].split()[0], "0")
        for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"):
            self.assertEqual(int(k[cap], 16), 0, "%s %s" % (cap, k[cap]))

    def assert_state_dir_refused(self, why):
        """run -t and run both refuse a tofu configuration whose state_dir
        is self.state, dropping to nobody, saying why."""
        self.proxy_port = free_port()
        ini = Path(self.tmp) / "state-dir.ini"
        ini.write_text("[shim]\nuser = nobody\n" + self.proxy_ini(
            443, self.domain("api.test", policy="tofu")).replace(
            "[shim]\n", "", 1))
        for argv in (["run", "-t"], ["run"]):
            r = subprocess.run([*PINSHIM_CMD, *argv, "-c", str(ini)],
                               capture_output=True, text=True, timeout=WAIT)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("state_dir %s: %s" % (self.state, why), r.stderr)

    def test_a_state_dir_root_writes_only_by_capability_is_refused(self):
        os.chown(self.state, self.nobody.pw_uid, self.nobody.pw_gid)
        os.chmod(self.state, 0o755)
        self.assert_state_dir_refused("not writable by its mode for root")

    def test_a_state_dir_the_worker_cannot_read_is_refused_by_the_check(self):
        os.chmod(self.state, 0o700)
        self.assert_state_dir_refused("not readable by user nobody")

    def test_a_reload_cannot_move_what_the_keeper_holds(self):
        up = self.api()
        shim, keeper = self.start_dropped(up, [pin_of(self.pki /
                                                      "leaf.pem")])
        other = Path(self.tmp) / "other-state"
        other.mkdir(mode=0o755)
        shim.ini.write_text(shim.ini.read_text().replace(
            "state_dir = %s\n" % self.state, "state_dir = %s\n" % other))
        os.kill(shim.p.pid, signal.SIGHUP)
        shim.log.wait(r"reload: \[shim\] state_dir, ca_dir, tofu_max, a "
                      r"larger \[feed\] max_size, or another \[feed\] or "
                      r"key set need a restart")
        # still the old configuration, and still intercepting
        r = self.curl("https://api.test:%d/" % up)
        self.assertEqual(r.stdout.splitlines()[-1], "200", r.stderr)
        self.assertFalse(gone(keeper))


class StalledKeeper(FeedTest):
    """The keeper stopped (SIGSTOP) while a feed arrives: tunnels keep
    passing, the worker lives, the stall is reported, and the feed goes in
    force once the keeper answers again, not before (persisted before
    use)."""

    STOPPED = 12        # s: past the 10 s after which the worker used to exit
    LIVENESS = 1.0      # s: a generous bound on one tunnel round trip

    def round_trip(self):
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=WAIT) as s:
            s.sendall(b"ping\n")
            got = s.recv(100)
        self.assertEqual(got, b"gnip\n")
        return time.monotonic() - start

    def status(self, sport):
        return json.loads(urllib.request.urlopen(
            "http://127.0.0.1:%d/status" % sport, timeout=WAIT).read())

    def test_a_stopped_keeper_holds_up_only_the_feed_write(self):
        up, _ = self.api()
        sport = free_port()
        self.publish(1, [self.leaf])
        shim = Shim(self, self.feed_ini(
            up, extra_shim="status = 127.0.0.1:%d" % sport))
        shim.log.wait("feed: version 1 in force")
        keepers = children(shim.p.pid)
        self.assertEqual(len(keepers), 1, keepers)
        keeper = keepers[0]
        self.assertEqual(self.status(sport)["keeper"]["pending"], 0)
        self.round_trip()

        self.publish(2, [self.leaf])
        os.kill(keeper, signal.SIGSTOP)
        self.addCleanup(lambda: gone(keeper) or
                        os.kill(keeper, signal.SIGCONT))
        stopped = time.monotonic()
        self.hup(shim)                  # fetches version 2 at once
        slowest, n = 0.0, 0
        while time.monotonic() - stopped < self.STOPPED:
            slowest = max(slowest, self.round_trip())
            n += 1
            time.sleep(0.05)    # pacing: s_server takes 1000 in all
        self.assertIsNone(shim.p.poll(), "the worker exited")
        print("\n  %d tunnels while the keeper was stopped for %d s, "
              "slowest %.3f s" % (n, self.STOPPED, slowest))
        self.assertLess(slowest, self.LIVENESS)
        # reported, and the feed not in force while it is not written
        shim.log.wait(r"keeper \(pid %d\) has not answered for 5 s "
                      r"\(1 request\(s\) waiting\): relaying goes on"
                      % keeper)
        k = self.status(sport)["keeper"]
        self.assertEqual((k["pid"], k["pending"], k["stalled"]),
                         (keeper, 1, True))
        self.assertGreater(k["oldest_request_seconds"], 5)
        self.assertNotIn("feed: version 2 in force", shim.log.text())
        self.assertEqual(self.status(sport)["feed"]["version"], 1)

        os.kill(keeper, signal.SIGCONT)
        shim.log.wait("feed: version 2 in force")
        shim.log.wait(r"keeper \(pid %d\) answered again, after 1\d\.\d s"
                      % keeper)
        self.assertEqual(self.status(sport)["feed"]["version"], 2)
        self.assertIn(b"version = 2\n", (self.state / "pins.feed")
                      .read_bytes())
        self.round_trip()
        self.assertIsNone(shim.p.poll())

    def test_a_first_use_passes_while_its_record_waits_for_the_keeper(self):
        up, _ = self.api()
        sport = free_port()
        shim = Shim(self, "[shim]\nstate_dir = %s\nstatus = 127.0.0.1:%d\n"
                    % (self.state, sport) + self.ini(
                        "api.test:%d" % up,
                        self.domain("api.test", policy="tofu")))
        keeper = children(shim.p.pid)[0]
        os.kill(keeper, signal.SIGSTOP)
        self.addCleanup(lambda: gone(keeper) or
                        os.kill(keeper, signal.SIGCONT))
        # pinned from memory at once; the record waits for the keeper
        self.assertLess(self.round_trip(), self.LIVENESS)
        v = shim.verdict(listener="api")
        self.assertEqual(v["verdict"], "pass", v)
        self.assertIn("tofu: first use", v["detail"])
        self.assertLess(self.round_trip(), self.LIVENESS)
        self.assertIn("matches the one pinned",
                      shim.verdict(listener="api")["detail"])
        self.assertEqual(self.status(sport)["keeper"]["pending"], 1)
        self.assertFalse((self.state / "tofu.pins").exists())
        os.kill(keeper, signal.SIGCONT)
        shim.log.wait("keeper: recorded the TOFU pins of api.test")
        self.assertIn("api.test %s" % self.leaf,
                      (self.state / "tofu.pins").read_text())
