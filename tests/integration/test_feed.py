"""The signed feed, both sides, against real servers: nginx over HTTPS and
plain HTTP, and Python servers that hang, reset or talk garbage."""

import os
import re
import signal
import socket
import stat
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from harness import (PINSHIM_CMD, WAIT, SServer, Shim, ShimTest, TLSServer,
                     faketime_env, free_port, http_get, nginx, pin_of,
                     refused_silently, s_server, wait_for)

UNRELATED = "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def rfc3339(delta):
    t = datetime.now(timezone.utc) + delta
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def keyid(pub):
    """A key's id as signature lines name it: SHA-256 of the raw public
    key, first 8 bytes in hex."""
    import base64
    import hashlib
    return hashlib.sha256(base64.b64decode(pub[len("ed25519:"):])) \
        .digest()[:8].hex()


def run(*argv, **kw):
    return subprocess.run(PINSHIM_CMD + [str(a) for a in argv],
                          capture_output=True, text=True, **kw)


class FeedTest(ShimTest):
    """A key pair, a docroot served by nginx (HTTPS and plain HTTP), an
    upstream API, and helpers to publish feeds and run the shim."""

    def setUp(self):
        super().setUp()
        t = Path(self.tmp)
        self.state = t / "state"
        self.state.mkdir()
        self.www = t / "www"
        self.www.mkdir()
        for name in ("k1", "k2"):
            r = run("feed", "keygen", t / name)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.k1 = (t / "k1.pub").read_text().strip()
        self.k2 = (t / "k2.pub").read_text().strip()
        self.http_port = free_port()
        self.feed_port, self.nginx = nginx(self, self.pki / "leaf-chain.pem",
                                           self.pki / "leaf.key", self.www,
                                           plain_port=self.http_port)
        self.leaf = pin_of(self.pki / "leaf.pem")
        self.backup = pin_of(self.pki / "backup.pem")

    def body(self, version, pins, expires=timedelta(days=30), extra="",
             meta="", issued=timedelta(0)):
        return """[feed]
version = %d
issued = %s
expires = %s
%s
[domain:api.test]
pins = %s
policy = pin
%s""" % (version, rfc3339(issued), rfc3339(expires), meta,
         ", ".join(pins), extra)

    def sign_unchecked(self, text, key="k1"):
        """Sign with openssl, bypassing `feed sign`'s checks: what a
        publisher's key could sign (an expired body, say)."""
        src = Path(self.tmp) / "raw.body"
        src.write_text(text)
        r = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin",
                            "-inkey", str(Path(self.tmp) / ("%s.key" % key)),
                            "-in", str(src)], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        import base64
        return text.encode() + b"signature = ed25519:" + \
            base64.b64encode(r.stdout) + b"\n"

    def sign(self, text, key="k1", name="pins.feed"):
        src = Path(self.tmp) / ("%s.body" % name)
        src.write_text(text)
        out = Path(self.tmp) / ("%s.signed" % name)
        r = run("feed", "sign", "--key", Path(self.tmp) / ("%s.key" % key),
                src, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        return out.read_bytes()

    served = 0

    def serve(self, data):
        """Put data at /pins.feed with an mtime of its own: nginx's ETag
        is mtime+size, and two same-size feeds in one second would share
        one (a real caveat for publishers; see docs/publishing.md,
        Serving)."""
        FeedTest.served += 1
        tmp = self.www / "pins.feed.new"
        tmp.write_bytes(data)
        t = time.time() - 100000 + FeedTest.served * 7
        os.utime(tmp, (t, t))
        tmp.rename(self.www / "pins.feed")

    def publish(self, version, pins, key="k1", **kw):
        data = self.sign(self.body(version, pins, **kw), key)
        self.serve(data)
        return data

    def feed_ini(self, upstream_port, bootstrap=(UNRELATED,), url=None,
                 fallback=None, keys=None, feed_pins=None, refresh=300,
                 extra_shim="", max_size=None, extra_feed=""):
        url = url or "https://feeds.api.test:%d/pins.feed" % self.feed_port
        feed = "[feed]\nurl = %s\npublic_key = %s\npins = %s\nrefresh = %d\n" \
            % (url, ", ".join(keys or [self.k1]),
               ", ".join(feed_pins or [pin_of(self.pki / "inter.pem")]),
               refresh)
        if fallback:
            feed += "fallback_url = %s\n" % fallback
        if max_size:
            feed += "max_size = %d\n" % max_size
        feed += extra_feed
        shim = "[shim]\nstate_dir = %s\n%s\n" % (self.state, extra_shim)
        return shim + feed + self.ini("api.test:%d" % upstream_port,
                                      self.domain("api.test", bootstrap))

    def rev_server(self, leaf="leaf", port=None, name="s_server"):
        """s_server -rev with leaf's key and the intermediate, on port."""
        return SServer(self, self.pki / ("%s.pem" % leaf),
                       self.pki / ("%s.key" % leaf), self.pki / "inter.pem",
                       extra=("-rev",), port=port, name=name)

    def wait_expired(self, feed):
        """Until the wall clock is past feed's expires (whole seconds)."""
        expires = feed.decode().split("expires = ")[1][:20]
        wait_for(lambda: datetime.now(timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ") > expires, "the clock past " + expires,
            timeout=10, interval=0.2)

    def api(self, leaf="leaf"):
        srv = self.rev_server(leaf)
        return srv.port, srv

    def passes(self, shim, detail=None):
        """A connection through listener api passes (with detail in its
        verdict, if given) and its bytes flow: the verdict."""
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=WAIT) as s:
            s.sendall(b"ping\n")
            got = s.recv(100)
        v = shim.verdict(listener="api")
        self.assertEqual(v["verdict"], "pass", v)
        if detail is not None:
            self.assertIn(detail, v["detail"])
        self.assertEqual(got, b"gnip\n")
        return v

    def refused(self, shim, reason="pin-mismatch"):
        self.assertEqual(refused_silently(self.port), b"")
        v = shim.verdict(listener="api")
        self.assertEqual((v["verdict"], v["reason"]), ("refuse", reason))

    def hup(self, shim):
        os.kill(shim.p.pid, signal.SIGHUP)
        shim.log.wait("SIGHUP: reloading")


class Device(FeedTest):

    def test_feed_is_fetched_persisted_and_used(self):
        up, _ = self.api()
        data = self.publish(1, [self.leaf])
        shim = Shim(self, self.feed_ini(up))
        line = shim.log.wait("feed: version 1 in force")
        self.assertIn("signed by %s (1 of 1 signing, 1 of 1 root)"
                      % keyid(self.k1), line)
        self.assertEqual((self.state / "pins.feed").read_bytes(), data)
        fv = shim.verdict()          # the fetch's own, pinned connection
        self.assertEqual((fv["listener"], fv["detail"]),
                         ("feed", "pin matched an intermediate"))
        self.passes(shim)

    def test_bootstrap_pins_apply_before_the_first_feed(self):
        up, _ = self.api()
        (self.www / "pins.feed").write_text("")   # nothing usable yet
        shim = Shim(self, self.feed_ini(up, bootstrap=[self.leaf]))
        shim.log.wait("no cached feed")
        self.passes(shim)

    def test_live_rotation_by_sighup_then_by_timer(self):
        api = self.rev_server("leaf", name="api1")
        port = api.port
        self.publish(1, [self.leaf])
        shim = Shim(self, self.feed_ini(port, refresh=10))
        shim.log.wait("feed: version 1 in force")
        shim.verdict()
        self.passes(shim)
        pid = shim.p.pid

        # The server rotates to the backup key: refused until the feed
        # says otherwise.
        api.stop()
        api = self.rev_server("backup", port=port, name="api2")
        self.refused(shim)
        self.publish(2, [self.backup])
        self.hup(shim)
        shim.log.wait("feed: version 2 in force")
        shim.verdict()
        self.passes(shim)

        # ... and back, picked up by the refresh timer alone.
        api.stop()
        api = self.rev_server("leaf", port=port, name="api3")
        self.refused(shim)
        self.publish(3, [self.leaf])
        shim.log.wait("feed: version 3 in force", timeout=30)
        shim.verdict()
        self.passes(shim)
        self.assertEqual(shim.p.pid, pid)      # never restarted

    def test_feed_swap_drops_resumable_sessions(self):
        port, _ = s_server(self, self.pki / "leaf.pem", self.pki / "leaf.key",
                           self.pki / "inter.pem", extra=("-www",))
        self.publish(1, [self.leaf])
        shim = Shim(self, self.feed_ini(port, refresh=10))
        shim.log.wait("feed: version 1 in force")
        shim.verdict()

        def session():
            status, body = http_get(self.port)
            self.assertEqual(status, 200)
            v = shim.verdict(listener="api")
            self.assertEqual(v["verdict"], "pass", v)
            return re.search(rb"^(New|Reused), ", body, re.M).group(1)

        self.assertEqual(session(), b"New")
        self.assertEqual(session(), b"Reused")
        # New pins that still match: the session is dropped all the same.
        self.publish(2, [self.leaf, self.backup])
        self.hup(shim)
        shim.log.wait("feed: version 2 in force")
        self.assertEqual(session(), b"New")
        self.assertEqual(session(), b"Reused")
        # Pins the server no longer matches: refused, over a full handshake.
        self.publish(3, [self.backup])
        self.hup(shim)
        shim.log.wait("feed: version 3 in force")
        self.refused(shim)

    def test_unchanged_feed_costs_a_304(self):
        up, _ = self.api()
        self.publish(1, [self.leaf])
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: version 1 in force")
        self.hup(shim)
        shim.log.wait(r"unchanged \(304 Not Modified\)")

    def test_rejections_keep_the_feed_in_force(self):
        up, _ = self.api()
        good = self.publish(5, [self.leaf])
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: version 5 in force")
        shim.verdict()
        cases = []

        tampered = bytearray(self.sign(self.body(6, [UNRELATED])))
        tampered[tampered.index(b"version = 6") + 10] = ord("7")
        cases.append(("tampered byte", bytes(tampered), "bad signature"))
        cases.append(("wrong key", self.sign(self.body(6, [UNRELATED]),
                                             key="k2"), "bad signature"))
        full = self.sign(self.body(6, [UNRELATED]))
        cases.append(("truncated", full[:len(full) // 2],
                      "no signature line at the end"))
        cases.append(("rollback", self.sign(self.body(4, [UNRELATED])),
                      "rollback refused: version 4 is older than 5"))
        cases.append(("garbage body", b"\x00\x01garbage\n" * 10,
                      "no signature line"))
        for name, data, reason in cases:
            with self.subTest(name):
                self.serve(data)
                self.hup(shim)
                line = shim.log.wait("feed: https://")
                self.assertIn(reason, line)
                self.assertIn("keeping the feed in force", line)
                shim.verdict()
                self.passes(shim)       # version 5's pins still apply
        self.assertEqual((self.state / "pins.feed").read_bytes(), good)

        self.serve(self.sign(self.body(5, [UNRELATED])))
        self.hup(shim)
        self.assertIn("unchanged (version 5 is the one in force)",
                      shim.log.wait("feed: https://"))

    def test_expired_feed_is_refused(self):
        up, _ = self.api()
        self.publish(1, [self.leaf])
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: version 1 in force")
        data = self.sign(self.body(2, [UNRELATED],
                                   expires=timedelta(seconds=2)))
        self.serve(data)
        self.wait_expired(data)
        self.hup(shim)
        self.assertIn("version 2 expired at", shim.log.wait("feed: https://"))

    def test_body_over_the_size_cap_is_refused(self):
        up, _ = self.api()
        big = self.body(1, [self.leaf]) + "".join(
            "[domain:h%d.test]\npolicy = ca\n" % i for i in range(200))
        self.serve(self.sign(big))
        shim = Shim(self, self.feed_ini(up, max_size=2048,
                                        bootstrap=[UNRELATED]))
        self.assertIn("larger than the size limit",
                      shim.log.wait("feed: https://"))

    def misbehaving(self, handler, tls=True):
        srv = TLSServer(self, self.pki / "leaf-chain.pem",
                        self.pki / "leaf.key", handler, tls=tls)
        return "https://feeds.api.test:%d/pins.feed" % srv.port

    def test_feed_server_that_hangs_resets_or_talks_garbage(self):
        up, _ = self.api()
        release = threading.Event()
        self.addCleanup(release.set)

        def hang(conn):
            conn.recv(4096)
            release.wait(WAIT)

        def reset(conn):
            import struct
            conn.recv(4096)
            raw = socket.socket(fileno=os.dup(conn.fileno()))
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                           struct.pack("ii", 1, 0))
            raw.close()

        def garbage(conn):
            conn.recv(4096)
            conn.sendall(b"\x16\x03garbage that is not HTTP\r\n\r\n")

        for name, handler, reason in (("hang", hang, "timed out"),
                                      ("reset", reset,
                                       "connection closed in the response"),
                                      ("garbage", garbage,
                                       "not an HTTP response")):
            with self.subTest(name):
                url = self.misbehaving(handler)
                ini = self.feed_ini(up, url=url, bootstrap=[self.leaf])
                ini = ini.replace("refresh = 300", "refresh = 300\n"
                                  "timeout = 2")
                shim = Shim(self, ini, name="pinshim-%s" % name)
                line = shim.log.wait("feed: https://", timeout=WAIT)
                self.assertIn(reason, line)
                self.assertIn("bootstrap pins stay", line)
                shim.verdict()          # the feed connection's own
                self.passes(shim)       # bootstrap pins still serve
                shim.stop()

    def test_hung_feed_server_leaves_no_connection_behind(self):
        up, _ = self.api()
        release = threading.Event()
        self.addCleanup(release.set)
        url = self.misbehaving(lambda conn: (conn.recv(4096),
                                             release.wait(WAIT)))
        ini = self.feed_ini(up, url=url, bootstrap=[self.leaf]).replace(
            "refresh = 300", "refresh = 300\ntimeout = 1")
        shim = Shim(self, ini)

        def fds():
            return len(os.listdir("/proc/%d/fd" % shim.p.pid))

        shim.log.wait("timed out")
        base = fds()    # the timed-out socket may close just after the line
        for _ in range(4):
            self.hup(shim)
            shim.log.wait("timed out")
        self.assertLessEqual(fds(), base)   # a leak would add one a fetch

    def test_primary_down_fallback_serves(self):
        up, _ = self.api()
        self.publish(1, [self.leaf])
        dead = free_port()
        shim = Shim(self, self.feed_ini(
            up, url="https://feeds.api.test:%d/pins.feed" % dead,
            fallback="http://feeds.api.test:%d/pins.feed" % self.http_port))
        self.assertIn("connect-failed", shim.log.wait("feed: https://"))
        line = shim.log.wait("feed: version 1 in force")
        self.assertIn("from http://feeds.api.test", line)
        shim.verdict()
        shim.verdict()
        self.passes(shim)

    def test_restart_with_feed_server_down_uses_the_cache(self):
        up, _ = self.api()
        self.publish(1, [self.leaf])
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: version 1 in force")
        shim.stop()
        self.nginx.stop()
        shim = Shim(self, self.feed_ini(up), name="pinshim2")
        shim.log.wait("feed: cached version 1 in force")
        self.passes(shim)
        self.assertIn("connect-failed", shim.log.wait("feed: https://"))

    def test_tampered_cache_is_rejected_at_start(self):
        up, _ = self.api()
        data = bytearray(self.sign(self.body(1, [UNRELATED])))
        data[data.index(b"version = 1") + 10] = ord("9")
        (self.state / "pins.feed").write_bytes(bytes(data))
        (self.www / "pins.feed").write_text("")
        shim = Shim(self, self.feed_ini(up, bootstrap=[self.leaf]))
        line = shim.log.wait("cached feed rejected")
        self.assertIn("bad signature", line)
        self.assertIn("bootstrap pins apply", line)
        self.passes(shim)

    def test_rollback_refused_even_when_no_feed_is_in_force(self):
        up, _ = self.api()
        # Version 5 was accepted once; its cache is now corrupt on disk.
        (self.state / "pins.version").write_text("5\n")
        (self.state / "pins.feed").write_bytes(b"garbage\n")
        self.publish(3, [UNRELATED])        # older, but validly signed
        shim = Shim(self, self.feed_ini(up, bootstrap=[self.leaf]))
        shim.log.wait("cached feed rejected")
        line = shim.log.wait("feed: https://")
        self.assertIn("rollback refused: version 3 is older than 5", line)
        self.passes(shim)                   # bootstrap pins, not v3's
        self.publish(6, [self.leaf])
        self.hup(shim)
        shim.log.wait("feed: version 6 in force")
        self.assertEqual((self.state / "pins.version").read_text(), "6\n")

    def test_partial_temp_file_from_a_crash_never_corrupts_the_cache(self):
        up, _ = self.api()
        good = self.sign(self.body(1, [self.leaf]))
        (self.state / "pins.feed").write_bytes(good)
        # What a crash between write and rename leaves behind (the
        # temp names of this version and of the one before).
        (self.state / ".pins.feed.abcdefgh").write_bytes(good[:40])
        (self.state / "pins.feed.tmp").write_bytes(good[:40])
        self.nginx.stop()
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: cached version 1 in force")
        self.passes(shim)
        shim.stop()
        # The next good feed replaces both, whole.
        self.nginx = None
        port, _ = nginx(self, self.pki / "leaf-chain.pem",
                        self.pki / "leaf.key", self.www, name="nginx2")
        new = self.publish(2, [self.leaf])
        shim = Shim(self, self.feed_ini(
            up, url="https://feeds.api.test:%d/pins.feed" % port),
            name="pinshim2")
        shim.log.wait("feed: version 2 in force")
        self.assertEqual((self.state / "pins.feed").read_bytes(), new)
        self.assertFalse((self.state / "pins.feed.tmp").exists())
        self.assertFalse((self.state / ".pins.feed.abcdefgh").exists())

    def test_stale_feed_stays_in_force_loudly(self):
        up, _ = self.api()
        data = self.sign(self.body(1, [self.leaf],
                                   expires=timedelta(seconds=2)))
        (self.state / "pins.feed").write_bytes(data)
        self.nginx.stop()
        self.wait_expired(data)
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: cached version 1 in force")
        shim.log.wait("STALE: version 1 expired")
        self.passes(shim)

    def test_an_accepted_feed_forgets_the_other_sources_validators(self):
        """v1 comes from url, v2 from the fallback while url is down; when
        url is back still serving v1, the ETag it gave for v1 must not be
        sent: its 304 would call a stale source current."""
        up, _ = self.api()
        self.publish(1, [self.leaf])
        fb = Path(self.tmp) / "fb"
        fb.mkdir()
        fb_port = free_port()
        _, fb_nginx = nginx(self, self.pki / "leaf-chain.pem",
                            self.pki / "leaf.key", fb, name="nginx-fb",
                            plain_port=fb_port)
        shim = Shim(self, self.feed_ini(
            up, fallback="http://127.0.0.1:%d/pins.feed" % fb_port,
            extra_shim="log_level = debug"))
        shim.log.wait("feed: version 1 in force from https://")
        v1 = (self.www / "pins.feed").read_bytes()
        (fb / "pins.feed").write_bytes(self.sign(self.body(2, [self.leaf]),
                                                 name="v2"))
        self.nginx.stop()                       # url down: fallback serves
        self.hup(shim)
        shim.log.wait("feed: version 2 in force from http://127.0.0.1")
        port, _ = nginx(self, self.pki / "leaf-chain.pem",
                        self.pki / "leaf.key", self.www, name="nginx-back")
        self.assertEqual((self.www / "pins.feed").read_bytes(), v1)
        self.assertNotEqual(port, self.feed_port)  # a new port: new url
        shim.ini.write_text(shim.ini.read_text().replace(
            ":%d/pins.feed" % self.feed_port, ":%d/pins.feed" % port))
        self.hup(shim)
        line = shim.log.wait("feed: https://feeds.api.test:%d" % port)
        self.assertIn("version 1 is older", line)   # fetched whole: no 304

    def test_rollback_floor_holds_at_start(self):
        """A validly signed old feed copied over the cache is refused at
        start when pins.version says a newer one was accepted."""
        up, _ = self.api()
        (self.state / "pins.version").write_text("30\n")
        (self.state / "pins.feed").write_bytes(
            self.sign(self.body(5, [self.leaf])))
        self.nginx.stop()
        shim = Shim(self, self.feed_ini(up))
        line = shim.log.wait("feed: cached feed rejected")
        self.assertIn("rollback refused: version 5 is older than 30", line)
        self.refused(shim)          # bootstrap pins (UNRELATED), not v5's

    def test_damaged_floor_file_is_said_loudly(self):
        up, _ = self.api()
        (self.state / "pins.version").write_text("9" * 100 + "\n")
        (self.state / "pins.feed").write_bytes(
            self.sign(self.body(5, [self.leaf])))
        self.nginx.stop()
        shim = Shim(self, self.feed_ini(up))
        self.assertIn("pins.version: File too large",
                      shim.log.wait("rollback floor"))
        shim.log.wait("feed: cached version 5 in force")

    def test_304_from_the_fallback_cannot_freeze_rotation(self):
        """The primary is down; the plain-HTTP fallback answers every
        request 304. An unconditional 304 is refused, a stale feed is
        still called STALE, and the backoff keeps its short steps."""
        up, _ = self.api()
        expired = self.sign_unchecked(self.body(
            1, [self.leaf], issued=timedelta(days=-2),
            expires=timedelta(seconds=-60)))
        (self.state / "pins.feed").write_bytes(expired)
        self.nginx.stop()
        seen = []

        def not_modified(conn):
            seen.append(conn.recv(4096))
            conn.sendall(b"HTTP/1.1 304 Not Modified\r\n\r\n")

        srv = TLSServer(self, None, None, not_modified, tls=False)
        shim = Shim(self, self.feed_ini(
            up, fallback="http://127.0.0.1:%d/pins.feed" % srv.port,
            extra_shim="log_level = debug"))
        line = shim.log.wait("feed: http://127.0.0.1")
        self.assertIn("304 Not Modified to a request that was not "
                      "conditional", line)
        self.assertNotIn(b"If-None-Match", seen[0])
        shim.log.wait("STALE: version 1 expired")
        nxt = shim.log.wait("feed: next fetch in")
        self.assertLessEqual(int(nxt.split("next fetch in ")[1]
                                 .split("s")[0]), 15)

    def test_planted_temp_symlink_is_never_written_through(self):
        up, _ = self.api()
        victim = Path(self.tmp) / "victim"
        victim.write_text("precious\n")
        for name in ("pins.feed.tmp", "pins.version.tmp"):
            (self.state / name).symlink_to(victim)
        self.publish(1, [self.leaf])
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("removed temporary files")    # planted before start
        shim.log.wait("feed: version 1 in force")
        # planted while running, at the names the old writer used
        for name in ("pins.feed.tmp", "pins.version.tmp"):
            (self.state / name).symlink_to(victim)
        self.publish(2, [self.leaf])
        self.hup(shim)
        shim.log.wait("feed: version 2 in force")
        self.assertEqual(victim.read_text(), "precious\n")
        self.assertFalse((self.state / "pins.feed").is_symlink())
        self.assertEqual((self.state / "pins.version").read_text(), "2\n")
        self.assertEqual(sorted(p.name for p in self.state.iterdir()),
                         ["clock", "pins.feed", "pins.feed.tmp",
                          "pins.version", "pins.version.tmp"])

    def test_a_burst_of_sighups_is_one_reload(self):
        """Signals that arrive while a reload runs coalesce into one more
        reload, not one each (a big cached feed keeps each reload busy
        re-verifying it)."""
        up, _ = self.api()
        rules = "".join("[domain:h%d.test]\npins = %s\n\n" % (i, self.leaf)
                        for i in range(12000))
        big = self.sign(self.body(1, [self.leaf], extra="\n" + rules))
        self.assertLess(len(big), 1024 * 1024)
        (self.state / "pins.feed").write_bytes(big)
        self.nginx.stop()
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: cached version 1 in force: 12001 host rule")
        os.kill(shim.p.pid, signal.SIGHUP)
        shim.log.wait("SIGHUP: reloading")
        for _ in range(20):
            os.kill(shim.p.pid, signal.SIGHUP)
            time.sleep(0.001)   # one delivery each, not merged by the kernel
        # every reload that started has finished (the log says each)
        wait_for(lambda: shim.log.text().count("SIGHUP: reloading") ==
                 shim.log.text().count("reload: 1 domain rule"),
                 lambda: shim.log.text()[-2000:])
        self.passes(shim)
        reloads = shim.log.text().count("SIGHUP: reloading")
        self.assertLessEqual(reloads, 5)

    def test_ipv6_literal_feed_url_is_fetched(self):
        """https://[::1]:PORT/ passes the config check and is fetched
        (the host is the address, checked against the certificate's IP
        SAN), instead of failing every fetch as an unusable URL."""
        import http.server
        import ssl
        try:
            probe = socket.socket(socket.AF_INET6)
            probe.bind(("::1", 0))
            probe.close()
        except OSError as e:
            self.skipTest("no IPv6 loopback here: %s" % e)
        up, _ = self.api()
        data = self.sign(self.body(1, [self.leaf]))

        class V6(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6

        class Feed(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        srv = V6(("::1", 0), Feed)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.pki / "ip-chain.pem"),
                            str(self.pki / "ip.key"))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        url = "https://[::1]:%d/pins.feed" % srv.server_address[1]
        shim = Shim(self, self.feed_ini(up, url=url))
        import re
        shim.log.wait(re.escape("feed: version 1 in force from %s" % url))
        self.passes(shim)

    def test_second_public_key_accepts_a_feed_signed_by_it(self):
        up, _ = self.api()
        self.publish(1, [self.leaf], key="k2")
        shim = Shim(self, self.feed_ini(up, keys=[self.k1, self.k2]))
        self.assertIn("signed by %s " % keyid(self.k2),
                      shim.log.wait("feed: version 1 in force"))
        shim.verdict()
        self.passes(shim)

    def test_device_override_turns_pinning_off_for_that_device_only(self):
        up, _ = self.api(leaf="rogue")   # a tester's interception CA
        extra = "\n[device:lab-phone]\npinning = off\n"
        self.publish(1, [self.leaf], extra=extra)
        shim = Shim(self, self.feed_ini(up, extra_shim="device_id = gw-1"))
        shim.log.wait("feed: version 1 in force")
        shim.verdict()
        self.refused(shim)
        lab = Shim(self, self.feed_ini(up, extra_shim="device_id = lab-phone")
                   .replace("bind = 127.0.0.1:%d" % self.port,
                            "bind = 127.0.0.1:%d" % (port := free_port())),
                   name="lab")
        lab.log.wait("device lab-phone has pinning off")
        lab.verdict()
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=WAIT) as s:
            s.sendall(b"ping\n")
            self.assertEqual(s.recv(100), b"gnip\n")
        self.assertEqual(lab.verdict(listener="api")["policy"], "ca")


