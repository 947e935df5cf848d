"""Stops that never truncate silently: on SIGTERM and on the keeper's
death (killed, or kill -9), pinshim closes its listeners, lets relays
finish within [shim] shutdown_timeout and resets the rest; an upstream
that closes without close_notify reaches the app as a reset, or as a FIN
with [upstream] truncation = close. Every stream here is unframed (bytes
until the close), so the app has nothing but the close to tell a whole
stream from a cut one."""

import os
import signal
import socket
import threading
import time

from harness import WAIT, Shim, ShimTest, TLSServer, fields, pin_of
from test_privsep import children

HEAD = 256 * 1024           # sent at once: the stream is flowing
TAIL = 1024 * 1024          # sent once released, then close_notify
CHUNK = 16 * 1024
DRAIN = 5                   # shutdown_timeout: a liveness bound for TAIL


class Streams(ShimTest):
    """8 apps each read one unframed stream through a tunnel: even ones
    end (HEAD, then TAIL once released, then close_notify), odd ones never
    do (the server sends until the shim resets it)."""

    N = 8

    def setUp(self):
        super().setUp()
        self.release = threading.Event()
        self.up = TLSServer(self, self.pki / "leaf-chain.pem",
                            self.pki / "leaf.key", self.stream)
        self.addCleanup(self.release.set)

    def stream(self, conn):
        kind = conn.recv(1)
        block = b"x" * CHUNK
        sent = 0
        if kind == b"F":
            while sent < HEAD:
                conn.sendall(block)
                sent += CHUNK
            self.release.wait(2 * WAIT)
            while sent < HEAD + TAIL:
                conn.sendall(block)
                sent += CHUNK
            conn.unwrap()               # close_notify: a whole stream
            return sent
        try:
            while True:
                conn.sendall(block)
                sent += CHUNK
                if sent > HEAD:         # flowing: now at a gentle pace
                    time.sleep(0.005)
        except OSError:
            return sent

    def start(self, state_dir=False, extra=""):
        shim = "[shim]\nshutdown_timeout = %d\n%s" % (DRAIN, extra)
        if state_dir:                   # a keeper runs with a state_dir
            shim += "state_dir = %s\n" % self.tmp
        ini = shim + "\n" + self.ini("api.test:%d" % self.up.port,
                                     self.domain("api.test", [
                                         pin_of(self.pki / "leaf.pem")]))
        return Shim(self, ini)

    def apps(self):
        """Start the 8 apps; wait until each has bytes flowing."""
        self.got = [None] * self.N
        flowing = [threading.Event() for _ in range(self.N)]

        def app(i):
            n, end = 0, None
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=4 * WAIT) as s:
                    s.sendall(b"F" if i % 2 == 0 else b"E")
                    while True:
                        data = s.recv(65536)
                        if not data:
                            end = "eof"
                            break
                        n += len(data)
                        flowing[i].set()
            except ConnectionResetError:
                end = "reset"
            except OSError as e:
                end = repr(e)
            self.got[i] = (n, end)
            flowing[i].set()

        threads = [threading.Thread(target=app, args=(i,), daemon=True)
                   for i in range(self.N)]
        for t in threads:
            t.start()
        for f in flowing:
            self.assertTrue(f.wait(WAIT))
        self.assertEqual(self.got, [None] * self.N)   # none ended yet
        return threads

    def check_drained(self, shim, threads):
        """The listener is closed; the finished streams came whole, the
        unfinished ones were reset, none ended clean and short."""
        shim.log.wait(r"shutdown: listeners closed; 8 relayed "
                      r"connection\(s\) may finish within %ds" % DRAIN)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
        self.release.set()
        for t in threads:
            t.join(4 * WAIT)
        for i, (n, end) in enumerate(self.got):
            if i % 2 == 0:
                self.assertEqual((n, end), (HEAD + TAIL, "eof"), i)
            else:
                self.assertEqual(end, "reset", (i, n))
        shim.log.wait(r"shutdown: 4 connection\(s\) still relaying after "
                      r"%ds \(shutdown_timeout\): resetting them" % DRAIN)
        shim.p.wait(WAIT)
        closes = [fields(l) for l in shim.log.text().splitlines()
                  if " close listener=" in l]
        hows = sorted(c["how"] for c in closes)
        self.assertEqual(hows, ["closed"] * 4 + ["shutting down"] * 4)

    def test_sigterm_drains_then_resets(self):
        shim = self.start()
        threads = self.apps()
        shim.p.send_signal(signal.SIGTERM)
        self.check_drained(shim, threads)
        self.assertEqual(shim.stop(), 0)

    def keeper_dies(self, sig):
        shim = self.start(state_dir=True)
        keeper, = children(shim.p.pid)
        threads = self.apps()
        os.kill(keeper, sig)
        shim.log.wait(r"keeper \(pid %d\) exited: stopping" % keeper)
        self.check_drained(shim, threads)
        self.assertEqual(shim.p.returncode, 1)
        shim.stopped = True             # it stopped itself, as it should
        shim.out.close()

    def test_keeper_killed_drains_then_resets(self):
        # the keeper ignores SIGTERM (it is the worker's); any signal it
        # does not handle is a death
        self.keeper_dies(signal.SIGUSR1)

    def test_keeper_kill_9_drains_then_resets(self):
        self.keeper_dies(signal.SIGKILL)

    def test_second_sigterm_resets_at_once(self):
        shim = self.start()
        threads = self.apps()
        shim.p.send_signal(signal.SIGTERM)
        shim.log.wait(r"shutdown: listeners closed")
        shim.p.send_signal(signal.SIGTERM)
        shim.log.wait(r"shutdown: stopping again: resetting 8 "
                      r"connection\(s\) now")
        for t in threads:
            t.join(4 * WAIT)
        self.assertEqual([end for _, end in self.got], ["reset"] * 8)
        self.assertEqual(shim.stop(), 0)


class Truncation(ShimTest):
    """An upstream that closes without close_notify."""

    def setUp(self):
        super().setUp()

        def cut(conn):
            conn.recv(1)
            conn.sendall(b"partial")
            # returns: the harness closes the socket, no close_notify

        self.up = TLSServer(self, self.pki / "leaf-chain.pem",
                            self.pki / "leaf.key", cut)

    def fetch(self, extra_upstream=""):
        shim = Shim(self, self.ini("api.test:%d" % self.up.port,
                                   self.domain("api.test", [
                                       pin_of(self.pki / "leaf.pem")]),
                                   extra_upstream=extra_upstream))
        got, end = b"", None
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=WAIT) as s:
            s.sendall(b"?")
            try:
                while True:
                    data = s.recv(100)
                    if not data:
                        end = "eof"
                        break
                    got += data
            except ConnectionResetError:
                end = "reset"
        return shim, got, end

    def test_reaches_the_app_as_a_reset_after_its_bytes(self):
        shim, got, end = self.fetch()
        self.assertEqual((got, end), (b"partial", "reset"))
        self.assertEqual(shim.closed()["how"],
                         "closed without close_notify by upstream")

    def test_truncation_close_passes_the_fin_on(self):
        shim, got, end = self.fetch("truncation = close\n")
        self.assertEqual((got, end), (b"partial", "eof"))
        self.assertEqual(shim.closed()["how"],
                         "closed, upstream without close_notify")
