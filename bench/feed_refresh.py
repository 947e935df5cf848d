"""Bytes on the wire of a feed refresh: a full fetch (200) and unchanged
ones (304), the first over a full TLS handshake, the next over a resumed
session, counted by a TCP proxy between pinshim and nginx.

    BUILD=build /usr/bin/python3 bench/feed_refresh.py
"""

import socket
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" /
                       "integration"))
import harness  # noqa: E402
from bench import Ctx  # noqa: E402


class CountingProxy(threading.Thread):
    def __init__(self, target):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.target = target
        self.conns = []
        self.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            rec = {"up": 0, "down": 0, "done": threading.Event()}
            self.conns.append(rec)
            a = threading.Thread(target=self.pump, args=(c, u, rec, "up"))
            b = threading.Thread(target=self.pump, args=(u, c, rec, "down"))
            a.start()
            b.start()
            threading.Thread(target=lambda: (a.join(), b.join(),
                                             rec["done"].set()),
                             daemon=True).start()

    @staticmethod
    def pump(src, dst, rec, key):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                rec[key] += len(data)
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main():
    tmp = tempfile.mkdtemp(prefix="pinshim-feedbench-")
    ctx = Ctx(tmp)
    try:
        pki = harness.pki()
        t = Path(tmp)
        (t / "www").mkdir()
        (t / "state").mkdir()
        pin = harness.pin_of(pki / "leaf.pem")
        import subprocess
        subprocess.run([str(harness.PINSHIM), "feed", "keygen", t / "k"],
                       check=True, capture_output=True)
        body = t / "body"
        body.write_text("[feed]\nversion = 1\nissued = 2026-01-01T00:00:00Z\n"
                        "expires = 2099-01-01T00:00:00Z\n" +
                        "".join("[domain:host%d.example]\npins = %s, %s\n\n"
                                % (i, pin, pin) for i in range(20)))
        subprocess.run([str(harness.PINSHIM), "feed", "sign", "--key",
                        t / "k.key", body, "-o", t / "www" / "pins.feed"],
                       check=True, capture_output=True)
        size = (t / "www" / "pins.feed").stat().st_size
        up, _ = harness.nginx(ctx, pki / "leaf-chain.pem", pki / "leaf.key",
                              t / "www")
        proxy = CountingProxy(up)
        hosts = t / "hosts"
        hosts.write_text("127.0.0.1 feeds.api.test\n")
        lport = harness.free_port()
        (t / "p.ini").write_text("""[shim]
state_dir = %s
[feed]
url = https://feeds.api.test:%d/pins.feed
refresh = 10
public_key = %s
pins = %s
[upstream]
ca_file = %s
hosts_file = %s
[listen:x]
mode = tunnel
bind = 127.0.0.1:%d
connect = feeds.api.test:1
""" % (t / "state", proxy.port, (t / "k.pub").read_text().strip(),
            harness.pin_of(pki / "inter.pem"), pki / "ca.pem", hosts, lport))
        shim = harness.Proc(ctx, [str(harness.PINSHIM), "run", "-c",
                                  str(t / "p.ini")], "pinshim")
        shim.log.wait("feed: version 1 in force", proc=shim.p)
        # The refresh timer (10 s, the shortest): the first refresh after a
        # feed came into force makes a full handshake (a swap drops cached
        # sessions), the ones after it resume.
        shim.log.wait("unchanged", timeout=30, proc=shim.p)
        shim.log.wait("unchanged", timeout=30, proc=shim.p)
        for c in proxy.conns:
            c["done"].wait(10)
        print("feed file: %d bytes (20 hosts, 2 pins each)" % size)
        print("%-44s %10s %10s %10s" % ("refresh", "to server", "from server",
                                         "total"))
        for name, c in (("full fetch (200)", proxy.conns[0]),
                        ("unchanged (304), full TLS handshake",
                         proxy.conns[1]),
                        ("unchanged (304), TLS session resumed",
                         proxy.conns[2])):
            print("%-44s %10d %10d %10d" % (name, c["up"], c["down"],
                                             c["up"] + c["down"]))
    finally:
        ctx.close()
        harness.cleanup_pki()


if __name__ == "__main__":
    main()