class Clock(FeedTest):
    """The latest known time: a clock set back, or a gateway that boots at
    1970, cannot make an expired feed or certificate valid again."""

    def known_time(self, delta=timedelta(0)):
        (self.state / "clock").write_text(rfc3339(delta) + "\n")

    def test_clock_set_back_does_not_revive_an_expired_feed(self):
        # A feed that expired yesterday, served (a mirror gone stale) to
        # a device whose clock was set back a month; an earlier run of
        # pinshim accepted a feed issued now, and recorded that time.
        up, _ = self.api()
        self.known_time()       # first: not past the feed's issued
        (self.state / "pins.feed").write_bytes(
            self.sign(self.body(1, [UNRELATED])))
        self.serve(self.sign_unchecked(self.body(
            2, [self.leaf], issued=timedelta(days=-40),
            expires=timedelta(days=-1))))
        shim = Shim(self, self.feed_ini(up), env=faketime_env(
            datetime.now(timezone.utc) - timedelta(days=30)))
        line = shim.log.wait("feed: https://")
        self.assertIn("version 2 expired at", line)
        self.assertIn("is behind the latest known time",
                      shim.log.wait("clock: the system clock"))
        self.refused(shim)      # version 1 stays in force

    def test_certificates_are_judged_at_the_latest_known_time(self):
        # A gateway at 1970 (no RTC, no NTP yet): by its clock the API's
        # certificate is not valid yet; by the time an earlier run knew,
        # it is. No feed server answers.
        up, _ = self.api()
        self.known_time()
        shim = Shim(self, self.feed_ini(
            up, bootstrap=(self.leaf,),
            url="https://feeds.api.test:%d/pins.feed" % free_port()),
            env=faketime_env(datetime(1970, 1, 2, tzinfo=timezone.utc)))
        self.passes(shim)
        self.assertIn("(1970-01-02T", shim.log.wait("clock: the system"))

    def test_accepted_feed_records_the_latest_known_time(self):
        # the feed's issued time, which its signature attests; not the
        # system clock's, an hour ahead
        up, _ = self.api()
        data = self.publish(1, [self.leaf])
        issued = re.search(rb"^issued = (\S+)$", data, re.M).group(1)
        shim = Shim(self, self.feed_ini(up), env=faketime_env(
            datetime.now(timezone.utc) + timedelta(hours=1)))
        shim.log.wait("feed: version 1 in force")
        self.assertEqual((self.state / "clock").read_bytes(),
                         issued + b"\n")
        self.passes(shim)

    def short_lived_api(self):
        """An API whose certificate expires in 30 days (a valid one,
        refused cert-expired by a device that thinks it is later), and a
        feed pinning it that expires in 90."""
        up, _ = self.api(leaf="short")
        data = self.publish(1, [pin_of(self.pki / "short.pem")],
                            expires=timedelta(days=90))
        return up, data

    def passes_at_a_signed_time(self, shim):
        """The short-lived certificate passes, and state_dir/clock holds
        no time past now: the feed's issued, not a clock's claim."""
        self.passes(shim)
        self.assertLessEqual((self.state / "clock").read_text().strip(),
                             rfc3339(timedelta(0)))

    def test_a_clock_that_ran_ahead_is_forgotten_once_corrected(self):
        # 60 days ahead for a while: the feed is accepted, and what the
        # device persists is the feed's issued time, not its clock's.
        up, _ = self.short_lived_api()
        ahead = Shim(self, self.feed_ini(up), name="ahead", env=faketime_env(
            datetime.now(timezone.utc) + timedelta(days=60)))
        ahead.log.wait("feed: version 1 in force")
        self.assertEqual(ahead.stop(), 0)
        # The clock is right again and pinshim restarts: the API's
        # certificate is valid, not cert-expired.
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: cached version 1 in force")
        self.passes_at_a_signed_time(shim)

    def test_a_persisted_time_past_every_signed_one_is_dropped(self):
        # The cached feed was issued now; state_dir/clock says later: what
        # an older pinshim wrote while the clock ran 60 days ahead, or a
        # compromised worker ratcheting a day per save (2136). Not
        # evidence: dropped, and valid certificates pass.
        up, data = self.short_lived_api()
        self.nginx.stop()
        for i, ahead in enumerate((60, 40000)):
            with self.subTest(days_ahead=ahead):
                (self.state / "pins.feed").write_bytes(data)
                self.known_time(timedelta(days=ahead))
                shim = Shim(self, self.feed_ini(up), name="run%d" % i)
                shim.log.wait("feed: cached version 1 in force")
                self.passes_at_a_signed_time(shim)
                self.assertIn("past the cached feed's issued time",
                              shim.log.wait("clock: .*/clock says"))
                self.assertEqual(shim.stop(), 0)

    def test_a_newer_signed_feed_replaces_a_persisted_time(self):
        # No cached feed to check the file against: it stands (up to a
        # day past the system clock) until a signed feed is accepted,
        # whose issued time replaces it, lower or not.
        up, _ = self.short_lived_api()
        self.known_time(timedelta(days=60))
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: version 1 in force")
        self.passes_at_a_signed_time(shim)


class Publisher(FeedTest):

    def test_keygen_writes_0600_key_and_pasteable_pub(self):
        key = Path(self.tmp) / "k1.key"
        self.assertEqual(stat.S_IMODE(key.stat().st_mode), 0o600)
        self.assertRegex(self.k1, r"^ed25519:[A-Za-z0-9+/]{43}=$")
        # openssl reads the key and derives the same public half
        der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout",
                              "-outform", "der"], check=True,
                             capture_output=True).stdout
        import base64
        self.assertEqual("ed25519:" + base64.b64encode(der[-32:]).decode(),
                         self.k1)
        r = run("feed", "keygen", Path(self.tmp) / "k1")
        self.assertEqual(r.returncode, 1)      # never overwrites a key
        self.assertIn("File exists", r.stderr)

    def test_sign_output_never_writes_through_a_planted_symlink(self):
        """The old writer used OUT.tmp, a name anyone could plant."""
        victim = Path(self.tmp) / "victim"
        victim.write_text("precious\n")
        out = Path(self.tmp) / "out" / "pins.feed"
        out.parent.mkdir()
        (out.parent / "pins.feed.tmp").symlink_to(victim)
        src = Path(self.tmp) / "s.body"
        src.write_text(self.body(1, [self.leaf]))
        r = run("feed", "sign", "--key", Path(self.tmp) / "k1.key", src,
                "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(victim.read_text(), "precious\n")
        self.assertFalse(out.is_symlink())
        self.assertIn("\nsignature = %s ed25519:" % keyid(self.k1),
                      out.read_text())
        self.assertEqual(sorted(p.name for p in out.parent.iterdir()),
                         ["pins.feed", "pins.feed.tmp"])   # no leftover

    def test_sign_refuses_a_bad_body_with_file_line(self):
        src = Path(self.tmp) / "bad.body"
        src.write_text(self.body(1, ["sha256/nope"]) + "[listen:x]\n")
        r = run("feed", "sign", "--key", Path(self.tmp) / "k1.key", src)
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:7: [domain:api.test] pins: not a sha256/ pin"
                      % src, r.stderr)
        self.assertIn("%s:9: [listen:x]: unknown section in a feed" % src,
                      r.stderr)
        self.assertEqual(r.stdout, "")

    def test_verify_accepts_only_complete_correctly_signed_files(self):
        data = self.sign(self.body(3, [self.leaf]))
        f = Path(self.tmp) / "v.feed"
        f.write_bytes(data)
        pub = Path(self.tmp) / "k1.pub"
        r = run("feed", "verify", "--pubkey", pub, f)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("version 3", r.stdout)
        self.assertIn("hosts 1", r.stdout)
        self.assertIn("expires ", r.stdout)
        r = run("feed", "verify", "--pubkey", self.k2, f)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad signature", r.stderr)
        f.write_bytes(data[:-10])
        r = run("feed", "verify", "--pubkey", pub, f)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no signature line", r.stderr)
        f.write_bytes(data.replace(b"version = 3", b"version = 4"))
        r = run("feed", "verify", "--pubkey", pub, f)
        self.assertEqual(r.returncode, 1)

    def test_signed_file_is_readable_text(self):
        data = self.sign(self.body(3, [self.leaf])).decode()
        self.assertIn("[domain:api.test]\npins = %s" % self.leaf, data)
        self.assertRegex(data.splitlines()[-1],
                         r"^signature = %s ed25519:[A-Za-z0-9+/]{86}==$"
                         % keyid(self.k1))


class Reports(FeedTest):
    """report_url: certificate refusals are POSTed as JSON, rate-limited."""

    def collector(self, answer=b"HTTP/1.1 204 No Content\r\n\r\n"):
        import json
        got = []

        def handle(conn):
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return None
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                          if l.lower().startswith(b"content-length")][0])
            while len(body) < length:
                body += conn.recv(4096)
            got.append((head.split(b"\r\n")[0].decode(),
                        json.loads(body.decode())))
            conn.sendall(answer)
            return None

        srv = TLSServer(self, self.pki / "leaf-chain.pem",
                        self.pki / "leaf.key", handle)
        return srv, got

    def test_a_collector_answering_with_a_body_counts_as_delivered(self):
        srv, got = self.collector(b"HTTP/1.1 200 OK\r\nContent-Length: 2"
                                  b"\r\n\r\n{}")
        up, _ = self.api(leaf="rogue")
        url = "https://feeds.api.test:%d/report" % srv.port
        self.publish(3, [self.leaf], meta="report_url = %s\n" % url)
        shim = Shim(self, self.feed_ini(up))
        shim.log.wait("feed: version 3 in force")
        self.refused(shim)
        shim.log.wait(r"report: delivered \(HTTP 200\)")
        self.assertEqual(len(got), 1)

    def test_pin_failure_is_reported_once_per_host_window(self):
        srv, got = self.collector()
        up, _ = self.api(leaf="rogue")
        url = "https://feeds.api.test:%d/report" % srv.port
        self.publish(3, [self.leaf], meta="report_url = %s\n" % url)
        sport = free_port()
        shim = Shim(self, self.feed_ini(up, extra_shim="device_id = gw-7\n"
                                        "status = 127.0.0.1:%d" % sport))
        shim.log.wait("feed: version 3 in force")
        self.refused(shim)
        shim.log.wait(r"report: delivered \(HTTP 204\)")
        self.assertEqual(len(got), 1)
        line, reps = got[0]
        self.assertEqual(line, "POST /report HTTP/1.0")
        rep = reps[0]["body"]            # a W3C Reporting API batch
        self.assertEqual(rep["verdict"], "refuse")
        self.assertEqual((rep["device_id"], rep["host"], rep["reason"],
                          rep["listener"], rep["feed_version"]),
                         ("gw-7", "api.test", "pin-mismatch", "api", 3))
        self.assertIn(pin_of(self.pki / "rogue.pem"), rep["presented"])
        self.assertEqual(rep["anchor"], pin_of(self.pki / "rogue-root.pem"))
        # the same host again within the window: counted, not sent
        self.refused(shim)
        self.refused(shim)
        shim.log.wait(r"report: rate-limited \(host api.test, 1 suppressed")
        shim.log.wait(r"report: rate-limited \(host api.test, 2 suppressed")
        self.assertEqual(len(got), 1)
        # and /metrics counts it all
        from test_status import scrape, value
        m = scrape(sport)
        for outcome, n in (("queued", 1), ("delivered", 1), ("failed", 0),
                           ("suppressed", 2)):
            self.assertEqual(value(m, "pinshim_reports_total",
                                   outcome=outcome), n, outcome)
        self.assertEqual(value(m, "pinshim_verdicts_total", listener="api",
                               policy="pin", verdict="refuse",
                               reason="pin-mismatch"), 3)
        self.assertEqual(value(m, "pinshim_verdicts_total",
                               listener="report", policy="ca",
                               verdict="pass", reason="ok"), 1)
